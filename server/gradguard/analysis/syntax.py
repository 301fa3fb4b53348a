"""Small helpers over parso's tree: ranges, call arguments, dotted names, statement walking."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from parso.tree import BaseNode, Leaf

from ..model import Range

Node = Any  # parso nodes are loosely typed

COMPOUND = frozenset(
    {
        "if_stmt",
        "for_stmt",
        "while_stmt",
        "try_stmt",
        "with_stmt",
        "funcdef",
        "classdef",
        "decorated",
        "async_stmt",
        "async_funcdef",
        "match_stmt",
    }
)


def node_range(node: Node) -> Range:
    (l1, c1), (l2, c2) = node.start_pos, node.end_pos
    return Range.of(l1 - 1, c1, l2 - 1, c2)


def code_of(node: Node) -> str:
    """The node's text without its leading whitespace/comments (its prefix)."""
    code = node.get_code(include_prefix=False)
    return code


def first_leaf(node: Node) -> Leaf:
    return node.get_first_leaf() if isinstance(node, BaseNode) else node


def dotted_name(node: Node) -> str | None:
    """`self.fc.weight` -> 'self.fc.weight' for names and attribute chains; else None."""
    if node.type == "name":
        return node.value
    if node.type in ("atom_expr", "power") and node.children[0].type == "name":
        parts = [node.children[0].value]
        for trailer in node.children[1:]:
            if (
                trailer.type == "trailer"
                and trailer.children[0].type == "operator"
                and trailer.children[0].value == "."
            ):
                parts.append(trailer.children[1].value)
            else:
                return None
        return ".".join(parts)
    return None


@dataclass
class CallArgs:
    positional: list[Node] = field(default_factory=list)
    keywords: dict[str, Node] = field(default_factory=dict)
    keyword_nodes: dict[str, Node] = field(default_factory=dict)  # the whole `name=value` argument
    starred: bool = False
    # `f(a, *xs)`: each `*xs` expression with how many positional arguments precede it.
    stars: list[tuple[int, Node]] = field(default_factory=list)
    # `f(**kw)`: each `**kw` expression.
    double_stars: list[Node] = field(default_factory=list)


def call_args(trailer: Node) -> CallArgs:
    """Arguments of a call trailer `( … )`."""
    out = CallArgs()
    if len(trailer.children) < 3:
        return out
    inner = trailer.children[1]
    items = inner.children if inner.type == "arglist" else [inner]
    for item in items:
        if item.type == "operator" and item.value == ",":
            continue
        if item.type == "argument":
            first = item.children[0]
            if first.type == "operator" and first.value in ("*", "**"):
                out.starred = True
                if first.value == "*" and len(item.children) == 2:
                    out.stars.append((len(out.positional), item.children[1]))
                elif len(item.children) == 2:
                    out.double_stars.append(item.children[1])
                continue
            if (
                len(item.children) >= 3
                and item.children[1].type == "operator"
                and item.children[1].value == "="
                and first.type == "name"
            ):
                out.keywords[first.value] = item.children[2]
                out.keyword_nodes[first.value] = item
                continue
            out.positional.append(item)  # generator argument
            continue
        if item.type == "star_expr":
            out.starred = True
            continue
        out.positional.append(item)
    return out


def is_call_trailer(node: Node) -> bool:
    return (
        node.type == "trailer"
        and node.children[0].type == "operator"
        and node.children[0].value == "("
    )


def is_attr_trailer(node: Node) -> bool:
    return (
        node.type == "trailer"
        and node.children[0].type == "operator"
        and node.children[0].value == "."
    )


def is_index_trailer(node: Node) -> bool:
    return (
        node.type == "trailer"
        and node.children[0].type == "operator"
        and node.children[0].value == "["
    )


def suite_statements(suite: Node) -> Iterator[Node]:
    """Statements of a suite / file: simple statements split at ';', compound ones as they are."""
    children = suite.children if suite.type in ("suite", "file_input") else [suite]
    for child in children:
        yield from _statements_of(child)


def _statements_of(child: Node) -> Iterator[Node]:
    if child.type == "simple_stmt":
        for small in child.children:
            if small.type == "newline" or (small.type == "operator" and small.value == ";"):
                continue
            yield small
    elif child.type in ("newline", "endmarker"):
        return
    elif child.type == "error_node":
        # parso's error recovery: keep analysing what it could shape.
        for sub in child.children:
            if isinstance(sub, BaseNode):
                yield from _statements_of(sub)
    elif child.type == "error_leaf":
        return
    else:
        yield child


def enclosing_statement(node: Node) -> Node | None:
    """The smallest simple statement that contains node (its expr_stmt or bare expression)."""
    cur = node
    while cur.parent is not None:
        if cur.parent.type == "simple_stmt":
            return cur
        if cur.parent.type in ("suite", "file_input", "error_node"):
            return cur
        cur = cur.parent
    return None


def statement_indent(stmt: Node) -> str:
    leaf = first_leaf(stmt)
    return " " * 0 if leaf is None else _indent_of_line(leaf)


def _indent_of_line(leaf: Leaf) -> str:
    # The prefix of the first leaf on a line holds the indentation after its last newline.
    prefix = leaf.prefix
    tail = prefix.rsplit("\n", 1)[-1]
    return tail if tail.strip() == "" else ""


def is_sole_statement_on_line(stmt: Node) -> bool:
    """No other statement shares the physical line (no `a; b`), and it is not an inline suite."""
    parent = stmt.parent
    if parent is None or parent.type != "simple_stmt":
        return False
    smalls = [
        c
        for c in parent.children
        if c.type not in ("newline",) and not (c.type == "operator" and c.value == ";")
    ]
    if len(smalls) != 1:
        return False
    grand = parent.parent
    # `if x: y.add_(1)` keeps the body on the `if` line: its suite is the simple_stmt itself.
    return grand is not None and grand.type in ("suite", "file_input")
