"""Torch semantics, table-driven: torch functions, factories, nn modules, tensor methods.

What an op saves comes from the op table (``ops``/``tables``), never from torch itself.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING, Any

from . import libraries, ops
from . import torchnames as tn
from .constants import tensor_fact
from .nodes import (
    Node,
    _code,
    _code_prefix,
    _code_span,
    _functional_info,
    _inplace_flag,
    _inplace_node,
    _is_class_ref,
    _literal_bool,
    _module_info,
    _span_node,
    _string_constant,
)
from .scope import FuncRef, Scope
from .sites import WriteSite
from .syntax import (
    CallArgs,
    call_args,
    dotted_name,
    enclosing_statement,
    node_range,
)
from .tables import constructor_accepts, module_info
from .values import (
    DYNAMIC_MEMBER,
    ENABLE_GRAD_CTX,
    MAYBE_GRAD_CTX,
    NO_GRAD_CTX,
    NOCONST,
    NOT_TENSOR,
    NUMBER,
    UNKNOWN,
    ModuleDesc,
    Origin,
    SaveRecord,
    Storage,
    Tri,
    Value,
    _container,
    const_value,
    constant,
    fresh_tensor,
    is_closed,
    merge,
    unclose,
)

if TYPE_CHECKING:
    from .dataflow import Dataflow

log = logging.getLogger(__name__)


class TorchCalls:
    def torch_call(self: Dataflow, path: str, trailer: Node, node: Node, sc: Scope) -> Value:
        args, positional, keywords = self.evaluate_args(trailer, sc)
        name = path.rsplit(".", 1)[-1]
        origin_line = node.start_pos[0]
        if path in tn.NO_GRAD_CONTEXTS:
            return NO_GRAD_CTX
        if path in tn.ENABLE_GRAD_CONTEXTS:
            return ENABLE_GRAD_CTX
        if path == "torch.is_grad_enabled":
            if sc.grad is Tri.NO or (sc.grad is Tri.YES and sc.info.grad_proven):
                return const_value(sc.grad is Tri.YES)
            return NOT_TENSOR
        if path in tn.SET_GRAD_ENABLED:
            flag = _literal_bool(args.positional[0]) if args.positional else None
            if flag is None and positional and isinstance(positional[0].const, bool):
                flag = positional[0].const  # `torch.set_grad_enabled(is_train)`, a known flag
            ctx = MAYBE_GRAD_CTX if flag is None else (ENABLE_GRAD_CTX if flag else NO_GRAD_CTX)
            stmt = enclosing_statement(node)
            parent = node.parent
            if stmt is node and parent is not None and parent.type == "simple_stmt":
                sc.grad = Tri.MAYBE if flag is None else Tri.of(flag)
                if sc.info.kind == "module":
                    # Process-wide: functions called later run in the module's final mode.
                    self.module_grad = sc.grad
                    self.calls.summaries.changed_classes()
            return ctx
        if path in tn.PARAMETER_CLASSES:
            flag = (
                _literal_bool(args.keywords.get("requires_grad"))
                if "requires_grad" in args.keywords
                else True
            )
            if len(args.positional) > 1:
                flag = _literal_bool(args.positional[1])
            rg = Tri.MAYBE if flag is None else Tri.of(flag)
            return fresh_tensor(
                rg,
                leaf=rg,
                parameter=True,
                grad_from=self.origin(node_range(node), f"`nn.Parameter` on line {origin_line}"),
            )
        if path in libraries.MODEL_FACTORIES:  # `torch.hub.load(repo, name)`
            return self.library_model(path, node)
        if path in tn.BACKWARD_FUNCTIONS:
            target = (
                positional[0]
                if positional
                else keywords.get("outputs") or keywords.get("tensors") or UNKNOWN
            )
            retain = (
                _literal_bool(args.keywords.get("retain_graph")) is True
                if "retain_graph" in args.keywords
                else False
            )
            for v in target.items or (target,):
                self.backward(v, node, sc, retain=retain)
            return UNKNOWN
        if path in tn.AUTOGRAD_FUNCTIONAL:
            return self.autograd_functional(positional, keywords, trailer, node, sc)
        if path.startswith("torch.nn.init."):
            return positional[0] if positional else UNKNOWN
        if path in _WRAPPING and positional:  # `weight_norm(nn.Conv2d(…))` is that module
            return positional[0]
        if (
            path.startswith("torch.nn.")
            and not path.startswith("torch.nn.functional.")
            and name[:1].isupper()
        ):
            built = self.make_module(name, path, args, positional, keywords, node, sc)
            self.grads_built(built.storage)
            return built
        if path.startswith("torch.optim.") and name[:1].isupper() and "lr_scheduler" not in path:
            params = positional[0] if positional else keywords.get("params", UNKNOWN)
            return Value(
                tensor=Tri.NO,
                requires_grad=Tri.NO,
                optimizer=name,
                storage=parameters_storage(params),
            )
        if (
            path.startswith("torch.optim")
            or path.startswith("torch.utils")
            or path.startswith("torch.distributed")
            or path.startswith("torch.jit")
            or path.startswith("torch.cuda")
            or path.startswith("torch.backends")
        ):
            return UNKNOWN
        if (
            name in tn.FACTORIES
            and (path.count(".") == 1 or path.startswith("torch.nn."))
            and "out" not in args.keywords  # `torch.arange(n, out=p)` writes p: see below
        ):
            return self.factory(name, args, positional, node)
        functional = path.startswith("torch.nn.functional.")
        info = _functional_info(name) if functional or path.count(".") == 1 else None
        out_node = args.keywords.get("out")
        tensors = [
            v
            for v in positional + [v for k, v in keywords.items() if k != "out"]
            if v.tensor is not Tri.NO
        ]
        # `torch.cat([a, b], out=t)`: the tensors of a list or tuple argument are inputs too.
        tensors += [
            item
            for v in positional
            if v.tensor is Tri.NO and v.items is not None
            for item in v.items
            if item.tensor is not Tri.NO
        ]
        # ... and so is what a list of unknown length holds (`[f(x) for x in xs]`).
        tensors += [
            v.element
            for v in positional
            if v.tensor is Tri.NO
            and v.items is None
            and v.module is None
            and v.element is not None
            and v.element.tensor is not Tri.NO
        ]
        if (
            out_node is not None
            and not (out_node.type == "keyword" and out_node.value == "None")
            and ops.has_out(name)
        ):
            out_value = keywords["out"]
            grad_input = next((v for v in tensors if v.requires_grad is Tri.YES), None) or next(
                (v for v in tensors if v.requires_grad is Tri.MAYBE), None
            )
            if out_value.requires_grad is Tri.YES and grad_input is None:
                grad_input = out_value
            site = WriteSite(
                "out",
                f"{name}(out=…)",
                node,
                enclosing_statement(node),
                out_value,
                out_node,
                sc.grad,
                sc.info,
                node_range(node),
                call_args=trailer,
                grad_input=grad_input,
                out_node=args.keyword_nodes["out"],
                target_text=_code(out_node),
            )
            self.add_site(site, sc)
            self.write(site, sc)
            return out_value
        # In-place functions: torch.relu_(x), F.relu_(x), torch.sigmoid_(x)
        if (
            name.endswith("_")
            and not name.startswith("_")
            and positional
            and positional[0].tensor is not Tri.NO
            and ops.is_inplace_method(name)
        ):
            x = positional[0]
            site = WriteSite(
                "method",
                name,
                node,
                enclosing_statement(node),
                x,
                args.positional[0],
                sc.grad,
                sc.info,
                node_range(node),
                call_args=trailer,
                target_text=_code(args.positional[0]),
            )
            site.aliases = self.aliases_of(sc, x)
            site.later_grad_use = self.later_grad_use(node, site.target_text)
            site.__dict__["function_path"] = path
            self.add_site(site, sc)
            self.write(site, sc)
            updated = self.after_inplace(x, name, positional, node, sc)
            self.replace_value(sc, x, updated)
            return updated
        if info is not None and info.get("inplace_param"):
            inplace = _flag_value(_inplace_flag(args, info), info, positional, keywords)
            if inplace is not Tri.NO and positional:
                x = positional[0]
                flag_node = args.keyword_nodes.get(info["inplace_param"])
                if flag_node is None and len(args.positional) > info.get("inplace_index", 99):
                    flag_node = args.positional[info["inplace_index"]]
                site = WriteSite(
                    "flag",
                    f"{name}(inplace=True)",
                    node,
                    enclosing_statement(node),
                    x,
                    args.positional[0],
                    sc.grad if inplace is Tri.YES else Tri.MAYBE,
                    sc.info,
                    node_range(node),
                    call_args=trailer,
                    flag_node=flag_node,
                    target_text=_code(args.positional[0]),
                )
                self.add_site(site, sc)
                self.write(site, sc)
                updated = self.after_inplace(x, info.get("op") or name, [x], node, sc)
                self.replace_value(sc, x, updated)
                return updated
        if name in ("stack", "cat", "concat", "concatenate", "hstack", "vstack"):
            items = positional[0].items if positional and positional[0].items else ()
            elem = positional[0].element if positional else None
            members = list(items) + ([elem] if elem is not None else [])
            return self.op_result(
                name, members or positional, node, sc, method=False, save_lookup=False
            )
        if (
            path.count(".") == 1
            and positional
            and positional[0].tensor is not Tri.NO
            and (positional[0].tensor is Tri.YES or positional[0].storage is not None)
        ):  # `torch.chunk(x, 3)`, `torch.transpose(w, 0, 1)`: as the method forms
            viewed = self.view_call(positional[0], name, node, sc)
            if viewed is not None:
                return viewed
        if name in tn.VARARG_TENSOR_LISTS and path.count(".") == 1:
            # `torch.einsum("ij,jk", a, b)`: Python packs the tensors into ATen's `Tensor[]`
            start = tn.VARARG_TENSOR_LISTS[name]
            rest = positional[start:]
            if len(rest) > 1 or (len(rest) == 1 and rest[0].tensor is not Tri.NO):
                positional = positional[:start] + [_container(tuple(rest))]
        op = info.get("op") if info else name
        for module in ("linalg", "special", "fft"):  # torch.linalg.qr is ATen's linalg_qr
            if path.startswith(f"torch.{module}.") and not info:
                op = f"{module}_{name}"
        return self.op_result(
            op or name, positional, node, sc, method=False, display=name, keywords=keywords
        )

    def autograd_functional(
        self: Dataflow,
        positional: list[Value],
        keywords: dict[str, Value],
        trailer: Node,
        node: Node,
        sc: Scope,
    ) -> Value:
        """`jacobian(f, x)`, `hessian(f, x)`, `vjp(f, x, v)`…: `f` runs under enable_grad on
        `x.detach().requires_grad_()` (same version counter as `x`); its result's graph is
        differentiated right away."""
        func = positional[0] if positional else keywords.get("func", UNKNOWN)
        inputs = positional[1] if len(positional) > 1 else keywords.get("inputs", UNKNOWN)
        if func.func is None and func.module is None:
            return self.unknown_call(positional + list(keywords.values()), sc)
        origin = self.origin(node_range(node), f"the inputs of `{_code_prefix(node, 40)}`")
        leaves = [
            fresh_tensor(Tri.YES, leaf=Tri.YES, grad_from=origin).evolve(
                storage=x.storage or Storage()
            )
            for x in (inputs.items if inputs.items is not None else (inputs,))
        ]
        grad, sc.grad = sc.grad, Tri.YES
        result: Value | None = None
        try:
            if func.module is not None:  # `jacobian(model, x)`: its forward
                stand_in = CallArgs(positional=[node] * len(leaves))
                result = self.module_call(func.module, leaves, stand_in, trailer, node, sc, func)
            else:
                result = self.call_user(func.func, CallArgs(), leaves, {}, node, sc)
        finally:
            sc.grad = grad
        if result is None:
            return self.unknown_call(positional, sc)
        for out in result.items or (result,):
            self.backward(out, node, sc)
        return fresh_tensor(Tri.NO)

    def factory(
        self: Dataflow, name: str, args: CallArgs, positional: list[Value], node: Node
    ) -> Value:
        rg_node = args.keywords.get("requires_grad")
        if rg_node is None:
            return fresh_tensor(Tri.NO, leaf=Tri.NO)
        flag = _literal_bool(rg_node)
        rg = Tri.MAYBE if flag is None else Tri.of(flag)
        return fresh_tensor(
            rg,
            leaf=rg,
            grad_from=self.origin(
                node_range(args.keyword_nodes["requires_grad"]),
                f"`{_code(args.keyword_nodes['requires_grad'])}` on line {node.start_pos[0]}",
            ),
        )

    def make_module(
        self: Dataflow,
        name: str,
        path: str,
        args: CallArgs,
        positional: list[Value],
        keywords: dict[str, Value],
        node: Node,
        sc: Scope,
    ) -> Value:
        origin = self.origin(node_range(node), f"`nn.{name}(…)` on line {node.start_pos[0]}")
        if (
            not args.starred
            and constructor_accepts(name, len(args.positional), tuple(args.keywords)) is False
        ):
            # `nn.Linear(4, 2, unknown_kw=1)` raises TypeError: this path ends here
            sc.stopped = True
            return UNKNOWN
        if name == "Sequential":
            members, exact = self.expand_stars(args, positional, sc)
            return sequential(members, exact, origin)
        if name in _MODULE_CONTAINERS:  # ModuleList([...]), ModuleDict({...}), ParameterList…
            held = positional[0] if positional else _container(())
            if not positional and args.stars:  # `ModuleList(*[…])` is not torch's API
                held = UNKNOWN
            return owning(
                Value(
                    tensor=Tri.NO,
                    requires_grad=Tri.NO,
                    storage=Storage(),
                    module=ModuleDesc(
                        name,
                        has_parameters=_members_have_parameters(held),
                        origin=origin,
                        user_class=name,
                    ),
                    items=held.items,
                    keys=held.keys,
                    element=held.element,
                )
            )
        info = _module_info(name)
        if info is None:
            return Value(
                tensor=Tri.NO,
                requires_grad=Tri.NO,
                storage=Storage(),
                module=ModuleDesc(name, has_parameters=Tri.MAYBE, origin=origin, user_class=name),
            )
        inplace, inplace_node = Tri.NO, None
        if info.get("inplace_param"):
            inplace = _flag_value(_inplace_flag(args, info), info, positional, keywords)
            inplace_node = _inplace_node(args, info)
        return Value(
            tensor=Tri.NO,
            requires_grad=Tri.NO,
            storage=Storage(),
            module=ModuleDesc(
                name,
                op=info.get("op"),
                inplace=inplace,
                inplace_range=node_range(inplace_node) if inplace_node is not None else None,
                has_parameters=Tri.YES if info.get("has_parameters") else Tri.NO,
                saves_input=bool(info.get("saves_input")),
                saves_output=bool(info.get("saves_output")),
                origin=origin,
            ),
        )

    def module_call(
        self: Dataflow,
        mod: ModuleDesc,
        positional: list[Value],
        args: CallArgs,
        trailer: Node,
        node: Node,
        sc: Scope,
        owner: Value | None = None,
        keywords: dict[str, Value] | None = None,
        owner_path: str | None = None,
    ) -> Value:
        inlined = None
        if mod.user_class and owner is not None and owner.module is mod:
            func = self.bound_method(owner, "forward", owner_path)
            if func is not None:
                inlined = self.call_user(func, args, positional, keywords or {}, node, sc)
            elif positional and owner.attrs and self.is_sequential_class(mod.user_class):
                # A subclass of nn.Sequential filled in __init__: its members run in order.
                cur = positional[0]
                for member in [v for v in owner.attrs.values() if v.module is not None]:
                    assert member.module is not None
                    owns = bool(member.module.user_class or member.module.children)
                    cur = self.module_call(
                        member.module, [cur], args, trailer, node, sc, member if owns else owner
                    )
                return cur
        if not positional and mod.library is not None:  # `model(input_ids=…, labels=…)`
            positional = list((keywords or {}).values())[:1] or [fresh_tensor()]
        if not positional:
            return inlined or UNKNOWN
        x = positional[0]
        if mod.children:
            cur = x
            members = owner.items if owner is not None and owner.items is not None else None
            if members is not None and len(members) == len(mod.children):
                for member in members:  # user modules inside: their forward is followed
                    # A user module (its forward is followed) or a nested Sequential is its
                    # own owner; a plain layer records into this container's parameters.
                    own = member.module is not None and (
                        member.module.user_class or member.module.children
                    )
                    inner = member if own else owner
                    if member.module is None:
                        return self.unknown_call([cur], sc)
                    cur = self.module_call(member.module, [cur], args, trailer, node, sc, inner)
                return cur
            for child in mod.children:
                cur = self.module_call(child, [cur], args, trailer, node, sc, owner)
            return cur
        if mod.op is not None and mod.inplace is not Tri.NO:
            site = WriteSite(
                "flag",
                f"{mod.class_name}(inplace=True)",
                node,
                enclosing_statement(node),
                x,
                args.positional[0],
                sc.grad,
                sc.info,
                node_range(node),
                call_args=trailer,
                module_origin=mod.origin,
                target_text=_code(args.positional[0]),
                flag_range=mod.inplace_range,
            )
            if mod.inplace is Tri.MAYBE:
                site.grad = Tri.MAYBE if site.grad is Tri.YES else site.grad
            self.add_site(site, sc)
            self.write(site, sc)
            updated = self.after_inplace(x, mod.op, [x], node, sc)
            if (
                mod.saves_output
                and sc.grad is not Tri.NO
                and updated.requires_grad is not Tri.NO
                and updated.storage is not None
                and mod.inplace is Tri.YES
            ):
                pass  # after_inplace already recorded the op's own saves
            self.replace_value(sc, x, updated)
            return updated
        if mod.has_parameters is not Tri.NO or mod.user_class:
            grad = sc.grad
            rg = Tri.NO if grad is Tri.NO else min(mod.has_parameters, grad, key=int)
            rg = max(
                rg,
                Tri.MAYBE
                if any(a.requires_grad is not Tri.NO for a in positional) and grad is not Tri.NO
                else Tri.NO,
            )
            origin = mod.origin
            result = fresh_tensor(
                rg,
                grad_from=self.origin(
                    origin.range,
                    f"the parameters of `{mod.class_name}` created on line {origin.line}",
                )
                if origin
                else x.grad_from,
                graph=frozenset().union(*(a.graph for a in positional)),
            )
            if mod.user_class:
                result = result.evolve(tensor=Tri.MAYBE)
            # Layers save their tensor inputs for the weights' gradient (an RNN cell its
            # hidden state too).
            inputs = [
                item
                for a in positional
                # `cell(x, (h, c))`: an LSTM's state tuple is saved item by item
                for item in (a.items if a.tensor is Tri.NO and a.items is not None else (a,))
            ]
            for arg in inputs if mod.saves_input and grad is not Tri.NO else ():
                if arg.storage is None or arg.tensor is Tri.NO:
                    continue
                rec = SaveRecord(
                    mod.class_name,
                    self.origin(
                        node_range(node),
                        f"`{mod.class_name}` (its input) on line {node.start_pos[0]}",
                    ),
                    certain=grad is Tri.YES and mod.has_parameters is Tri.YES,
                )
                self.calls.summaries.poison_all()
                arg.storage.saves.append(rec)
                self.records[rec.id] = rec
                result = result.evolve(graph=result.graph | {rec.id})
            # Its weights are saved to compute the input's gradient (when the input needs one):
            # an optimizer step before that backward invalidates them.
            # A model with several parametrised layers saves the later layers' weights even
            # when its input needs no gradient.
            deep = mod.library is not None or self._parametrised_layers(mod) >= 2
            input_grad = Tri.YES if deep else x.requires_grad
            saved = _saved_parameters(mod)
            if (
                saved != frozenset()  # `nn.Embedding` saves its indices, not its weight
                and owner is not None
                and owner.storage is not None
                and grad is not Tri.NO
                and input_grad is not Tri.NO
                and x.tensor is not Tri.NO
            ):
                rec = SaveRecord(
                    f"{mod.class_name}(…)",
                    self.origin(
                        node_range(node),
                        f"`{_code_prefix(node, 40)}` on line {node.start_pos[0]}",
                    ),
                    certain=grad is Tri.YES
                    and input_grad is Tri.YES
                    and mod.has_parameters is Tri.YES,
                    view=mod.class_name in tn.WEIGHT_SAVED_AS_VIEW,
                    params=saved,
                )
                self.calls.summaries.poison_all()
                owner.storage.saves.append(rec)
                whole = self.framework_self(sc)  # `self.head(x)` in a LightningModule's step
                if whole is not None and whole.storage not in (None, owner.storage):
                    self.calls.summaries.poison_all()
                    whole.storage.saves.append(rec)
                self.records[rec.id] = rec
                result = result.evolve(graph=result.graph | {rec.id})
            if inlined is not None:  # what forward() returned, in the weights' graph too
                return inlined.evolve(graph=inlined.graph | result.graph)
            if mod.library is not None:  # a tensor or a ModelOutput of that graph
                return self.model_output(mod, result)
            shape = _TUPLE_MODULES.get(mod.class_name)
            if shape is not None:  # `out, (h, c) = lstm(x)`: each piece has the result's facts
                outputs = _shaped(shape, result)
                first = (outputs.items or (result,))[0]
                if mod.class_name == "LSTM" and grad is not Tri.NO and first.storage is not None:
                    # CPU (oneDNN) and cuDNN LSTMs save their output for backward.
                    rec = SaveRecord(
                        "LSTM",
                        self.origin(
                            node_range(node),
                            f"`{_code_prefix(node, 40)}` on line {node.start_pos[0]}",
                        ),
                        certain=grad is Tri.YES and rg is Tri.YES,
                    )
                    self.calls.summaries.poison_all()
                    first.storage.saves.append(rec)
                    self.records[rec.id] = rec
                    outputs = _container(
                        tuple(
                            o.evolve(graph=o.graph | {rec.id}) if o.items is None else o
                            for o in outputs.items or ()
                        )
                    )
                return outputs
            return result
        if mod.op is not None:
            result = self.op_result(mod.op, [x], node, sc, method=False)
            if result.graph == x.graph and result.requires_grad is not Tri.NO:
                # The op's own overload needs arguments the module holds (`MaxPool1d(3)` runs
                # max_pool1d(x, 3)): what the module saves comes from its table entry.
                facts = ops.SaveFacts(
                    Tri.YES if mod.saves_output else Tri.NO,
                    ((0, Tri.YES),) if mod.saves_input else (),
                )
                result = self.apply_saves(facts, mod.class_name, result, [x], node, sc)
            return result
        if mod.class_name in tn.PASS_THROUGH_MODULES and not mod.user_class:
            return x  # `nn.Identity()(x)` returns x itself
        return self.unknown_call(positional, sc)

    def apply_to_submodules(
        self: Dataflow, recv: Value, func: FuncRef, args: CallArgs, node: Node, sc: Scope
    ) -> None:
        """`model.apply(fn)`: fn runs on every submodule — one call with a module that has
        the model's parameters stands for them (`m.weight.fill_(…)` in grad mode raises)."""
        desc = recv.module
        has = desc.has_parameters if desc is not None else Tri.MAYBE
        member = Value(
            tensor=Tri.NO,
            requires_grad=Tri.NO,
            storage=recv.storage or Storage(),
            module=ModuleDesc(
                "Module",
                has_parameters=has,
                origin=desc.origin if desc is not None else None,
                frozen=desc.frozen if desc is not None else False,
            ),
        )
        self.call_user(func, CallArgs(), [member], {}, node, sc)

    def freeze(self: Dataflow, recv: Value, sc: Scope) -> Value:
        """`module.requires_grad_(False)`: its parameters stop requiring grad."""
        if recv.attrs is not None:
            self.calls.summaries.wrote_attrs(recv.attrs)
            for key, value in list(recv.attrs.items()):
                if value.parameter:
                    recv.attrs[key] = value.evolve(requires_grad=Tri.NO)
                elif value.module is not None:
                    recv.attrs[key] = self.freeze(value, sc)
        if recv.module is None:
            if recv is UNKNOWN:
                return recv
            frozen = recv.evolve(params_frozen=True)  # `copy.deepcopy(model)`, then frozen
            self.replace_value(sc, recv, frozen)
            return frozen
        desc = _frozen_desc(recv.module)
        items = recv.items
        if items is not None:  # `nn.Sequential(…)`'s layers
            items = tuple(self.freeze(v, sc) if v.module is not None else v for v in items)
        element = recv.element
        if element is not None and element.module is not None:
            element = element.evolve(module=_frozen_desc(element.module))
        if recv.storage is not None:
            self.calls.summaries.poison_all()
            recv.storage.frozen = True  # no gradient: an optimizer step leaves them alone
        frozen = recv.evolve(module=desc, items=items, element=element)
        self.replace_value(sc, recv, frozen)
        return frozen

    def named_attribute(self: Dataflow, owner: Value, name_node: Node) -> Value:
        """`getattr(self, name)` / `self.__getattr__(f"block{i}")` on an instance."""
        attrs = owner.attrs or {}
        key = _string_constant(name_node)
        if key is not None and key in attrs:
            return attrs[key]
        return attrs.get(DYNAMIC_MEMBER, UNKNOWN) if key is None else UNKNOWN

    def is_sequential_class(self: Dataflow, name: str | None) -> bool:
        cls = self.class_info(name)
        seen: set[str] = set()
        while cls is not None and cls.name not in seen:
            seen.add(cls.name)
            if any(b.rsplit(".", 1)[-1] == "Sequential" for b in cls.bases):
                return True
            owner = cls.flow if cls.flow is not None else self
            cls = next(
                (owner.classes.get(b.rsplit(".", 1)[-1]) for b in cls.bases if b),
                None,
            )
        return False

    def mode_call(self: Dataflow, recv: Value, name: str, trailer: Node, sc: Scope) -> None:
        """`model.train()`, `model.train(False)`, `model.eval()`: the mode it sets (``modes``);
        a plain class's own `train()` method is no module's."""
        cls = self.instance_class(recv)
        if cls is not None and cls.is_module is Tri.NO:
            return
        mode: bool | None = False
        if name == "train":
            args = args_of(trailer)
            if not args:
                mode = True
            elif len(args) == 1:
                arg = args[0]
                if arg.type == "argument" and arg.children[0].type == "name":
                    arg = arg.children[2] if arg.children[0].value == "mode" else arg
                mode = _literal_bool(arg)
            else:
                mode = None
        self.mode_changed(recv, mode, sc)

    def any_submodule(self: Dataflow, recv: Value, include_self: bool) -> Value:
        """What `model.modules()` / `children()` yields: the known submodules joined (one
        of them, of unknown kind when they differ), or a module with the model's
        parameters when they are not known."""
        found: list[Value] = [recv] if include_self else []
        seen: set[int] = {id(recv)}
        todo = [(recv, 0)]
        while todo:
            cur, depth = todo.pop(0)
            inner = [*(cur.items or ()), *(cur.attrs or {}).values()]
            if cur.element is not None and not cur.items:
                inner.append(cur.element)
            for v in inner:
                if v.module is None or id(v) in seen:
                    continue
                seen.add(id(v))
                found.append(v)
                if include_self and depth < 3:  # modules() recurses, children() does not
                    todo.append((v, depth + 1))
        if len(found) > (1 if include_self else 0):
            out = found[0]
            for v in found[1:]:
                out = merge(out, v)
            return out
        desc = recv.module
        return Value(
            tensor=Tri.NO,
            requires_grad=Tri.NO,
            storage=recv.storage or Storage(),
            module=ModuleDesc(
                "Module",
                has_parameters=desc.has_parameters if desc is not None else Tri.MAYBE,
                origin=desc.origin if desc is not None else None,
                frozen=desc.frozen if desc is not None else False,
            ),
        )

    def parameters_written(
        self: Dataflow,
        recv: Value,
        op: str,
        trailer: Node,
        node: Node,
        recv_span: tuple[Node, Node],
        sc: Scope,
    ) -> Value:
        """`opt.step()`, `model.load_state_dict(…)`: every parameter they hold is rewritten
        in place (what any of its modules saved for backward is invalidated)."""
        if recv.storage is None:
            return NOT_TENSOR
        params = Value(tensor=Tri.YES, requires_grad=Tri.NO, storage=recv.storage)
        site = WriteSite(
            "step",
            op,
            node,
            enclosing_statement(node),
            params,
            _span_node(recv_span),
            sc.grad,
            sc.info,
            node_range(node),
            call_args=trailer,
            target_text=_code_span(recv_span),
        )
        self.add_site(site, sc)
        self.write(site, sc)
        return NOT_TENSOR

    def grow_module(
        self: Dataflow, recv: Value, name: str, trailer: Node, recv_node: Node, sc: Scope
    ) -> Value | None:
        """`layers.append(m)`, `seq.add_module("relu", m)`, `self.add_module(name, m)`: the
        container gets the member (its parameters become the container's)."""
        if self.bound_method(recv, name, dotted_name(recv_node)) is not None:
            return None  # the class defines its own `append`
        args, positional, keywords = self.evaluate_args(trailer, sc)
        desc = recv.module
        if name in ("add_module", "register_module"):
            if len(positional) < 2:
                return NOT_TENSOR
            member = positional[1]
            key = _string_constant(args.positional[0])
            is_container = desc is not None and (
                desc.children or desc.class_name in ("Sequential", *_MODULE_CONTAINERS)
            )
            if not is_container:  # a plain module: the member is an attribute
                owner_path = dotted_name(recv_node)
                self.calls.summaries.wrote_attrs(recv.attrs)
                if recv.storage is not None:
                    self.calls.summaries.poison_all()
                    recv.storage.add_part(member.storage)
                if key is not None:
                    if owner_path is not None:
                        self.bind(sc, f"{owner_path}.{key}", member)
                    if recv.attrs is not None:
                        recv.attrs[key] = member
                elif recv.attrs is not None:  # `add_module(f"layer{i}", m)`: read by getattr
                    old = recv.attrs.get(DYNAMIC_MEMBER)
                    recv.attrs[DYNAMIC_MEMBER] = member if old is None else merge(old, member)
                return NOT_TENSOR
            added: tuple[Value, ...] = (member,)
            exact = True
        elif name == "extend":
            if not positional:
                return NOT_TENSOR
            held = positional[0]
            exact = held.items is not None and held.keys is None
            added = (
                tuple(held.items or ())
                if exact
                else ((held.element,) if held.element is not None else ())
            )
        else:  # append / insert (at an unknown place: order is lost for a Sequential)
            if not positional:
                return NOT_TENSOR
            added = (positional[-1],)
            exact = name == "append"
        if desc is None:
            return NOT_TENSOR
        members = (*(recv.items or ()), *added)
        if desc.children or desc.class_name == "Sequential":
            known = recv.items is not None and (desc.children or not recv.items)
            rebuilt = sequential(list(members), exact and bool(known), desc.origin)
            assert rebuilt.module is not None
            new = recv.evolve(
                module=dataclasses.replace(
                    desc,
                    children=rebuilt.module.children,
                    has_parameters=rebuilt.module.has_parameters,
                    user_class=rebuilt.module.user_class,
                ),
                items=rebuilt.items,
                element=rebuilt.element,
            )
        else:
            element = recv.element
            for member in added:
                element = member if element is None else merge(element, member)
            items = members if recv.items is not None and exact and recv.keys is None else None
            new = recv.evolve(
                items=items, keys=None if items is None else recv.keys, element=element
            )
            new = new.evolve(
                module=dataclasses.replace(
                    desc, has_parameters=max(desc.has_parameters, _members_have_parameters(new))
                )
            )
        owning(new)
        self.replace_value(sc, recv, new)
        path = dotted_name(recv_node)
        if path is not None and self.lookup_path(path, sc) is recv:
            self.bind(sc, path, new)
        return NOT_TENSOR

    def _parametrised_layers(self: Dataflow, mod: ModuleDesc) -> int:
        """How many parametrised layers a user-defined module holds (from its __init__)."""
        cls = self.classes.get(mod.user_class or "")
        if cls is None:
            return 0
        count = 0
        for value in cls.attrs.values():
            if value.parameter:
                count += 1
            elif value.module is not None:
                inner = value.module
                children = inner.children or (inner,)
                count += sum(1 for c in children if c.has_parameters is Tri.YES)
        return count

    def method_call(
        self: Dataflow,
        recv: Value,
        name: str,
        trailer: Node,
        node: Node,
        recv_span: tuple[Node, Node],
        call_span: tuple[Node, Node],
        sc: Scope,
    ) -> Value:
        if name in ("train", "eval") and not recv.torch_path and recv.module_ref is None:
            self.mode_call(recv, name, trailer, sc)
        if recv.torch_path:
            return self.torch_call(tn.canonical(f"{recv.torch_path}.{name}"), trailer, node, sc)
        if recv.module_ref is not None:  # `blocks.gate(x)`, `models.Net()`
            callee = self.module_attribute(recv, name)
            return self.call(callee, trailer, node, call_span, sc)
        if recv.library:
            return self.library_call(f"{recv.library}.{name}", trailer, node, sc)
        recv_node = _span_node(recv_span)
        if name == "__getattr__" and recv.attrs is not None and len(args_of(trailer)) == 1:
            args, positional, _ = self.evaluate_args(trailer, sc)
            return self.named_attribute(recv, args.positional[0])
        if name == "chain" and recv is UNKNOWN and _code(recv_node) == "itertools":
            _, positional, _ = self.evaluate_args(trailer, sc)
            return self.chained(positional, trailer, sc)
        if name == "apply" and _is_class_ref(recv) and recv.attrs is None:
            cls = self.class_info(recv.user_class)
            if cls is not None and cls.is_autograd_function:
                args, positional, keywords = self.evaluate_args(trailer, sc)
                return self.function_apply(cls, args, positional, keywords, node, sc)
        if name in ("register_buffer", "register_parameter") and len(args_of(trailer)) >= 2:
            args, positional, keywords = self.evaluate_args(trailer, sc)
            key = _string_constant(args.positional[0])
            owner_path = dotted_name(recv_node)
            if key is not None and owner_path is not None:  # `self.register_buffer("m", t)`
                self.bind(sc, f"{owner_path}.{key}", positional[1])
                if recv.attrs is not None:
                    self.calls.summaries.wrote_attrs(recv.attrs)
                    recv.attrs[key] = positional[1]
            if name == "register_parameter" and recv.storage is not None:
                self.calls.summaries.poison_all()
                recv.storage.add_part(positional[1].storage)
            return NOT_TENSOR
        if name in _GROWING and (recv.module is not None or _is_module_instance(self, recv)):
            grown = self.grow_module(recv, name, trailer, recv_node, sc)
            if grown is not None:
                return grown
        if recv.module is not None and recv.keys is not None and name in ("items", "values"):
            recv = recv.evolve(module=None)  # ModuleDict.items(): a dict's view
        if id(recv) in self.function_contexts:
            args, positional, keywords = self.evaluate_args(trailer, sc)
            return self.function_context_call(recv, name, positional)
        if self.framework_of(recv) == "lightning":
            if name in libraries.LIGHTNING_SELF_METHODS:
                return self.lightning_method(recv, name, trailer, node, sc)
            member = self.framework_member(recv, name)
            if member is not None:  # `self.layer(x)` in a forward called from training_step
                return self.call(member, trailer, node, call_span, sc)
        func = self.bound_method(recv, name, dotted_name(recv_node))
        if func is not None:
            args, positional, keywords = self.evaluate_args(trailer, sc)
            result = self.call_user(func, args, positional, keywords, node, sc)
            if result is not None:
                return result
            return self.unknown_call(positional + list(keywords.values()), sc)
        member = recv.attrs.get(name) if recv.attrs is not None else None
        if member is not None and (member.module is not None or member.func is not None):
            # `net.enc(x)`, `self.model_fn(obs)`: an attribute holding a module or a function
            return self.call(member, trailer, node, call_span, sc)
        if name == "zero_grad" and (recv.optimizer is not None or recv.module is not None):
            args, positional, keywords = self.evaluate_args(trailer, sc)
            to_none = keywords.get("set_to_none", positional[0] if positional else None)
            if to_none is None or constant(to_none) is True:  # the grads become None
                self.grads_zeroed(recv.storage)
            return NOT_TENSOR
        if name == "load_state_dict" and (recv.module is not None or recv.user_class):
            self.evaluate_args(trailer, sc)
            return self.parameters_written(recv, "load_state_dict", trailer, node, recv_span, sc)
        if (
            recv.module is not None
            or (recv.user_class and recv.tensor is Tri.NO and not _is_class_ref(recv))
            or recv.tensor is Tri.MAYBE
            and recv.storage is None
            and name in ("parameters", "named_parameters")
        ):
            if name in _SUBMODULE_WALKS and recv.module is not None:
                self.evaluate_args(trailer, sc)
                member = self.any_submodule(recv, include_self=name == "modules")
                if name.startswith("named_"):
                    member = _container((NOT_TENSOR, member))
                return Value(tensor=Tri.NO, requires_grad=Tri.NO, element=member)
            if name in ("parameters", "named_parameters"):
                self.evaluate_args(trailer, sc)
                has = recv.module.has_parameters if recv.module is not None else Tri.YES
                if recv.module is None and recv.user_class in self.classes:
                    has = self.classes[recv.user_class].has_parameters
                    has = Tri.YES if has is Tri.YES else Tri.MAYBE
                if has is Tri.YES and self.freezes_parameters:
                    has = Tri.MAYBE  # the file turns requires_grad off somewhere
                if (recv.module is not None and recv.module.frozen) or recv.params_frozen:
                    has = Tri.NO
                # The parameters share the model's version counter: writing one between
                # a forward that saved the weights and its backward is a version error.
                param = Value(
                    tensor=Tri.YES,
                    requires_grad=has,
                    leaf=has,
                    parameter=True,
                    storage=recv.storage or Storage(),
                    owner=recv if recv is not UNKNOWN else None,
                    grad_from=self.origin(
                        node_range(node), f"`.{name}()` on line {node.start_pos[0]}"
                    ),
                )
                element = param if name == "parameters" else _container((NOT_TENSOR, param))
                return Value(
                    tensor=Tri.NO, requires_grad=Tri.NO, element=element, storage=recv.storage
                )
            if name == "forward" and recv.module is not None:
                args, positional, keywords = self.evaluate_args(trailer, sc)
                return self.module_call(
                    recv.module, positional, args, trailer, node, sc, recv, keywords, None
                )
            if name in tn.MODULE_CHAINING:
                args, positional, keywords = self.evaluate_args(trailer, sc)
                if name == "requires_grad_" and _requires_grad_flag(args) is False:
                    return self.freeze(recv, sc)
                if name == "apply" and positional and positional[0].func is not None:
                    self.apply_to_submodules(recv, positional[0].func, args, node, sc)
                return recv  # `.to()`, `.eval()`, `.train(False)`… keep the module and its grad
            if recv.module is not None or recv.user_class:
                args, positional, keywords = self.evaluate_args(trailer, sc)
                if recv.module is not None and recv.module.library is not None:
                    if name in libraries.SUBMODULE_METHODS:  # `model.get_input_embeddings()`
                        return self.model_member(recv, name) or UNKNOWN
                return self.unknown_call(positional + list(keywords.values()), sc)
        args, positional, keywords = self.evaluate_args(trailer, sc)
        if recv.optimizer is not None and name == "step" and recv.storage is not None:
            return self.parameters_written(recv, "step", trailer, node, recv_span, sc)
        if name == "backward":
            retain = (
                _literal_bool(args.keywords.get("retain_graph")) is True
                if "retain_graph" in args.keywords
                else False
            )
            self.backward(recv, node, sc, retain=retain)
            return NOT_TENSOR
        if name in ("append", "extend", "add", "put", "insert") and recv.tensor is not Tri.YES:
            for v in positional:
                self.escape(v, sc, node)
            if recv.tensor is Tri.NO and positional:
                self.replace_value(sc, recv, _grown(recv, name, positional[-1]))
            return NOT_TENSOR
        if recv.tensor is Tri.NO:
            updated = _updated(recv, name, args, positional, keywords)
            if name not in _DICT_READS:
                self.calls.summaries.unclosing([recv])
                unclose([recv])  # `d.update(…)`, `d.setdefault(…)`, `d.pop(…)`…
            if updated is not None:  # `opts.update(overrides)` of dicts with all keys known
                self.replace_value(sc, recv, updated)
                return NOT_TENSOR
            if (
                name == "get"
                and is_closed(recv)
                and positional
                and isinstance(positional[0].const, str)
                and recv.keys is not None
                and positional[0].const not in recv.keys
            ):  # `cfg.get("amp", False)` of a dict without that key: the default
                return positional[1] if len(positional) > 1 else const_value(None)
            if name == "values" and recv.keys is not None:
                return recv.evolve(keys=None, items=None)
            if name == "items" and recv.keys is not None:
                return Value(
                    tensor=Tri.NO,
                    requires_grad=Tri.NO,
                    element=_container((NOT_TENSOR, recv.element or UNKNOWN)),
                )
            if (
                name == "get"
                and recv.keys is not None
                and recv.items is not None
                and positional
                and positional[0].const in recv.keys
            ):
                return recv.items[recv.keys.index(positional[0].const)]  # `cfg.get("norm")`
            if name in ("get", "pop") and recv.element is not None:
                return recv.element
            if recv.items is not None or recv.element is not None:
                return UNKNOWN
            return self.unknown_call(positional + list(keywords.values()), sc)
        if name == "size" and not positional and not keywords:
            return Value(tensor=Tri.NO, requires_grad=Tri.NO, element=NUMBER)  # a torch.Size
        if name in ("size", "dim", "numel", "ndimension", "nelement", "element_size"):
            return NUMBER
        if name in ("is_leaf", "requires_grad") and not positional:
            return tensor_fact(recv, name)
        if name in tn.NON_TENSOR_METHODS:
            return NOT_TENSOR
        if name == "requires_grad_":
            flag = _literal_bool(args.positional[0]) if args.positional else True
            if "requires_grad" in args.keywords:
                flag = _literal_bool(args.keywords["requires_grad"])
            rg = Tri.MAYBE if flag is None else Tri.of(flag)
            if flag is False and recv.owner is not None:  # freezing a model's params
                self.freeze(recv.owner, sc)
            new = recv.evolve(
                tensor=Tri.YES,
                requires_grad=rg,
                leaf=rg if recv.requires_grad is not Tri.YES else recv.leaf,
                storage=recv.storage or Storage(),
                grad_from=self.origin(
                    node_range(node), f"`.requires_grad_()` on line {node.start_pos[0]}"
                )
                if rg is not Tri.NO
                else None,
            )
            self.replace_value(sc, recv, new)
            self.keep_attribute(sc, recv_node, new)
            return new
        if name in ("detach", "detach_"):
            new = Value(
                tensor=recv.tensor,
                requires_grad=Tri.NO,
                leaf=Tri.NO,
                storage=recv.storage or Storage(),
            )
            if name == "detach_":
                self.replace_value(sc, recv, new)
            return new
        if name == "clone":
            rg = recv.requires_grad if sc.grad is not Tri.NO else Tri.NO
            fresh = fresh_tensor(rg, leaf=Tri.NO, grad_from=recv.grad_from, graph=recv.graph)
            return fresh.evolve(tensor=recv.tensor)  # YES or MAYBE here (NO returned above)
        if name == "contiguous":
            if recv.view is Tri.YES:
                return fresh_tensor(recv.requires_grad, grad_from=recv.grad_from, graph=recv.graph)
            return recv
        if name in tn.CONVERSIONS:
            if recv.tensor is Tri.MAYBE and recv.storage is None:
                return UNKNOWN
            return recv.evolve(
                leaf=min(recv.leaf, Tri.MAYBE, key=int), view=min(recv.view, Tri.MAYBE, key=int)
            )
        if name in ("new_zeros", "new_ones", "new_empty", "new_full", "new_tensor"):
            return self.factory(name, args, positional, node)
        if name in ("register_hook", "retain_grad", "register_post_accumulate_grad_hook"):
            return NOT_TENSOR
        if ops.is_inplace_method(name):
            site = WriteSite(
                "method",
                name,
                node,
                enclosing_statement(node),
                recv,
                recv_node,
                sc.grad,
                sc.info,
                node_range(node),
                call_args=trailer,
                target_text=_code_span(recv_span),
            )
            if recv.tensor is Tri.MAYBE and recv.storage is None and recv.data_of is None:
                # Unknown receiver: the jedi tier may still say it is a Parameter.
                self.noted_unknown_site()
                self.unknown_sites.append(site)
                return UNKNOWN
            site.aliases = self.aliases_of(sc, recv)
            site.later_grad_use = self.later_grad_use(node, site.target_text)
            self.add_site(site, sc)
            self.write(site, sc)
            updated = self.after_inplace(recv, name, [recv] + positional, node, sc)
            self.replace_value(sc, recv, updated)
            return updated
        if recv.tensor is Tri.MAYBE and recv.storage is None:
            # Unknown, but one object per call (aliases stay apart); whatever it is, it may
            # be computed from the receiver: `act(y).sum().backward()` runs y's graph.
            return self.unknown_call([recv] + positional + list(keywords.values()), sc)
        viewed = self.view_call(recv, name, node, sc)
        if viewed is not None:
            return viewed
        return self.op_result(name, [recv] + positional, node, sc, method=True, keywords=keywords)

    def view_call(self: Dataflow, base: Value, name: str, node: Node, sc: Scope) -> Value | None:
        """`x.chunk(…)` / `torch.chunk(x, …)` and the other view ops: the view(s) of `base`
        (None when `name` is not a view op)."""
        if ops.is_multi_view(name):
            view = self.make_view(base, name, node, sc, multi=name)
            return Value(tensor=Tri.NO, requires_grad=Tri.NO, element=view)
        if name in tn.VIEW_LIST_METHODS:
            view = self.make_view(base, name, node, sc)
            return Value(tensor=Tri.NO, requires_grad=Tri.NO, element=view)
        if ops.is_view(name) and name not in tn.NOT_VIEW_FUNCTIONS:
            return self.make_view(base, name, node, sc)
        return None


def _frozen_desc(desc: ModuleDesc) -> ModuleDesc:
    return dataclasses.replace(
        desc,
        has_parameters=Tri.NO,
        frozen=True,
        children=tuple(_frozen_desc(c) for c in desc.children),
    )


# Functions that return (or change in place and return) the module they are given.
_WRAPPING = frozenset(
    {
        "torch.nn.utils.weight_norm",
        "torch.nn.utils.spectral_norm",
        "torch.nn.utils.parametrizations.weight_norm",
        "torch.nn.utils.parametrizations.spectral_norm",
        "torch.nn.utils.parametrizations.orthogonal",
        "torch.nn.utils.parametrize.register_parametrization",
        "torch.nn.utils.weight_norm.weight_norm",
        "torch.nn.utils.spectral_norm.spectral_norm",
    }
)
_SUBMODULE_WALKS = frozenset({"modules", "children", "named_modules", "named_children"})
# Methods that add a member to a module (container).
_GROWING = frozenset({"append", "extend", "insert", "add_module", "register_module"})


def _is_module_instance(flow: Dataflow, value: Value) -> bool:
    """`self` inside a user module's __init__ (not yet a module value)."""
    cls = flow.class_info(value.user_class) if value.attrs is not None else None
    return cls is not None and cls.is_module is not Tri.NO


def parameters_storage(params: Value, depth: int = 0) -> Storage | None:
    """What an optimizer updates: `m.parameters()`, `list(…)`, `chain(…)`, `a + b`, param
    groups `[{"params": …}, …]` — one storage whose parts are every model's."""
    if params.storage is not None or depth > 3:
        return params.storage
    if params.keys is not None and params.items is not None:  # {"params": …, "lr": …}
        if "params" in params.keys:
            return parameters_storage(params.items[params.keys.index("params")], depth + 1)
        return None
    parts = [parameters_storage(item, depth + 1) for item in params.items or ()]
    if params.element is not None:
        parts.append(parameters_storage(params.element, depth + 1))
    known = [p for p in parts if p is not None]
    if len(known) <= 1:
        return known[0] if known else None
    whole = Storage()
    for part in known:
        whole.add_part(part)
    return whole


def sequential(members: list[Value], exact: bool, origin: Origin | None) -> Value:
    """`nn.Sequential(a, b, *rest)`: its layers run in order; each one's parameters are the
    Sequential's.  With a member of unknown kind, or a list of unknown length spread into
    it, it is a module of unknown behaviour that perhaps has parameters."""
    children = tuple(v.module for v in members if v.module is not None)
    if len(children) != len(members) or not exact and not children:
        value = Value(
            tensor=Tri.NO,
            requires_grad=Tri.NO,
            storage=Storage(),
            module=ModuleDesc(
                "Sequential",
                has_parameters=max(Tri.MAYBE, _members_have_parameters(_container(tuple(members)))),
                origin=origin,
                user_class="Sequential",
            ),
            element=_container(tuple(members)).element if members else None,
        )
        return owning(value)
    has = Tri.any([c.has_parameters for c in children]) if children else Tri.NO
    return owning(
        Value(
            tensor=Tri.NO,
            requires_grad=Tri.NO,
            storage=Storage(),
            module=ModuleDesc("Sequential", has_parameters=has, origin=origin, children=children),
            items=tuple(members),  # `seq[0]`, `for layer in seq`
            element=_container(tuple(members)).element,
        )
    )


def _members_have_parameters(held: Value) -> Tri:
    members = list(held.items or ()) + ([held.element] if held.element else [])
    return Tri.any(
        [
            m.module.has_parameters
            if m.module is not None
            else (m.requires_grad if m.parameter else Tri.NO)
            for m in members
        ]
    )


def owning(container: Value) -> Value:
    """A module container: its members' parameters (and the joined member a loop over it
    yields) are its own, so a write to all of them reaches what any member saved."""
    storage = container.storage
    if storage is not None:
        for member in (*(container.items or ()), container.element):
            if member is not None and (member.module is not None or member.parameter):
                storage.add_part(member.storage)
    return container


def _flag_value(
    literal: Tri, info: dict[str, Any], positional: list[Value], keywords: dict[str, Value]
) -> Tri:
    """`inplace=flag` with `flag` a known constant (a default, a constructor argument)."""
    if literal is Tri.YES:
        return literal
    if literal is Tri.NO and info["inplace_param"] not in keywords:
        return literal  # not passed (`**cfg` may pass it: ``evaluate_args`` spreads it)
    value = keywords.get(info["inplace_param"])
    index = info.get("inplace_index")
    if value is None and index is not None and index < len(positional):
        value = positional[index]
    flag = constant(value) if value is not None else NOCONST
    return Tri.of(flag) if isinstance(flag, bool) else literal


def _requires_grad_flag(args: CallArgs) -> bool | None:
    """The flag of `.requires_grad_(flag)` (default True)."""
    node = args.keywords.get("requires_grad")
    if node is None and args.positional:
        node = args.positional[0]
    return True if node is None else _literal_bool(node)


def _grown(container: Value, how: str, value: Value) -> Value:
    """A list after `append(v)` / `extend(vs)` / `insert(i, v)` (a set after `add`)."""
    if how == "extend":
        if container.items is not None and value.items is not None:
            return _container(container.items + value.items)
        added = value.element
    else:
        added = value
    if how == "append" and container.items is not None and container.keys is None:
        return _container(container.items + (value,))
    element = (
        added if container.element is None or added is None else merge(container.element, added)
    )
    return container.evolve(items=None, keys=None, element=element or container.element)


def _updated(
    recv: Value, name: str, args: CallArgs, positional: list[Value], keywords: dict[str, Value]
) -> Value | None:
    """`d.update(other)` / `d.update(k=v, …)` of a dict whose keys are all known, with a
    dict whose keys are all known (or keywords only): the merged dict, all keys known."""
    if name != "update" or not is_closed(recv) or args.starred or recv.items is None:
        return None
    if len(positional) > 1 or (positional and keywords):
        return None
    if positional:
        other = positional[0]
        if not is_closed(other) or other.items is None or other.keys is None:
            return None
        added = list(zip(other.keys, other.items, strict=True))
    else:
        added = list(keywords.items())
    keys = list(recv.keys or ())
    items = list(recv.items)
    for key, value in added:
        if key in keys:
            items[keys.index(key)] = value
        else:
            keys.append(key)
            items.append(value)
    return _container(tuple(items)).evolve(keys=tuple(keys), closed=[True])


# dict methods that leave its keys alone.
_DICT_READS = frozenset({"get", "items", "values", "keys", "copy", "__getitem__", "__contains__"})

_MODULE_CONTAINERS = frozenset({"ModuleList", "ModuleDict", "ParameterList", "ParameterDict"})

# nn modules that return tuples: the nesting of their outputs (1 = one tensor).
_TUPLE_MODULES: dict[str, tuple[Any, ...]] = {
    "LSTM": (1, (1, 1)),
    "GRU": (1, 1),
    "RNN": (1, 1),
    "LSTMCell": (1, 1),
    "MultiheadAttention": (1, 1),
}


def _shaped(shape: tuple[Any, ...], like: Value) -> Value:
    return _container(
        tuple(
            _shaped(part, like)
            if isinstance(part, tuple)
            else fresh_tensor(like.requires_grad, grad_from=like.grad_from, graph=like.graph)
            for part in shape
        )
    )


def args_of(trailer: Node) -> list[Node]:
    """The positional argument nodes of a call trailer."""
    return call_args(trailer).positional


def _saved_parameters(mod: ModuleDesc) -> frozenset[str] | None:
    """Which of a torch module's `weight` / `bias` its forward saves for backward (from the
    op table, recorded under torch: `Linear` saves its weight, not its bias); None when not
    known (a user class, a library model, an unrecorded kind): all of them."""
    if mod.user_class or mod.library is not None:
        return None
    info = module_info(mod.class_name)
    saved = info.get("saved_params") if info is not None else None
    return frozenset(saved) if saved is not None else None
