"""Calls into libraries the workspace does not hold (the table is ``libraries``).

* a call that builds a model (`BertModel(config)`, `timm.create_model(…)`,
  `AutoModel.from_config(…)`, `torch.hub.load(…)`) gives a module whose parameters require
  grad; its submodules and attributes are "a module of that model, members unknown";
  its forward's output is in a graph that saved its weights;
* framework objects: `accelerator.backward(loss)` / `fabric.backward(loss)` run a backward,
  `accelerator.prepare(…)` / `fabric.setup(…)` give back their arguments;
* any other class of a library gives an instance whose methods are unknown calls.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from . import libraries
from .nodes import Node, _literal_bool
from .scope import Scope
from .summaries import MISSING
from .syntax import CallArgs, node_range
from .values import (
    NOT_TENSOR,
    UNKNOWN,
    ModuleDesc,
    Storage,
    Tri,
    Value,
    _container,
    _fresh_copy,
    fresh_tensor,
    unclose,
)

if TYPE_CHECKING:
    from .dataflow import Dataflow

# Attributes of a model that are not submodules.
_MODEL_FIELDS = frozenset(
    {
        "config",
        "device",
        "dtype",
        "training",
        "name_or_path",
        "generation_config",
        "num_labels",
        "main_input_name",
        "base_model_prefix",
    }
)
# Attributes of a tensor (a model's output may be a plain tensor).
_TENSOR_FIELDS = frozenset(
    {
        "data",
        "grad",
        "shape",
        "dtype",
        "device",
        "ndim",
        "is_leaf",
        "requires_grad",
        "grad_fn",
        "T",
        "mT",
        "H",
        "mH",
        "real",
        "imag",
        "is_cuda",
        "layout",
    }
)


class LibraryCalls:
    def library_call(self: Dataflow, path: str, trailer: Node, node: Node, sc: Scope) -> Value:
        args, positional, keywords = self.evaluate_args(trailer, sc)
        self.calls.summaries.unclosing([*positional, *keywords.values()])
        unclose([*positional, *keywords.values()])  # a library may add keys to a dict
        if libraries.builds_model(path):
            return self.library_model(path, node)
        if path in libraries.SUPERVISED_TRAINERS:
            self.supervised_step(positional, keywords, trailer, node, sc)
            return Value(tensor=Tri.NO, requires_grad=Tri.NO, library=path + "()")
        if path in libraries.PROCESS_FUNCTION_ENGINES and positional:
            # `Engine(step)`: each iteration calls `step(engine, batch)` in grad mode.
            engine = Value(tensor=Tri.NO, requires_grad=Tri.NO, library=path + "()")
            self.call_value(positional[0], [engine, UNKNOWN], trailer, node, sc)
            return engine
        owner, _, method = path.rpartition(".")
        if method == "add_event_handler" and libraries.is_engine(owner) and len(positional) > 1:
            # `trainer.add_event_handler(Events.…, handler, *args)`: `run` calls
            # `handler(engine, *args)` when the event fires.
            engine = Value(tensor=Tri.NO, requires_grad=Tri.NO, library=owner)
            self.call_value(positional[1], [engine, *positional[2:]], trailer, node, sc)
            return NOT_TENSOR
        if libraries.is_fit_call(path):
            model = positional[0] if positional else keywords.get("model", UNKNOWN)
            self.lightning_fit(model, trailer, node, sc)
            return NOT_TENSOR
        kind = libraries.framework_method(path)
        if kind == "backward":
            loss = positional[0] if positional else keywords.get("loss", UNKNOWN)
            retain = _literal_bool(args.keywords.get("retain_graph")) is True
            self.backward(loss, node, sc, retain=retain)
            return NOT_TENSOR
        if kind == "pass":
            if len(positional) == 1:
                return positional[0]
            return _container(tuple(positional))
        if path.rsplit(".", 1)[-1][:1].isupper() and "()" not in path.rsplit(".", 1)[-1]:
            return Value(tensor=Tri.NO, requires_grad=Tri.NO, library=path + "()")
        return self.unknown_call(positional + list(keywords.values()), sc)

    def library_model(self: Dataflow, path: str, node: Node) -> Value:
        name = libraries.model_name(path)
        origin = self.origin(node_range(node), f"`{name}(…)` on line {node.start_pos[0]}")
        desc = ModuleDesc(name, has_parameters=Tri.YES, origin=origin, library=path)
        model = Value(tensor=Tri.NO, requires_grad=Tri.NO, module=desc, storage=Storage())
        self.grads_built(model.storage)
        return model

    def library_attribute(self: Dataflow, owner: Value, attr: str) -> Value:
        """`path.attr` of a library name (not a model)."""
        return Value(tensor=Tri.NO, requires_grad=Tri.NO, library=f"{owner.library}.{attr}")

    def model_member(self: Dataflow, owner: Value, attr: str) -> Value | None:
        """`model.attr` of a library model: a parameter, a submodule, or None (not a module)."""
        desc = owner.module
        assert desc is not None and desc.library is not None
        if attr in _MODEL_FIELDS or attr.startswith("__"):
            return UNKNOWN
        has = desc.has_parameters
        if has is Tri.YES and self.freezes_parameters:
            has = Tri.MAYBE  # the file turns requires_grad off somewhere
        if attr in ("weight", "bias"):
            if desc.frozen:
                has = Tri.NO
            origin = desc.origin
            if origin is not None and libraries.builds_model(desc.library):
                text = f"the parameters of `{desc.class_name}` built on line {origin.line}"
                origin = self.origin(origin.range, text)
            return Value(
                tensor=Tri.YES,
                requires_grad=has,
                leaf=has,
                parameter=True,
                storage=Storage(),
                grad_from=origin if has is not Tri.NO else None,
            )
        sub = dataclasses.replace(desc, class_name=f"{desc.class_name}.{attr}", has_parameters=has)
        return owner.evolve(module=sub, attrs=None, items=None, element=None)

    def model_item(self: Dataflow, owner: Value) -> Value:
        """`model.layers[0]`: a submodule of the same model."""
        desc = owner.module
        assert desc is not None
        sub = dataclasses.replace(desc, class_name=f"{desc.class_name}[…]")
        return owner.evolve(module=sub)

    def output_field(self: Dataflow, owner: Value, attr: str | None) -> Value | None:
        """`outputs.logits`, `outputs[0]` of a library model's output: a tensor of its graph
        (a tuple of them for `hidden_states`…; None: a tensor's own attribute)."""
        if attr is not None and attr in _TENSOR_FIELDS:
            return None
        field = fresh_tensor(owner.requires_grad, grad_from=owner.grad_from, graph=owner.graph)
        if attr in libraries.OUTPUT_TUPLES:
            return field.evolve(tensor=Tri.MAYBE, model_output=True)
        return field

    def model_output(self: Dataflow, mod: ModuleDesc, result: Value) -> Value:
        """What a library model's forward returns: a tensor (torchvision, timm) or a
        ModelOutput (transformers) whose fields are tensors of that graph."""
        assert mod.library is not None
        if libraries.returns_tensor(mod.library):
            return result.evolve(model_output=True)
        return result.evolve(tensor=Tri.MAYBE, model_output=True)

    def supervised_step(
        self: Dataflow,
        positional: list[Value],
        keywords: dict[str, Value],
        trailer: Node,
        node: Node,
        sc: Scope,
    ) -> None:
        """`create_supervised_trainer(model, optimizer, loss_fn)`: each iteration runs
        `loss_fn(model(x), y).backward()` then `optimizer.step()` (grad mode on)."""
        model = positional[0] if positional else keywords.get("model", UNKNOWN)
        loss_fn = positional[2] if len(positional) > 2 else keywords.get("loss_fn", UNKNOWN)
        prediction = self.call_value(model, [fresh_tensor()], trailer, node, sc)
        loss = self.call_value(loss_fn, [prediction, fresh_tensor()], trailer, node, sc)
        self.backward(loss, node, sc)

    def lightning_fit(self: Dataflow, model: Value, trailer: Node, node: Node, sc: Scope) -> None:
        """`trainer.fit(module)`: each step runs `module.training_step(batch, i)` on this
        instance (its `__init__` arguments known: `Lit(Encoder())`) and, with automatic
        optimization, backpropagates what it returns."""
        cls = self.instance_class(model)
        if cls is None or cls.framework != "lightning":
            return
        func = self.bound_method(model, "training_step", None)
        if func is None:
            return
        result = self.call_user(func, CallArgs(), [UNKNOWN, UNKNOWN], {}, node, sc)
        if result is not None and not cls.manual_optimization:
            self.backward(returned_loss(result), node, sc)

    def event_handler_decorator(self: Dataflow, deco: Node, sc: Scope) -> bool:
        """`@trainer.on(Events.…)` on an ignite engine: the handler runs when the engine's
        `run` fires that event, in the grad mode the run has (ignite changes none)."""
        expr = deco.children[1]
        parts = expr.children if expr.type in ("power", "atom_expr") else []
        if len(parts) != 3 or parts[1].get_code(include_prefix=False) != ".on":
            return False
        if parts[2].type != "trailer" or parts[2].children[0].value != "(":
            return False
        engine = self.expr(parts[0], sc).library
        return engine is not None and libraries.is_engine(engine)

    def call_value(
        self: Dataflow, callee: Value, values: list[Value], trailer: Node, node: Node, sc: Scope
    ) -> Value:
        """Call a module or a user function a library was handed, with these arguments."""
        if callee.module is not None:
            return self.module_call(callee.module, values, CallArgs(), trailer, node, sc, callee)
        if callee.func is not None:
            result = self.call_user(callee.func, CallArgs(), values, {}, node, sc)
            if result is not None:
                return result
        return self.unknown_call(values, sc)

    def framework_of(self: Dataflow, value: Value) -> str | None:
        """The framework of an instance of a user class deriving from a framework base."""
        cls = self.instance_class(value)
        return cls.framework if cls is not None else None

    def framework_member(self: Dataflow, value: Value, name: str) -> Value | None:
        """`self.layer` of a framework's module, as its `__init__` set it."""
        cls = self.instance_class(value)
        if cls is None:
            return None
        if value.attrs and name in value.attrs:
            return value.attrs[name]
        member = cls.attrs.get("self." + name)
        if member is not None:
            self.calls.summaries.read_value(member)
        return _fresh_copy(member) if member is not None else None

    def framework_self(self: Dataflow, sc: Scope) -> Value | None:
        """`self` in a method of a framework's module, when it holds its parameters' counter."""
        scope: Scope | None = sc
        while scope is not None and scope.self_name is None:
            scope = scope.parent
        if scope is None or scope.self_name is None:
            return None
        value = scope.env.get(scope.self_name)
        self.calls.summaries.read(scope, scope.self_name, MISSING if value is None else value)
        if value is None or value.storage is None or self.framework_of(value) is None:
            return None
        return value

    def lightning_method(
        self: Dataflow, recv: Value, name: str, trailer: Node, node: Node, sc: Scope
    ) -> Value:
        args, positional, keywords = self.evaluate_args(trailer, sc)
        if name == "manual_backward":
            loss = positional[0] if positional else keywords.get("loss", UNKNOWN)
            retain = _literal_bool(args.keywords.get("retain_graph")) is True
            self.backward(loss, node, sc, retain=retain)
            return NOT_TENSOR
        # `self.optimizers()`: what `configure_optimizers` returns (one optimizer, or several).
        func = self.bound_method(recv, "configure_optimizers", None)
        if func is None:
            return UNKNOWN
        configured = self.call_user(func, CallArgs(), [], {}, node, sc)
        found = _optimizers_in(configured) if configured is not None else []
        if len(found) == 1:
            return found[0]
        return _container(tuple(found)) if found else UNKNOWN


def returned_loss(value: Value) -> Value:
    """What a framework backpropagates of a hook's return: the value, or its "loss" item."""
    if value.keys is not None and value.items is not None and "loss" in value.keys:
        return value.items[value.keys.index("loss")]
    return value


def _optimizers_in(value: Value, depth: int = 0) -> list[Value]:
    """The optimizers in what `configure_optimizers` returned: an optimizer, a list or tuple
    of them (and of schedulers), or a dict with an "optimizer" key."""
    if value.optimizer is not None:
        return [value]
    if depth > 2:
        return []
    if value.keys is not None and value.items is not None and "optimizer" in value.keys:
        return _optimizers_in(value.items[value.keys.index("optimizer")], depth + 1)
    found: list[Value] = []
    for item in value.items or ():
        found += _optimizers_in(item, depth + 1)
    return found
