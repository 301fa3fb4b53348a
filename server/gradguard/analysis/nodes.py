"""Helpers over parso nodes the dataflow shares: code text, spans, literals, loop targets."""

from __future__ import annotations

from typing import Any

from .syntax import CallArgs
from .values import Tri, Value

Node = Any

ARITH_OPS = {
    "+": "add",
    "-": "sub",
    "*": "mul",
    "/": "div",
    "//": "floor_divide",
    "%": "remainder",
    "**": "pow",
    "@": "matmul",
    "&": "bitwise_and",
    "|": "bitwise_or",
    "^": "bitwise_xor",
    "<<": "bitwise_left_shift",
    ">>": "bitwise_right_shift",
}


def _target_elements(target: Node) -> list[Node]:
    if target.type == "atom":
        if len(target.children) < 3:
            return []
        inner = target.children[1]
        if inner.type in ("testlist_comp", "testlist_star_expr", "exprlist"):
            return [c for c in inner.children if not (c.type == "operator" and c.value == ",")]
        return [inner]
    return [c for c in target.children if not (c.type == "operator" and c.value == ",")]


def _without_last_trailer(node: Node) -> Node:
    """A detached view of `a.b.c[...]` without its last trailer (for evaluation and text)."""
    children = node.children[:-1]
    if len(children) == 1:
        return children[0]
    return _Span(children)


class _Span:
    """A pseudo-node for the prefix `head trailer…` of an atom_expr."""

    type = "atom_expr"

    def __init__(self, children: list[Node]):
        self.children = children
        self.parent = children[0].parent

    @property
    def start_pos(self) -> tuple[int, int]:
        return self.children[0].start_pos

    @property
    def end_pos(self) -> tuple[int, int]:
        return self.children[-1].end_pos

    def get_code(self, include_prefix: bool = True) -> str:
        text = "".join(c.get_code() for c in self.children)
        if not include_prefix:
            first = self.children[0].get_code(include_prefix=False)
            text = first + "".join(c.get_code() for c in self.children[1:])
        return text

    def get_first_leaf(self) -> Node:
        return (
            self.children[0].get_first_leaf()
            if hasattr(self.children[0], "get_first_leaf")
            else self.children[0]
        )


def _span_node(span: tuple[Node, Node]) -> Node:
    head, last = span
    if head is last:
        return head
    parent = head.parent
    children = parent.children
    end = children.index(last) + 1
    return _Span(children[:end]) if end > 1 else head


def _code_span(span: tuple[Node, Node]) -> str:
    return _code(_span_node(span))


def _code(node: Node) -> str:
    try:
        return node.get_code(include_prefix=False)
    except TypeError:
        return node.get_code()


def _code_prefix(node: Node, limit: int) -> str:
    """``_code(node)[:limit]`` without making the whole text: the leaves are read only until
    ``limit`` characters are there (a call's text in a message, for each call made)."""
    parts: list[str] = []
    size = 0
    todo = [node]
    first = True
    while todo and size < limit:
        cur = todo.pop()
        children = getattr(cur, "children", None)
        if children is not None:
            todo.extend(reversed(children))
            continue
        value = getattr(cur, "value", None)
        prefix = getattr(cur, "prefix", None)
        if not isinstance(value, str) or not isinstance(prefix, str):
            return _code(node)[:limit]  # not a parso leaf: the slow, general way
        piece = value if first else prefix + value
        first = False
        parts.append(piece)
        size += len(piece)
    return "".join(parts)[:limit]


def _literal_bool(node: Node | None) -> bool | None:
    if node is None:
        return None
    if node.type == "keyword" and node.value in ("True", "False"):
        return node.value == "True"
    if node.type == "name" and node.value in ("True", "False"):
        return node.value == "True"
    if node.type == "number":
        try:
            return bool(float(node.value))
        except ValueError:
            return None
    return None


def _inplace_node(args: CallArgs, info: dict[str, Any]) -> Node | None:
    pname = info.get("inplace_param")
    node = args.keywords.get(pname) if pname else None
    index = info.get("inplace_index")
    if node is None and index is not None and len(args.positional) > index:
        node = args.positional[index]
    return node


def _inplace_flag(args: CallArgs, info: dict[str, Any]) -> Tri:
    node = _inplace_node(args, info)
    if node is None:
        return Tri.NO
    flag = _literal_bool(node)
    return Tri.MAYBE if flag is None else Tri.of(flag)


def _is_static(decorators: list[Node]) -> bool:
    return any("staticmethod" in d.get_code() for d in decorators)


def _is_class_ref(value: Value) -> bool:
    return value.user_class is not None and value.module is None and value.tensor is Tri.NO


def _import_alias(node: Node, alias_node: Node) -> bool:
    """`import torch.nn as nn` (alias) vs `import torch.nn` (binds the top package)."""
    code = node.get_code()
    return f" as {alias_node.value}" in code


def _from_import_pairs(node: Node) -> list[tuple[str, str]]:
    pairs = []
    try:
        for name_node, alias_node in node._as_name_tuples():
            pairs.append((name_node.value, (alias_node or name_node).value))
    except Exception:
        for defined in node.get_defined_names():
            pairs.append((defined.value, defined.value))
    return pairs


def _module_info(name: str) -> dict[str, Any] | None:
    from .tables import module_info

    return module_info(name)


def _functional_info(name: str) -> dict[str, Any] | None:
    from .tables import functional_info

    return functional_info(name)


def _is_loop_variable(node: Node, name: str) -> bool:
    """Is `name` bound by an enclosing `for` (or comprehension) target?"""
    if not name.isidentifier():
        return False
    cur = getattr(node, "parent", None)
    while cur is not None and cur.type not in ("funcdef", "classdef", "file_input"):
        if cur.type in ("for_stmt", "sync_comp_for", "comp_for"):
            target = cur.children[1]
            names = (
                [target]
                if target.type == "name"
                else [leaf for leaf in _leaves(target) if leaf.type == "name"]
            )
            if any(n.value == name for n in names):
                return True
        cur = cur.parent
    return False


def _leaves(node: Node) -> list[Node]:
    out = []
    stack = [node]
    while stack:
        cur = stack.pop()
        if hasattr(cur, "children"):
            stack.extend(reversed(cur.children))
        else:
            out.append(cur)
    return out


_CONVENTIONAL = {"torch": "torch", "nn": "torch.nn", "F": "torch.nn.functional"}


def _string_constant(node: Node) -> str | None:
    if node.type == "string":
        text = node.value
        for prefix in ("r", "R", "u", "U", "b", "B"):
            text = text.removeprefix(prefix)
        if text[:3] in ('"""', "'''"):
            return text[3:-3]
        return text[1:-1]
    return None


def _constant_index(sub: Node, base: Value) -> int | None:
    """`xs[0]`, `xs[-1]`, `d["key"]` on a container whose items are known."""
    items = base.items or ()
    if base.keys is not None:
        key = _string_constant(sub)
        if key is not None and key in base.keys:
            return base.keys.index(key)
        return None
    text = sub.get_code(include_prefix=False).strip()
    try:
        position = int(text)
    except ValueError:
        return None
    if -len(items) <= position < len(items):
        return position % len(items)
    return None
