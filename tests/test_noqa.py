"""Suppression comments: ``# noqa``, ``# noqa: GG101,GG102``, file-level ``# gradguard: noqa``."""

from __future__ import annotations

from pathlib import Path

import pytest

from gradguard import engine, noqa
from gradguard.cli import main
from gradguard.model import Range, TextEdit
from gradguard.text import apply_edits, split_lines

HEADER = "import torch\nx = torch.zeros(3, requires_grad=True)\n"


@pytest.mark.parametrize(
    ("line", "codes"),
    [
        ("x.add_(1)  # noqa", None),
        ("x.add_(1)  # NOQA", None),
        ("x.add_(1)  # noqa: GG101", frozenset({"GG101"})),
        ("x.add_(1)  #noqa:GG101,GG102", frozenset({"GG101", "GG102"})),
        ("x.add_(1)  # noqa: gg101 GG103", frozenset({"GG101", "GG103"})),
        ("x.add_(1)  # type: ignore  # noqa: GG101", frozenset({"GG101"})),
    ],
)
def test_parse_line(line: str, codes: frozenset[str] | None) -> None:
    parsed = noqa.parse_line(line)
    assert parsed is not None
    assert parsed.codes == codes
    assert line[parsed.start] == "#"


@pytest.mark.parametrize(
    "line", ["x.add_(1)", 's = "# noqa"', "s = '# noqa: GG101'  # just a comment"]
)
def test_no_directive(line: str) -> None:
    assert noqa.parse_line(line) is None


def test_is_suppressed_matches_the_code_on_that_line_only() -> None:
    lines = split_lines("a  # noqa: GG101\nb  # noqa\nc\n")
    assert noqa.is_suppressed(lines, 0, "GG101")
    assert not noqa.is_suppressed(lines, 0, "GG102")
    assert noqa.is_suppressed(lines, 1, "GG107")
    assert not noqa.is_suppressed(lines, 2, "GG101")
    assert not noqa.is_suppressed(lines, 99, "GG101")


def test_file_level_directive() -> None:
    assert noqa.file_is_suppressed(split_lines("import torch\n# gradguard: noqa\n"))
    assert noqa.file_is_suppressed(split_lines("#GradGuard:NOQA\n"))
    assert not noqa.file_is_suppressed(split_lines('s = "# gradguard: noqa"\n'))


def test_noqa_edit_appends_or_merges() -> None:
    text = "x.add_(1)   \ny.add_(1)  # noqa: GG102\nz.add_(1)  # noqa\n"
    lines = split_lines(text)
    append = noqa.noqa_edit(lines, 0, "GG101")
    assert append == TextEdit(Range.of(0, 9, 0, 12), "  # noqa: GG101")
    merged = noqa.noqa_edit(lines, 1, "GG101")
    assert apply_edits(text, [merged]).splitlines()[1] == "y.add_(1)  # noqa: GG101, GG102"
    assert noqa.noqa_edit(lines, 2, "GG101") is None  # a bare noqa already covers it
    assert noqa.noqa_edit(lines, 1, "GG102") is None
    assert noqa.noqa_edit(lines, 50, "GG101") is None


def _codes(source: str) -> list[tuple[str, int]]:
    return [(d.code, d.range.start.line) for d in engine.check_source(source, "m.py")]


def test_engine_reports_without_noqa_and_offers_the_noqa_edit() -> None:
    source = HEADER + "x.add_(1)\n"
    (diag,) = engine.check_source(source, "m.py")
    assert (diag.code, diag.range.start.line) == ("GG101", 2)
    assert diag.noqa_edit is not None
    silenced = apply_edits(source, [diag.noqa_edit])
    assert silenced.splitlines()[2] == "x.add_(1)  # noqa: GG101"
    assert _codes(silenced) == []


@pytest.mark.parametrize(
    ("suffix", "expected"),
    [
        ("x.add_(1)  # noqa: GG101\n", []),
        ("x.add_(1)  # noqa\n", []),
        ("x.add_(1)  # noqa: GG102\n", [("GG101", 2)]),
        ("x.add_(1)\n# gradguard: noqa\n", []),
    ],
)
def test_engine_honours_noqa(suffix: str, expected: list[tuple[str, int]]) -> None:
    assert _codes(HEADER + suffix) == expected


def test_cli_exit_code_follows_noqa(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    quiet = tmp_path / "quiet.py"
    quiet.write_text(HEADER + "x.add_(1)  # noqa: GG101\n", encoding="utf-8")
    loud = tmp_path / "loud.py"
    loud.write_text(HEADER + "x.add_(1)  # noqa: GG107\n", encoding="utf-8")
    assert main(["check", str(quiet)]) == 0
    assert "All checks passed!" in capsys.readouterr().out
    assert main(["check", str(loud)]) == 1
    assert "loud.py:3:1: error[GG101]" in capsys.readouterr().out
