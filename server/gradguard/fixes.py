"""Rewrite builders shared by the rules (and so by `--fix` and the lightbulb).

Each builder returns a ``Fix`` or ``None`` when the rewrite does not apply to that shape
of code.  Fixes keep indentation, comments and line endings; the engine drops any fix
whose result would not parse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from .analysis.syntax import call_args, code_of, dotted_name, is_sole_statement_on_line, node_range
from .analysis.values import Origin
from .model import Applicability, Fix, Position, Range, TextEdit
from .text import newline_of, split_lines

Node = Any
SAFE, UNSAFE = Applicability.SAFE, Applicability.UNSAFE

# Parenthesise a right-hand side unless it is atomic enough to sit after an operator.
_ATOMIC = frozenset(
    {"name", "number", "atom", "atom_expr", "power", "string", "strings", "fstring", "keyword"}
)

_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass
class FixContext:
    source: str
    module: Node  # parso module
    torch_alias: str | None  # the name torch is imported as at module level
    fix_style: str = "where"

    @cached_property
    def newline(self) -> str:
        return newline_of(self.source)

    @cached_property
    def lines(self) -> list[str]:
        return split_lines(self.source)

    def torch_name(self) -> tuple[str, list[TextEdit]]:
        """How to spell `torch`, and the edit that imports it when the file does not."""
        if self.torch_alias:
            return self.torch_alias, []
        return "torch", [self._import_edit()]

    def _import_edit(self) -> TextEdit:
        line = 0
        for child in self.module.children:
            if child.type == "simple_stmt":
                first = child.children[0]
                is_doc = first.type == "string" and child is self.module.children[0]
                is_future = first.type == "import_from" and first.get_code().strip().startswith(
                    "from __future__"
                )
                if is_doc or is_future:
                    line = child.end_pos[0] - 1 if child.end_pos[1] == 0 else child.end_pos[0]
                    continue
            break
        return TextEdit(Range.of(line, 0, line, 0), "import torch" + self.newline)

    @cached_property
    def _names(self) -> set[str]:
        return set(_NAME_RE.findall(self.source))

    def used_names(self) -> set[str]:
        return self._names

    def fresh_name(self, base: str) -> str:
        names = self.used_names()
        if base not in names:
            return base
        i = 1
        while f"{base}_{i}" in names:
            i += 1
        return f"{base}_{i}"


def _statement_text(stmt: Node) -> str:
    return code_of(stmt)


def _has_multiline_string(stmt: Node) -> bool:
    leaf = stmt.get_first_leaf()
    end = stmt.get_last_leaf()
    while leaf is not None:
        if leaf.type in ("string", "fstring_string") and "\n" in leaf.value:
            return True
        if leaf is end:
            break
        leaf = leaf.get_next_leaf()
    return False


def indent_of(stmt: Node, source_lines: list[str]) -> str:
    line: str = source_lines[stmt.start_pos[0] - 1]
    return line[: len(line) - len(line.lstrip(" \t"))]


def own_line_indent(ctx: FixContext, stmt: Node) -> str | None:
    """The statement's indentation when it owns its line(s) (no `a; b`, no inline suite)."""
    if stmt is None or not is_sole_statement_on_line(stmt):
        return None
    indent = indent_of(stmt, ctx.lines)
    return indent if stmt.start_pos[1] == len(indent) else None


def wrap_no_grad(
    ctx: FixContext, stmt: Node, *, title: str, safe: bool, preferred: bool
) -> Fix | None:
    """Put the statement under `with torch.no_grad():`, keeping its comment and line ending."""
    indent = own_line_indent(ctx, stmt)
    if indent is None or _has_multiline_string(stmt):
        return None
    torch, imports = ctx.torch_name()
    nl = ctx.newline
    body = _statement_text(stmt)
    unit = "    " if "\t" not in indent else "\t"
    body = body.replace(nl, nl + unit) if nl in body else body
    text = f"with {torch}.no_grad():{nl}{indent}{unit}{body}"
    edit = TextEdit(node_range(stmt), text)
    return Fix(title, tuple(imports + [edit]), SAFE if safe else UNSAFE, preferred)


def rebind(
    ctx: FixContext,
    stmt: Node,
    target: str,
    expression: str,
    *,
    title: str,
    safe: bool,
    preferred: bool,
    extra_imports: bool = False,
) -> Fix | None:
    """Replace the whole statement with `target = expression`."""
    if stmt is None or _has_multiline_string(stmt):
        return None
    edits = [TextEdit(node_range(stmt), f"{target} = {expression}")]
    if extra_imports:
        edits = ctx.torch_name()[1] + edits
    return Fix(title, tuple(edits), SAFE if safe else UNSAFE, preferred)


def insert_before(
    ctx: FixContext, stmt: Node, line_text: str, *, title: str, safe: bool, preferred: bool
) -> Fix | None:
    """Insert a line (at the statement's indentation) before the statement."""
    indent = own_line_indent(ctx, stmt)
    if indent is None:
        return None
    pos = Position(stmt.start_pos[0] - 1, stmt.start_pos[1])
    edit = TextEdit(Range(pos, pos), f"{line_text}{ctx.newline}{indent}")
    return Fix(title, (edit,), SAFE if safe else UNSAFE, preferred)


def replace_statement_lines(
    ctx: FixContext,
    stmt: Node,
    new_lines: list[str],
    *,
    title: str,
    safe: bool,
    preferred: bool,
    needs_torch: bool,
) -> Fix | None:
    indent = own_line_indent(ctx, stmt)
    if indent is None or _has_multiline_string(stmt):
        return None
    text = (ctx.newline + indent).join(new_lines)
    edits = [TextEdit(node_range(stmt), text)]
    if needs_torch:
        edits = ctx.torch_name()[1] + edits
    return Fix(title, tuple(edits), SAFE if safe else UNSAFE, preferred)


def parenthesize(node: Node) -> str:
    text = code_of(node)
    return text if node.type in _ATOMIC else f"({text})"


def call_arguments_text(trailer: Node) -> str:
    if trailer is None or len(trailer.children) < 3:
        return ""
    return code_of(trailer.children[1])


def without_argument(trailer: Node, argument: Node) -> str:
    """The argument list text with one argument (and its comma) removed."""
    args = call_args(trailer)
    keep = []
    for node in args.positional:
        keep.append(code_of(node))
    for node in args.keyword_nodes.values():
        if node is not argument:
            keep.append(code_of(node))
    return ", ".join(keep)


def is_rebindable(text: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*", text))


def is_plain_name(text: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text))


def replace_range(rng: Range, text: str, *, title: str, safe: bool, preferred: bool) -> Fix:
    return Fix(title, (TextEdit(rng, text),), SAFE if safe else UNSAFE, preferred)


def origin_line(origin: Origin | None) -> str:
    return f" (line {origin.line})" if origin else ""


def dotted(node: Node) -> str | None:
    return dotted_name(node)


def clone_then_write(
    ctx: FixContext,
    stmt: Node,
    target: str,
    value_node: Node | None,
    *,
    safe: bool,
    preferred: bool,
) -> Fix | None:
    """`x[i] = v` → `x = x.clone()` first; when `v` reads `x`, compute `v` before cloning
    (an op in `v` may save a view of `x`, and writing the clone must not touch it)."""
    title = f"Clone first: `{target} = {target}.clone()` before the write"
    if value_node is None or not re.search(rf"\b{re.escape(target)}\b", code_of(value_node)):
        return insert_before(
            ctx, stmt, f"{target} = {target}.clone()", title=title, safe=safe, preferred=preferred
        )
    if (
        stmt is None
        or stmt.type != "expr_stmt"
        or len(stmt.children) != 3
        or stmt.children[1].value != "="
    ):
        return None
    tmp = ctx.fresh_name("update")
    left = code_of(stmt.children[0])
    lines = [f"{tmp} = {code_of(value_node)}", f"{target} = {target}.clone()", f"{left} = {tmp}"]
    return replace_statement_lines(
        ctx, stmt, lines, title=title, safe=safe, preferred=preferred, needs_torch=False
    )
