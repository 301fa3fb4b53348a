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


def has_multiline_string(stmt: Node) -> bool:
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
    ctx: FixContext,
    stmt: Node,
    *,
    title: str,
    safe: bool,
    preferred: bool,
    body: str | None = None,
) -> Fix | None:
    """Put the statement (or ``body``, in its place) under `with torch.no_grad():`, keeping
    its comment and line ending."""
    indent = own_line_indent(ctx, stmt)
    if indent is None or has_multiline_string(stmt):
        return None
    torch, imports = ctx.torch_name()
    nl = ctx.newline
    body = _statement_text(stmt) if body is None else body
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
    if stmt is None or has_multiline_string(stmt):
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
    if indent is None or has_multiline_string(stmt):
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


# --- where a statement sits, who reads a name later, moving statements -------------------

_SCOPE_TYPES = ("funcdef", "lambdef", "file_input")
_LOOP_TYPES = ("for_stmt", "while_stmt")


def suite_statement(node: Node) -> Node | None:
    """The statement of a suite (or the file) that holds node: a simple_stmt line or a compound
    statement (`with`, `for`, `if` …) as a whole."""
    cur = node
    while cur is not None and cur.parent is not None:
        if cur.parent.type in ("suite", "file_input"):
            return cur
        if cur.parent.type in _SCOPE_TYPES:
            return None
        cur = cur.parent
    return None


def scope_node(node: Node) -> Node:
    cur = node
    while cur.parent is not None and cur.type not in _SCOPE_TYPES:
        cur = cur.parent
    return cur


def _name_leaves(node: Node, name: str) -> list[Node]:
    out: list[Node] = []
    leaf = node.get_first_leaf()
    end = node.get_last_leaf()
    while leaf is not None:
        if leaf.type == "name" and leaf.value == name:
            out.append(leaf)
        if leaf is end:
            break
        leaf = leaf.get_next_leaf()
    return out


def _is_attribute_name(leaf: Node) -> bool:
    """`a.name`: the leaf is an attribute, not a read of the variable `name`."""
    prev = leaf.get_previous_leaf()
    return prev is not None and prev.type == "operator" and prev.value == "."


def enclosing_loops(node: Node) -> list[Node]:
    loops, cur = [], node.parent
    while cur is not None and cur.type not in _SCOPE_TYPES:
        if cur.type in _LOOP_TYPES:
            loops.append(cur)
        cur = cur.parent
    return loops


def read_after(node: Node, name: str) -> bool:
    """Is the variable `name` used after node in its scope (or anywhere in a loop around it,
    which runs again)?  Conservative: any mention counts, nested functions included."""
    scope = scope_node(node)
    for leaf in _name_leaves(scope, name):
        if _is_attribute_name(leaf):
            continue
        if leaf.start_pos >= node.end_pos:
            return True
    for loop in enclosing_loops(node):
        for leaf in _name_leaves(loop, name):
            if not _is_attribute_name(leaf) and leaf.start_pos < node.start_pos:
                return True
    return False


def names_in(node: Node) -> set[str]:
    return {leaf.value for leaf in _name_leaves_all(node) if not _is_attribute_name(leaf)}


def _name_leaves_all(node: Node) -> list[Node]:
    out: list[Node] = []
    leaf = node.get_first_leaf()
    end = node.get_last_leaf()
    while leaf is not None:
        if leaf.type == "name":
            out.append(leaf)
        if leaf is end:
            break
        leaf = leaf.get_next_leaf()
    return out


def assigned_names(stmts: list[Node]) -> set[str]:
    """Names bound (`=`, augmented, `for`, `with … as`) anywhere in these statements."""
    out: set[str] = set()
    for stmt in stmts:
        for leaf in _name_leaves_all(stmt):
            if leaf.is_definition(include_setitem=True):
                out.add(leaf.value)
    return out


def statements_between(first: Node, last: Node) -> list[Node] | None:
    """The suite statements strictly between two statements of the same suite, or None."""
    if first.parent is None or first.parent is not last.parent:
        return None
    children = list(first.parent.children)
    try:
        i, j = children.index(first), children.index(last)
    except ValueError:
        return None
    if i >= j:
        return None
    return [c for c in children[i + 1 : j] if c.type not in ("newline", "endmarker")]


def _line_span(stmt: Node) -> tuple[int, int]:
    """0-based first line and one past the last line a suite statement occupies."""
    first = stmt.get_first_leaf().start_pos[0]
    last_leaf = stmt.get_last_leaf()
    while last_leaf is not None and last_leaf.type in ("newline", "endmarker", "dedent", "indent"):
        last_leaf = last_leaf.get_previous_leaf()
    last = last_leaf.end_pos[0] if last_leaf is not None else first
    return first - 1, last


def _owns_lines(ctx: FixContext, stmt: Node) -> bool:
    start, end = _line_span(stmt)
    first_line = ctx.lines[start]
    if first_line[: stmt.get_first_leaf().start_pos[1]].strip():
        return False
    last_leaf = stmt.get_last_leaf()
    while last_leaf is not None and last_leaf.type in ("newline", "endmarker"):
        last_leaf = last_leaf.get_previous_leaf()
    if last_leaf is None:
        return False
    rest: str = ctx.lines[last_leaf.end_pos[0] - 1][last_leaf.end_pos[1] :].strip()
    return rest == "" or rest.startswith("#")


def move_statements(
    ctx: FixContext,
    moved: list[Node],
    anchor: Node,
    *,
    before: bool,
    title: str,
    safe: bool,
    preferred: bool,
) -> Fix | None:
    """Move whole suite statements (consecutive, same suite and indentation as ``anchor``) to
    just after (or before) ``anchor``: lines are cut and pasted, comments travel with them."""
    if not moved or any(m.parent is not anchor.parent for m in moved):
        return None
    if any(not _owns_lines(ctx, s) for s in [*moved, anchor]):
        return None
    if any(has_multiline_string(s) for s in moved):
        return None
    spans = [_line_span(s) for s in moved]
    for (_, e1), (s2, _) in zip(spans, spans[1:], strict=False):
        if ctx.lines[e1:s2] and any(line.strip() for line in ctx.lines[e1:s2]):
            return None  # not consecutive
    start, end = spans[0][0], spans[-1][1]
    a_start, a_end = _line_span(anchor)
    if a_start < end and a_end > start:
        return None
    nl = ctx.newline
    block = nl.join(ctx.lines[start:end]) + nl
    at = a_start if before else a_end
    cut = TextEdit(Range.of(start, 0, end, 0), "")
    paste = TextEdit(Range.of(at, 0, at, 0), block)
    return Fix(title, (cut, paste), SAFE if safe else UNSAFE, preferred)


def statement_at(ctx: FixContext, rng: Range) -> Node | None:
    """The suite statement that holds the code starting at ``rng`` (in the analysed file)."""
    pos = (rng.start.line + 1, rng.start.character)
    try:
        leaf = ctx.module.get_leaf_for_position(pos, include_prefixes=True)
    except ValueError:
        return None
    while leaf is not None and leaf.end_pos <= pos:
        leaf = leaf.get_next_leaf()
    return None if leaf is None else suite_statement(leaf)


def single_assignment(stmt: Node) -> tuple[str, Node] | None:
    """`NAME = expr` on its own line: (NAME, expr)."""
    if stmt is None or stmt.type != "simple_stmt":
        return None
    smalls = [c for c in stmt.children if c.type != "newline"]
    if len(smalls) != 1 or smalls[0].type != "expr_stmt":
        return None
    expr = smalls[0]
    if len(expr.children) != 3 or expr.children[1].type != "operator":
        return None
    if expr.children[1].value != "=" or expr.children[0].type != "name":
        return None
    return expr.children[0].value, expr.children[2]


def statement_in_suite_of(node: Node, sibling: Node) -> Node | None:
    """The statement that holds node and sits in the same suite as ``sibling`` (climbing out of
    `with`/`for`/`if` blocks, not out of a function), or None."""
    cur = node
    while cur is not None and cur.type not in _SCOPE_TYPES:
        if cur.parent is sibling.parent:
            return cur
        cur = cur.parent
    return None


def is_function_parameter(node: Node, name: str) -> bool:
    """Is `name` a parameter of the function (or lambda) that holds node?"""
    scope = scope_node(node)
    if scope.type not in ("funcdef", "lambdef"):
        return False
    return any(p.name.value == name for p in scope.get_params())


_HOLDS_LEAF = re.compile(r"optim|Parameter|\.grad\b|is_leaf|requires_grad|register_|append|extend")


def leaf_held_elsewhere(node: Node, name: str) -> bool:
    """Could something need the very leaf `name` holds, so that rebinding the name would change
    which tensor trains?  Any mention before node (`opt = SGD([w])`, `params.append(w)`, a
    loop around it) other than a plain assignment of the name, or a later statement that
    builds an optimizer, reads `.grad` or keeps the tensor somewhere."""
    scope = scope_node(node)
    loops = enclosing_loops(node)
    for leaf in _name_leaves(scope, name):
        if _is_attribute_name(leaf) or (node.start_pos <= leaf.start_pos < node.end_pos):
            continue
        stmt = leaf.parent
        while stmt is not None and stmt.type not in ("simple_stmt", "suite", "file_input"):
            stmt = stmt.parent
        text = code_of(stmt) if stmt is not None else ""
        in_loop = any(loop.start_pos <= leaf.start_pos < loop.end_pos for loop in loops)
        if leaf.start_pos < node.start_pos or in_loop:
            if not leaf.is_definition():
                return True
        elif _HOLDS_LEAF.search(text):
            return True
    return False


def binding_kind(node: Node, name: str) -> str:
    """What the assignments of `name` in node's scope make: "mutable" (list/dict displays,
    comprehensions, `list(…)`/`dict(…)`), "tuple", or "unknown" (a parameter, a call…)."""
    scope = scope_node(node)
    kinds: set[str] = set()
    for leaf in _name_leaves(scope, name):
        if _is_attribute_name(leaf) or not leaf.is_definition():
            continue
        stmt = leaf.parent
        if stmt is None or stmt.type != "expr_stmt" or stmt.children[0] is not leaf:
            kinds.add("unknown")
            continue
        rhs = code_of(stmt.children[-1]).strip()
        if rhs.startswith(("[", "{", "list(", "dict(")):
            kinds.add("mutable")
        elif rhs.startswith(("(", "tuple(")) or "," in rhs.split("(")[0]:
            kinds.add("tuple")
        else:
            kinds.add("unknown")
    if not kinds:
        return "unknown"
    return kinds.pop() if len(kinds) == 1 else "unknown"


def line_after(stmt: Node) -> int:
    """The 0-based line just after the last line of a statement."""
    return _line_span(stmt)[1]
