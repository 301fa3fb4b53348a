"""Which parameters' ``.grad`` is known to be None: the optimizer steps PyTorch skips.

``torch.optim``'s optimizers update a parameter only ``if p.grad is not None``: a step
when no backward has reached the parameters since ``zero_grad()`` (``set_to_none=True``,
the default since torch 2.0) or since they were built changes nothing and bumps no
version, so a forward before it stays valid for its backward.

A ``GradsNone`` holds the storages (one per module, see ``values.Storage``) whose
parameters have no gradient on every path that reaches the current statement.  It is a
must-fact: the empty set is the top (nothing known), ``join`` (where paths meet) is the
intersection, and ``leq(a, b)`` (``a`` is at least as precise) is ``a ⊇ b``.  Any backward
empties it (it may reach any parameter), as does the entry of a function analysed on its
own (a framework hook runs again after its previous call's backward).
"""

from __future__ import annotations

from collections.abc import Iterable

from .values import Storage

GradsNone = frozenset[Storage]

NOTHING_KNOWN: GradsNone = frozenset()


def join(states: Iterable[GradsNone]) -> GradsNone:
    """Paths meet: the parameters whose grads are None on every one of them."""
    out: GradsNone | None = None
    for state in states:
        out = state if out is None else out & state
    return out if out is not None else NOTHING_KNOWN


def leq(a: GradsNone, b: GradsNone) -> bool:
    """``a`` is at least as precise as ``b`` (knows every storage ``b`` knows)."""
    return a >= b


def zeroed(state: GradsNone, storage: Storage) -> GradsNone:
    """`opt.zero_grad()`, `model.zero_grad()`: every parameter they hold has no grad."""
    return state | frozenset(storage.closure())


def built(state: GradsNone, storage: Storage) -> GradsNone:
    """A module just built: its own parameters have no grad (its members keep theirs)."""
    return state | {storage}
