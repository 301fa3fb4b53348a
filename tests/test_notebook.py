"""Notebooks: cells joined into one program, positions and fixes mapped back, .ipynb round trips."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradguard import engine
from gradguard.cli import main
from gradguard.model import Diagnostic, Fix, Position, Range, RelatedInfo, Severity, TextEdit
from gradguard.notebook import (
    NotebookError,
    NotebookProgram,
    check_cells,
    fix_cells,
    read_notebook,
)
from gradguard.runner import parses
from gradguard.text import split_lines

CELLS = [
    "%matplotlib inline\nimport torch",
    "x = torch.zeros(3, requires_grad=True)\n",
    "!pip list\nfiles = !ls\nx.add_(1)\nprint(x)",
]


def _diag(
    rng: Range, fixes: tuple[Fix, ...] = (), related: tuple[RelatedInfo, ...] = ()
) -> Diagnostic:
    return Diagnostic("GG101", "m", rng, Severity.ERROR, fixes=fixes, related=related)


def test_program_blanks_magics_and_parses() -> None:
    program = NotebookProgram.from_cells(CELLS)
    lines = program.source.split("\n")
    assert lines[0] == "pass" and lines[1] == "import torch"
    assert lines[2] == "x = torch.zeros(3, requires_grad=True)"
    assert lines[4:8] == ["pass", "pass", "x.add_(1)", "print(x)"]
    assert program.starts == (0, 2, 4)
    assert parses(program.source)
    assert {0, 4, 5} == set(program.blanked)


def test_cell_magic_blanks_the_whole_cell_and_indented_magic_keeps_the_block() -> None:
    program = NotebookProgram.from_cells(
        ["%%bash\nls -l\nx = (", "for i in range(2):\n    !echo hi"]
    )
    assert program.source == "\n\n\nfor i in range(2):\n    pass\n"
    assert parses(program.source)


def test_help_syntax_and_comparisons() -> None:
    program = NotebookProgram.from_cells(["torch.zeros?\ny = a != b\nz = x%2"])
    assert program.source == "pass\ny = a != b\nz = x%2\n"


def test_only_logical_line_starts_can_be_magics() -> None:
    cell = (
        'y = (a\n     % b)\ndoc = """\n!not a shell line\n"""\nz = 1 + \\\n    2\n!echo "("\nw = 1'
    )
    program = NotebookProgram.from_cells([cell])
    assert program.source.split("\n") == [
        "y = (a",
        "     % b)",
        'doc = """',
        "!not a shell line",
        '"""',
        "z = 1 + \\",
        "    2",
        "pass",
        "w = 1",
        "",
    ]
    assert set(program.blanked) == {7}
    assert parses(program.source)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="ab %!\n\r(", max_size=12), min_size=1, max_size=5), st.data())
def test_cell_positions_round_trip(cells: list[str], data: st.DataObject) -> None:
    program = NotebookProgram.from_cells(cells)
    assert len(split_lines(program.source)) == sum(program.counts) + 1
    cell = data.draw(st.integers(0, len(cells) - 1))
    line = data.draw(st.integers(0, program.counts[cell] - 1))
    column = data.draw(st.integers(0, 3))
    mapped_cell, pos = program.to_cell(program.to_program(cell, Position(line, column)))
    assert (mapped_cell, pos.line) == (cell, line)
    assert pos.character == min(column, len(split_lines(cells[cell])[line]))


def test_positions_map_to_cells_and_back() -> None:
    program = NotebookProgram.from_cells(CELLS)
    assert program.to_cell(Position(6, 2)) == (2, Position(2, 2))
    assert program.to_cell(Position(2, 5)) == (1, Position(0, 5))
    assert program.to_program(2, Position(2, 2)) == Position(6, 2)
    # past the end of a line or of the program: clamped
    assert program.to_cell(Position(1, 99)) == (0, Position(1, 12))
    assert program.to_cell(Position(99, 0)) == (2, Position(3, 8))


def test_map_diagnostic_keeps_same_cell_fixes_related_and_noqa() -> None:
    program = NotebookProgram.from_cells(CELLS)
    same = Fix("rewrite", (TextEdit(Range.of(6, 0, 6, 9), "x = x.add(1)"),), preferred=True)
    other_cell = Fix("import", (TextEdit(Range.of(1, 0, 1, 0), "import torch\n"), *same.edits))
    magic = Fix("touches !ls", (TextEdit(Range.of(5, 0, 6, 9), "y"),))
    diag = Diagnostic(
        "GG101",
        "m",
        Range.of(6, 0, 6, 9),
        Severity.ERROR,
        fixes=(other_cell, magic, same),
        related=(
            RelatedInfo(Range.of(2, 0, 2, 1), "grad from here"),
            RelatedInfo(Range.of(7, 0, 7, 5), "same cell"),
        ),
        noqa_edit=TextEdit(Range.of(6, 9, 6, 9), "  # noqa: GG101"),
    )
    cell, mapped = program.map_diagnostic(diag)
    assert cell == 2
    assert mapped.range == Range.of(2, 0, 2, 9)
    assert [f.title for f in mapped.fixes] == ["rewrite"]
    assert mapped.fixes[0].edits[0].range == Range.of(2, 0, 2, 9)
    assert [r.message for r in mapped.related] == ["same cell"]
    assert mapped.related[0].range == Range.of(3, 0, 3, 5)
    assert mapped.noqa_edit == TextEdit(Range.of(2, 9, 2, 9), "  # noqa: GG101")
    # the cross-cell fix is still available, cell by cell, for a multi-cell workspace edit
    assert program.map_fix(other_cell) == [
        (0, TextEdit(Range.of(1, 0, 1, 0), "import torch\n")),
        (2, TextEdit(Range.of(2, 0, 2, 9), "x = x.add(1)")),
    ]
    assert program.map_fix(magic) is None


def test_edits_spanning_cells_are_dropped_but_last_line_replacement_is_kept() -> None:
    program = NotebookProgram.from_cells(["a = 1\nb = 2", "c = 3"])
    assert program.map_edit(TextEdit(Range.of(1, 0, 2, 3), "x")) is None
    # whole-line replacement of a cell's last line (up to the next cell's start)
    assert program.map_edit(TextEdit(Range.of(1, 0, 2, 0), "b = 3\n")) == (
        0,
        TextEdit(Range.of(1, 0, 1, 5), "b = 3"),
    )
    assert program.map_diagnostic(_diag(Range.of(1, 0, 2, 3)))[1].range == Range.of(1, 0, 1, 5)


def test_apply_fixes_per_cell() -> None:
    program = NotebookProgram.from_cells(CELLS)
    fixes = [
        Fix("a", (TextEdit(Range.of(6, 0, 6, 9), "x = x.add(1)"),)),
        Fix("overlaps a", (TextEdit(Range.of(6, 2, 6, 4), "zz"),)),
        Fix("b", (TextEdit(Range.of(2, 0, 2, 1), "w"),)),
        Fix("magic", (TextEdit(Range.of(0, 1, 0, 3), "no"),)),
    ]
    cells, applied = program.apply_fixes(fixes)
    assert applied == 2
    assert cells[0] == CELLS[0]
    assert cells[1] == "w = torch.zeros(3, requires_grad=True)\n"
    assert cells[2] == "!pip list\nfiles = !ls\nx = x.add(1)\nprint(x)"


def test_empty_notebook() -> None:
    assert check_cells([], "nb.ipynb") == []
    assert fix_cells([], "nb.ipynb") == ([], 0)


def _notebook(cells: list[dict], **extra) -> dict:
    return {
        "cells": cells,
        "metadata": {"language_info": {"name": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
        **extra,
    }


def _code(source: str) -> dict:
    return {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {},
        "outputs": [],
        "source": source.splitlines(keepends=True),
    }


def test_read_notebook_and_write_back_preserving_json() -> None:
    doc = _notebook(
        [{"cell_type": "markdown", "metadata": {}, "source": ["# title"]}, _code("a = 1\nb = 2")],
        custom={"keep": True},
    )
    text = json.dumps(doc, indent=1) + "\n"
    nb = read_notebook(text)
    assert nb.code_cells == [1]
    assert nb.sources == ["a = 1\nb = 2"]
    assert nb.dumps() == text
    changed = json.loads(nb.with_sources(["a = 2\nb = 2"]).dumps())
    assert changed["cells"][1]["source"] == ["a = 2\n", "b = 2"]
    assert changed["custom"] == {"keep": True}
    assert changed["cells"][0] == doc["cells"][0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "invalid JSON"),
        ("[]", "no `cells` list"),
        (json.dumps({"cells": [], "nbformat": 3}), "nbformat=3"),
        (json.dumps(_notebook([], metadata={"language_info": {"name": "R"}})), "not a Python"),
        (json.dumps(_notebook([{"cell_type": "code", "source": 3}])), "malformed `source`"),
    ],
)
def test_bad_notebooks_are_refused_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(NotebookError, match=message):
        read_notebook(text)


BUGGY_CELLS = [
    "import torch",
    "x = torch.zeros(3, requires_grad=True)\n",
    "%time y = 1\nx.add_(1)\n",
]


def test_engine_findings_land_in_the_right_cell() -> None:
    found = check_cells(BUGGY_CELLS, "nb.ipynb")
    assert [(cell, d.code, d.range.start.line) for cell, d in found] == [(2, "GG101", 1)]
    new_cells, applied = fix_cells(BUGGY_CELLS, "nb.ipynb")
    assert applied >= 1
    assert new_cells[2].startswith("%time y = 1\n")
    assert "add_" not in new_cells[2]
    assert check_cells(new_cells, "nb.ipynb") == []


def test_cli_checks_and_fixes_a_notebook(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = _notebook(
        [{"cell_type": "markdown", "metadata": {}, "source": []}] + [_code(c) for c in BUGGY_CELLS]
    )
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    assert main(["check", "--format", "json", str(path)]) == 1
    (item,) = json.loads(capsys.readouterr().out)
    assert item["code"] == "GG101"
    assert item["cell"] == 4  # the markdown cell counts: Jupyter shows it as cell 1
    assert item["location"]["row"] == 2

    assert main(["check", "--fix", str(path)]) == 0
    capsys.readouterr()
    written = path.read_text(encoding="utf-8")
    assert written.endswith("}\n") and written.startswith('{\n "cells"')
    after = json.loads(written)
    source = "".join(after["cells"][3]["source"])
    assert source.startswith("%time y = 1\n") and "add_" not in source
    assert after["cells"][0] == doc["cells"][0]
    assert after["metadata"] == doc["metadata"]
    assert engine.check_source("\n".join("".join(c["source"]) for c in after["cells"][1:])) == []


def test_windows_line_endings_and_indent_are_kept() -> None:
    doc = _notebook([_code("a = 1\nb = 2")])
    text = (json.dumps(doc, indent=2) + "\n").replace("\n", "\r\n")
    nb = read_notebook(text)
    assert nb.dumps() == text
    changed = nb.with_sources(["a = 3\nb = 2"]).dumps()
    assert changed == text.replace('"a = 1\\n"', '"a = 3\\n"')
