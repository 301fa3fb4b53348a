"""Notebooks as one program: code cells joined in order, positions mapped back to cells.

Pure (no LSP, no I/O besides JSON text): the CLI reads ``.ipynb`` files with it and the
language server reuses it for ``notebookDocument/*`` sync.

    program = NotebookProgram.from_cells(["import torch", "x = torch.ones(2, requires_grad=True)"])
    diags = engine.check_source(program.source, path, settings)
    for cell, diag in filter(None, map(program.map_diagnostic, diags)):
        ...  # diag's range, fixes, related info and noqa edit are in cell coordinates

IPython syntax (``%magic``, ``!shell``, ``x = !cmd``, ``name?``, ``%%cell`` magics) is
blanked so the program parses: a line magic becomes ``pass`` at its indentation, a cell
whose first line is a ``%%`` magic becomes empty lines.  Edits that would touch a blanked
line, or span two cells, are dropped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from .config import Settings
from .model import Diagnostic, Fix, Position, Range, RelatedInfo, TextEdit
from .text import apply_edits, line_starts, offset_at, split_lines
from .text import parses as _parses

_LINE_MAGIC = re.compile(
    r"""^(?P<indent>[ \t]*)(?:
        [%!?]                                              # %magic, !shell, ?help
      | [A-Za-z_][\w.]*(?:[ \t]*,[ \t]*[A-Za-z_][\w.]*)*[ \t]*=[ \t]*[%!]  # x = !ls, a, b = %sx
      | [A-Za-z_][\w.]*\?{1,2}[ \t]*$                     # obj? obj??
    )""",
    re.X,
)


_LONE_CR = re.compile(r"\r(?!\n)")


def _is_cell_magic(cell: str) -> bool:
    for line in split_lines(cell):
        if line.strip():
            return line.lstrip().startswith("%%")
    return False


def _scan(line: str, depth: int, quote: str | None) -> tuple[int, str | None]:
    """Bracket depth and open triple-quoted string after one physical line."""
    i, n = 0, len(line)
    while i < n:
        ch = line[i]
        if quote is not None:
            if ch == "\\":
                i += 2
            elif line.startswith(quote, i):
                i += len(quote)
                quote = None
            else:
                i += 1
            continue
        if ch == "#":
            break
        if ch in "'\"":
            triple = line[i : i + 3]
            quote = triple if triple in ("'''", '"""') else ch
            i += len(quote)
            continue
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(0, depth - 1)
        i += 1
    if quote is not None and len(quote) == 1:
        quote = None  # an unterminated one-line string ends with its line
    return depth, quote


def _magic_lines(lines: Sequence[str]) -> set[int]:
    """Lines holding IPython syntax: only where a new logical line starts.

    A light scanner (quotes, triple quotes, comments, brackets, backslashes) keeps
    ``% b`` continuing an expression in parentheses, or a docstring line starting with
    ``!``, from being taken for a magic.
    """
    magic: set[int] = set()
    depth, quote, continued = 0, None, False
    for index, line in enumerate(lines):
        if depth == 0 and quote is None and not continued and _LINE_MAGIC.match(line):
            magic.add(index)
            continue
        depth, quote = _scan(line, depth, quote)
        continued = quote is None and line.endswith("\\")
    return magic


def _blank_cell(cell: str) -> tuple[str, set[int]]:
    """The cell as plain Python, and the cell lines that were blanked."""
    lines = split_lines(cell)
    # A lone '\r' becomes '\n' so that an emptied line cannot join two breaks into one.
    endings = ["\n" if e == "\r" else e for e in re.findall(r"\r\n|\r|\n", cell)]
    blanked: set[int] = set()
    if _is_cell_magic(cell):
        out = ["" for _ in lines]
        blanked = {i for i, line in enumerate(lines) if line}
    else:
        blanked = _magic_lines(lines)
        out = [
            line[: len(line) - len(line.lstrip(" \t"))] + "pass" if i in blanked else line
            for i, line in enumerate(lines)
        ]
    if not blanked:
        return cell, blanked
    text = "".join(line + (endings[i] if i < len(endings) else "") for i, line in enumerate(out))
    return text, blanked


@dataclass(frozen=True)
class NotebookProgram:
    """Code cells joined into one program, and the line mapping between the two."""

    cells: tuple[str, ...]
    source: str
    starts: tuple[int, ...]  # program line where each cell starts
    counts: tuple[int, ...]  # lines per cell (split_lines count)
    blanked: frozenset[int]  # program lines blanked (IPython syntax)

    @classmethod
    def from_cells(cls, cells: Sequence[str]) -> NotebookProgram:
        parts: list[str] = []
        starts: list[int] = []
        counts: list[int] = []
        blanked: set[int] = set()
        line = 0
        for cell in cells:
            text, blank = _blank_cell(cell)
            count = len(split_lines(cell))
            starts.append(line)
            counts.append(count)
            blanked.update(line + b for b in blank)
            # A lone '\r' is a line break to parso as to us; as '\n' it cannot merge with
            # the separator into one '\r\n' break.  Lines and columns are unchanged.
            parts.append(_LONE_CR.sub("\n", text) + "\n")
            line += count
        return cls(tuple(cells), "".join(parts), tuple(starts), tuple(counts), frozenset(blanked))

    # --- positions -----------------------------------------------------------------

    def cell_of_line(self, line: int) -> int:
        """Index of the cell holding a program line (clamped to the first/last cell)."""
        if not self.cells:
            raise ValueError("a notebook without code cells has no positions")
        lo, hi = 0, len(self.starts) - 1
        if line <= 0:
            return 0
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.starts[mid] <= line:
                lo = mid
            else:
                hi = mid - 1
        return lo

    def _cell_line_length(self, cell: int, line: int) -> int:
        lines = split_lines(self.cells[cell])
        return len(lines[line]) if 0 <= line < len(lines) else 0

    def _cell_end(self, cell: int) -> Position:
        last = self.counts[cell] - 1
        return Position(last, self._cell_line_length(cell, last))

    def to_cell(self, pos: Position) -> tuple[int, Position]:
        """Program position -> (cell index, position in that cell), clamped into the cell."""
        cell = self.cell_of_line(pos.line)
        local = pos.line - self.starts[cell]
        if local >= self.counts[cell]:
            return cell, self._cell_end(cell)
        return cell, Position(
            local, min(max(pos.character, 0), self._cell_line_length(cell, local))
        )

    def to_program(self, cell: int, pos: Position) -> Position:
        return Position(self.starts[cell] + pos.line, pos.character)

    def map_range(self, rng: Range) -> tuple[int, Range]:
        """Program range -> (cell of its start, range in that cell; the end clamped to the cell)."""
        cell, start = self.to_cell(rng.start)
        end_cell, end = self.to_cell(rng.end)
        if end_cell != cell:
            end = self._cell_end(cell)
        return cell, Range(start, max(start, end))

    def _touches_blanked(self, rng: Range) -> bool:
        for line in self.blanked:
            if rng.start < Position(line, 1 << 30) and rng.end > Position(line, 0):
                return True
        return False

    def map_edit(self, edit: TextEdit) -> tuple[int, TextEdit] | None:
        """Program edit -> (cell, edit in that cell).

        None if it spans cells or touches blanked IPython syntax.
        """
        if self._touches_blanked(edit.range):
            return None
        cell, start = self.to_cell(edit.range.start)
        end_cell, end = self.to_cell(edit.range.end)
        new_text = edit.new_text
        if end_cell != cell:
            # Allowed only when the edit ends exactly after this cell's last line break
            # (a whole-line replacement of the cell's last line).
            next_start = self.starts[end_cell]
            if not (end_cell == cell + 1 and edit.range.end == Position(next_start, 0)):
                return None
            end = self._cell_end(cell)
            if not self.cells[cell].endswith(("\n", "\r")):
                new_text = re.sub(r"(\r\n|\r|\n)\Z", "", new_text)
        return cell, TextEdit(Range(start, end), new_text)

    def map_fix(self, fix: Fix) -> list[tuple[int, TextEdit]] | None:
        """Every edit of a fix in cell coordinates (cells may differ); None if any cannot map."""
        mapped = []
        for edit in fix.edits:
            one = self.map_edit(edit)
            if one is None:
                return None
            mapped.append(one)
        return mapped

    def map_diagnostic(self, diag: Diagnostic) -> tuple[int, Diagnostic] | None:
        """A program diagnostic in cell coordinates.

        Kept: fixes whose edits all land in the diagnostic's cell, related info in that
        cell, the noqa edit if it maps.  (Use ``map_fix`` / ``map_range`` on the original
        diagnostic to build multi-cell edits or cross-cell related locations.)
        None when the diagnostic starts on blanked IPython syntax.
        """
        if not self.cells:
            return None
        cell, rng = self.map_range(diag.range)
        if self.starts[cell] + rng.start.line in self.blanked:
            return None
        fixes: list[Fix] = []
        for fix in diag.fixes:
            mapped = self.map_fix(fix)
            if mapped is None or any(c != cell for c, _ in mapped):
                continue
            fixes.append(replace(fix, edits=tuple(e for _, e in mapped)))
        if fixes and len(fixes) != len(diag.fixes) and not any(f.preferred for f in fixes):
            fixes[0] = replace(fixes[0], preferred=True)
        related: list[RelatedInfo] = []
        for info in diag.related:
            info_cell, info_range = self.map_range(info.range)
            if info_cell == cell:
                related.append(replace(info, range=info_range))
        noqa = None
        if diag.noqa_edit is not None:
            mapped_noqa = self.map_edit(diag.noqa_edit)
            if mapped_noqa is not None and mapped_noqa[0] == cell:
                noqa = mapped_noqa[1]
        return cell, replace(
            diag, range=rng, fixes=tuple(fixes), related=tuple(related), noqa_edit=noqa
        )

    # --- applying fixes -----------------------------------------------------------

    def apply_fixes(self, fixes: Iterable[Fix]) -> tuple[list[str], int]:
        """Apply the fixes that map into cells and do not overlap; returns (new cells, count)."""
        starts = line_starts(self.source)
        taken: list[tuple[int, int]] = []
        per_cell: dict[int, list[TextEdit]] = {}
        applied = 0
        for fix in fixes:
            mapped = self.map_fix(fix)
            if not mapped:
                continue
            spans = [
                (
                    offset_at(starts, self.source, e.range.start),
                    offset_at(starts, self.source, e.range.end),
                )
                for e in fix.edits
            ]
            if any(_conflict(span, other) for span in spans for other in taken):
                continue
            taken.extend(spans)
            for cell, edit in mapped:
                per_cell.setdefault(cell, []).append(edit)
            applied += 1
        cells = list(self.cells)
        for cell, edits in per_cell.items():
            try:
                cells[cell] = apply_edits(cells[cell], edits)
            except ValueError:
                return list(self.cells), 0
        return cells, applied


def _conflict(a: tuple[int, int], b: tuple[int, int]) -> bool:
    (ab, ae), (bb, be) = a, b
    if ab < be and bb < ae:
        return True
    if ab == ae and bb <= ab <= be:
        return True
    return bb == be and ab <= bb <= ae


def check_cells(
    cells: Sequence[str], path: str, settings: Settings | None = None
) -> list[tuple[int, Diagnostic]]:
    """Diagnostics of a notebook's code cells, each with its cell index."""
    from . import engine

    if not cells:
        return []
    program = NotebookProgram.from_cells(cells)
    out = []
    for diag in engine.check_source(program.source, path, settings):
        mapped = program.map_diagnostic(diag)
        if mapped is not None:
            out.append(mapped)
    return out


def fix_cells(
    cells: Sequence[str],
    path: str,
    settings: Settings | None = None,
    *,
    unsafe: bool = False,
    max_passes: int = 8,
) -> tuple[list[str], int]:
    """Apply fixes across the notebook until none is left; the program parses if it did."""
    from . import engine

    current = list(cells)
    if not current:
        return current, 0
    original_parses = _parses(NotebookProgram.from_cells(current).source)
    total = 0
    for _ in range(max_passes):
        program = NotebookProgram.from_cells(current)
        chosen = [
            fix
            for diag in engine.check_source(program.source, path, settings)
            for fix in [engine.choose_fix(diag, unsafe)]
            if fix is not None
        ]
        if not chosen:
            break
        new_cells, applied = program.apply_fixes(chosen)
        if applied == 0 or new_cells == current:
            break
        if original_parses and not _parses(NotebookProgram.from_cells(new_cells).source):
            break
        current, total = new_cells, total + applied
    return current, total


# --- .ipynb files (nbformat 4) --------------------------------------------------------


class NotebookError(ValueError):
    """The text is not a notebook gradguard can check; the message is one line."""


@dataclass
class NotebookFile:
    """A parsed ``.ipynb``: the JSON document and where its code cells are."""

    document: dict[str, Any]
    code_cells: list[int]  # indices into document["cells"]
    indent: int | None = 1
    trailing_newline: bool = True
    newline: str = "\n"  # the file's line ending ("\r\n" for a notebook saved on Windows)

    @property
    def sources(self) -> list[str]:
        return [_cell_source(self.document["cells"][i]) for i in self.code_cells]

    def with_sources(self, sources: Sequence[str]) -> NotebookFile:
        document = json.loads(json.dumps(self.document))
        for index, text in zip(self.code_cells, sources, strict=True):
            cell = document["cells"][index]
            if isinstance(cell.get("source"), str):
                cell["source"] = text
            else:
                cell["source"] = text.splitlines(keepends=True)
        return NotebookFile(
            document, list(self.code_cells), self.indent, self.trailing_newline, self.newline
        )

    def dumps(self) -> str:
        text = json.dumps(self.document, indent=self.indent, ensure_ascii=False)
        text = text + "\n" if self.trailing_newline else text
        return text.replace("\n", self.newline) if self.newline != "\n" else text


def _cell_source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    if isinstance(source, list):
        return "".join(str(part) for part in source)
    return str(source)


def _detect_indent(text: str) -> int | None:
    match = re.search(r"\n( +)\S", text)
    if match:
        return len(match.group(1))
    return None if "\n" not in text.strip() else 1


def read_notebook(text: str) -> NotebookFile:
    """Parse ``.ipynb`` text (nbformat 4, Python or unknown kernel)."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotebookError(
            f"not a valid notebook: invalid JSON "
            f"({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    except RecursionError:
        raise NotebookError("not a valid notebook: JSON nested too deeply") from None
    if not isinstance(document, dict) or not isinstance(document.get("cells"), list):
        raise NotebookError("not a valid notebook: no `cells` list")
    major = document.get("nbformat")
    if major != 4:
        raise NotebookError(f"unsupported notebook format nbformat={major!r} (only 4 is supported)")
    raw_metadata = document.get("metadata")
    metadata: dict[str, Any] = raw_metadata if isinstance(raw_metadata, dict) else {}
    language = (
        (metadata.get("language_info") or {}).get("name")
        if isinstance(metadata.get("language_info"), dict)
        else None
    )
    if language and str(language).lower() != "python":
        raise NotebookError(f"not a Python notebook (language {language!r})")
    code_cells = []
    for index, cell in enumerate(document["cells"]):
        if not isinstance(cell, dict):
            raise NotebookError(f"not a valid notebook: cell {index + 1} is not an object")
        source = cell.get("source", "")
        if not isinstance(source, (str, list)) or (
            isinstance(source, list) and not all(isinstance(s, str) for s in source)
        ):
            raise NotebookError(f"not a valid notebook: cell {index + 1} has a malformed `source`")
        if cell.get("cell_type") == "code":
            code_cells.append(index)
    newline = "\r\n" if "\r\n" in text else "\n"
    return NotebookFile(document, code_cells, _detect_indent(text), text.endswith("\n"), newline)
