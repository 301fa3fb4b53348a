"""The second tier: ask jedi about receivers the dataflow could not type.

Every in-place write whose target the dataflow left unknown is a question (within a counted
budget, ``Settings.jedi_questions`` per file): in-place methods (``x.add_()``,
``torch.relu_(x)``), augmented and index assignments, ``inplace=True`` functionals and
``out=`` targets.  The dataflow loses values in ways jedi follows: ``getattr(m, "weight")``,
``DistributedDataParallel(net).module``, fields of a dataclass annotated with a module class,
``typing.cast``, a parameter annotated with a user's module class.  When jedi says the
target is an ``nn.Parameter`` the write is judged as a write on a grad leaf.

Severity keeps meaning certainty: jedi knows the class, not whether ``requires_grad`` was
turned off or which grad mode callers use, so its answer is a warning, unless the flow
proves grad mode at the site and the file runs a backward (it trains the parameters) and
freezes none.
"""

from __future__ import annotations

import re
import sys

from .. import optable
from ..config import Settings
from .dataflow import Dataflow
from .nodes import Node
from .sites import WriteSite
from .syntax import node_range
from .values import Origin, Storage, Tri, Value

# Site kinds the dataflow records in ``flow.sites`` even when it could not type the target.
_RECORDED_KINDS = ("flag", "method", "augassign", "setitem")
_BACKWARD_CALL = re.compile(r"\bbackward\s*\(")
# id(scope node) -> name -> its name leaves in that scope's text, in order.
_NameIndex = dict[int, dict[str, list[Node]]]


def refine(flow: Dataflow, source: str, settings: Settings, path: str | None = None) -> None:
    budget = settings.jedi_questions
    if budget <= 0 or settings.jedi_budget_ms <= 0:
        return
    candidates = questions(flow)
    index: _NameIndex = {}
    asked = {id(site): _question_position(site, index) for site in candidates}
    positions = sorted(set(asked.values()))[:budget]
    if not positions:
        return  # no question: jedi is never started for this file
    from . import jedi_types

    kinds = jedi_types.infer_kinds(source, path, positions, None)
    trains = _runs_a_backward(flow)
    for site in candidates:
        if kinds.get(asked[id(site)]) != jedi_types.PARAMETER:
            continue
        proven = trains and site.grad is Tri.YES and site.scope.entry_grad_certain
        origin = Origin(node_range(site.target_node), "jedi infers an `nn.Parameter`")
        value = Value(
            tensor=Tri.YES,
            requires_grad=Tri.YES,
            leaf=Tri.YES if proven else Tri.MAYBE,
            parameter=True,
            storage=Storage(),
            grad_from=origin,
        )
        if site.kind == "out":
            site.grad_input = value
        else:
            site.target = value
        if not any(s is site for s in flow.sites):
            flow.sites.append(site)


def _question_position(site: WriteSite, index: _NameIndex) -> tuple[int, int]:
    """Where to ask jedi (0-based line, column of an expression's end).  `w += 1` on a plain
    name: jedi types the name there as what `+=` gives back, so ask about what the name was
    bound to before (`w = getattr(net, "weight")`, `for w in net.parameters()`)."""
    node = site.target_node
    if site.kind == "augassign" and node.type == "name":
        bound = _bindings(node, index)
        if bound:
            node = bound[-1]
    line, column = node.end_pos
    return line - 1, column


def questions(flow: Dataflow) -> list[WriteSite]:
    """The write sites worth a question, in the analysed file's own text."""
    names = _parameter_attributes(flow.lines)
    index: _NameIndex = {}
    found = flow.unknown_sites + [s for s in flow.sites if _untyped(s)]
    return [
        s
        for s in found
        if s.grad is not Tri.NO
        and s.path is None
        and not s.call_chain
        and (
            s.kind not in ("augassign", "setitem")
            or _named_like_a_parameter(s.target_text, names, s.target_node, index)
        )
        and _root_of(s.target_node) is flow.module
        and not _indexed_by_a_string(s)
        and not _result_of_a_tensor_op(s.target_node)
        and jedi_could_know(s.target_node)
        and not _from_tensor_parameter(s.target_node, index)
        and not _from_a_state_dict(s.target_node, index)
        and not _from_plain_module(flow, s.target_node)
    ]


_STRING_TYPES = frozenset({"string", "strings", "fstring"})


def _indexed_by_a_string(site: WriteSite) -> bool:
    """`group["lr"] = v`, `params[f"{k}_w"] = v`: a tensor cannot be indexed by a string
    (PyTorch raises before any write), so the target is a mapping whatever jedi says, and
    asking cannot change a finding (on ultralytics: a third of its questions, each one
    paying jedi's inference of the dict's origin)."""
    if site.kind != "setitem" or site.index_node is None:
        return False
    children: list[Node] = getattr(site.index_node, "children", [])
    return len(children) == 3 and children[1].type in _STRING_TYPES


def _result_of_a_tensor_op(target: Node) -> bool:
    """`x.sum(2).gt_(0)`, `w.mul_(d).add_(m)`: the receiver is what a Tensor method that is an
    ATen op returns, which torch's stubs annotate `-> Tensor` (an in-place one returns its
    receiver, asked about on its own).  jedi can then answer `Tensor` at most, never
    `Parameter`, so asking cannot change a finding (only a user method named like an ATen op
    and returning a Parameter would)."""
    children: list[Node] = getattr(target, "children", [])
    if target.type not in ("atom_expr", "power") or len(children) < 3:
        return False
    call, attribute = children[-1], children[-2]
    if call.type != "trailer" or call.children[0].type != "operator":
        return False
    if call.children[0].value != "(" or attribute.type != "trailer":
        return False
    dot, name = attribute.children[0], attribute.children[-1]
    if dot.type != "operator" or dot.value != "." or name.type != "name":
        return False
    return optable.lookup(f"Tensor.{name.value}") is not None


def _root_of(node: Node) -> Node:
    """The tree a node belongs to (a write reached in another file's tree is not asked
    about at its position in this text)."""
    while node.parent is not None:
        node = node.parent
    return node


def _untyped(site: WriteSite) -> bool:
    """A recorded site whose target (or, for `out=`, every input) the dataflow left unknown."""
    if site.kind == "out":
        return site.grad_input is None and _unknown(site.target)
    return site.kind in _RECORDED_KINDS and _unknown(site.target)


def _unknown(value: Value) -> bool:
    return (
        value.tensor is Tri.MAYBE
        and value.storage is None
        and value.data_of is None
        and value.module is None
        and value.requires_grad is Tri.MAYBE
    )


def _runs_a_backward(flow: Dataflow) -> bool:
    """Does the file call a backward (`loss.backward()`, `accelerator.backward(loss)`,
    `self.manual_backward(loss)`) and freeze no parameter?  Then its parameters train."""
    if flow.freezes_parameters:
        return False
    return any(
        _BACKWARD_CALL.search(line.split("#", 1)[0]) for line in flow.lines if "backward" in line
    )


def jedi_could_know(target: Node) -> bool:
    """Can jedi (dynamic params off) type this expression?  Not when it starts from a
    parameter of the enclosing function without an annotation (other than `self`): jedi
    infers nothing for those, at a cost."""
    head = target
    while head.type in ("atom_expr", "power") and head.children:
        head = head.children[0]
    if head.type != "name":
        return True
    func = head.parent
    while func is not None and func.type not in ("funcdef", "lambdef"):
        func = func.parent
    if func is None:
        return True
    for index, param in enumerate(func.get_params()):
        if param.name.value != head.value:
            continue
        if param.annotation is not None or param.default is not None:
            return True
        is_self = index == 0 and func.type == "funcdef" and _in_class(func)
        return is_self
    return True


_TENSOR_ANNOTATION = re.compile(r"\bTensor\b")


def _from_tensor_parameter(target: Node, index: _NameIndex) -> bool:
    """`exp_avg.lerp_(…)` with `exp_avg = exp_avgs[i]`, `exp_avgs: list[Tensor]`: jedi can
    only repeat the annotation (a Tensor, never a Parameter), so asking costs for nothing
    (optimizer kernels ask dozens of these)."""
    head = target
    while head.type in ("atom_expr", "power") and head.children:
        head = head.children[0]
    if head.type != "name":
        return False
    func = head.parent
    while func is not None and func.type != "funcdef":
        func = func.parent
    if func is None:
        return False
    annotated = {
        p.name.value
        for p in func.get_params()
        if p.annotation is not None
        and _TENSOR_ANNOTATION.search(p.annotation.get_code())
        and "Parameter" not in p.annotation.get_code()
    }
    if not annotated:
        return False
    if head.value in annotated:
        return True
    for rhs in _bindings(head, index):
        if rhs.type == "name" and rhs.parent is not None and rhs.parent.type == "for_stmt":
            rhs = rhs.parent.children[3]
        if any(leaf in annotated for leaf in _name_values(rhs)):
            return True
    return False


_STATE_DICT = re.compile(r"\.state_dict\(")


def _from_a_state_dict(target: Node, index: _NameIndex) -> bool:
    """`for k, v in ema.state_dict().items(): v.copy_(…)`, `sd = m.state_dict(); sd[k] *= 2`:
    a `state_dict()` (without `keep_vars=True`) holds detached tensors, never a Parameter, so
    asking cannot change a finding (ultralytics' trainer: its costliest question)."""
    head = target
    while head.type in ("atom_expr", "power") and head.children:
        head = head.children[0]
    if head.type != "name":
        return False
    bound = _bindings(head, index) + _unpacking_loops(head, index)
    if not bound:
        return False
    for rhs in bound:
        if rhs.type == "name" and rhs.parent is not None and rhs.parent.type == "for_stmt":
            rhs = rhs.parent.children[3]
        code = rhs.get_code(include_prefix=False)
        if not _STATE_DICT.search(code) or "keep_vars" in code:
            return False
    return True


def _unpacking_loops(name: Node, index: _NameIndex) -> list[Node]:
    """The loop variables `for k, name in …` that bind `name` before the use (each as the
    name leaf in the loop's target, as `_bindings` gives a plain loop variable)."""
    _bindings(name, index)  # fills the index of the name's scope
    scope = name.parent
    while scope is not None and scope.type not in ("funcdef", "file_input", "classdef"):
        scope = scope.parent
    found: list[Node] = []
    for other in index.get(id(scope), {}).get(name.value, ()) if scope is not None else ():
        if other.start_pos >= name.start_pos:
            break
        targets = other.parent
        loop = targets.parent if targets is not None else None
        if targets is not None and targets.type == "exprlist" and loop is not None:
            if loop.type == "for_stmt" and loop.children[1] is targets:
                found.append(loop.children[3])
    return found


def _name_values(node: Node) -> set[str]:
    if node.type == "name":
        return {node.value}
    out: set[str] = set()
    for child in getattr(node, "children", ()):
        out |= _name_values(child)
    return out


_PARAMETER_NAMES = re.compile(r"weight|bias|param|embed|kernel|scale|gamma|beta", re.I)
# Parameters a file creates under its own names: `self.alpha = nn.Parameter(…)`,
# `self.register_parameter("alpha", …)`.
_DECLARED = re.compile(
    r"\.(\w+)\s*(?::[^=]+)?=\s*(?:[\w.]+\.)?Parameter\(|register_parameter\(\s*['\"](\w+)"
)
# Right-hand sides jedi follows where the dataflow stops.
_RESOLVABLE = re.compile(r"\bgetattr\(|\bcast\(|\.module\b")


def _parameter_attributes(lines: list[str]) -> frozenset[str]:
    found: set[str] = set()
    for line in lines:
        if "Parameter(" in line or "register_parameter" in line:
            for match in _DECLARED.finditer(line):
                found.add(match.group(1) or match.group(2))
    return frozenset(found)


def _named_like_a_parameter(
    text: str, declared: frozenset[str], target: Node, index: _NameIndex
) -> bool:
    """Augmented and index assignments are everywhere (counters, dicts, buffers, images):
    jedi is asked about them only when the target looks like a parameter: named like one
    (`fc.weight[0] = …`, `self.bias += …`), an attribute the file declares a Parameter
    (`self.alpha += …`), or a name bound from such an expression or from one jedi resolves
    where the dataflow cannot (`w = getattr(net, "weight")`, `w = ddp.module.fc.weight`)
    — each question costs jedi's inference (measured on ignite's sources: 3.4x the jedi-off
    CPU when asked about all of them, for no finding)."""
    last = text.split("[", 1)[0].rsplit(".", 1)[-1]
    if _PARAMETER_NAMES.search(last) or last in declared:
        return True
    if target.type != "name":
        return False
    for rhs in _bindings(target, index):
        if rhs.type == "name" and rhs.parent is not None and rhs.parent.type == "for_stmt":
            rhs = rhs.parent.children[3]
        code = rhs.get_code(include_prefix=False)
        tail = re.split(r"[\[(]", code.rsplit(".", 1)[-1], maxsplit=1)[0]
        if _RESOLVABLE.search(code) or _PARAMETER_NAMES.search(tail) or tail in declared:
            return True
    return False


def _bindings(name: Node, index: _NameIndex) -> list[Node]:
    """What `name` is bound to by `name = …` or `for name in …` in its function (or module),
    before the use."""
    scope = name.parent
    while scope is not None and scope.type not in ("funcdef", "file_input", "classdef"):
        scope = scope.parent
    if scope is None:
        return []
    found: list[Node] = []
    names = index.get(id(scope))
    if names is None:
        names = index[id(scope)] = _names_in(scope)
    for other in names.get(name.value, ()):
        if other.start_pos >= name.start_pos:
            break
        parent = other.parent
        if parent is None:
            continue
        if parent.type == "expr_stmt" and parent.children[0] is other:
            if len(parent.children) >= 3 and parent.children[1].type == "operator":
                if parent.children[1].value == "=":
                    found.append(parent.children[-1])
        elif parent.type == "for_stmt" and parent.children[1] is other:
            found.append(other)  # jedi types the loop variable at its own name
    return found


def _names_in(scope: Node) -> dict[str, list[Node]]:
    out: dict[str, list[Node]] = {}
    stack = [scope]
    while stack:
        node = stack.pop()
        if node.type == "name":
            out.setdefault(node.value, []).append(node)
            continue
        children = getattr(node, "children", None)
        if children:
            stack.extend(reversed(children))
    return out


def _from_plain_module(flow: Dataflow, target: Node) -> bool:
    """`os.environ[k] = v`, `sys.argv += …`: an attribute of a module that is neither
    torch, nor a library the table knows, nor a workspace file holds no Parameter."""
    head = target
    while head.type in ("atom_expr", "power") and head.children:
        head = head.children[0]
    if head.type != "name" or head is target or flow.root_scope is None:
        return False
    value = flow.root_scope.env.get(head.value)
    ref = value.imported if value is not None else None
    if ref is None or ref.level or ref.name is not None:
        return False
    root = ref.module.split(".", 1)[0]
    return root in sys.stdlib_module_names


def _in_class(func: Node) -> bool:
    parent = func.parent
    while parent is not None and parent.type in ("suite", "decorated", "async_stmt"):
        parent = parent.parent
    return parent is not None and parent.type == "classdef"
