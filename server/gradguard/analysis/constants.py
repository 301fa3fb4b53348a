"""Constant evaluation: literals, comparisons, `not`/`and`/`or`, integer arithmetic.

Pure functions of syntax nodes and ``Value``s (no dataflow state): the interpreter uses them
to decide `if`/`while` tests and conditional expressions (`if self.project:`,
`if act == "relu":`, `if bounds is not None:`, `if depth > 2:`), so that only the branch a
decided test selects runs.  Anything not decided gives NOCONST and the caller keeps both
paths.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from .nodes import Node
from .values import (
    NOCONST,
    NOT_TENSOR,
    NUMBER,
    UNKNOWN,
    EnumMember,
    Opaque,
    Tri,
    Value,
    const_value,
    truth,
)

_INT_LIMIT = 2**31  # folded integers stay small (loop counters, depths, sizes)


def literal(node: Node) -> Any:
    """The constant a literal node spells (`3`, `"relu"`, `True`, `None`), or NOCONST."""
    t = node.type
    if t == "keyword" or (t == "name" and node.value in ("True", "False", "None")):
        return {"True": True, "False": False, "None": None}.get(node.value, NOCONST)
    if t in ("number", "string", "strings"):
        return _spelled(t == "number", node.get_code(include_prefix=False).strip())
    return NOCONST


@lru_cache(maxsize=8192)
def _spelled(number: bool, code: str) -> Any:
    """The constant a number or string literal's text spells (a pure function of the text,
    memoised: the same literals recur at every call of the function holding them)."""
    if not number and code[:1] in "bBfF" or code[:2].lower() in ("rb", "br", "fr", "rf"):
        return NOCONST  # bytes and f-strings are no constants here
    try:
        value = ast.literal_eval(code)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return NOCONST
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int) and abs(value) < _INT_LIMIT:
        return value
    if isinstance(value, float):
        return value
    return NOCONST


def _plain(c: Any) -> bool:
    """A constant Python compares by value (not an opaque object)."""
    return c is None or isinstance(c, bool | int | float | str | EnumMember)


def _equal(a: Any, b: Any) -> Tri:
    if not (_plain(a) and _plain(b)):
        return Tri.MAYBE
    if isinstance(a, EnumMember) or isinstance(b, EnumMember):
        if isinstance(a, EnumMember) and isinstance(b, EnumMember) and a.owner == b.owner:
            return Tri.of(a.name == b.name)
        if a is None or b is None:
            return Tri.NO
        return Tri.MAYBE  # IntEnum / StrEnum members equal ints / strings
    return Tri.of(bool(a == b))


def is_none(value: Value) -> Tri:
    """`value is None`."""
    c = value.const
    if c is not NOCONST:
        return Tri.of(c is None)
    if (
        value.tensor is Tri.YES
        or value.func is not None
        or value.module is not None
        or value.items is not None
        or value.attrs is not None
        or value.torch_path is not None
    ):
        return Tri.NO
    return Tri.MAYBE


_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
}


def compare(op: str, left: Value, right: Value) -> Tri:
    """One comparison `left op right` (op: `==`, `!=`, `is`, `is not`, `in`, `not in`,
    `<`…), decided from constants and known facts."""
    a, b = left.const, right.const
    if op in ("is", "is not"):
        if a is None or b is None:
            verdict = is_none(right if a is None else left)
        elif isinstance(a, bool | EnumMember) and isinstance(b, bool | EnumMember):
            verdict = Tri.of(type(a) is type(b) and a == b)
        else:
            verdict = Tri.MAYBE
        return _negate(verdict) if op == "is not" else verdict
    if op in ("==", "!=", "<>"):
        if a is NOCONST or b is NOCONST:
            if (a is None and is_none(right) is Tri.NO and right.tensor is Tri.NO) or (
                b is None and is_none(left) is Tri.NO and left.tensor is Tri.NO
            ):
                verdict = Tri.NO  # `fn == None`: a plain object is not None
            else:
                return Tri.MAYBE
        else:
            verdict = _equal(a, b)
        return _negate(verdict) if op != "==" else verdict
    if op in _ORDER:
        if (
            isinstance(a, int | float)
            and isinstance(b, int | float)
            and not isinstance(a, bool)
            and not isinstance(b, bool)
        ):
            return Tri.of(_ORDER[op](a, b))
        return Tri.MAYBE
    if op in ("in", "not in"):
        verdict = _member(left, right)
        return _negate(verdict) if op == "not in" else verdict
    return Tri.MAYBE


def _member(left: Value, right: Value) -> Tri:
    a = left.const
    if a is NOCONST or not _plain(a):
        return Tri.MAYBE
    if isinstance(right.const, str) and isinstance(a, str):
        return Tri.of(a in right.const)
    if right.items is None or right.tensor is not Tri.NO:
        return Tri.MAYBE
    members = [v.const for v in right.items] if right.keys is None else list(right.keys)
    found = Tri.NO
    for m in members:
        if m is NOCONST:
            found = Tri.MAYBE
            continue
        eq = _equal(a, m)
        if eq is Tri.YES:
            return Tri.YES
        if eq is Tri.MAYBE:
            found = Tri.MAYBE
    return found


def _negate(t: Tri) -> Tri:
    return Tri.MAYBE if t is Tri.MAYBE else Tri.of(t is Tri.NO)


def decided(t: Tri) -> Value | None:
    """A decided test's bool constant (None when undecided)."""
    return None if t is Tri.MAYBE else const_value(t is Tri.YES)


_FOLD: dict[str, Callable[[int, int], int]] = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "floor_divide": operator.floordiv,
    "remainder": operator.mod,
}


def fold(op: str, left: Value, right: Value) -> Value | None:
    """Integer arithmetic on two known ints (`depth - 1`, `i * 2`), and `str + str`."""
    a, b = left.const, right.const
    if isinstance(a, str) and isinstance(b, str) and op == "add" and len(a) + len(b) < 256:
        return const_value(a + b)
    if (
        not (isinstance(a, int) and isinstance(b, int))
        or isinstance(a, bool)
        or isinstance(b, bool)
    ):
        return None
    fn = _FOLD.get(op)
    if fn is None or (b == 0 and op in ("floor_divide", "remainder")):
        return None
    result = fn(a, b)
    return const_value(result) if abs(result) < _INT_LIMIT else None


def truth_value(value: Value) -> Tri:
    """`bool(value)` for a test (`if value:`)."""
    return truth(value)


def tensor_fact(owner: Value, attr: str) -> Value:
    """`t.requires_grad`, `t.is_leaf`, `t.grad_fn` as constants where the facts decide them;
    `t.shape` a tuple of ints, `t.ndim` an int."""
    if attr == "shape":
        return Value(tensor=Tri.NO, requires_grad=Tri.NO, element=NUMBER)
    if attr == "ndim":
        return NUMBER
    if owner.tensor is not Tri.YES:
        return NOT_TENSOR
    rg = Tri.MAYBE if owner.no_grad_view else owner.requires_grad
    if attr == "requires_grad":
        return NOT_TENSOR if rg is Tri.MAYBE else const_value(rg is Tri.YES)
    # A tensor is a leaf unless it requires grad and was computed (has a grad_fn).
    if rg is Tri.NO:
        leaf = Tri.YES
    elif rg is Tri.YES and owner.grad_leaf is Tri.YES:
        leaf = Tri.YES
    elif rg is Tri.YES and (owner.leaf is Tri.NO or owner.view is Tri.YES):
        leaf = Tri.NO
    else:
        leaf = Tri.MAYBE
    if attr == "is_leaf":
        return NOT_TENSOR if leaf is Tri.MAYBE else const_value(leaf is Tri.YES)
    if leaf is Tri.MAYBE:
        return UNKNOWN
    return const_value(None) if leaf is Tri.YES else const_value(Opaque("grad_fn"))


__all__ = [
    "NOCONST",
    "Opaque",
    "compare",
    "decided",
    "fold",
    "is_none",
    "literal",
    "tensor_fact",
    "truth_value",
]
