"""The scheduler's stages and lanes: the first publish of a version never waits for the later
stages, the background lane yields to the fast lane and abandons superseded work."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from gradguard.analysis.pacing import checkpoint
from gradguard.config import Settings
from gradguard.lsp.scheduler import CALLERS, JEDI, OWN, Job, Outcome, Scheduler, Step

URI = "file:///a.py"


def wait_for(predicate: Callable[[], object], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def job(version: int, *, jedi: bool = True, callers: bool = True) -> Job:
    return Job(URI, version, 0, Settings(jedi=jedi), None, callers=callers)


def test_the_first_publish_does_not_wait_for_the_later_stages():
    release = threading.Event()
    delivered: list[Outcome] = []

    def runner(job: Job, stage: int, carry: object) -> Step:
        if stage != OWN:
            release.wait(10)
        return Step((job.version, stage), carry=f"after {stage}")

    scheduler = Scheduler(runner, delivered.append, refine_delay=0.0)
    try:
        scheduler.submit(job(1))
        wait_for(lambda: delivered)
        time.sleep(0.1)  # the later stages are blocked: nothing else arrives
        assert [(o.result, o.final) for o in delivered] == [((1, OWN), False)]
        release.set()
        wait_for(lambda: len(delivered) == 3)
        assert [o.result for o in delivered] == [(1, OWN), (1, CALLERS), (1, JEDI)]
        assert [o.final for o in delivered] == [False, False, True]
    finally:
        scheduler.shutdown()


def test_the_later_stages_get_what_the_earlier_ones_carried():
    carried: list[object] = []
    delivered: list[Outcome] = []

    def runner(job: Job, stage: int, carry: object) -> Step:
        carried.append(carry)
        return Step(stage, carry=f"made by {stage}")

    scheduler = Scheduler(runner, delivered.append, refine_delay=0.0)
    try:
        scheduler.submit(job(1, callers=False))  # a file outside any workspace folder
        wait_for(lambda: len(delivered) == 2)
        assert [o.stage for o in delivered] == [OWN, JEDI]
        assert carried == [None, f"made by {OWN}"]
    finally:
        scheduler.shutdown()


def test_the_background_lane_pauses_while_the_fast_lane_works():
    progress = {"steps": 0}
    fast_started, fast_release = threading.Event(), threading.Event()
    during: list[int] = []
    delivered: list[Outcome] = []

    def runner(job: Job, stage: int, carry: object) -> Step:
        if job.key == URI and stage == OWN:
            return Step("a own")
        if job.key == URI:  # a long background stage: 400 checkpoints
            for _ in range(400):
                checkpoint()
                progress["steps"] += 1
                time.sleep(0.002)
            return Step("a later")
        fast_started.set()  # the fast lane's work on another document
        before = progress["steps"]
        fast_release.wait(10)
        during.append(progress["steps"] - before)
        return Step("b own")

    scheduler = Scheduler(runner, delivered.append, refine_delay=0.0)
    try:
        scheduler.submit(job(1, jedi=False))
        wait_for(lambda: progress["steps"] > 5)  # a's CALLERS stage is under way
        scheduler.submit(Job("file:///b.py", 1, 0, Settings(), None))
        assert fast_started.wait(10)
        time.sleep(0.3)  # ~150 background steps' worth of time
        fast_release.set()
        wait_for(lambda: len(delivered) == 3)
        assert during[0] <= 1, f"the background ran {during} steps meanwhile"
        assert [o.result for o in delivered] == ["a own", "b own", "a later"]
        assert progress["steps"] == 400, "the paused stage resumed and finished"
        assert scheduler.pauses >= 1
    finally:
        scheduler.shutdown()


def test_a_later_stage_of_a_superseded_version_is_abandoned():
    started = threading.Event()
    progress = {"steps": 0}
    delivered: list[Outcome] = []

    def runner(job: Job, stage: int, carry: object) -> Step:
        if stage == OWN:
            return Step((job.version, stage))
        if job.version == 1:
            started.set()
            for _ in range(2000):
                checkpoint()
                progress["steps"] += 1
                time.sleep(0.001)
        return Step((job.version, stage))

    scheduler = Scheduler(runner, delivered.append, refine_delay=0.0, debounce=0.0)
    try:
        scheduler.submit(job(1, jedi=False))
        assert started.wait(10)
        scheduler.submit(job(2, jedi=False))
        wait_for(lambda: (2, CALLERS) in [o.result for o in delivered])
        assert [o.result for o in delivered] == [(1, OWN), (2, OWN), (2, CALLERS)]
        assert progress["steps"] < 2000, "version 1's stage ran to its end"
    finally:
        scheduler.shutdown()


def test_a_recheck_runs_every_stage_in_the_background_lane():
    lanes: list[tuple[int, str]] = []
    delivered: list[Outcome] = []

    def runner(job: Job, stage: int, carry: object) -> Step:
        lanes.append((stage, threading.current_thread().name))
        return Step(stage)

    scheduler = Scheduler(runner, delivered.append, refine_delay=0.0)
    try:
        scheduler.recheck(job(1, jedi=False))
        wait_for(lambda: len(delivered) == 2)
        assert [stage for stage, _ in lanes] == [OWN, CALLERS]
        assert {name for _, name in lanes} == {"gradguard-background"}
        assert all(o.job.background for o in delivered)
    finally:
        scheduler.shutdown()
