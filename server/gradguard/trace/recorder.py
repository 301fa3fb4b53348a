"""The recorder: a ``TorchFunctionMode`` plus autograd-graph metadata. Imports torch.

What it sees, and how:

- Every call of a torch function, ``Tensor`` method or property from Python goes through
  ``__torch_function__`` of the active mode (the outermost call only: inside the handler
  the mode is off, so ``F.linear`` inside ``nn.Linear.forward`` is one call).
- In-place writes are told by name (``add_``, ``__setitem__``, ``_foreach_mul_``, …) or by
  their flags (``out=``, ``inplace=True``, the ``.data`` setter); the written tensors'
  ``_version`` is read before and after.
- Saved tensors: after a call made in grad mode, the new autograd nodes behind its result
  are visited once; each ``_saved_*`` tensor is unpacked (a fresh alias: no copy) to read
  its storage, version, shape and dtype, and the record is kept in the node's own
  ``metadata`` dict (so it lives exactly as long as the graph). A per-storage index of weak
  references lets a later write find the live saves it invalidates.
- ``torch.autograd.graph.saved_tensors_hooks`` is deliberately *not* used: PyTorch skips its
  version-counter check for tensors packed by hooks, so the program would no longer raise.
- Errors: the in-place errors PyTorch raises at the write are caught (and re-raised) around
  the call; a version error is caught around ``backward``/``grad``, and the graph being
  differentiated is walked to find which saved tensor was modified, and by which write.

The mode is thread-local in PyTorch: only the thread that started tracing is recorded.
"""

from __future__ import annotations

import os
import re
import sys
import weakref
from collections import deque
from collections.abc import Callable
from types import CodeType, FrameType, FunctionType
from typing import TYPE_CHECKING, Any, cast

import torch
from torch.overrides import TorchFunctionMode

from . import sites
from .events import Failure, SaveRecord, TraceResult, WriteRecord
from .sites import Site

if TYPE_CHECKING:
    from torch.autograd.graph import Node

sites.skip_directory(os.path.dirname(torch.__file__))

MAX_WRITES = 20_000  # write-on-saved events kept (a ring: training loops make one per step)

(
    _PLAIN,
    _INPLACE,
    _BACKWARD,
    _FACTORY,
    _MULTI_VIEW,
    _DATA_SET,
    _REQ_GRAD_SET,
    _DATA_GET,
    _GETTER,
) = range(9)
_BACKWARD_NAMES = {"backward", "grad"}
_MULTI_VIEW_NAMES = {
    "chunk",
    "split",
    "unbind",
    "tensor_split",
    "split_with_sizes",
    "hsplit",
    "vsplit",
    "dsplit",
    "unsafe_chunk",
}
_INPLACE_DUNDERS = {
    "__setitem__",
    "__iadd__",
    "__isub__",
    "__imul__",
    "__itruediv__",
    "__ifloordiv__",
    "__imod__",
    "__ipow__",
    "__imatmul__",
    "__iand__",
    "__ior__",
    "__ixor__",
    "__ilshift__",
    "__irshift__",
}
# Functionals with an `inplace` parameter (GG106 when they write in place).
_INPLACE_FLAG_FUNCTIONS = {
    "dropout",
    "dropout1d",
    "dropout2d",
    "dropout3d",
    "alpha_dropout",
    "feature_alpha_dropout",
    "relu",
    "relu6",
    "elu",
    "selu",
    "celu",
    "leaky_relu",
    "rrelu",
    "hardtanh",
    "threshold",
    "hardsigmoid",
    "hardswish",
    "silu",
    "mish",
}
# Names ending in "_" that write no tensor data.
_NOT_WRITES = {"requires_grad_", "retain_grad_", "share_memory_", "detach_", "record_stream_"}

# The in-place errors autograd raises (torch/csrc/autograd: VariableTypeUtils.h check_inplace,
# variable.cpp handle_view_on_rebase, saved_variable.cpp, VariableTypeManual.cpp, functorch's
# grad transform, python_saved_variable_hooks), by a text each message of that kind contains.
_INPLACE_ERRORS = (
    ("modified by an inplace operation", "version"),
    ("a view of a leaf Variable that requires grad", "view_of_leaf"),
    ("a leaf Variable that requires grad", "leaf"),  # "is being used" / "has been used"
    ("This view is the output of a function that returns multiple views", "multi_view"),
    ("This view was created inside a custom Function", "custom_view"),
    ("A view was created in no_grad mode", "no_grad_view"),
    ("A view was created in inference mode", "no_grad_view"),
    ("Inplace update to inference tensor outside InferenceMode", "inference"),
    ("arguments don't support automatic differentiation", "out"),
    ("Can't detach views in-place", "detach_view"),
    ("cannot resize variables that require grad", "resize"),
    ("A saved tensor pack hook is modifying its input in place", "pack_hook"),
    ("that would mutate a captured Tensor", "captured"),
)
# The second form of the view errors: raised where the view is next used, after its base
# (or another view of it) was written in place.
BASE_MODIFIED = "its base or another view of its base has been modified inplace"
_VERSION = re.compile(
    r"\[(?P<type>[\w.]+) \[(?P<shape>[\d, ]*)\]\](?:, which is output \d+ of (?P<fn>\w+),)?"
    r" is at version (?P<now>\d+); expected version (?P<expected>\d+)"
)


def error_kind(message: str) -> str | None:
    """Which autograd in-place error a RuntimeError message is, or None."""
    for text, kind in _INPLACE_ERRORS:
        if text in message:
            return kind
    return None


def _classify(func: Any) -> int:
    name = getattr(func, "__name__", "")
    if name in _BACKWARD_NAMES:
        return _BACKWARD
    if name == "requires_grad_":
        return _REQ_GRAD_SET
    if name in _INPLACE_DUNDERS:
        return _INPLACE
    if name.endswith("_") and not name.endswith("__") and name not in _NOT_WRITES:
        return _INPLACE
    if name in _MULTI_VIEW_NAMES:
        return _MULTI_VIEW
    if name in ("__set__", "__get__"):
        owner = getattr(getattr(func, "__self__", None), "__name__", "")
        if name == "__set__" and owner == "data":
            return _DATA_SET
        if name == "__set__" and owner == "requires_grad":
            return _REQ_GRAD_SET
        if name == "__get__" and owner == "data":
            return _DATA_GET
        return _GETTER if name == "__get__" else _PLAIN
    return _PLAIN


def _name(func: Any) -> str:
    return getattr(func, "__name__", None) or repr(func)


def _tensors_in(value: Any) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [v for v in value if isinstance(v, torch.Tensor)]
    return []


def _shape(t: torch.Tensor) -> tuple[int, ...]:
    try:
        return tuple(int(s) for s in t.shape)
    except Exception:  # symbolic shapes (torch.compile), nested tensors
        return ()


def _creator(t: torch.Tensor) -> str | None:
    try:
        fn = t.grad_fn
    except Exception:
        return None
    return type(fn).__name__ if fn is not None else None


def _storage(t: torch.Tensor) -> Any:
    try:
        return t.untyped_storage()
    except Exception:  # tensors without storage (functorch wrappers, sparse, nested)
        return None


def _version(t: torch.Tensor) -> int | None:
    """The tensor's version counter; None when it has none (inference tensors)."""
    try:
        return t._version
    except Exception:
        return None


def _is_view(t: torch.Tensor) -> bool:
    try:
        return t._is_view()
    except Exception:
        return False


def _has_grad_fn(t: torch.Tensor) -> bool:
    try:
        return t.grad_fn is not None
    except Exception:
        return False


def unreadable_kind(t: torch.Tensor) -> str:
    """What kind of tensor the recorder could not read (for the report's notes)."""
    checks: tuple[tuple[str, Callable[[], bool]], ...] = (
        ("inference tensors", t.is_inference),
        ("functorch-wrapped tensors (torch.func)", lambda: _functorch_wrapped(t)),
        ("fake tensors (torch.compile tracing)", lambda: "Fake" in type(t).__name__),
        ("nested tensors", lambda: bool(t.is_nested)),
        ("sparse tensors", lambda: t.layout is not torch.strided),
        ("meta tensors", lambda: bool(t.is_meta)),
        ("quantized tensors", lambda: bool(t.is_quantized)),
    )
    for what, check in checks:
        try:
            if check():
                return what
        except Exception:
            continue
    return f"{type(t).__name__} tensors without a version counter or storage"


def _functorch_wrapped(t: torch.Tensor) -> bool:
    return bool(torch._C._functorch.is_functorch_wrapped_tensor(t))


# -- calling the program's torch function from a frame that looks like the caller's -------
#
# A warning raised by a torch function is attributed to the innermost Python frame (C++
# warnings) or to its caller (``warnings.warn(..., stacklevel=2)``). Called from the
# recorder, that frame would be the recorder's: another file and line in the message, and
# the "once per location" registry of another module, so a warning shown twice in a plain
# run would show once. The call is made from a one-line function whose code carries the
# program's file and line and which runs in the program's module globals: the warning reads
# exactly as in a plain run. Tracebacks drop it (``TRAMPOLINE``: run.py and sites.py).

TRAMPOLINE = sites.TRAMPOLINE
_TEMPLATE: CodeType = next(
    c
    for c in compile(
        f"def {TRAMPOLINE}(func, args, kwargs): return func(*args, **kwargs)",
        "<gradguard>",
        "exec",
    ).co_consts
    if isinstance(c, CodeType)
)
_Call = Callable[[Any, tuple[Any, ...], dict[str, Any]], Any]


def _direct(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return func(*args, **kwargs)


_compiler = torch.compiler
_tracing_state = torch._C._get_tracing_state
_getframe = sys._getframe


def _saved_tensors_hooks() -> object:
    """The innermost active saved_tensors_hooks pair, None when there is none."""
    try:
        return torch._C._autograd._top_saved_tensors_default_hooks(False)
    except Exception:  # an older torch: assume none
        return None


_DISABLED_TORCH_FUNCTION = torch._C._disabled_torch_function_impl
_DEFAULT_TORCH_FUNCTION = getattr(torch.Tensor.__torch_function__, "__func__", None)


def _own_handler(cls: type) -> bool:
    """A tensor type whose __torch_function__ is the program's (not torch's default)."""
    handler = getattr(cls, "__torch_function__", None)
    if handler is _DISABLED_TORCH_FUNCTION:
        return False
    return getattr(handler, "__func__", handler) is not _DEFAULT_TORCH_FUNCTION


def _handle_torch_function_code() -> CodeType | None:
    from torch import overrides

    return getattr(getattr(overrides, "handle_torch_function", None), "__code__", None)


_HANDLE_CODE = _handle_torch_function_code()


class _Callers:
    """One trampoline per (caller's code, instruction): made once, then a dict look-up."""

    def __init__(self) -> None:
        self.by_code: dict[int, tuple[CodeType, dict[int, _Call]]] = {}

    def for_frame(self, frame: FrameType | None) -> _Call:
        if frame is None:
            return _direct
        code = frame.f_code
        if code is _HANDLE_CODE:  # a Python function's dispatch: the caller of that function
            outer = frame.f_back
            frame = outer.f_back if outer is not None else None
            if frame is None:
                return _direct
            code = frame.f_code
        entry = self.by_code.get(id(code))
        if entry is None:
            entry = self.by_code[id(code)] = (code, {})
        calls = entry[1]
        lasti = frame.f_lasti
        call = calls.get(lasti)
        if call is None:
            call = calls[lasti] = self._make(code, frame)
        return call

    @staticmethod
    def _make(code: CodeType, frame: FrameType) -> _Call:
        try:
            line = frame.f_lineno or code.co_firstlineno
            fake = _TEMPLATE.replace(co_filename=code.co_filename, co_firstlineno=line)
            return cast(_Call, FunctionType(fake, frame.f_globals))
        except Exception:
            return _direct


def _metadata(node: Node) -> dict[str, Any]:
    """``node.metadata``: a dict property at run time, declared a method in torch's stubs."""
    return cast("dict[str, Any]", node.metadata)


class _WeakIdMap:
    """id(object) -> value while the object lives (tensors' ``__eq__`` rules out WeakKeyDictionary)."""

    def __init__(self) -> None:
        self.items: dict[int, tuple[weakref.ref[Any], Any]] = {}

    def put(self, obj: Any, value: Any) -> None:
        key = id(obj)
        items = self.items

        def forget(_r: weakref.ref[Any], key: int = key) -> None:
            items.pop(key, None)

        try:
            ref = weakref.ref(obj, forget)
        except TypeError:
            return
        items[key] = (ref, value)

    def get(self, obj: Any) -> Any:
        entry = self.items.get(id(obj))
        if entry is None or entry[0]() is not obj:
            return None
        return entry[1]


class Recorder(TorchFunctionMode):
    """Record in-place writes, saved tensors and autograd in-place errors (this thread)."""

    def __init__(self) -> None:
        super().__init__()
        self.seq = 0
        self.last_backward_seq = -1
        self.kinds: dict[Any, int] = {}
        self.saved_attrs: dict[type, list[str]] = {}
        self.non_tensor_attrs: dict[type, set[str]] = {}
        self.saves_by_storage = _WeakIdMap()  # storage -> list[weakref to SaveRecord]
        self.writes: deque[WriteRecord] = deque(maxlen=MAX_WRITES)
        self.data_writes: deque[WriteRecord] = deque(maxlen=1000)
        self.grad_writes: deque[tuple[WriteRecord, str | None]] = deque(maxlen=1000)
        self.leaf_origin = _WeakIdMap()  # tensor -> Site where it got requires_grad
        self.view_origin = _WeakIdMap()  # tensor -> (Site, what)
        self.last_write_by_storage = _WeakIdMap()  # storage -> WriteRecord (grad mode)
        self.data_alias = _WeakIdMap()  # `.data` results of tensors that require grad
        self.failures: list[Failure] = []
        self.current_func: Any = None  # the torch function being called (names saves)
        self.callers = _Callers()
        self.plain_types: set[tuple[type, ...]] = set()  # `types` with no foreign handler
        self.skipped: dict[str, int] = {}  # what could not be read -> how often

    # -- the mode ----------------------------------------------------------------------
    def __torch_function__(
        self,
        func: Any,
        types: tuple[type, ...],
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        if kwargs is None:
            kwargs = {}
        # Stay out of what torch.compile compiles (dynamo holds the flag while it traces this
        # very handler) and what torch.jit.trace records.
        if _compiler._is_compiling_flag or _tracing_state() is not None:
            return func(*args, **kwargs)
        # The call's trampoline (see _Callers): the common case is two dict look-ups.
        frame = _getframe(1)
        entry = self.callers.by_code.get(id(frame.f_code))
        call = entry[1].get(frame.f_lasti) if entry is not None else None
        if call is None:
            call = self.callers.for_frame(frame)
        if types not in self.plain_types and self._foreign(types):
            # A tensor subclass with its own __torch_function__ would see every attribute the
            # recorder reads (its handler is the program's code): run the call untouched.
            self._skip_subclass(types)
            return call(func, args, kwargs)
        try:
            # Property getters/setters arrive as fresh method-wrappers that compare equal.
            kind = self.kinds[func]
        except KeyError:
            kind = self.kinds[func] = _classify(func)
        except TypeError:  # unhashable callables
            kind = _classify(func)
        if kind == _GETTER:
            try:
                return call(func, args, kwargs)
            except RuntimeError as exc:  # `view.grad_fn` after its base was written
                self._plain_failure(exc, func, args)
                raise
        if kwargs and kind == _PLAIN:
            if kwargs.get("out") is not None or kwargs.get("inplace") is True:
                kind = _INPLACE
            elif kwargs.get("requires_grad") is True:
                kind = _FACTORY
        if kind == _PLAIN:
            return self._plain(call, func, args, kwargs)
        if kind == _INPLACE:
            return self._inplace(call, func, args, kwargs)
        if kind == _BACKWARD:
            return self._backward(call, func, args, kwargs)
        return self._special(call, kind, func, args, kwargs)

    def _foreign(self, types: tuple[type, ...]) -> bool:
        """Whether a call's tensor types include a subclass with its own __torch_function__."""
        try:
            foreign = any(t is not torch.Tensor and _own_handler(t) for t in types)
        except Exception:
            foreign = True
        if not foreign:
            try:
                self.plain_types.add(types)
            except TypeError:
                pass
        return foreign

    def _skip_subclass(self, types: tuple[type, ...]) -> None:
        names = ", ".join(sorted(t.__name__ for t in types if t is not torch.Tensor))
        key = f"calls on tensor subclasses with their own __torch_function__ ({names})"
        self.skipped[key] = self.skipped.get(key, 0) + 1

    def _version_of(self, t: torch.Tensor) -> int | None:
        version = _version(t)
        if version is None:
            self._skip(t, "version counter")
        return version

    def _skip(self, t: torch.Tensor, what: str) -> None:
        key = f"{what} of {unreadable_kind(t)}"
        self.skipped[key] = self.skipped.get(key, 0) + 1

    def _plain_failure(self, exc: RuntimeError, func: Any, args: tuple[Any, ...]) -> None:
        failed = error_kind(str(exc))
        first = args[0] if args and isinstance(args[0], torch.Tensor) else None
        if failed is not None and failed != "version" and first is not None:
            name = _name(func)
            flag = "inplace" if name in _INPLACE_FLAG_FUNCTIONS else None
            self._write_failure(failed, str(exc), name, flag, first)

    def _plain(self, call: _Call, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        self.current_func = func
        # A call not named in place can still write its first argument (`F.dropout(x, p,
        # training, True)` passes inplace positionally): its version counter tells.
        first = args[0] if args and isinstance(args[0], torch.Tensor) else None
        version = _version(first) if first is not None else None
        try:
            result = call(func, args, kwargs)
        except RuntimeError as exc:
            self._plain_failure(exc, func, args)
            raise
        if first is not None and version is not None:
            after = _version(first)
            if after is not None and after != version:
                name = _name(func)
                flag = "inplace" if name in _INPLACE_FLAG_FUNCTIONS else None
                if torch.is_grad_enabled():
                    self._remember_write(first, name, flag, version, after)
                self._check_saved(first, name, flag, version, after)
        if isinstance(result, torch.Tensor):
            if torch.is_grad_enabled():
                if _has_grad_fn(result):
                    self._record_saves(result)
            elif _is_view(result):
                self._remember_view(result, "created under no_grad/inference_mode")
        return result

    def _special(
        self, call: _Call, kind: int, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        self.current_func = func
        result = call(func, args, kwargs)
        if kind == _FACTORY and isinstance(result, torch.Tensor) and result.requires_grad:
            self.leaf_origin.put(result, sites.current_site())
        elif kind == _REQ_GRAD_SET and args and isinstance(args[0], torch.Tensor):
            # `x.requires_grad = True` (the setter) or `x.requires_grad_()` / `(True)`
            if args[0].requires_grad and args[0].is_leaf:
                self.leaf_origin.put(args[0], sites.current_site())
        elif kind == _MULTI_VIEW:
            site = sites.current_site()
            for t in _tensors_in(result):
                self.view_origin.put(t, (site, f"made by `{_name(func)}` (returns several views)"))
            if torch.is_grad_enabled():
                for t in _tensors_in(result):
                    if _has_grad_fn(t):
                        self._record_saves(t)
        elif kind == _DATA_GET:
            if args and isinstance(args[0], torch.Tensor) and args[0].requires_grad:
                if isinstance(result, torch.Tensor):
                    self.data_alias.put(result, True)
        elif kind == _DATA_SET:
            if args and isinstance(args[0], torch.Tensor) and args[0].requires_grad:
                self._data_write("data", args[0])
        return result

    # -- in-place writes ---------------------------------------------------------------
    def _targets(
        self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[list[torch.Tensor], str | None]:
        out = kwargs.get("out")
        if out is not None:
            return _tensors_in(out), "out"
        flag = "inplace" if kwargs.get("inplace") is True else None
        if not args:
            return [], flag
        first = args[0]
        if isinstance(first, torch.Tensor):
            return [first], flag
        return _tensors_in(first), flag  # _foreach_*_(list, …)

    def _inplace(
        self, call: _Call, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        name = _name(func)
        self.current_func = func
        targets, flag = self._targets(name, args, kwargs)
        before = [self._version_of(t) for t in targets]
        grad_on = torch.is_grad_enabled()
        try:
            result = call(func, args, kwargs)
        except RuntimeError as exc:
            kind = error_kind(str(exc))
            if kind is not None and kind != "version" and targets:
                self._write_failure(kind, str(exc), name, flag, targets[0])
            raise
        for t, version in zip(targets, before, strict=False):
            if version is None:
                continue
            after = _version(t)
            if after is None or after == version:
                continue
            if grad_on:
                self._remember_write(t, name, flag, version, after)
                if t.requires_grad:
                    self._remember_base_write(t, name, flag, version, after)
            if self.data_alias.get(t) is not None:
                self._data_write(name, t)
            self._check_saved(t, name, flag, version, after)
        if grad_on and name != "__setitem__":
            for t in _tensors_in(result):
                if _has_grad_fn(t):
                    self._record_saves(t)
                    break
        elif grad_on and targets and _has_grad_fn(targets[0]):
            self._record_saves(targets[0])
        return result

    def _remember_write(
        self, t: torch.Tensor, op: str, flag: str | None, before: int, after: int
    ) -> None:
        """Writes in grad mode, kept to explain a version error whose save was not seen.

        The creator is the tensor's grad_fn after the write: PyTorch's message names that one.
        """
        creator = _creator(t)
        self.seq += 1
        self.grad_writes.append(
            (
                WriteRecord(
                    self.seq, op, sites.current_site(), before, after, _shape(t), str(t.dtype), flag
                ),
                creator,
            )
        )

    def _remember_base_write(
        self, t: torch.Tensor, op: str, flag: str | None, before: int, after: int
    ) -> None:
        """The last grad-mode write into each storage: a view of it may raise when next used."""
        storage = _storage(t)
        if storage is not None:
            record = WriteRecord(
                self.seq, op, sites.current_site(), before, after, _shape(t), str(t.dtype), flag
            )
            self.last_write_by_storage.put(storage, record)

    def _check_saved(
        self, t: torch.Tensor, op: str, flag: str | None, before: int, after: int
    ) -> None:
        storage = _storage(t)
        if storage is None:
            self._skip(t, "storage")
            return
        refs = self.saves_by_storage.get(storage)
        if not refs:
            return
        hit: list[SaveRecord] = []
        alive = []
        for ref in refs:
            rec = ref()
            if rec is None:
                continue
            if rec.version == before:
                hit.append(rec)
            elif rec.version > before:
                alive.append(ref)
        refs[:] = alive  # saves at older versions were written before; no later write can match
        if not hit:
            return
        self.seq += 1
        record = WriteRecord(
            seq=self.seq,
            op=op,
            site=sites.current_site(),
            version_before=before,
            version_after=after,
            shape=_shape(t),
            dtype=str(t.dtype),
            flag=flag,
            saves=hit,
            backward_after_save=any(r.seq < self.last_backward_seq for r in hit),
        )
        self.writes.append(record)

    def _data_write(self, op: str, t: torch.Tensor) -> None:
        self.seq += 1
        self.data_writes.append(
            WriteRecord(self.seq, op, sites.current_site(), 0, 0, _shape(t), str(t.dtype), "data")
        )

    def _write_failure(
        self, kind: str, message: str, op: str, flag: str | None, t: torch.Tensor
    ) -> None:
        failure = Failure(
            kind=kind,
            message=message.strip().splitlines()[0] if message.strip() else message,
            site=sites.current_site(),
            op=op,
            flag=flag,
            shape=_shape(t),
            dtype=str(t.dtype),
        )
        if kind == "leaf":
            failure.origin = self.leaf_origin.get(t)
            failure.origin_what = "gets requires_grad here"
        elif kind == "view_of_leaf":
            base = t._base if _is_view(t) else None
            failure.origin = self.leaf_origin.get(base) if base is not None else None
            failure.origin_what = "the leaf it is a view of gets requires_grad here"
        elif kind in ("multi_view", "no_grad_view"):  # (a custom Function's forward runs
            # under no_grad: its views would be "made under no_grad" — not the story told)
            found = self.view_origin.get(t)
            if found is not None:
                failure.origin, failure.origin_what = found[0], f"the view is {found[1]} here"
        if BASE_MODIFIED in message:
            # Raised where the view is used; the write that caused it came before.
            storage = _storage(t)
            write = self.last_write_by_storage.get(storage) if storage is not None else None
            failure.raised_at = failure.site
            if write is not None:
                failure.site, failure.op, failure.flag = write.site, write.op, write.flag
                failure.shape, failure.dtype = write.shape, write.dtype
        self.failures.append(failure)

    def _remember_view(self, t: torch.Tensor, what: str) -> None:
        self.view_origin.put(t, (sites.current_site(), what))

    # -- saved tensors -----------------------------------------------------------------
    def _record_saves(self, result: torch.Tensor) -> None:
        stack = [result.grad_fn]
        site: Site | None = None
        # Under saved_tensors_hooks (checkpoint without reentrancy, save_on_cpu, the program's
        # own), reading a saved tensor would run the unpack hook — recomputing a checkpointed
        # forward, moving data, the program's code — and PyTorch does not check versions of
        # such tensors anyway: their nodes are marked as seen, their saves left unread.
        hooked = _saved_tensors_hooks() is not None
        while stack:
            node = stack.pop()
            if node is None:  # callers pass a result with a grad_fn; None has no metadata
                continue
            try:
                meta = _metadata(node)
            except Exception:
                continue
            if "gradguard" in meta:
                continue
            records: list[SaveRecord] = []
            meta["gradguard"] = records
            cls = type(node)
            if cls.__name__ == "AccumulateGrad":
                continue
            if hooked:
                key = "saved tensors packed by saved_tensors_hooks (checkpoint, save_on_cpu, …)"
                self.skipped[key] = self.skipped.get(key, 0) + 1
                stack.extend(nxt for nxt, _ in node.next_functions if nxt is not None)
                continue
            names = self.saved_attrs.get(cls)
            if names is None:
                names = self.saved_attrs[cls] = [
                    a
                    for a in dir(node)
                    if (a.startswith("_saved_") and not a.endswith("_sizes"))
                    or a == "saved_tensors"  # custom autograd.Function: ctx.save_for_backward
                ]
                self.non_tensor_attrs[cls] = set()
            skip = self.non_tensor_attrs[cls]
            for attr in names:
                if attr in skip:
                    continue
                try:
                    value = getattr(node, attr)
                except Exception:
                    continue
                tensors = _tensors_in(value)
                if not tensors:
                    if value is not None and not (isinstance(value, (list, tuple)) and not value):
                        skip.add(attr)
                    continue
                if site is None:
                    site = sites.current_site()
                for t in tensors:
                    self._save(records, node, attr.removeprefix("_saved_"), t, site)
            for nxt, _ in node.next_functions:
                if nxt is not None:
                    stack.append(nxt)

    def _save(
        self,
        records: list[SaveRecord],
        node: Node,
        attr: str,
        t: torch.Tensor,
        site: Site | None,
    ) -> None:
        storage = _storage(t)
        version = _version(t)
        if storage is None or version is None:
            self._skip(t, "saved tensor")
            return
        self.seq += 1
        rec = SaveRecord(
            self.seq,
            type(node).__name__,
            attr,
            _name(self.current_func),
            version,
            _shape(t),  # turned into text only for a report
            t.dtype,
            site,
        )
        records.append(rec)
        refs = self.saves_by_storage.get(storage)
        if refs is None:
            refs = []
            self.saves_by_storage.put(storage, refs)
        refs.append(weakref.ref(rec))

    # -- backward ----------------------------------------------------------------------
    def _backward(
        self, call: _Call, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        self.current_func = func
        try:
            return call(func, args, kwargs)
        except RuntimeError as exc:
            message = str(exc)
            if error_kind(message) == "version":
                self._version_failure(message, args, kwargs)
            raise
        finally:
            self.seq += 1
            self.last_backward_seq = self.seq

    def _version_failure(self, message: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        failure = Failure(
            kind="version",
            message=message.strip().splitlines()[0],
            site=None,
            backward=sites.current_site(),
        )
        in_graph = self._graph_saves(args, kwargs)
        match = _VERSION.search(message)
        expected = int(match.group("expected")) if match else None
        shape = (
            tuple(int(s) for s in match.group("shape").split(",") if s.strip()) if match else None
        )
        best: tuple[tuple[int, ...], WriteRecord, SaveRecord] | None = None
        for write in self.writes:
            for rec in write.saves:
                if in_graph and id(rec) not in in_graph:
                    continue
                score = (
                    int(expected is None or rec.version == expected),
                    int(shape is None or rec.shape == shape),
                    write.seq,
                )
                if best is None or score > best[0]:
                    best = (score, write, rec)
        if best is None:
            guess = self._guess_write(match)
            if guess is not None:
                failure.site, failure.op, failure.flag = guess.site, guess.op, guess.flag
                failure.shape, failure.dtype = guess.shape, guess.dtype
                failure.version_before = guess.version_before
                failure.version_after = guess.version_after
                failure.unseen = (
                    "the save itself was not seen (a custom autograd.Function or a graph built "
                    "before tracing): this write is the last one in grad mode that matches the "
                    "error's shape, version and creator"
                )
                self.failures.append(failure)
                return
            failure.unseen = (
                "the tracer saw no in-place write on a tensor this graph saved: it happened "
                "where the tracer cannot look (another thread, a torch.compile'd region, "
                "native code, or before tracing started)"
            )
        else:
            _, write, rec = best
            failure.site = write.site
            failure.op = write.op
            failure.flag = write.flag
            failure.shape = tuple(int(n) for n in rec.shape)
            failure.dtype = str(rec.dtype)
            failure.save = rec
            failure.version_before = write.version_before
            failure.version_after = write.version_after
        self.failures.append(failure)

    def _guess_write(self, match: re.Match[str] | None) -> WriteRecord | None:
        """The latest grad-mode write matching a version error's message, if one does."""
        if match is None:
            return None
        expected = int(match.group("expected"))
        shape = tuple(int(s) for s in match.group("shape").split(",") if s.strip())
        creator = match.group("fn")
        for write, written_creator in reversed(self.grad_writes):
            if write.version_before != expected or write.shape != shape:
                continue
            if creator and written_creator and not written_creator.startswith(creator):
                continue
            return write
        return None

    def _graph_saves(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> set[int]:
        roots: list[torch.Tensor] = []
        for value in (*args, kwargs.get("tensors"), kwargs.get("outputs")):
            roots.extend(_tensors_in(value))
        seen: set[int] = set()
        found: set[int] = set()
        stack = [t.grad_fn for t in roots if _has_grad_fn(t)]
        while stack:
            node = stack.pop()
            if node is None or id(node) in seen:
                continue
            seen.add(id(node))
            try:
                for rec in _metadata(node).get("gradguard", ()):
                    found.add(id(rec))
                stack.extend(n for n, _ in node.next_functions if n is not None)
            except Exception:
                continue
        return found

    # -- results -----------------------------------------------------------------------
    def result(self, *, unraised: bool = False) -> TraceResult:
        out = TraceResult(failures=list(self.failures))
        out.notes = [
            f"left alone, unrecorded: {what} ({count}×)"
            for what, count in sorted(self.skipped.items())
        ]
        if unraised:
            culprits = {id(f.save) for f in self.failures if f.save is not None}
            seen_sites: set[tuple[Site | None, str]] = set()
            for write in self.writes:
                if write.backward_after_save or any(id(r) in culprits for r in write.saves):
                    continue
                key = (write.site, write.op)
                if key in seen_sites:
                    continue
                seen_sites.add(key)
                out.unraised.append(write)
            seen_data: set[Site | None] = set()
            for write in self.data_writes:
                if write.site not in seen_data:
                    seen_data.add(write.site)
                    out.data_writes.append(write)
        return out


class Tracer:
    """``with Tracer() as t: …``; then ``t.result()``. Recording happens in this thread only."""

    def __init__(self) -> None:
        self.recorder = Recorder()

    def __enter__(self) -> Tracer:
        # torch leaves TorchFunctionMode.__enter__/__exit__ unannotated.
        self.recorder.__enter__()  # type: ignore[no-untyped-call]
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.recorder.__exit__(*exc)  # type: ignore[no-untyped-call]
        except Exception:  # the program left the mode stack unbalanced: nothing to undo
            pass

    def result(self, *, unraised: bool = False) -> TraceResult:
        return self.recorder.result(unraised=unraised)


__all__ = ["Recorder", "Tracer", "error_kind"]
