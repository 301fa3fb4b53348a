"""Analysis off the event loop: newest version first, stale work dropped, debounced.

A document version is analysed in stages, each delivered as soon as it is done:

* ``OWN``: the file's own findings (parso + dataflow, no jedi, no callers) — the first
  publish of every version, run by the **fast lane** and nothing else;
* ``CALLERS``: the findings the workspace's files that import it reach inside it;
* ``JEDI``: the analysis again with the jedi tier (jedi is not thread-safe: only the
  background lane ever runs it).

Two lanes, each one thread.  The **fast lane** runs the ``OWN`` stage of edited documents
and nothing else.  The **background lane** runs the later stages, and the re-checks of
other open documents an edit may have changed (all their stages).  It yields to the fast
lane: it starts a stage only while the fast lane is idle, and pauses at the analysis'
checkpoints (``analysis.pacing``) while the fast lane has work, so the two never share the
interpreter lock; when its document has changed again it abandons the stage.  The work of
every stage is counted (statements, calls, jedi questions), never timed: a pause changes
when a result arrives, never what it says.

Each lane keeps at most one pending item per document (a newer version replaces the older
one).  Debounce is leading-edge: the first change after a quiet spell runs at once, changes
in a burst wait until the burst has been quiet for ``debounce`` seconds.  Results are
delivered on the event loop; the server drops any whose version is no longer current.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from typing import Any

from ..analysis.pacing import Superseded, pacing
from ..config import Settings
from ..failures import LOG_MARKER, reason_of

log = logging.getLogger(__name__)

# parso and the analysis recurse; deep nesting needs a deeper C stack than a thread's default.
WORKER_STACK_BYTES = 256 * 1024 * 1024

OWN, CALLERS, JEDI = 0, 1, 2
STAGE_NAMES = {OWN: "own", CALLERS: "callers", JEDI: "jedi"}


@dataclass(frozen=True)
class Job:
    key: str  # the document (or notebook) URI
    version: int | None
    generation: int  # settings generation the job was made under
    settings: Settings
    payload: Any  # what the runner needs (text, path, notebook cells ...)
    submitted: float = field(default_factory=time.monotonic)
    callers: bool = False  # has a CALLERS stage (a file inside a workspace folder)
    background: bool = False  # every stage in the background lane (``recheck``)


@dataclass(frozen=True)
class Step:
    """What one stage made: the result to deliver, and what the job's next stage needs."""

    result: Any
    carry: Any = None


@dataclass(frozen=True)
class Outcome:
    job: Job
    result: Any
    stage: int
    seconds: float
    final: bool  # no later stage of this job will be delivered
    cpu_seconds: float = 0.0  # the lane thread's CPU time for the stage

    @property
    def refined(self) -> bool:
        return self.stage == JEDI


Runner = Callable[[Job, int, Any], Step]  # (job, stage, carry of the previous stage)
Deliver = Callable[[Outcome], None]  # called in the lane's thread: must hop to the loop itself


@dataclass(frozen=True)
class _Item:
    job: Job
    stage: int
    carry: Any = None


class _Lane:
    def __init__(self, name: str, run: Callable[[_Item], None]) -> None:
        self.name = name
        self._run = run
        self._cond = threading.Condition()
        self._pending: dict[str, tuple[_Item, float]] = {}
        self._calls: list[tuple[Callable[[], Any], Future[Any]]] = []
        self._running_key: str | None = None
        self._stopped = False
        # Called with the lane's lock held, before an item is taken: may it start now?
        self.may_start: Callable[[], bool] = lambda: True
        self.on_idle: Callable[[], None] = lambda: None  # nothing left to run
        previous = threading.stack_size()
        try:
            threading.stack_size(WORKER_STACK_BYTES)
            self._thread = self._start()
        except (RuntimeError, ValueError):  # no room for a big stack: the default will do
            log.warning("%s lane: default thread stack (deep nesting may not be analysed)", name)
            threading.stack_size(previous)
            self._thread = self._start()
        finally:
            threading.stack_size(previous)

    def _start(self) -> threading.Thread:
        thread = threading.Thread(target=self._loop, name=f"gradguard-{self.name}", daemon=True)
        thread.start()
        return thread

    # -- called from any thread --------------------------------------------------------
    def put(self, item: _Item, not_before: float) -> None:
        with self._cond:
            self._pending[item.job.key] = (item, not_before)
            self._cond.notify_all()

    def call(self, fn: Callable[[], Any]) -> Future[Any]:
        future: Future[Any] = Future()
        with self._cond:
            self._calls.append((fn, future))
            self._cond.notify_all()
        return future

    def drop(self, key: str) -> None:
        with self._cond:
            self._pending.pop(key, None)
            self._cond.notify_all()

    def has_pending(self, key: str) -> bool:
        with self._cond:
            return key in self._pending

    def busy(self) -> bool:
        with self._cond:
            return self._busy()

    def _busy(self) -> bool:
        return bool(self._pending or self._calls) or self._running_key is not None

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing is pending or running (at most `timeout` s); idle now?"""
        with self._cond:
            if self._busy():
                self._cond.wait(timeout)
            return not self._busy()

    def wake(self) -> None:
        """Re-check ``may_start`` (another lane became idle)."""
        with self._cond:
            self._cond.notify_all()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._pending.clear()
            self._cond.notify_all()

    # -- the thread --------------------------------------------------------------------
    def _next(self) -> tuple[_Item | None, tuple[Callable[[], Any], Future[Any]] | None]:
        with self._cond:
            while not self._stopped:
                if self._calls:
                    self._running_key = "<call>"
                    return None, self._calls.pop(0)
                if self._pending and self.may_start():
                    now = time.monotonic()
                    key, (item, not_before) = min(self._pending.items(), key=lambda kv: kv[1][1])
                    if not_before <= now:
                        del self._pending[key]
                        self._running_key = key
                        return item, None
                    self._cond.wait(not_before - now)
                elif self._pending:  # waiting for the other lane to be idle (``wake``)
                    self._cond.wait(0.5)
                else:
                    self._cond.wait()
            return None, None

    def _loop(self) -> None:
        while True:
            item, call = self._next()
            try:
                if call is not None:
                    fn, future = call
                    if future.set_running_or_notify_cancel():
                        try:
                            future.set_result(fn())
                        except BaseException as exc:  # noqa: B036 - hand every failure back
                            future.set_exception(exc)
                    continue
                if item is None:
                    return
                try:
                    self._run(item)
                except Superseded:  # its document changed again: the newer job follows
                    log.debug("%s lane: %s superseded", self.name, item.job.key)
                except Exception as exc:  # the engine never raises: this is a bug of ours
                    log.debug(
                        "%s lane: analysis of %s failed", self.name, item.job.key, exc_info=True
                    )
                    log.error(
                        "%s: %s lane: analysis of %s failed (%s)",
                        LOG_MARKER,
                        self.name,
                        item.job.key,
                        reason_of(exc),
                    )
            finally:
                with self._cond:
                    self._running_key = None
                    self._cond.notify_all()
                    idle = not self._busy()
                if idle:
                    self.on_idle()


class Scheduler:
    def __init__(
        self,
        runner: Runner,
        deliver: Deliver,
        *,
        debounce: float = 0.05,
        refine_delay: float = 0.3,
        warm_up: Callable[[], Any] | None = None,
        prepare: Callable[[], Any] | None = None,
        warm_up_delay: float = 1.0,
        refine_limit_chars: int = 400_000,
    ) -> None:
        self._runner = runner
        self._deliver = deliver
        self.debounce = debounce
        self.refine_delay = refine_delay
        self.refine_limit_chars = refine_limit_chars
        self._last_change: dict[str, float] = {}
        self._lock = threading.Lock()
        self._latest: dict[str, Job] = {}  # the job whose results are wanted, per document
        self.fast = _Lane("analysis", self._run_fast)
        self.jedi = _Lane("background", self._run_background)  # the only lane running jedi
        self.jedi.may_start = self._fast_idle
        self.fast.on_idle = self.jedi.wake
        self.warmed_up = threading.Event()
        self.warm_up_delay = warm_up_delay
        self.pauses = 0  # times the background lane paused for the fast lane (for tests)
        if prepare is not None:  # imports and tables, before the first document arrives
            self.fast.call(prepare)
        if warm_up is not None:
            self.jedi.call(lambda: self._warm(warm_up))
        else:
            self.warmed_up.set()

    def _fast_idle(self) -> bool:
        return not self.fast.busy()

    def _warm(self, warm_up: Callable[[], Any]) -> None:
        """jedi's warm-up costs seconds of CPU: let the first documents be analysed first."""
        start = time.monotonic()
        time.sleep(self.warm_up_delay)
        while self.fast.busy() and time.monotonic() - start < 10 * self.warm_up_delay:
            time.sleep(0.05)
        try:
            with pacing(self._pause_for_fast):
                warm_up()
            # jedi's parsed torch stubs live for the whole session: keep them out of the
            # collector's full passes (they made as-you-type latency spiky).
            gc.freeze()
        finally:
            self.warmed_up.set()

    # -- submitting ------------------------------------------------------------------------
    def submit(self, job: Job, *, immediate: bool = False) -> None:
        """Analyse ``job`` (replacing any older pending version of the same document)."""
        now = time.monotonic()
        with self._lock:
            last = self._last_change.get(job.key)
            self._last_change[job.key] = now
            self._latest[job.key] = job
        quiet = last is None or now - last >= self.debounce
        self.jedi.drop(job.key)
        self.fast.put(_Item(job, OWN), now if (immediate or quiet) else now + self.debounce)

    def recheck(self, job: Job) -> None:
        """Re-analyse an unchanged document (a file it uses changed) in the background lane:
        every stage, never before the fast lane's work."""
        if self.fast.has_pending(job.key):  # an edit of it is on its way: that job will do
            return
        job = replace(job, background=True)
        with self._lock:
            self._latest[job.key] = job
        self.jedi.put(_Item(job, OWN), time.monotonic() + self.debounce)

    def forget(self, key: str) -> None:
        self.fast.drop(key)
        self.jedi.drop(key)
        with self._lock:
            self._last_change.pop(key, None)
            self._latest.pop(key, None)

    def call(self, fn: Callable[[], Any]) -> Future[Any]:
        """Run ``fn`` in the fast lane (for work that must not block the loop, e.g. fix-all)."""
        return self.fast.call(fn)

    def stale(self, job: Job) -> bool:
        """A newer job of the job's document was submitted (or the document was closed)."""
        with self._lock:
            return self._latest.get(job.key) is not job

    # -- stages ----------------------------------------------------------------------------
    def _stages_after(self, job: Job, stage: int) -> list[int]:
        later = []
        if job.callers:
            later.append(CALLERS)
        if job.settings.jedi and self._refinable(job):
            later.append(JEDI)
        return [s for s in later if s > stage]

    def _refinable(self, job: Job) -> bool:
        size = getattr(job.payload, "size", 0)
        return size <= self.refine_limit_chars

    def _run_stage(self, item: _Item) -> None:
        job = item.job
        start, cpu = time.monotonic(), time.thread_time()
        step = self._runner(job, item.stage, item.carry)
        if self.stale(job) and (item.stage != OWN or job.background):
            return  # (a stale first publish is handed over: the server drops it by version)
        later = self._stages_after(job, item.stage)
        seconds, cpu = time.monotonic() - start, time.thread_time() - cpu
        self._deliver(Outcome(job, step.result, item.stage, seconds, not later, cpu))
        if later and not self.stale(job):
            delay = self.refine_delay if later[0] == JEDI else 0.0
            self.jedi.put(_Item(job, later[0], step.carry), time.monotonic() + delay)

    def _run_fast(self, item: _Item) -> None:
        if not self.stale(item.job):
            self._run_stage(item)

    def _run_background(self, item: _Item) -> None:
        with pacing(lambda: self._pace(item.job)):
            self._pace(item.job)
            self._run_stage(item)

    def _pause_for_fast(self) -> None:
        """Wait while the fast lane has work (the interpreter lock is then all its own)."""
        while self.fast.busy():
            self.pauses += 1
            self.fast.wait_idle(0.5)

    def _pace(self, job: Job) -> None:
        """The background lane's checkpoint: pause for the fast lane; give up stale work."""
        if self.stale(job):
            raise Superseded
        if self.fast.busy():
            self._pause_for_fast()
            if self.stale(job):
                raise Superseded

    def shutdown(self) -> None:
        self.fast.stop()
        self.jedi.stop()
