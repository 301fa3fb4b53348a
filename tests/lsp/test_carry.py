"""Later-stage findings carried into a newer version's first publish: kept on unchanged
lines (moved with them), dropped where the edit touched them."""

from __future__ import annotations

from gradguard.lsp.carry import carried
from gradguard.model import Diagnostic, Fix, Range, RelatedInfo, Severity, TextEdit

OLD = "import torch\n\ndef f(t):\n    t.add_(1)\n\nx = 1\ny = 2\n"


def finding(line: int, *, fix_line: int | None = None, severity=Severity.ERROR) -> Diagnostic:
    rng = Range.of(line, 4, line, 13)
    fixes = ()
    if fix_line is not None:
        fixes = (Fix("fix", (TextEdit(Range.of(fix_line, 4, fix_line, 13), "t = t.add(1)"),)),)
    return Diagnostic(
        "GG101",
        "in place",
        rng,
        severity,
        fixes=fixes,
        related=(RelatedInfo(Range.of(line, 4, line, 5), "here"),),
        noqa_edit=TextEdit(Range.of(line, 13, line, 13), "  # noqa: GG101"),
    )


def test_a_finding_above_the_edit_stays_in_place():
    new = OLD.replace("y = 2", "y = 3")
    assert carried([finding(3)], OLD, new) == (finding(3),)


def test_a_finding_below_the_edit_moves_with_its_line():
    new = "# a comment\n" + OLD
    (moved,) = carried([finding(3, fix_line=3)], OLD, new)
    assert moved.range == Range.of(4, 4, 4, 13)
    assert moved.fixes[0].edits[0].range == Range.of(4, 4, 4, 13)
    assert moved.related[0].range == Range.of(4, 4, 4, 5)
    assert moved.noqa_edit is not None and moved.noqa_edit.range.start.line == 4
    assert new.split("\n")[4] == OLD.split("\n")[3]
    removed = OLD.replace("import torch\n\n", "import torch\n")
    (back,) = carried([finding(3)], OLD, removed)
    assert back.range.start.line == 2


def test_a_finding_on_an_edited_line_is_dropped():
    new = OLD.replace("t.add_(1)", "t.add(1)")
    assert carried([finding(3)], OLD, new) == ()


def test_a_finding_whose_fix_spans_the_edit_is_dropped():
    new = OLD.replace("def f(t):", "def f(t, u):")
    assert carried([finding(3, fix_line=2)], OLD, new) == ()
