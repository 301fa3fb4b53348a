"""Which user modules are known to be in training mode: what `self.training` reads.

An ``nn.Module`` is built in training mode (``self.training = True``); only
``module.train(mode)`` / ``module.eval()`` (which set it on the module and every
submodule) or an assignment to ``.training`` change it.  So a forward called right after
``Net(…)`` or ``model.train()`` runs its ``if self.training:`` branch and not its
``if not self.training:`` one: an in-place op that only inference runs
(``if not self.training: y.sigmoid_()``) is no error of a training step.

A ``Modes`` maps the storage of a user module instance (``values.Storage``: one per
module, its submodules' storages are its parts) to its known mode.  It is a must-fact: an
absent storage's mode is unknown, ``join`` (where paths meet) keeps the storages every
path agrees on, ``NOTHING_KNOWN`` (the empty map) is the top.  Only instances built by
``instantiate`` in the analysed file are ever known (``built``); ``set_mode`` on a module
sets its whole closure and forgets every other module (a submodule the analysis does not
link as a part would otherwise keep a stale mode).
"""

from __future__ import annotations

from collections.abc import Iterable

from .values import Storage

Modes = frozenset[tuple[Storage, bool]]

NOTHING_KNOWN: Modes = frozenset()


def join(states: Iterable[Modes]) -> Modes:
    """Paths meet: the modules whose mode every path knows alike."""
    out: Modes | None = None
    for state in states:
        out = state if out is None else out & state
    return out if out is not None else NOTHING_KNOWN


def built(state: Modes, storage: Storage) -> Modes:
    """A module just built: in training mode."""
    return frozenset(p for p in state if p[0] is not storage) | {(storage, True)}


def set_mode(storage: Storage, mode: bool | None) -> Modes:
    """`module.train(mode)` / `module.eval()`: the module and its submodules take `mode`
    (None: unknown); nothing is kept of the others."""
    if mode is None:
        return NOTHING_KNOWN
    return frozenset((part, mode) for part in storage.closure())


def mode_of(state: Modes, storage: Storage) -> bool | None:
    """The known mode of a module (None: unknown)."""
    for part, mode in state:
        if part is storage:
            return mode
    return None
