"""The dataflow's questions about PyTorch ops, answered from the generated op table.

Every answer comes from ``gradguard.optable`` (generated from PyTorch's own yaml); the
small sets in ``torchnames`` only back it up for names the table cannot know (Python-level
methods such as ``Tensor.T``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from . import torchnames as tn
from .values import Tri

try:  # the generated table
    from .. import optable as _table
except ImportError:  # pragma: no cover - only while the table is being generated
    _table = None  # type: ignore[assignment]


@dataclass(frozen=True)
class ArgFact:
    """One argument of an op as the dataflow sees it (the receiver first for methods)."""

    kind: str  # "tensor" | "number" | "other" | "unknown"
    requires_grad: Tri
    name: str | None = None  # keyword name, when passed by keyword


@dataclass(frozen=True)
class SaveFacts:
    result: Tri  # the op's output is saved
    args: tuple[tuple[int, Tri], ...]  # indices of saved arguments, with certainty
    outputs: tuple[int, ...] = (0,)  # which outputs are saved (ops returning several)


NOTHING_SAVED = SaveFacts(Tri.NO, ())


def is_inplace_method(name: str) -> bool:
    if name in tn.NOT_DATA_WRITES or not name.endswith("_") or name.startswith("_"):
        return False
    if _table is not None:
        return bool(_table.is_inplace_method(name))
    return True


def out_of_place(name: str) -> str | None:
    """`add_` -> `add` when Tensor has that method."""
    if _table is not None:
        return _table.functional_twin(name)
    return name[:-1] if name.endswith("_") else None


def method_twin(name: str) -> str | None:
    """`x.add_(…)` -> `add`: the out-of-place *method* (`fill_` has none: `torch.fill` is a
    function only; `normal_` neither)."""
    if _table is not None:
        op = _table.lookup(name)
        return op.twin if op is not None and op.twin_method else None
    return name[:-1] if name.endswith("_") else None


@cache
def is_view(name: str) -> bool:
    if _table is not None and _table.is_view(name):
        return True
    return name in tn.VIEW_METHODS


@cache
def is_multi_view(name: str) -> bool:
    if _table is not None and _table.is_multi_view(name):
        return True
    return name in tn.MULTI_VIEW_METHODS


@cache
def takes_tensor_list(name: str) -> bool:
    """Has the op a `Tensor[]` parameter (einsum, broadcast_tensors, linalg.multi_dot)?"""
    if _table is None:
        return False
    op = _table.lookup(name)
    return op is not None and any(p.kind == "TL" for o in op.overloads for p in o.params)


@cache
def result_never_requires_grad(name: str) -> bool:
    if name in tn.NO_GRAD_RESULT:
        return True
    if _table is not None:
        try:
            return bool(_table.returns_no_grad(name))
        except Exception:
            return False
    return False


_KINDS = {"tensor": "TENSOR", "number": "NUMBER", "other": "OTHER", "unknown": "UNKNOWN"}


def _to_bool(t: Tri) -> bool | None:
    return None if t is Tri.MAYBE else t is Tri.YES


def _table_args(args: Sequence[ArgFact]) -> tuple[list[Any], dict[str, Any]]:
    positional = [
        _table.Arg(getattr(_table.Kind, _KINDS[a.kind]), _to_bool(a.requires_grad))
        for a in args
        if a.name is None
    ]
    keywords = {
        a.name: _table.Arg(getattr(_table.Kind, _KINDS[a.kind]), _to_bool(a.requires_grad))
        for a in args
        if a.name is not None
    }
    return positional, keywords


def outputs(name: str, args: Sequence[ArgFact], *, method: bool) -> tuple[bool, ...] | None:
    """Ops returning several tensors: which outputs are differentiable (None: one output)."""
    if _table is None:
        return None
    positional, keywords = _table_args(args)
    for kwargs in (keywords, {}):
        try:
            found = _table.outputs(name, positional, method=method, kwargs=kwargs)
        except Exception:
            found = None
        if found is not None:
            return found
    return None


def saves(name: str, args: Sequence[ArgFact], *, method: bool) -> SaveFacts:
    """What `name(args)` saves for backward, given which args require grad."""
    if _table is None:
        return NOTHING_SAVED
    facts = list(args)
    positional = [
        _table.Arg(getattr(_table.Kind, _KINDS[a.kind]), _to_bool(a.requires_grad))
        for a in args
        if a.name is None
    ]
    keywords = {
        a.name: _table.Arg(getattr(_table.Kind, _KINDS[a.kind]), _to_bool(a.requires_grad))
        for a in args
        if a.name is not None
    }
    # Python-level signatures differ from ATen's (`x.norm(dim=1)` binds no ATen overload):
    # retry without the keywords, then with the receiver / first argument alone.
    attempts = [(positional, keywords), (positional, {}), (positional[:1], {})]
    # A Python wrapper folding ATen's arguments (`torch.tensordot(a, b, dims=1)` runs
    # tensordot(a, b, dims_a, dims_b)): the tensors, then non-tensor arguments.
    other = _table.Arg(_table.Kind.OTHER, False)
    tensors = [p for p in positional if p.kind is _table.Kind.TENSOR]
    attempts += [(tensors + [other] * n, {}) for n in (1, 2)]
    info = None
    for attempt, kwargs in attempts:
        try:
            info = _table.saves(name, attempt, method=method, kwargs=kwargs)
        except Exception:
            info = None
        if info is not None:
            break
    if (info is None or info.nothing) and name in tn.COMPOSITE_SAVED_OUTPUTS:
        grad = Tri.any([a.requires_grad for a in facts if a.kind in ("tensor", "unknown")])
        return SaveFacts(grad, (), tn.COMPOSITE_SAVED_OUTPUTS[name])
    if info is None or info.nothing:
        return NOTHING_SAVED
    certainty = Tri.YES if info.exact else Tri.MAYBE
    return SaveFacts(
        certainty if info.result else Tri.NO,
        tuple((i, certainty) for i in sorted(info.args)),
        tuple(sorted(info.outputs)),
    )


@cache
def has_out(name: str) -> bool:
    """Does the op take `out=` (so a call with `out=` is an autograd-blind write)?"""
    if _table is None:
        return True
    try:
        return bool(_table.has_out(name))
    except Exception:
        return False
