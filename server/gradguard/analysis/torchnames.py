"""Names in the torch namespace the dataflow treats specially (hand-kept, small)."""

from __future__ import annotations

# Factories: a fresh tensor; requires_grad only from their `requires_grad=` keyword.
FACTORIES = frozenset(
    """tensor as_tensor asarray from_numpy zeros ones empty full rand randn randint randperm
    arange range linspace logspace eye zeros_like ones_like empty_like full_like rand_like
    randn_like randint_like normal bernoulli multinomial poisson empty_strided scalar_tensor
    Tensor FloatTensor DoubleTensor HalfTensor BFloat16Tensor LongTensor IntTensor BoolTensor
    ByteTensor complex polar tril_indices triu_indices frombuffer""".split()
)

# Methods and functions whose result never requires grad.
NO_GRAD_RESULT = frozenset(
    """argmax argmin argsort argwhere nonzero eq ne lt le gt ge equal isnan isinf isfinite
    isclose allclose logical_and logical_or logical_not logical_xor bool long int short byte
    char sign signbit floor_divide bucketize searchsorted unique unique_consecutive bincount
    histc count_nonzero numel size dim item tolist numpy shape ndimension nelement stride
    storage_offset is_contiguous data_ptr element_size any all topk_indices randint_like
    isreal is_floating_point is_complex get_device""".split()
)

# Methods returning a Python value, not a tensor.
NON_TENSOR_METHODS = frozenset(
    """item tolist numpy size dim numel shape ndimension nelement stride storage_offset
    is_contiguous data_ptr element_size is_leaf requires_grad is_floating_point is_complex
    get_device __len__ __repr__ __str__ untyped_storage storage""".split()
)

# Methods that may return the tensor itself (a no-op) or a copy.
CONVERSIONS = frozenset(
    """to cuda cpu float double half bfloat16 type type_as contiguous pin_memory mps xpu""".split()
)

# Tensor attributes that are autograd views of the tensor.
VIEW_ATTRIBUTES = frozenset({"T", "mT", "H", "mH", "real", "imag"})

# Methods that are autograd views (a backup for the generated table).
VIEW_METHODS = frozenset(
    """view view_as reshape reshape_as t transpose swapaxes swapdims permute expand expand_as
    diagonal narrow select squeeze unsqueeze flatten unflatten unfold movedim moveaxis as_strided
    real imag view_as_real view_as_complex adjoint mT alias detach_copy indices values
    ccol_indices crow_indices""".split()
)
MULTI_VIEW_METHODS = frozenset("chunk split unbind split_with_sizes".split())
# Ops returning a list of plain views (autograd does not mark them multi-output views, so
# each may be written in place unless its base is a leaf that requires grad): checked under
# torch 2.13, `torch.tensor_split(y, 2)[0].mul_(2)` runs.
VIEW_LIST_METHODS = frozenset("tensor_split hsplit vsplit dsplit".split())
# torch functions taking their tensors as varargs where ATen takes one `Tensor[]`: the
# position where the tensors start.
VARARG_TENSOR_LISTS = {
    "einsum": 1,
    "broadcast_tensors": 0,
    "cartesian_prod": 0,
    "block_diag": 0,
    "meshgrid": 0,
    "chain_matmul": 0,
}
# nn modules that save their weight as a view (`linear` runs addmm on `weight.t()`):
# `m.weight.data = e` does not change what the graph saved (checked under torch 2.13).
WEIGHT_SAVED_AS_VIEW = frozenset({"Linear"})
# nn modules whose forward returns its input object itself.
PASS_THROUGH_MODULES = frozenset({"Identity"})
# View ops whose function form `torch.NAME(x)` is not modelled as a view of `x`: detach
# returns a view that does not require grad (handled as a method).
NOT_VIEW_FUNCTIONS = frozenset({"detach", "detach_", "alias", "detach_copy"})

# In-place-looking names that do not write the tensor's data through autograd.
NOT_DATA_WRITES = frozenset(
    {
        "requires_grad_",
        "retain_grad",
        "share_memory_",
        "detach_",
        "pin_memory_",
        "record_stream",
        "resize_",
        "resize_as_",
        "set_",
        "is_set_to",
        "untyped_storage",
    }
)

# In-place methods that are initialisations (the right fix for a leaf is `torch.no_grad()`).
INIT_METHODS = frozenset(
    """zero_ fill_ copy_ uniform_ normal_ bernoulli_ cauchy_ exponential_ geometric_ log_normal_
    random_ fill_diagonal_ set_ clamp_ clip_ index_fill_ masked_fill_""".split()
)

NO_GRAD_CONTEXTS = frozenset(
    {
        "torch.no_grad",
        "torch.inference_mode",
        "torch.autograd.no_grad",
        "torch.autograd.grad_mode.no_grad",
        "torch.autograd.grad_mode.inference_mode",
    }
)
ENABLE_GRAD_CONTEXTS = frozenset(
    {"torch.enable_grad", "torch.autograd.enable_grad", "torch.autograd.grad_mode.enable_grad"}
)
SET_GRAD_ENABLED = frozenset(
    {
        "torch.set_grad_enabled",
        "torch.autograd.set_grad_enabled",
        "torch.autograd.grad_mode.set_grad_enabled",
    }
)
PARAMETER_CLASSES = frozenset(
    {"torch.nn.Parameter", "torch.nn.parameter.Parameter", "torch.nn.UninitializedParameter"}
)
BACKWARD_FUNCTIONS = frozenset({"torch.autograd.backward", "torch.autograd.grad"})
# `torch.autograd.functional.jacobian(f, inputs)` & co.: f runs in grad mode on leaves that
# require grad (detached from the inputs: same version counter), its result is
# differentiated.  Also reached as `torch.func`-free spellings `from torch.autograd.functional
# import jacobian`.
AUTOGRAD_FUNCTIONAL = frozenset(
    f"torch.autograd.functional.{name}" for name in "jacobian hessian vjp jvp hvp vhp".split()
)

# Decorators that do not change grad mode.
NEUTRAL_DECORATORS = frozenset(
    """staticmethod classmethod property abstractmethod cache lru_cache cached_property wraps
    overload override final setter getter deleter jit export ignore unused script no_type_check
    contextmanager dataclass total_ordering singledispatch singledispatchmethod
    _disable_dynamo disable dynamo_timed""".split()
)


def canonical(path: str) -> str:
    """Fold torch's re-export paths: torch.nn.modules.activation.ReLU -> torch.nn.ReLU."""
    parts = path.split(".")
    if parts[:3] == ["torch", "nn", "modules"] and len(parts) >= 4:
        return "torch.nn." + parts[-1]
    if parts[:2] == ["torch", "functional"]:
        return "torch." + ".".join(parts[2:])
    if parts[:3] == ["torch", "_C", "_nn"]:
        return "torch.nn.functional." + ".".join(parts[3:])
    if parts[:2] == ["torch", "_C"] and len(parts) == 3:
        return "torch." + parts[2]
    if parts[:3] == ["torch", "_C", "_VariableFunctions"]:
        return "torch." + ".".join(parts[3:])
    return path


# Composite linalg ops whose backward runs on outputs saved by a private ATen op the op
# table does not export (`_linalg_eigh`, `_linalg_svd`): which outputs are saved.
# Checked under torch 2.13: writing any of them in place fails the backward.
COMPOSITE_SAVED_OUTPUTS: dict[str, tuple[int, ...]] = {
    "linalg_eigh": (0, 1),
    "linalg_svd": (0, 1, 2),
    "svd": (0, 1, 2),
}

# nn.Module methods that return the module itself (`.to(device).eval()` chains).
MODULE_CHAINING = frozenset(
    {
        "to",
        "cuda",
        "cpu",
        "train",
        "eval",
        "float",
        "double",
        "half",
        "requires_grad_",
        "apply",
        "type",
    }
)
