"""The analysis' checkpoints (``analysis.pacing``): a pacer sees them, may stop the work,
and never changes a result."""

from __future__ import annotations

import pytest

from gradguard import engine
from gradguard.analysis.pacing import EVERY, Superseded, pacing
from gradguard.config import Settings

SOURCE = (
    "import torch\n"
    "w = torch.zeros(3, requires_grad=True)\n"
    + "".join(f"a{i} = {i}\n" for i in range(3 * EVERY))
    + "w.add_(1)\n"
)


def codes(result) -> list[tuple[int, str]]:
    return [(d.range.start.line, d.code) for d in result.diagnostics]


def test_a_pacer_is_consulted_and_the_findings_stay_the_same():
    calls = []
    with pacing(lambda: calls.append(1)):
        paced = engine.check(SOURCE, "/tmp/gg_paced.py", Settings())
    assert len(calls) >= 3
    assert codes(paced) == codes(engine.check(SOURCE, "/tmp/gg_paced.py", Settings()))
    assert codes(paced) == [(3 * EVERY + 2, "GG101")]


def test_a_pacer_that_gives_up_stops_the_analysis_without_an_internal_error():
    def give_up() -> None:
        raise Superseded

    with pytest.raises(Superseded), pacing(give_up):
        engine.check(SOURCE, "/tmp/gg_paced.py", Settings())
    # The thread's pacer is gone after the block: the next analysis runs to its end.
    assert codes(engine.check(SOURCE, "/tmp/gg_paced.py", Settings())) == [(3 * EVERY + 2, "GG101")]
