"""The second tier: ask jedi about receivers the dataflow could not type.

Only in-place writes on values of unknown type are asked about (one question each, within
the settings' time budget): in-place methods, augmented assignments and index assignments.  When jedi says the receiver is an ``nn.Parameter`` the write is
judged as a write on a grad leaf, with the certainty of a guess (a warning at most): jedi
knows the class, not whether ``requires_grad`` was turned off or which grad mode callers use.
"""

from __future__ import annotations

from ..config import Settings
from .dataflow import Dataflow
from .syntax import node_range
from .values import Origin, Storage, Tri, Value


def refine(flow: Dataflow, source: str, settings: Settings, path: str | None = None) -> None:
    candidates = [s for s in flow.unknown_sites if s.grad is not Tri.NO and s.path is None]
    if not candidates:
        return
    from . import jedi_types

    positions = []
    for site in candidates:
        line, column = site.target_node.end_pos
        positions.append((line - 1, column))
    kinds = jedi_types.infer_kinds(source, path, positions, settings.jedi_budget_ms)
    for site, pos in zip(candidates, positions, strict=True):
        if kinds.get(pos) != jedi_types.PARAMETER:
            continue
        origin = Origin(node_range(site.target_node), "jedi infers an `nn.Parameter`")
        site.target = Value(
            tensor=Tri.YES,
            requires_grad=Tri.YES,
            leaf=Tri.MAYBE,
            parameter=True,
            storage=Storage(),
            grad_from=origin,
        )
        if not any(s is site for s in flow.sites):
            flow.sites.append(site)
