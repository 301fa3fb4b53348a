"""The call layer: which callee a call reaches and what it does to its arguments."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .nodes import (
    Node,
    _is_class_ref,
)
from .scope import Scope
from .syntax import (
    node_range,
)
from .values import (
    ModuleDesc,
    Origin,
    Storage,
    Tri,
    Value,
)

if TYPE_CHECKING:
    from .dataflow import Dataflow

log = logging.getLogger(__name__)


class Calls:
    def call(
        self, callee: Value, trailer: Node, node: Node, span: tuple[Node, Node], sc: Scope
    ) -> Value:
        if callee.torch_path and not callee.torch_path.startswith("ctx:"):
            return self.torch_call(callee.torch_path, trailer, node, sc)
        args, positional, keywords = self.evaluate_args(trailer, sc)
        if callee.module is not None:
            return self.module_call(callee.module, positional, args, trailer, node, sc, callee)
        if callee.user_class is not None and callee.tensor is Tri.NO and not callee.module:
            cls = self.classes.get(callee.user_class)
            if cls is not None and callee is not None and _is_class_ref(callee):
                has_params = cls.has_parameters if cls.is_module is not Tri.NO else Tri.NO
                return Value(
                    tensor=Tri.NO,
                    requires_grad=Tri.NO,
                    storage=Storage(),
                    module=ModuleDesc(
                        cls.name,
                        has_parameters=has_params,
                        origin=Origin(
                            node_range(node), f"`{cls.name}(…)` on line {node.start_pos[0]}"
                        ),
                        user_class=cls.name,
                    ),
                )
        return self.unknown_call(positional + list(keywords.values()), sc)

    def unknown_call(self: Dataflow, args: list[Value], sc: Scope) -> Value:
        """A call we know nothing of: its result may depend on every argument's graph."""
        graph: set[int] = set()
        for a in args:
            graph |= a.graph
            for item in a.items or ():
                graph |= item.graph
            if a.element is not None:
                graph |= a.element.graph
        return Value(tensor=Tri.MAYBE, requires_grad=Tri.MAYBE, graph=frozenset(graph))
