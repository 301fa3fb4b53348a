"""Analysis off the event loop: newest version only, stale work dropped, debounced.

Two lanes, each one thread:

* the **fast lane** runs the engine without jedi (parso + dataflow) on the newest text of a
  document and hands the result back at once;
* the **jedi lane** is the only thread that ever runs jedi (jedi is not thread-safe): it
  warms jedi up at start, then re-runs the engine with the jedi tier once a document has
  been quiet for ``refine_delay`` seconds, and hands back the refined result.

Each lane keeps at most one pending job per document (a newer version replaces the older
one) and never starts a job whose document has a newer version waiting.  Debounce is
leading-edge: the first change after a quiet spell runs at once, changes in a burst wait
until the burst has been quiet for ``debounce`` seconds.  Results are delivered on the
event loop; the server drops any whose version is no longer current.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from ..config import Settings
from ..failures import LOG_MARKER, reason_of

log = logging.getLogger(__name__)

# parso and the analysis recurse; deep nesting needs a deeper C stack than a thread's default.
WORKER_STACK_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class Job:
    key: str  # the document (or notebook) URI
    version: int | None
    generation: int  # settings generation the job was made under
    settings: Settings
    payload: Any  # what the runner needs (text, path, notebook cells ...)
    submitted: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class Outcome:
    job: Job
    result: Any
    refined: bool  # produced by the jedi lane
    seconds: float


Runner = Callable[[Job, bool], Any]  # (job, with_jedi) -> result
Deliver = Callable[[Outcome], None]  # called in the lane's thread: must hop to the loop itself


class _Lane:
    def __init__(self, name: str, run: Callable[[Job], None]) -> None:
        self.name = name
        self._run = run
        self._cond = threading.Condition()
        self._pending: dict[str, tuple[Job, float]] = {}
        self._calls: list[tuple[Callable[[], Any], Future[Any]]] = []
        self._running_key: str | None = None
        self._stopped = False
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
    def put(self, job: Job, not_before: float) -> None:
        with self._cond:
            self._pending[job.key] = (job, not_before)
            self._cond.notify()

    def call(self, fn: Callable[[], Any]) -> Future[Any]:
        future: Future[Any] = Future()
        with self._cond:
            self._calls.append((fn, future))
            self._cond.notify()
        return future

    def drop(self, key: str) -> None:
        with self._cond:
            self._pending.pop(key, None)

    def has_pending(self, key: str) -> bool:
        with self._cond:
            return key in self._pending

    def is_busy_with(self, key: str) -> bool:
        with self._cond:
            return key in self._pending or self._running_key == key

    def busy(self) -> bool:
        with self._cond:
            return bool(self._pending or self._calls) or self._running_key is not None

    def pending_version(self, key: str) -> Any:
        with self._cond:
            entry = self._pending.get(key)
            return entry[0].version if entry else None

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._pending.clear()
            self._cond.notify()

    # -- the thread --------------------------------------------------------------------
    def _next(self) -> tuple[Job | None, tuple[Callable[[], Any], Future[Any]] | None]:
        with self._cond:
            while not self._stopped:
                if self._calls:
                    return None, self._calls.pop(0)
                if self._pending:
                    now = time.monotonic()
                    key, (job, not_before) = min(self._pending.items(), key=lambda kv: kv[1][1])
                    if not_before <= now:
                        del self._pending[key]
                        self._running_key = key
                        return job, None
                    self._cond.wait(not_before - now)
                else:
                    self._cond.wait()
            return None, None

    def _loop(self) -> None:
        while True:
            job, call = self._next()
            if call is not None:
                fn, future = call
                if future.set_running_or_notify_cancel():
                    try:
                        future.set_result(fn())
                    except BaseException as exc:  # noqa: B036 - hand every failure back
                        future.set_exception(exc)
                continue
            if job is None:
                return
            try:
                self._run(job)
            except Exception as exc:  # the engine never raises: this is a bug of ours
                log.debug("%s lane: analysis of %s failed", self.name, job.key, exc_info=True)
                log.error(
                    "%s: %s lane: analysis of %s failed (%s)",
                    LOG_MARKER,
                    self.name,
                    job.key,
                    reason_of(exc),
                )
            finally:
                with self._cond:
                    self._running_key = None


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
        self._refining: str | None = None
        self.fast = _Lane("analysis", self._run_fast)
        self.jedi = _Lane("jedi", self._run_refined)
        self.warmed_up = threading.Event()
        self.warm_up_delay = warm_up_delay
        if prepare is not None:  # imports and tables, before the first document arrives
            self.fast.call(prepare)
        if warm_up is not None:
            self.jedi.call(lambda: self._warm(warm_up))
        else:
            self.warmed_up.set()

    def _warm(self, warm_up: Callable[[], Any]) -> None:
        """jedi's warm-up costs seconds of CPU: let the first documents be analysed first."""
        start = time.monotonic()
        time.sleep(self.warm_up_delay)
        while self.fast.busy() and time.monotonic() - start < 10 * self.warm_up_delay:
            time.sleep(0.05)
        try:
            warm_up()
            # jedi's parsed torch stubs live for the whole session: keep them out of the
            # collector's full passes (they made as-you-type latency spiky).
            gc.freeze()
        finally:
            self.warmed_up.set()

    def submit(self, job: Job, *, immediate: bool = False) -> None:
        """Analyse ``job`` (replacing any older pending version of the same document)."""
        now = time.monotonic()
        with self._lock:
            last = self._last_change.get(job.key)
            self._last_change[job.key] = now
        quiet = last is None or now - last >= self.debounce
        self.jedi.drop(job.key)
        self.fast.put(job, now if (immediate or quiet) else now + self.debounce)

    def forget(self, key: str) -> None:
        self.fast.drop(key)
        self.jedi.drop(key)
        with self._lock:
            self._last_change.pop(key, None)

    def call(self, fn: Callable[[], Any]) -> Future[Any]:
        """Run ``fn`` in the fast lane (for work that must not block the loop, e.g. fix-all)."""
        return self.fast.call(fn)

    def stale(self, job: Job) -> bool:
        """A newer version of the job's document is waiting."""
        return self.fast.has_pending(job.key)

    def _run_fast(self, job: Job) -> None:
        start = time.monotonic()
        result = self._runner(job, False)
        self._deliver(Outcome(job, result, False, time.monotonic() - start))
        if job.settings.jedi and not self.stale(job) and self._refinable(job):
            self.jedi.put(job, time.monotonic() + self.refine_delay)

    def _refinable(self, job: Job) -> bool:
        size = getattr(job.payload, "size", 0)
        return size <= self.refine_limit_chars

    def should_stop_refining(self) -> bool:
        """For jedi's budget loop: the document being refined has a newer version waiting."""
        key = self._refining
        return key is not None and self.fast.has_pending(key)

    def _run_refined(self, job: Job) -> None:
        if self.stale(job):
            return
        start = time.monotonic()
        self._refining = job.key
        try:
            result = self._runner(job, True)
        finally:
            self._refining = None
        if self.stale(job):
            return
        self._deliver(Outcome(job, result, True, time.monotonic() - start))

    def shutdown(self) -> None:
        self.fast.stop()
        self.jedi.stop()
