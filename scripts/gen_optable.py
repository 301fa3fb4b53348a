#!/usr/bin/env python
"""Generate ``server/gradguard/data/optable.json`` from the installed PyTorch wheel.

Sources (all read from the installed wheel, located through ``importlib``):

* ``torchgen/packaged/ATen/native/native_functions.yaml``: op schemas, overloads, in-place and
  ``out=`` variants, alias annotations (``Tensor(a)`` = returns a view, ``Tensor(a)[]`` = returns
  several views, ``Tensor(a!) self`` = writes its receiver), Python exposure;
* ``torchgen/packaged/autograd/derivatives.yaml``: backward formulas.  We parse both with
  torchgen itself (``load_derivatives`` and ``match_differentiability_info``, the exact code
  PyTorch's autograd codegen runs), so ``self.sym_sizes()``/``self.scalar_type()`` captures are
  not mistaken for saving ``self``, in-place variants inherit their out-of-place formula the way
  the codegen does, and the ``should_compute_output`` guards are reproduced;
* ``torch`` itself, imported here only (the engine never imports torch): ``hasattr`` checks for
  ``torch.Tensor`` methods and ``torch.*`` functions, ``inspect.signature`` of ``torch.nn``
  modules and ``torch.nn.functional`` functions (``inplace`` parameter name and index), module
  instantiation (``has_parameters``), and the in-place behaviour of augmented operators.

Composite ops nothing hand-written describes are run once under torch (``record_composites``):
what autograd saves is read from whether backward raises after each tensor is written in place.

Hand-written knowledge (decompositions of CompositeImplicitAutograd ops, which nn modules and
functionals run which op, the few Tensor methods marked ``Tensor(a!) self`` that do not write
data) lives below in clearly marked tables, never in the JSON by hand.

Usage::

    .venv/bin/python scripts/gen_optable.py            # writes the committed table
    .venv/bin/python scripts/gen_optable.py -o FILE    # writes elsewhere (the staleness test)

The output is deterministic (sorted keys, compact separators, trailing newline): regenerating
from the same wheel is byte-identical.

JSON layout (read by ``server/gradguard/optable.py``)::

    format, torch_version
    ops: {name: {                      ATen base name: "mul", "mul_", "linalg_norm", "__iand__"
        method, function               exists as torch.Tensor.<name> / torch.<name> (or module)
        module?                        python_module: nn | linalg | special | fft
        inplace?: [names]              in-place variants ("mul" -> ["mul_"])
        twin?, twin_method, twin_function   out-of-place spelling of an in-place op (or null)
        out?                           an out= overload exists
        writes_self?                   schema has Tensor(a!) self
        inplace_method?                a Tensor method that writes its receiver's data
        view?, multi_view?             returns a view / autograd multi-output views
        overloads: [{                  in the order Python's argument parser tries them
            name                       overload name ("" default)
            args: [[name, kind, flags]]   kind T T? TL S I F B L O; flags "k" kw-only, "d" default
            n_out                      number of returns
            grad                       formula | composite | nondiff | none | manual
            saves?: {input: [saved]}   saved tensors when `input` requires grad: argument
                                       names, "result" / "resultN" (outputs); for in-place
                                       ops "result" is the receiver after the write
            via?                       decomposition / alias the saves come from; "recorded":
                                       composites run once under torch by record_composites
                                       (each tensor argument / output written in place after
                                       the forward: does backward raise?)
            diff_out?: [bool]          which outputs are differentiable, when not all
            view?, multi_view?}]}}
    aliases: {"linalg.norm": "linalg_norm", "__iadd__": "add_", ...}
    operators: {binary: {sym: {op, augmented, reflected, reflected_args}}, unary: {sym: op}}
    functionals: {F name: {op, inplace_op, inplace_param, inplace_index, saves_input,
                           saves_output, inplace_saves_output, writes_input}}
    modules: {class: {op, functional, inplace_param, inplace_index, inplace_op, has_parameters,
                      saves_input, saves_output, inplace_saves_output?, inplace_ignored?, note?,
                      saved_params?}}   saved_params: which of weight/bias the backward needs
                                       (recorded by running the module, saved_parameters)
    constructors: {class: {params, positional, varargs, varkw}}   every torch.nn module class:
                                       what its constructor accepts (other calls raise)
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import json
import os
import re
import sys
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

FORMAT_VERSION = 1
PROBLEMS: list[str] = []
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO_ROOT / "server" / "gradguard" / "data" / "optable.json"

# ---------------------------------------------------------------------------------------------
# Hand-written knowledge
# ---------------------------------------------------------------------------------------------

# Python modules whose ops we keep (None = torch / torch.Tensor).  sparse/nested/quantized
# internals are left out: a linter of ordinary training code never meets them.
KEPT_PYTHON_MODULES = (None, "nn", "linalg", "special", "fft")

# Where an op of each python_module is reachable from Python.
PYTHON_MODULE_PREFIX = {
    "nn": "torch._C._nn",
    "linalg": "torch.linalg",
    "special": "torch.special",
    "fft": "torch.fft",
}

# Tensor methods whose schema says ``Tensor(a!) self`` (or that Python defines) but that do not
# write the tensor's data, so they never trip autograd's in-place checks on a grad leaf:
#   requires_grad_ / retain_grad flip autograd flags, detach_ detaches in place (allowed on leaves),
#   share_memory_ moves storage to shared memory (same values).
NOT_DATA_WRITES = frozenset({"requires_grad_", "retain_grad", "detach_", "share_memory_"})

# In-place Tensor methods defined in Python (torch/_tensor.py) rather than native_functions.yaml.
# They write the receiver's data (map_/apply_ are CPU-only element loops).
PYTHON_ONLY_INPLACE_METHODS = {"map_": None, "map2_": None, "apply_": None}

# CompositeImplicitAutograd ops have no derivatives.yaml entry: autograd records the ops they
# decompose into.  For the common ones we name the op that does the saving and how the arguments
# map onto it ({composite arg: target arg}).  The composite's saves are the target's saves,
# renamed; tensors the decomposition saves that are not arguments or the result (internal
# temporaries) are dropped, since user code cannot modify them.  Arguments reached through a view
# (``linear`` saves ``weight.t()``) count as the argument: views share the version counter.
# Applied only to ops that have no formula of their own.
DECOMPOSITIONS: dict[str, tuple[str, dict[str, str]]] = {
    "softmax": ("_softmax", {"self": "self"}),
    "log_softmax": ("_log_softmax", {"self": "self"}),
    "special_softmax": ("_softmax", {"self": "self"}),
    "special_log_softmax": ("_log_softmax", {"self": "self"}),
    "linear": ("addmm", {"input": "mat1", "weight": "mat2", "bias": "self"}),
    "matmul": ("mm", {"self": "self", "other": "mat2"}),
    "layer_norm": ("native_layer_norm", {"input": "input", "weight": "weight", "bias": "bias"}),
    "group_norm": ("native_group_norm", {"input": "input", "weight": "weight", "bias": "bias"}),
    "batch_norm": (
        "native_batch_norm",
        {
            "input": "input",
            "weight": "weight",
            "bias": "bias",
            "running_mean": "running_mean",
            "running_var": "running_var",
        },
    ),
    "instance_norm": (
        "native_batch_norm",
        {
            "input": "input",
            "weight": "weight",
            "bias": "bias",
            "running_mean": "running_mean",
            "running_var": "running_var",
        },
    ),
    "conv1d": ("convolution", {"input": "input", "weight": "weight", "bias": "bias"}),
    "conv2d": ("convolution", {"input": "input", "weight": "weight", "bias": "bias"}),
    "conv3d": ("convolution", {"input": "input", "weight": "weight", "bias": "bias"}),
    "conv_transpose1d": ("convolution", {"input": "input", "weight": "weight", "bias": "bias"}),
    "conv_transpose2d": ("convolution", {"input": "input", "weight": "weight", "bias": "bias"}),
    "conv_transpose3d": ("convolution", {"input": "input", "weight": "weight", "bias": "bias"}),
    "relu6": ("hardtanh", {"self": "self"}),
    "relu6_": ("hardtanh_", {"self": "self"}),
    "selu": ("elu", {"self": "self"}),
    "selu_": ("elu_", {"self": "self"}),
    "rrelu": ("rrelu_with_noise", {"self": "self"}),
    "rrelu_": ("rrelu_with_noise_", {"self": "self"}),
    "prelu": ("_prelu_kernel", {"self": "self", "weight": "weight"}),
    "bilinear": ("_trilinear", {"input1": "i1", "weight": "i2", "input2": "i3"}),
    "square": ("pow.Tensor_Scalar", {"self": "self"}),
    "square_": ("pow_.Scalar", {"self": "self"}),
    "max_pool1d": ("max_pool2d_with_indices", {"self": "self"}),
    "max_pool1d_with_indices": ("max_pool2d_with_indices", {"self": "self"}),
    "max_pool2d": ("max_pool2d_with_indices", {"self": "self"}),
    "max_pool3d": ("max_pool3d_with_indices", {"self": "self"}),
    "avg_pool1d": ("avg_pool2d", {"self": "self"}),
    "log_sigmoid": ("log_sigmoid_forward", {"self": "self"}),
    "to": ("_to_copy", {"self": "self"}),
    "type_as": ("_to_copy", {"self": "self"}),
    "float_power": ("pow", {"self": "self", "exponent": "exponent"}),
    "outer": ("mul.Tensor", {"self": "self", "vec2": "other"}),
    "max.other": ("maximum", {"self": "self", "other": "other"}),
    "min.other": ("minimum", {"self": "self", "other": "other"}),
    "std": ("std.correction", {"self": "self"}),
    "std.dim": ("std.correction", {"self": "self"}),
    "var": ("var.correction", {"self": "self"}),
    "var.dim": ("var.correction", {"self": "self"}),
    "float_power_": ("pow_", {"self": "self", "exponent": "exponent"}),
}

DECOMPOSITION_TARGETS = frozenset(spec.partition(".")[0] for spec, _ in DECOMPOSITIONS.values())

# Private ops kept although user code rarely calls them: decomposition targets and the ops
# that modules/functionals run.
KEPT_PRIVATE = DECOMPOSITION_TARGETS | {"_to_copy", "_softmax", "_log_softmax"}

# Composite ops whose decomposition saves no argument and not the result (dropout multiplies by
# a fresh mask; reshapes and views save sizes only; L1 loss saves the internal difference).
SAVES_NOTHING = frozenset(
    {
        "dropout",
        "dropout_",
        "feature_dropout",
        "feature_dropout_",
        "alpha_dropout",
        "alpha_dropout_",
        "feature_alpha_dropout",
        "feature_alpha_dropout_",
        "reshape",
        "reshape_as",
        "flatten",
        "unflatten",
        "view_as",
        "expand_as",
        "contiguous",
        "chunk",
        "tensor_split",
        "hsplit",
        "vsplit",
        "dsplit",
        "split",
        "movedim",
        "moveaxis",
        "swapaxes",
        "swapdims",
        "ravel",
        "fliplr",
        "flipud",
        "l1_loss",
        "pad",
        "hstack",
        "vstack",
        "dstack",
        "column_stack",
        "concat",
        "concatenate",
        "narrow",
        "broadcast_to",
        "tile",
        "repeat_interleave",
        "adjoint",
        "unsafe_chunk",
        "conj",
        "resolve_conj",
        "resolve_neg",
        "positive",
        "real",
        "mT",
        "mH",
        "sum_to_size",
        "pin_memory",
        "to_dense",
        "swapaxes_",
        "swapdims_",
        "diag",
        "diagflat",
        "requires_grad_",
    }
)

# Autograd marks outputs of multi-output view functions (split, chunk, unbind: a derivative
# formula returning ``Tensor(a)[]``) so that writing one in place raises.  Composite ops returning
# ``Tensor(a)[]`` (tensor_split, hsplit, ...) decompose into plain views, which may be written;
# split.sizes and chunk decompose into split_with_sizes / split, which are multi-output views.
MULTI_VIEW_COMPOSITES = frozenset({"split", "chunk"})

# Ops autograd handles by hand (VariableTypeManual): their outputs never require grad.
MANUAL_NONDIFF = frozenset(
    {"detach", "detach_", "one_hot", "isclose", "isfinite", "isreal", "argwhere"}
)
# ... and ones that are differentiable there, with what they save (copy_ saves nothing:
# grad flows to src unchanged, self's old value is discarded).
MANUAL_SAVES: dict[str, dict[str, list[str]]] = {"copy_": {"self": [], "src": []}}

# Aliases that are CompositeImplicitAutograd spellings of another op with the same arguments
# (torch.divide is torch.div, ...).  Overloads are matched by overload name.
ALIASES = {
    "absolute": "abs",
    "arccos": "acos",
    "arccosh": "acosh",
    "arcsin": "asin",
    "arcsinh": "asinh",
    "arctan": "atan",
    "arctan2": "atan2",
    "arctanh": "atanh",
    "clip": "clamp",
    "divide": "div",
    "true_divide": "div",
    "multiply": "mul",
    "subtract": "sub",
    "negative": "neg",
    "fix": "trunc",
    "greater": "gt",
    "greater_equal": "ge",
    "less": "lt",
    "less_equal": "le",
    "not_equal": "ne",
    "special_expit": "sigmoid",
    "special_exp2": "exp2",
    "special_expm1": "expm1",
    "special_erf": "erf",
    "special_erfc": "erfc",
    "special_erfinv": "erfinv",
    "special_log1p": "log1p",
    "special_round": "round",
    "special_sinc": "sinc",
    "special_logit": "logit",
    "special_logsumexp": "logsumexp",
    "special_psi": "digamma",
    "special_digamma": "digamma",
    "special_gammaln": "lgamma",
    "special_xlogy": "xlogy",
    "special_i0": "i0",
    "special_polygamma": "polygamma",
    "ger": "outer",
}
for _base, _target in list(ALIASES.items()):
    if not _base.startswith("special_"):
        ALIASES[_base + "_"] = _target + "_"

# Python operators -> the Tensor op they run.  ``reflected`` is the op for ``number OP tensor``
# (None when Python's __rOP__ decomposes into another op chain, described in ``note``).
BINARY_OPERATORS = {
    "+": ("add", "__iadd__"),
    "-": ("sub", "__isub__"),
    "*": ("mul", "__imul__"),
    "/": ("div", "__itruediv__"),
    "//": ("floor_divide", "__ifloordiv__"),
    "%": ("remainder", "__imod__"),
    "**": ("pow", "__ipow__"),
    "@": ("matmul", "__imatmul__"),
    "&": ("bitwise_and", "__iand__"),
    "|": ("bitwise_or", "__ior__"),
    "^": ("bitwise_xor", "__ixor__"),
    "<<": ("bitwise_left_shift", "__ilshift__"),
    ">>": ("bitwise_right_shift", "__irshift__"),
    "<": ("lt", None),
    "<=": ("le", None),
    ">": ("gt", None),
    ">=": ("ge", None),
    "==": ("eq", None),
    "!=": ("ne", None),
}
# The in-place op each augmented operator runs when Python calls __iOP__ (checked below).
AUGMENTED_TARGET = {
    "__iadd__": "add_",
    "__isub__": "sub_",
    "__imul__": "mul_",
    "__itruediv__": "div_",
    "__ifloordiv__": "floor_divide_",
    "__imod__": "remainder_",
    "__ipow__": "pow_",
    "__imatmul__": None,
    "__iand__": "bitwise_and_",
    "__ior__": "bitwise_or_",
    "__ixor__": "bitwise_xor_",
    "__ilshift__": "bitwise_left_shift_",
    "__irshift__": "bitwise_right_shift_",
}
# ``number OP tensor``: what torch/_tensor.py's __rOP__ runs.  "same": op(tensor, number)
# (``__rsub__`` is ``rsub(self, other)``); "swap": op(number, tensor) (``__rpow__`` is
# ``torch.pow(other, self)``); "temp": ``__rtruediv__`` is ``self.reciprocal() * other``, so
# only a temporary is saved, never an operand or the result.
REFLECTED = {
    "+": ("add", "same"),
    "*": ("mul", "same"),
    "-": ("rsub", "same"),
    "/": ("reciprocal", "temp"),
    "**": ("pow", "swap"),
    "//": ("floor_divide", "swap"),
    "%": ("remainder", "swap"),
    "&": ("bitwise_and", "same"),
    "|": ("bitwise_or", "same"),
    "^": ("bitwise_xor", "same"),
    "<<": ("bitwise_left_shift", "swap"),
    ">>": ("bitwise_right_shift", "swap"),
    "@": ("matmul", "swap"),
}
UNARY_OPERATORS = {"-": "neg", "~": "bitwise_not", "+": None, "abs": "abs"}

# torch.nn.functional function -> (op it runs, in-place op it runs with inplace=True).
# Only these (and PYTHON_FUNCTIONAL_SAVES) get a FunctionalInfo; other F.* names that are ops
# (F.sigmoid is torch.sigmoid) are found with lookup().
FUNCTIONALS: dict[str, tuple[str, str | None]] = {
    "relu": ("relu", "relu_"),
    "relu_": ("relu_", None),
    "relu6": ("relu6", "relu6_"),
    "elu": ("elu", "elu_"),
    "elu_": ("elu_", None),
    "selu": ("selu", "selu_"),
    "selu_": ("selu_", None),
    "celu": ("celu", "celu_"),
    "celu_": ("celu_", None),
    "leaky_relu": ("leaky_relu", "leaky_relu_"),
    "leaky_relu_": ("leaky_relu_", None),
    "hardtanh": ("hardtanh", "hardtanh_"),
    "hardtanh_": ("hardtanh_", None),
    "threshold": ("threshold", "threshold_"),
    "threshold_": ("threshold_", None),
    "rrelu": ("rrelu", "rrelu_"),
    "rrelu_": ("rrelu_", None),
    "silu": ("silu", "silu_"),
    "mish": ("mish", "mish_"),
    "hardswish": ("hardswish", "hardswish_"),
    "hardsigmoid": ("hardsigmoid", "hardsigmoid_"),
    "gelu": ("gelu", None),
    "glu": ("glu", None),
    "logsigmoid": ("log_sigmoid", None),
    "softplus": ("softplus", None),
    "softshrink": ("softshrink", None),
    "hardshrink": ("hardshrink", None),
    "sigmoid": ("sigmoid", None),
    "tanh": ("tanh", None),
    "softmax": ("softmax", None),
    "log_softmax": ("log_softmax", None),
    "softmin": ("softmax", None),
    "prelu": ("prelu", None),
    "dropout": ("dropout", "dropout_"),
    "dropout1d": ("feature_dropout", "feature_dropout_"),
    "dropout2d": ("feature_dropout", "feature_dropout_"),
    "dropout3d": ("feature_dropout", "feature_dropout_"),
    "alpha_dropout": ("alpha_dropout", "alpha_dropout_"),
    "feature_alpha_dropout": ("feature_alpha_dropout", "feature_alpha_dropout_"),
    "linear": ("linear", None),
    "bilinear": ("bilinear", None),
    "conv1d": ("conv1d", None),
    "conv2d": ("conv2d", None),
    "conv3d": ("conv3d", None),
    "conv_transpose1d": ("conv_transpose1d", None),
    "conv_transpose2d": ("conv_transpose2d", None),
    "conv_transpose3d": ("conv_transpose3d", None),
    "batch_norm": ("batch_norm", None),
    "layer_norm": ("layer_norm", None),
    "group_norm": ("group_norm", None),
    "instance_norm": ("instance_norm", None),
    "embedding": ("embedding", None),
    "max_pool1d": ("max_pool1d", None),
    "max_pool2d": ("max_pool2d", None),
    "max_pool3d": ("max_pool3d", None),
    "avg_pool1d": ("avg_pool1d", None),
    "avg_pool2d": ("avg_pool2d", None),
    "avg_pool3d": ("avg_pool3d", None),
    "adaptive_avg_pool2d": ("adaptive_avg_pool2d", None),
    "adaptive_max_pool2d": ("adaptive_max_pool2d", None),
    "pad": ("constant_pad_nd", None),
    "mse_loss": ("mse_loss", None),
    "l1_loss": ("l1_loss", None),
    "nll_loss": ("nll_loss_nd", None),
    "binary_cross_entropy": ("binary_cross_entropy", None),
    "binary_cross_entropy_with_logits": ("binary_cross_entropy_with_logits", None),
}

# Functionals that are Python code with no single op: what they save, by parameter name
# (True = saved whenever a grad_fn is recorded).  Verified by tests/test_optable.py.
PYTHON_FUNCTIONAL_SAVES: dict[str, dict[str, Any]] = {
    "normalize": {"input": True, "output": False},
    "cross_entropy": {"input": False, "output": False},
    "scaled_dot_product_attention": {"input": True, "output": True},
    "softsign": {"input": True, "output": False},  # input / (1 + |input|): div saves input
    "tanhshrink": {"input": False, "output": False},  # input - tanh(input)
}


class M:
    """A torch.nn module: which functional/op it runs and how to instantiate a sample of it."""

    def __init__(
        self,
        op: str | None,
        inplace_op: str | None = None,
        ctor: tuple = (),
        kw: dict | None = None,
        saves_input: bool | None = None,
        saves_output: bool | None = None,
        functional: str | None = None,
        note: str = "",
        explicit: bool = False,
    ) -> None:
        self.op = op
        self.inplace_op = inplace_op
        self.ctor = ctor
        self.kw = kw or {}
        self.saves_input = saves_input  # None: derive from the op table
        self.saves_output = saves_output
        self.functional = functional
        self.note = note
        # saves given by hand (None = depends on the arguments / unknown)
        self.explicit = explicit or saves_input is not None or saves_output is not None


ADAPTIVE_AVG_NOTE = (
    "output size 1 runs mean (saves nothing); other sizes run _adaptive_avg_pool (saves the input)"
)

# torch.nn modules.  ``op`` is the op the forward runs (looked up in the table for saves, unless
# saves_input/saves_output are given: those are for forwards that are Python code over many ops
# and are checked against real autograd by the tests).
MODULES: dict[str, M] = {
    "ReLU": M("relu", "relu_", functional="relu"),
    "ReLU6": M("relu6", "relu6_", functional="relu6"),
    "Sigmoid": M("sigmoid", functional="sigmoid"),
    "Tanh": M("tanh", functional="tanh"),
    "Softmax": M("softmax", kw={"dim": 1}, functional="softmax"),
    "LogSoftmax": M("log_softmax", kw={"dim": 1}, functional="log_softmax"),
    "Softmin": M(
        "softmax", kw={"dim": 1}, functional="softmin", note="softmax of -input: saves its output"
    ),
    "Softmax2d": M("softmax", functional="softmax"),
    "LeakyReLU": M("leaky_relu", "leaky_relu_", functional="leaky_relu"),
    "ELU": M("elu", "elu_", functional="elu"),
    "CELU": M("celu", "celu_", functional="celu"),
    "SELU": M("selu", "selu_", functional="selu"),
    "Hardtanh": M("hardtanh", "hardtanh_", functional="hardtanh"),
    "SiLU": M("silu", "silu_", functional="silu"),
    "Mish": M("mish", "mish_", functional="mish"),
    "Hardswish": M("hardswish", "hardswish_", functional="hardswish"),
    "Hardsigmoid": M("hardsigmoid", "hardsigmoid_", functional="hardsigmoid"),
    "Threshold": M("threshold", "threshold_", ctor=(0.1, 0.0), functional="threshold"),
    "RReLU": M(
        "rrelu",
        "rrelu_",
        functional="rrelu",
        note="training mode: rrelu_with_noise; eval mode: leaky_relu",
    ),
    "GELU": M("gelu", functional="gelu"),
    "GLU": M("glu", functional="glu"),
    "LogSigmoid": M("log_sigmoid", functional="logsigmoid"),
    "Softplus": M("softplus", functional="softplus"),
    "Softshrink": M("softshrink", functional="softshrink"),
    "Hardshrink": M("hardshrink", functional="hardshrink"),
    "Tanhshrink": M(
        "tanhshrink",
        functional="tanhshrink",
        saves_input=False,
        saves_output=False,
        note="input - tanh(input): tanh saves an internal",
    ),
    "Softsign": M(
        "softsign",
        functional="softsign",
        saves_input=True,
        saves_output=False,
        note="input / (1 + |input|): div saves input",
    ),
    "Dropout": M("dropout", "dropout_", functional="dropout", note="identity in eval mode"),
    "Dropout1d": M("feature_dropout", "feature_dropout_", functional="dropout1d"),
    "Dropout2d": M("feature_dropout", "feature_dropout_", functional="dropout2d"),
    "Dropout3d": M("feature_dropout", "feature_dropout_", functional="dropout3d"),
    "AlphaDropout": M("alpha_dropout", "alpha_dropout_", functional="alpha_dropout"),
    "FeatureAlphaDropout": M(
        "feature_alpha_dropout", "feature_alpha_dropout_", functional="feature_alpha_dropout"
    ),
    # modules with parameters
    "Linear": M("linear", ctor=(4, 3), functional="linear"),
    "Bilinear": M("bilinear", ctor=(4, 4, 3), functional="bilinear"),
    "Conv1d": M("conv1d", ctor=(2, 3, 1), functional="conv1d"),
    "Conv2d": M("conv2d", ctor=(2, 3, 1), functional="conv2d"),
    "Conv3d": M("conv3d", ctor=(2, 3, 1), functional="conv3d"),
    "ConvTranspose1d": M("conv_transpose1d", ctor=(2, 3, 1), functional="conv_transpose1d"),
    "ConvTranspose2d": M("conv_transpose2d", ctor=(2, 3, 1), functional="conv_transpose2d"),
    "ConvTranspose3d": M("conv_transpose3d", ctor=(2, 3, 1), functional="conv_transpose3d"),
    "BatchNorm1d": M("batch_norm", ctor=(2,), functional="batch_norm"),
    "BatchNorm2d": M("batch_norm", ctor=(2,), functional="batch_norm"),
    "BatchNorm3d": M("batch_norm", ctor=(2,), functional="batch_norm"),
    "LayerNorm": M("layer_norm", ctor=(4,), functional="layer_norm"),
    "GroupNorm": M("group_norm", ctor=(1, 2), functional="group_norm"),
    "InstanceNorm1d": M(
        "instance_norm",
        ctor=(2,),
        functional="instance_norm",
        note="parameters only with affine=True",
    ),
    "InstanceNorm2d": M(
        "instance_norm",
        ctor=(2,),
        functional="instance_norm",
        note="parameters only with affine=True",
    ),
    "InstanceNorm3d": M(
        "instance_norm",
        ctor=(2,),
        functional="instance_norm",
        note="parameters only with affine=True",
    ),
    "RMSNorm": M(None, ctor=(4,), saves_input=True, saves_output=False, functional="rms_norm"),
    "Embedding": M(
        "embedding",
        ctor=(5, 3),
        functional="embedding",
        saves_input=True,
        saves_output=False,
        note="saves its indices (the input), not the weight",
    ),
    "EmbeddingBag": M(
        None,
        ctor=(5, 3),
        saves_input=True,
        saves_output=False,
        functional="embedding_bag",
        note="saves its indices",
    ),
    "PReLU": M("prelu", functional="prelu"),
    "RNN": M(None, ctor=(4, 3), saves_input=True, saves_output=None),
    "LSTM": M(None, ctor=(4, 3), saves_input=True, saves_output=None),
    "GRU": M(None, ctor=(4, 3), saves_input=True, saves_output=None),
    "RNNCell": M(
        None,
        ctor=(4, 3),
        saves_input=True,
        saves_output=True,
        note="tanh(...) saves its output, which is the new hidden state",
    ),
    "LSTMCell": M(None, ctor=(4, 3), saves_input=True, saves_output=False),
    "GRUCell": M(None, ctor=(4, 3), saves_input=True, saves_output=False),
    "MultiheadAttention": M(None, ctor=(4, 1), saves_input=True, saves_output=None),
    "Transformer": M(
        None,
        kw={
            "d_model": 4,
            "nhead": 1,
            "num_encoder_layers": 1,
            "num_decoder_layers": 1,
            "dim_feedforward": 4,
        },
        saves_input=True,
        saves_output=None,
    ),
    "TransformerEncoderLayer": M(None, ctor=(4, 1, 4), saves_input=True, saves_output=None),
    "TransformerDecoderLayer": M(None, ctor=(4, 1, 4), saves_input=True, saves_output=None),
    # parameter-free, not in-place capable
    "Identity": M(
        None,
        saves_input=False,
        saves_output=False,
        note="returns its input object itself (an alias)",
    ),
    "Flatten": M("flatten", functional=None, note="returns a view of its input"),
    "Unflatten": M("unflatten", ctor=(1, (2, 2)), note="returns a view of its input"),
    "MaxPool1d": M("max_pool1d", ctor=(2,), functional="max_pool1d"),
    "MaxPool2d": M("max_pool2d", ctor=(2,), functional="max_pool2d"),
    "MaxPool3d": M("max_pool3d", ctor=(2,), functional="max_pool3d"),
    "AvgPool1d": M("avg_pool1d", ctor=(2,), functional="avg_pool1d"),
    "AvgPool2d": M("avg_pool2d", ctor=(2,), functional="avg_pool2d"),
    "AvgPool3d": M("avg_pool3d", ctor=(2,), functional="avg_pool3d"),
    "AdaptiveAvgPool1d": M(
        "adaptive_avg_pool1d", ctor=(2,), explicit=True, saves_output=False, note=ADAPTIVE_AVG_NOTE
    ),
    "AdaptiveAvgPool2d": M(
        "adaptive_avg_pool2d",
        ctor=(2,),
        explicit=True,
        saves_output=False,
        functional="adaptive_avg_pool2d",
        note=ADAPTIVE_AVG_NOTE,
    ),
    "AdaptiveMaxPool2d": M("adaptive_max_pool2d", ctor=(1,), functional="adaptive_max_pool2d"),
    "Upsample": M(
        None,
        kw={"scale_factor": 2},
        saves_input=False,
        saves_output=False,
        functional="interpolate",
        note="upsample_* save sizes only",
    ),
    "ZeroPad2d": M("constant_pad_nd", ctor=(1,), functional="pad"),
    "ConstantPad2d": M("constant_pad_nd", ctor=(1, 0.0), functional="pad"),
    "ReflectionPad2d": M("reflection_pad2d", ctor=(1,), functional="pad"),
    "ReplicationPad2d": M("replication_pad2d", ctor=(1,), functional="pad"),
    "PixelShuffle": M("pixel_shuffle", ctor=(1,)),
    "PixelUnshuffle": M("pixel_unshuffle", ctor=(1,)),
    # losses
    "MSELoss": M("mse_loss", functional="mse_loss"),
    "L1Loss": M("l1_loss", functional="l1_loss"),
    "CrossEntropyLoss": M(
        None,
        saves_input=False,
        saves_output=False,
        functional="cross_entropy",
        note="log_softmax + nll_loss: saves the target and internals only",
    ),
    "NLLLoss": M("nll_loss_nd", functional="nll_loss"),
    "BCELoss": M("binary_cross_entropy", functional="binary_cross_entropy"),
    "BCEWithLogitsLoss": M(
        "binary_cross_entropy_with_logits", functional="binary_cross_entropy_with_logits"
    ),
}

# ---------------------------------------------------------------------------------------------
# Loading torchgen's view of the yaml files
# ---------------------------------------------------------------------------------------------


def torchgen_paths() -> dict[str, str]:
    spec = importlib.util.find_spec("torchgen")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("gen_optable: torchgen (shipped with torch) is not installed")
    root = Path(next(iter(spec.submodule_search_locations)))
    paths = {
        "native": root / "packaged" / "ATen" / "native" / "native_functions.yaml",
        "tags": root / "packaged" / "ATen" / "native" / "tags.yaml",
        "derivatives": root / "packaged" / "autograd" / "derivatives.yaml",
        "deprecated": root / "packaged" / "autograd" / "deprecated.yaml",
    }
    for p in paths.values():
        if not p.is_file():
            raise SystemExit(f"gen_optable: missing {p}")
    return {k: str(v) for k, v in paths.items()}


# Ops (full schema names) with a kernel for a dense backend or CompositeExplicitAutograd.
DENSE_KERNELS: set[str] = set()


def load_torchgen(paths: dict[str, str]) -> tuple[list[Any], set[str]]:
    """Native functions paired with their (codegen-matched) differentiability info."""
    from torchgen.api.autograd import match_differentiability_info
    from torchgen.gen import parse_native_yaml
    from torchgen.packaged.autograd.gen_variable_type import DONT_REQUIRE_DERIVATIVE
    from torchgen.packaged.autograd.load_derivatives import load_derivatives

    # torchgen compiles thousands of distinct regexes; re's default cache (512) thrashes.
    re._MAXCACHE = max(re._MAXCACHE, 20000)  # type: ignore[attr-defined]
    from torchgen.model import DispatchKey

    infos, _ = load_derivatives(paths["derivatives"], paths["native"], paths["tags"])
    parsed = parse_native_yaml(paths["native"], paths["tags"])
    native = parsed.native_functions
    DENSE_KERNELS.clear()
    for key in (
        DispatchKey.CPU,
        DispatchKey.CUDA,
        DispatchKey.CompositeExplicitAutograd,
        DispatchKey.CompositeExplicitAutogradNonFunctional,
    ):
        index = parsed.backend_indices.get(key)
        if index is not None:
            DENSE_KERNELS.update(str(f.func.name) for f in native if index.has_kernel(f))
    return match_differentiability_info(native, infos), set(DONT_REQUIRE_DERIVATIVE)


# ---------------------------------------------------------------------------------------------
# Schema facts
# ---------------------------------------------------------------------------------------------


def arg_kind(t: Any) -> str:
    """Compact kind of a schema argument type: T, T? (optional tensor), TL (tensor list),
    S (Scalar: any number), I (int/SymInt), F (float), B (bool), L (int list: also takes one
    int, or several as varargs when first), O (anything else: dtype, device, str, ...)."""
    s = str(t)
    if s == "Tensor":
        return "T"
    if s == "Tensor?":
        return "T?"
    if s.startswith(("Tensor[", "Tensor?[")):
        return "TL"
    if s in ("Scalar", "Scalar?"):
        return "S"
    if s in ("int", "SymInt", "int?", "SymInt?"):
        return "I"
    if s in ("float", "float?"):
        return "F"
    if s in ("bool", "bool?"):
        return "B"
    if s.startswith(("int[", "SymInt[")):
        return "L"
    return "O"


TENSOR_KINDS = ("T", "T?", "TL")


def returns_view(func: Any) -> tuple[bool, bool]:
    """(returns a view / alias of an input, returns a list of views)."""
    view = multi = False
    for r in func.returns:
        ann = r.annotation
        if ann is not None and not ann.is_write and ann.alias_set:
            if str(r.type).startswith("Tensor[") or str(r.type).endswith("[]"):
                multi = True
            else:
                view = True
    return view, multi


def writes_self(func: Any) -> bool:
    a = func.arguments.self_arg
    if a is None:
        return False
    ann = a.argument.annotation
    return bool(ann is not None and ann.is_write)


def is_tensor_ctype(t: Any) -> bool:
    from torchgen.api.types import (
        BaseCType,
        ListCType,
        MutRefCType,
        OptionalCType,
        VectorCType,
        iTensorListRefT,
        tensorListT,
        tensorT,
    )

    return t in (
        BaseCType(tensorT),
        OptionalCType(BaseCType(tensorT)),
        MutRefCType(OptionalCType(BaseCType(tensorT))),
        BaseCType(tensorListT),
        ListCType(OptionalCType(BaseCType(tensorT))),
        BaseCType(iTensorListRefT),
        VectorCType(BaseCType(tensorT)),
    )


def output_label(index: int, n_returns: int) -> str:
    return "result" if n_returns == 1 else f"result{index}"


def saves_from_info(f: Any, info: Any, inplace: bool) -> tuple[dict[str, list[str]], list[str]]:
    """Per differentiable input: the tensors (argument names, ``result``/``resultN``) that the
    autograd codegen saves when that input requires grad.

    Mirrors gen_variable_type.emit_save_inputs' ``guard_for``: a saved input used by exactly one
    single-variable derivative is saved only if that variable requires grad; every other saved
    tensor (and every saved output) is saved whenever the grad_fn is created, i.e. whenever any
    differentiable input requires grad.  For in-place ops the codegen saves a *clone* of the
    original ``self`` (so user code cannot invalidate it: dropped here) and ``result`` is the
    receiver after the write.
    """
    from torchgen.api import cpp

    args = [a.name for a in info.args_with_derivatives]
    arg_names = {a.name for a in f.func.arguments.flat_all}
    ret_names = list(cpp.return_names(f))
    n_ret = len(f.func.returns)
    saves: dict[str, set[str]] = {a: set() for a in args}
    always: set[str] = set()
    for d in info.derivatives:
        for sa in d.saved_inputs:
            if not is_tensor_ctype(sa.nctype.type):
                continue
            name = str(sa.nctype.name)
            if name not in arg_names:
                raise SystemExit(f"gen_optable: unexpected saved input {name} in {f.func.name}")
            if inplace and name == "self":
                continue  # codegen clones the original self
            used_in = [dd for dd in info.derivatives if sa in dd.saved_inputs]
            guarded = len(args) > 1 and len(used_in) == 1 and len(used_in[0].var_names) == 1
            if guarded:
                saves.setdefault(used_in[0].var_names[0], set()).add(name)
            else:
                always.add(name)
    for sa in info.all_saved_outputs:
        if not is_tensor_ctype(sa.nctype.type):
            continue
        name = str(sa.nctype.name)
        if name in ret_names:
            always.add(output_label(ret_names.index(name), n_ret))
        elif name == "result" and n_ret == 1:
            always.add("result")
        elif name.startswith("result") and name[6:].isdigit():
            always.add(output_label(int(name[6:]), n_ret))
        else:
            raise SystemExit(f"gen_optable: unexpected saved output {name} in {f.func.name}")
    out = {a: sorted(saves.get(a, set()) | always) for a in args}
    return out, args


def decomposes_on_dense(f: Any) -> bool:
    """CompositeImplicitAutograd kernel and no dense backend / explicit kernel of its own."""
    if not f.has_composite_implicit_autograd_kernel:
        return False
    return str(f.func.name) not in DENSE_KERNELS


def overload_entry(fi: Any, dont_require: set[str]) -> dict[str, Any]:
    from torchgen.api.autograd import gen_differentiable_outputs
    from torchgen.model import SchemaKind

    f = fi.func
    func = f.func
    kind = func.kind()
    args = []
    for a in func.arguments.flat_positional:
        args.append([a.name, arg_kind(a.type)] + (["d"] if a.default is not None else []))
    for a in func.arguments.flat_kwarg_only:
        args.append([a.name, arg_kind(a.type), "k" + ("d" if a.default is not None else "")])
    entry: dict[str, Any] = {"args": args, "n_out": len(func.returns)}
    tensor_returns = [str(r.type) in ("Tensor", "Tensor[]", "Tensor?") for r in func.returns]
    base = str(func.name.name.base)
    info = (fi.info or {}).get("Default")
    has_tensor_input = any(arg_kind(a.type) in TENSOR_KINDS for a in func.arguments.flat_non_out)
    if not any(tensor_returns):
        entry["grad"] = "nondiff"
    elif decomposes_on_dense(f) and not (
        base in dont_require
        or str(func.name.name) in dont_require
        or str(func.name.name) in MANUAL_NONDIFF
    ):
        # derivatives.yaml may have an entry (linear, matmul: for nested tensors), but for
        # ordinary CPU/CUDA tensors the dispatcher runs the CompositeImplicitAutograd kernel
        # before the Autograd one, so autograd records the decomposition.
        entry["grad"] = "composite"
    elif (
        base in dont_require
        or str(func.name.name) in dont_require
        or str(func.name.name) in MANUAL_NONDIFF
    ):
        entry["grad"] = "nondiff"
    elif info is not None and info.derivatives is not None:
        diff_outs = [o.name for o in gen_differentiable_outputs(fi, key="Default")]
        names = [r.name for r in func.returns]
        if info.output_differentiability is not None:
            flags = list(info.output_differentiability)
        else:
            flags = [True] * len(func.returns)
        if not diff_outs or not any(flags):
            entry["grad"] = "nondiff"
        elif all("not_implemented(" in d.formula for d in info.derivatives):
            entry["grad"] = "none"  # e.g. acosh_: "derivative ... is not implemented"
        else:
            entry["grad"] = "formula"
            saves, _ = saves_from_info(f, info, kind == SchemaKind.inplace)
            entry["saves"] = saves
            if len(names) > 1 and not all(flags):
                entry["diff_out"] = flags
    elif f.has_composite_implicit_autograd_kernel or (
        f.has_composite_implicit_autograd_nested_tensor_kernel
    ):
        entry["grad"] = "composite"
    elif str(func.name.name) in MANUAL_SAVES:
        entry["grad"] = "manual"
        entry["saves"] = MANUAL_SAVES[str(func.name.name)]
    elif not has_tensor_input:
        entry["grad"] = "nondiff"  # factories: outputs start without grad
    else:
        entry["grad"] = "none"  # autograd raises "derivative ... is not implemented"
    return entry


# ---------------------------------------------------------------------------------------------
# Assembling the table
# ---------------------------------------------------------------------------------------------


def python_visible(f: Any) -> bool:
    from torchgen.packaged.autograd.gen_python_functions import should_generate_py_binding

    return should_generate_py_binding(f)


def python_order(fns: list[Any]) -> list[Any]:
    """Overloads of one Python name in the order PyTorch's argument parser tries them."""
    from torchgen.api.python import PythonSignatureNativeFunctionPair, signature
    from torchgen.context import native_function_manager
    from torchgen.model import Variant
    from torchgen.packaged.autograd.gen_python_functions import group_overloads, sort_overloads

    method = all(not f.python_module and Variant.function not in f.variants for f in fns)
    pairs = []
    for f in fns:
        with native_function_manager(f):
            try:
                sig = signature(f, method=method)
            except ValueError:  # manual bindings (requires_grad_): keep the yaml order
                return list(fns)
            pairs.append(PythonSignatureNativeFunctionPair(signature=sig, function=f))
    groups = sort_overloads(group_overloads(pairs))
    ordered = []
    seen = set()
    for g in groups:
        for fn in (g.base, g.outplace):
            if fn is not None and id(fn) not in seen:
                seen.add(id(fn))
                ordered.append(fn)
    for fn in fns:  # anything grouping dropped (should not happen)
        if id(fn) not in seen:
            ordered.append(fn)
    return ordered


def exists_in_python(name: str, module: str | None) -> tuple[bool, bool]:
    import torch

    if module is None:
        return hasattr(torch.Tensor, name), hasattr(torch, name)
    prefix = PYTHON_MODULE_PREFIX[module]
    obj: Any = torch
    for part in prefix.split(".")[1:]:
        obj = getattr(obj, part)
    short = name
    if module in ("linalg", "special", "fft") and name.startswith(module + "_"):
        short = name[len(module) + 1 :]
    return False, hasattr(obj, short)


def rename_saves(saves: dict[str, list[str]], argmap: dict[str, str]) -> dict[str, list[str]]:
    inv = {t: s for s, t in argmap.items()}
    out: dict[str, list[str]] = {}
    for t_in, saved in saves.items():
        if t_in not in inv:
            continue
        names = sorted(
            {inv[s] for s in saved if s in inv} | {s for s in saved if s.startswith("result")}
        )
        out[inv[t_in]] = names
    return out


def own_outputs(saves: dict[str, list[str]], target_n_out: int, n_out: int) -> dict[str, list[str]]:
    """Keep the saved outputs of a decomposition target that the composite itself returns:
    layer_norm returns output 0 of native_layer_norm; its mean/rstd are internals."""

    def keep(label: str) -> str | None:
        if not label.startswith("result"):
            return label
        index = int(label[6:] or 0) if target_n_out > 1 else 0
        if index >= n_out:
            return None
        return "result" if n_out == 1 else f"result{index}"

    return {
        k: sorted({kept for v in vs if (kept := keep(v)) is not None}) for k, vs in saves.items()
    }


def build_ops(fis: list[Any], dont_require: set[str]) -> dict[str, Any]:
    import torch
    from torchgen.context import native_function_manager
    from torchgen.model import SchemaKind

    # Overloads Python binds; names with none (copy_, requires_grad_, _to_copy, ...: manual
    # bindings or decomposition targets) keep all their overloads.
    bound_names = {str(fi.func.func.name.name) for fi in fis if python_visible(fi.func)}
    by_name: dict[str, list[Any]] = {}
    has_out: set[str] = set()
    module_of: dict[str, str | None] = {}
    for fi in fis:
        f = fi.func
        if f.python_module not in KEPT_PYTHON_MODULES:
            continue
        name = str(f.func.name.name)
        if name.startswith("_foreach") or name.endswith("_backward") and name.startswith("_"):
            continue
        kind = f.func.kind()
        if kind == SchemaKind.out:
            has_out.add(str(f.func.name.name))
            continue
        if name in bound_names:
            if not python_visible(f):
                continue
        elif not (
            name in DECOMPOSITION_TARGETS or hasattr(torch.Tensor, name) or hasattr(torch, name)
        ):
            continue
        if name.startswith("_") and not name.startswith("__") and name not in KEPT_PRIVATE:
            continue  # torch._foo internals: user code does not call them
        if kind not in (SchemaKind.functional, SchemaKind.inplace, SchemaKind.mutable):
            continue
        by_name.setdefault(name, []).append(fi)
        module_of[name] = f.python_module

    ops: dict[str, Any] = {}
    for name, group in by_name.items():
        module = module_of[name]
        method, function = exists_in_python(name, module)
        fi_by_fn = {id(fi.func): fi for fi in group}
        ordered = python_order([fi.func for fi in group])
        overloads: dict[str, Any] = {}
        for fn in ordered:
            fi = fi_by_fn[id(fn)]
            with native_function_manager(fn):
                entry = overload_entry(fi, dont_require)
            view, multi = returns_view(fn.func)
            if multi and entry["grad"] == "composite" and name not in MULTI_VIEW_COMPOSITES:
                view, multi = True, False  # outputs are plain views (narrow/select)
            if view:
                entry["view"] = True
            if multi:
                entry["multi_view"] = True
            overloads[fn.func.name.overload_name] = entry
        op: dict[str, Any] = {
            "method": method,
            "function": function,
            "order": list(overloads),
            "overloads": overloads,
        }
        if module:
            op["module"] = module
        if name in has_out:
            op["out"] = True
        if any(writes_self(fi.func.func) for fi in group):
            op["writes_self"] = True
        if any(e.get("view") for e in overloads.values()):
            op["view"] = True
        if any(e.get("multi_view") for e in overloads.values()):
            op["multi_view"] = True
        ops[name] = op

    # in-place variants and twins
    import torch

    for name, op in ops.items():
        if not op.get("writes_self"):
            continue
        if name.startswith("__i") and name.endswith("__"):
            twin = "__" + name[3:]
        elif name.endswith("_"):
            twin = name[:-1]
        else:
            continue
        op["twin_method"] = hasattr(torch.Tensor, twin)
        op["twin_function"] = hasattr(torch, twin) or (twin in ops and ops[twin]["function"])
        # no twin when Python has no out-of-place spelling (zero_, fill_, copy_, uniform_, ...)
        op["twin"] = twin if op["twin_method"] or op["twin_function"] else None
        if twin in ops:
            ops[twin].setdefault("inplace", []).append(name)
        if op["method"] and name not in NOT_DATA_WRITES:
            op["inplace_method"] = True
    for op in ops.values():
        if "inplace" in op:
            op["inplace"] = sorted(op["inplace"])

    apply_composites(ops)
    record_composites(ops)
    add_python_only_methods(ops)
    return ops


def apply_composites(ops: dict[str, Any]) -> None:
    """Fill ``saves`` of composite overloads from the hand-written tables above."""

    def first_entry(op: dict[str, Any]) -> dict[str, Any]:
        return op["overloads"].get("", op["overloads"][op["order"][0]])

    def target_entry(spec: str) -> dict[str, Any]:
        tname, _, tovl = spec.partition(".")
        top = ops.get(tname)
        if top is None:
            raise SystemExit(f"gen_optable: decomposition target {spec} not in the table")
        return top["overloads"][tovl] if tovl else first_entry(top)

    def alias_target(entry: dict[str, Any], ovl_name: str, top: dict[str, Any]) -> Any:
        kinds = [a[1] for a in entry["args"]]
        target = top["overloads"].get(ovl_name)
        if target is not None and [a[1] for a in target["args"]] == kinds:
            return ovl_name, target
        # Scalar overloads Python never binds (div.Scalar): the Tensor overload with the
        # number wrapped is what runs; a wrapped number is not a user tensor.
        for tovl in top["order"]:
            t = top["overloads"][tovl]
            tkinds = [a[1] for a in t["args"]]
            if len(tkinds) == len(kinds) and all(
                k == tk or (k == "S" and tk == "T") for k, tk in zip(kinds, tkinds, strict=True)
            ):
                return tovl, t
        return None, None

    def same_op_wrapped(op: dict[str, Any], entry: dict[str, Any]) -> Any:
        # where.ScalarOther & co.: Python numbers wrapped into tensors, run by the Tensor overload
        kinds = [a[1] for a in entry["args"]]
        for tovl in op["order"]:
            t = op["overloads"][tovl]
            tkinds = [a[1] for a in t["args"]]
            if (
                t is not entry
                and "saves" in t
                and len(tkinds) == len(kinds)
                and all(
                    k == tk or (k == "S" and tk == "T") for k, tk in zip(kinds, tkinds, strict=True)
                )
            ):
                return tovl, t
        return None, None

    used: set[str] = set()
    # pass 1: hand-written decompositions and saves-nothing composites; pass 2: aliases and
    # wrapped-scalar overloads, which may point at entries filled in pass 1 (ger -> outer)
    for pass_no in (1, 2):
        for name, op in ops.items():
            for ovl_name, entry in op["overloads"].items():
                if entry["grad"] != "composite" or "saves" in entry:
                    continue
                tensor_args = [a[0] for a in entry["args"] if a[1] in TENSOR_KINDS]
                key = f"{name}.{ovl_name}" if f"{name}.{ovl_name}" in DECOMPOSITIONS else name
                if pass_no == 1 and key in DECOMPOSITIONS:
                    used.add(key)
                    spec, argmap = DECOMPOSITIONS[key]
                    target = target_entry(spec)
                    if "saves" not in target:
                        PROBLEMS.append(f"{spec} has no saves for {name}")
                        continue
                    argmap = {s: t for s, t in argmap.items() if s in tensor_args}
                    entry["saves"] = own_outputs(
                        rename_saves(target["saves"], argmap), target["n_out"], entry["n_out"]
                    )
                    for a in tensor_args:
                        entry["saves"].setdefault(a, [])
                    entry["via"] = spec
                elif pass_no == 1 and name in SAVES_NOTHING:
                    used.add(name)
                    entry["saves"] = {a: [] for a in tensor_args}
                elif pass_no == 2 and name in ALIASES:
                    used.add(name)
                    tname = ALIASES[name]
                    if tname not in ops:
                        raise SystemExit(f"gen_optable: alias target {tname} not in the table")
                    tovl, target = alias_target(entry, ovl_name, ops[tname])
                    if target is None:
                        PROBLEMS.append(f"no overload of {tname} matches {name}.{ovl_name}")
                        continue
                    entry["via"] = tname + ("." + tovl if tovl else "")
                    if target["grad"] in ("nondiff", "none"):
                        entry["grad"] = target["grad"]
                    elif "saves" in target:
                        argmap = dict(
                            zip(
                                [a[0] for a in entry["args"]],
                                [a[0] for a in target["args"]],
                                strict=True,
                            )
                        )
                        entry["saves"] = rename_saves(target["saves"], argmap)
                elif pass_no == 2:
                    tovl, target = same_op_wrapped(op, entry)
                    if target is not None:
                        entry["via"] = name + ("." + tovl if tovl else "")
                        entry["saves"] = rename_saves(
                            target["saves"], {a[0]: a[0] for a in target["args"]}
                        )
    for name in sorted((set(DECOMPOSITIONS) | SAVES_NOTHING) - used):
        PROBLEMS.append(f"hand-written entry {name} unused (not composite or not in the table)")


# ---------------------------------------------------------------------------------------------
# Composite ops with no hand-written decomposition: what autograd saves, recorded under torch
# ---------------------------------------------------------------------------------------------

# Sample calls for composites whose arguments cannot be guessed from their kinds (an einsum
# equation, a positive-definite matrix, class indices).  ``T(shape)`` makes a float64 tensor.
# Keys are "op" or "op.overload"; values build (positional args, keyword args).
SAMPLE_CALLS: dict[str, Any] = {
    "einsum": lambda T: (["ij,jk->ik", [T(3, 3), T(3, 3)]], {}),
    "tensordot": lambda T: ([T(3, 4), T(4, 3), [1], [0]], {}),
    "linalg_cholesky": lambda T: ([_spd(T)], {}),
    "linalg_eigh": lambda T: ([_spd(T)], {}),
    "linalg_eigvalsh": lambda T: ([_spd(T)], {}),
    "linalg_ldl_factor": lambda T: ([_spd(T)], {}),
    "linalg_tensorinv": lambda T: ([T(4, 2, 2)], {"ind": 1}),
    "linalg_tensorsolve": lambda T: ([T(2, 3, 6), T(2, 3)], {}),
    "linalg_matrix_power": lambda T: ([T(3, 3), 2], {}),
    "matrix_power": lambda T: ([T(3, 3), 2], {}),
    "linalg_multi_dot": lambda T: ([[T(3, 3), T(3, 3), T(3, 3)]], {}),
    "chain_matmul": lambda T: ([[T(3, 3), T(3, 3), T(3, 3)]], {}),
    "linalg_vander": lambda T: ([T(3)], {}),
    "vander": lambda T: ([T(3)], {}),
    "nll_loss": lambda T: ([T(4, 3), _classes(4, 3)], {}),
    "nll_loss_nd": lambda T: ([T(4, 3), _classes(4, 3)], {}),
    "nll_loss2d": lambda T: ([T(2, 3, 2, 2), _classes((2, 2, 2), 3)], {}),
    "cross_entropy_loss": lambda T: ([T(4, 3), _classes(4, 3)], {}),
    "multilabel_margin_loss": lambda T: ([T(2, 3), _classes((2, 3), 3)], {}),
    "take_along_dim": lambda T: ([T(3, 3), _classes((3, 1), 3)], {"dim": 1}),
    "embedding_bag": lambda T: ([T(5, 3), _classes(4, 5), torch_long([0, 2])], {}),
    "embedding_bag.padding_idx": lambda T: (
        [T(5, 3), _classes(4, 5), torch_long([0, 2]), False, 0, False, None, False, None],
        {},
    ),
    "scaled_dot_product_attention": lambda T: ([T(1, 2, 3, 4), T(1, 2, 3, 4), T(1, 2, 3, 4)], {}),
    "cross": lambda T: ([T(3, 3), T(3, 3)], {}),
    "cosine_embedding_loss": lambda T: ([T(3, 4), T(3, 4), _signs(3)], {}),
    "margin_ranking_loss": lambda T: ([T(3), T(3), _signs(3)], {}),
    "hinge_embedding_loss": lambda T: ([T(3), _signs(3)], {}),
    "triplet_margin_loss": lambda T: ([T(3, 4), T(3, 4), T(3, 4)], {}),
    "poisson_nll_loss": lambda T: ([T(3), T(3), True, False, 1e-8, 1], {}),
    "kl_div": lambda T: ([T(3, 4), T(3, 4)], {}),
    "adaptive_max_pool1d": lambda T: ([T(2, 3, 6), [2]], {}),
    "adaptive_avg_pool1d": lambda T: ([T(2, 3, 6), [2]], {}),
    "adaptive_avg_pool2d": lambda T: ([T(2, 3, 6, 6), [2, 2]], {}),
    "adaptive_avg_pool3d": lambda T: ([T(2, 3, 4, 4, 4), [2, 2, 2]], {}),
    "quantile": lambda T: ([T(5), 0.3], {}),
    "nanquantile": lambda T: ([T(5), 0.3], {}),
    "gradient": lambda T: ([T(5)], {}),
    "diff": lambda T: ([T(5)], {}),
    "trapezoid": lambda T: ([T(5)], {}),
    "trapz": lambda T: ([T(5)], {}),
    "cumulative_trapezoid": lambda T: ([T(5)], {}),
    "cov": lambda T: ([T(3, 5)], {}),
    "corrcoef": lambda T: ([T(3, 5)], {}),
}

# Composites not recorded: quantized/sparse/fbgemm internals, RNN kernels whose arguments are
# flat weight lists (the nn modules are described in MODULES), random or data-dependent ops.
NOT_RECORDED_PREFIXES = ("fbgemm_", "quantized_", "sparse_", "to_sparse", "fake_quantize")


def _spd(T: Any) -> Any:
    a = T(3, 3)
    return a @ a.mT + 3 * _eye(a)


def _eye(like: Any) -> Any:
    import torch

    return torch.eye(like.shape[-1], dtype=like.dtype)


def _classes(shape: Any, n: int) -> Any:
    import torch

    shape = (shape,) if isinstance(shape, int) else shape
    return torch.arange(int(torch.tensor(shape).prod())).reshape(shape) % n


def _signs(n: int) -> Any:
    import torch

    return torch.tensor([1.0, -1.0, 1.0][:n], dtype=torch.float64)


def torch_long(values: list[int]) -> Any:
    import torch

    return torch.tensor(values, dtype=torch.long)


# Generic attempts for the other composites: tensors of one shape, ints/lists that fit it.
_PROFILES = (
    ((3, 3), 1, [1]),
    ((2, 3, 3), 1, [1]),
    ((3,), 0, [0]),
    ((2, 3, 4), 2, [2]),
    ((2, 3, 4, 4), 2, [2, 2]),
    ((2, 2, 3, 4, 4), 2, [2, 2, 2]),
)


def _generic_calls(entry: dict[str, Any]) -> list[Any]:
    """Builders of (args, kwargs) from the schema: required arguments only."""
    import torch

    builders = []
    for shape, integer, ints in _PROFILES:

        def build(T: Any, shape: Any = shape, integer: int = integer, ints: Any = ints) -> Any:
            args: list[Any] = []
            kwargs: dict[str, Any] = {}
            for name, kind, *flags in entry["args"]:
                flag = flags[0] if flags else ""
                if "d" in flag:
                    continue
                if kind == "T":
                    value: Any = T(*shape)
                elif kind == "T?":
                    value = None
                elif kind == "TL":
                    value = [T(*shape), T(*shape)]
                elif kind == "S":
                    value = 2.0
                elif kind == "I":
                    value = integer
                elif kind == "F":
                    value = 0.5
                elif kind == "B":
                    value = False
                elif kind == "L":
                    value = list(ints)
                else:
                    return None  # a required dtype/str/...: needs a SAMPLE_CALLS entry
                if "k" in flag:
                    kwargs[name] = value
                else:
                    args.append(value)
            return args, kwargs

        builders.append(build)
    del torch
    return builders


def _tensors_in(value: Any) -> list[Any]:
    import torch

    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _tensors_in(v)]
    return []


def _named(entry: dict[str, Any], args: list[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The call's arguments by schema name (positional ones in schema order)."""
    positional = [a[0] for a in entry["args"] if "k" not in (a[2] if len(a) > 2 else "")]
    named = dict(zip(positional, args, strict=False))
    named.update(kwargs)
    return named


def _record_once(
    fn: Any, entry: dict[str, Any], build: Any, grad_name: str, target: str | None
) -> str | None:
    """Run ``fn`` with argument ``grad_name`` requiring grad, write ``target`` (an argument
    name or an output label) in place, backpropagate.  "saved" when autograd objects to the
    write, "free" when it does not, "nograd" when nothing records grad; None: no such call."""
    import torch

    torch.manual_seed(0)

    def T(*shape: int) -> Any:
        return torch.rand(*shape, dtype=torch.float64) + 0.5

    built = build(T)
    if built is None:
        return None
    args, kwargs = built
    named = _named(entry, args, kwargs)
    grad_leaves = _tensors_in(named.get(grad_name))
    if not grad_leaves:
        return None
    if any(not t.is_floating_point() for t in grad_leaves):
        return "nograd"
    for t in grad_leaves:
        t.requires_grad_()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fn(*args, **kwargs)
    outs = _tensors_in(out)
    diff = [o for o in outs if o.requires_grad]
    if not diff:
        return "nograd"
    if target is not None:
        n_out = entry["n_out"]
        labels = [output_label(k, n_out) for k in range(n_out)]
        if target in labels:
            index = labels.index(target)
            written = [outs[index]] if index < len(outs) and n_out == len(outs) else []
        else:
            written = _tensors_in(named.get(target))
        if not written:
            return None
        with torch.no_grad():
            for w in written:
                w.add_(0)
    loss = sum((o.real if o.is_complex() else o).sum() for o in diff)
    try:
        loss.backward()  # type: ignore[union-attr]
    except RuntimeError as exc:
        if "modified by an inplace operation" in str(exc):
            return "saved"
        raise
    return "free"


def record_saves(name: str, ovl_name: str, entry: dict[str, Any]) -> dict[str, list[str]] | None:
    """Per tensor argument: which arguments/outputs autograd saves when only that argument
    requires grad, found by writing each one in place after the forward and running backward
    (the error autograd raises is the fact the table states).  None when no sample call runs."""
    import torch

    packet = getattr(torch.ops.aten, name, None)
    fn = getattr(packet, ovl_name or "default", None) if packet is not None else None
    if fn is None:
        return None
    sample = SAMPLE_CALLS.get(f"{name}.{ovl_name}") or (
        SAMPLE_CALLS.get(name) if not ovl_name else None
    )
    builders = [sample] if sample is not None else _generic_calls(entry)
    tensor_names = [a[0] for a in entry["args"] if a[1] in TENSOR_KINDS]
    for build in builders:
        runs = {}
        try:
            for g in tensor_names:
                runs[g] = _record_once(fn, entry, build, g, None)
        except Exception:
            continue
        if not any(r in ("free", "nograd") for r in runs.values()):
            continue
        labels = [output_label(k, entry["n_out"]) for k in range(entry["n_out"])]
        saves: dict[str, list[str]] = {}
        try:
            for g, first in runs.items():
                if first != "free":
                    saves[g] = []
                    continue
                saves[g] = sorted(
                    t
                    for t in tensor_names + labels
                    if _record_once(fn, entry, build, g, t) == "saved"
                )
        except Exception as exc:
            PROBLEMS.append(f"recording {name}.{ovl_name}: {exc}")
            return None
        return saves
    return None


def record_composites(ops: dict[str, Any]) -> None:
    """Fill ``saves`` of the composite overloads nothing above describes, from autograd."""
    for name, op in ops.items():
        if name.startswith(NOT_RECORDED_PREFIXES):
            continue
        for ovl_name, entry in op["overloads"].items():
            if entry["grad"] != "composite" or "saves" in entry:
                continue
            saves = record_saves(name, ovl_name, entry)
            if saves is not None:
                entry["saves"] = saves
                entry["via"] = "recorded"


def add_python_only_methods(ops: dict[str, Any]) -> None:
    import torch

    for name, twin in PYTHON_ONLY_INPLACE_METHODS.items():
        if not hasattr(torch.Tensor, name) or name in ops:
            continue
        ops[name] = {
            "method": True,
            "function": hasattr(torch, name),
            "order": [],
            "overloads": {},
            "writes_self": True,
            "inplace_method": True,
            "twin": twin,
            "twin_method": False,
            "twin_function": False,
        }
    for name in sorted(NOT_DATA_WRITES):
        if name not in ops and hasattr(torch.Tensor, name):
            ops[name] = {
                "method": True,
                "function": hasattr(torch, name),
                "order": [],
                "overloads": {},
                "writes_self": True,
            }


def build_operators(ops: dict[str, Any]) -> dict[str, Any]:
    """Python operators on tensors, with the in-place behaviour of augmented assignment checked
    on real tensors (``x @= y`` has no ``__imatmul__``: Python rebinds ``x``)."""
    import torch

    binary: dict[str, Any] = {}
    for sym, (op, idunder) in BINARY_OPERATORS.items():
        entry: dict[str, Any] = {"op": op}
        if sym in REFLECTED:
            rop, order = REFLECTED[sym]
            if rop not in ops:
                raise SystemExit(f"gen_optable: reflected op {rop} missing")
            entry["reflected"] = rop
            entry["reflected_args"] = order
        if idunder is not None:
            inplace = False
            if hasattr(torch.Tensor, idunder):
                a = torch.ones(2, 2, dtype=torch.int64 if sym in "&|^<<>>" else torch.float32)
                b = torch.ones(2, 2, dtype=a.dtype)
                v0 = a._version
                res = getattr(a, idunder)(b)
                inplace = res is a and a._version > v0
            target = AUGMENTED_TARGET[idunder] if inplace else None
            if target is not None and target not in ops:
                raise SystemExit(f"gen_optable: augmented target {target} missing")
            entry["augmented"] = target  # None: Python falls back to x = x OP y
            if target is not None and idunder not in ops:
                DUNDER_ALIASES[idunder] = target
        binary[sym] = entry
    unary = {sym: op for sym, op in UNARY_OPERATORS.items()}
    return {"binary": binary, "unary": unary}


def signature_inplace(fn: Any, skip_self: bool) -> tuple[str | None, int | None]:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None, None
    params = [
        p
        for p in sig.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]
    if skip_self and params and params[0].name == "self":
        params = params[1:]
    for i, p in enumerate(params):
        if p.name == "inplace":
            return "inplace", (i if p.kind != p.KEYWORD_ONLY else None)
    return None, None


def op_saves_summary(
    ops: dict[str, Any], opname: str | None, input_name: str
) -> tuple[bool | None, bool | None]:
    """(saves its first tensor input, saves its result) when any input requires grad."""
    if opname is None:
        return None, None
    tname, _, tovl = opname.partition(".")
    op = ops.get(tname)
    if op is None:
        PROBLEMS.append(f"op {opname} (of a module/functional) not in the table")
        return None, None
    entry = (
        op["overloads"].get(tovl)
        if tovl
        else op["overloads"].get(op["order"][0] if op["order"] else "")
    )
    if entry is None or "saves" not in entry:
        return None, None
    first = next((a[0] for a in entry["args"] if a[1] in TENSOR_KINDS), input_name)
    saved = set().union(*entry["saves"].values()) if entry["saves"] else set()
    # only the primary output counts: result1.. of native_batch_norm/max_pool*_with_indices are
    # internals (mean, rstd, indices) the module never hands to user code
    return first in saved, bool(saved & {"result", "result0"})


def build_functionals(ops: dict[str, Any]) -> dict[str, Any]:
    import torch.nn.functional as F

    out: dict[str, Any] = {}
    names = set(FUNCTIONALS) | set(PYTHON_FUNCTIONAL_SAVES)
    for name in sorted(names):
        fn = getattr(F, name, None)
        if fn is None:
            continue
        pname, pindex = signature_inplace(fn, skip_self=False)
        entry: dict[str, Any] = {"inplace_param": pname, "inplace_index": pindex}
        if name in FUNCTIONALS:
            op, inplace_op = FUNCTIONALS[name]
            entry["op"] = op
            entry["inplace_op"] = inplace_op
            si, so = op_saves_summary(ops, op, "input")
            entry["saves_input"], entry["saves_output"] = si, so
            if inplace_op:
                isi, iso = op_saves_summary(ops, inplace_op, "self")
                entry["inplace_saves_output"] = iso
            entry["writes_input"] = name.endswith("_")
        else:
            saves = PYTHON_FUNCTIONAL_SAVES[name]
            entry["op"] = None
            entry["inplace_op"] = None
            entry["saves_input"] = saves["input"]
            entry["saves_output"] = saves["output"]
            entry["writes_input"] = False
        out[name] = entry
    return out


def writes_in_place(cls: Any, spec: M) -> bool:
    """Run the module with inplace=True in training mode: does it write its input?"""
    import torch

    module = cls(*spec.ctor, **{**spec.kw, "inplace": True}).train()
    x = torch.rand(4, 4, 4) + 0.1
    v0 = x._version
    with torch.no_grad():
        out = module(x)
    return out.data_ptr() == x.data_ptr() and x._version > v0


# Sample inputs for the modules with parameters whose ``weight`` / ``bias`` the analysis
# models (``lin.weight``): shapes the sample constructors above accept.  "long" = indices.
PARAM_SAMPLE_INPUTS: dict[str, tuple[tuple[Any, ...], ...]] = {
    "Linear": ((2, 4),),
    "Bilinear": ((2, 4), (2, 4)),
    "Conv1d": ((1, 2, 5),),
    "Conv2d": ((1, 2, 5, 5),),
    "Conv3d": ((1, 2, 3, 3, 3),),
    "ConvTranspose1d": ((1, 2, 5),),
    "ConvTranspose2d": ((1, 2, 5, 5),),
    "ConvTranspose3d": ((1, 2, 3, 3, 3),),
    "BatchNorm1d": ((3, 2),),
    "BatchNorm2d": ((3, 2, 4, 4),),
    "BatchNorm3d": ((3, 2, 2, 2, 2),),
    "LayerNorm": ((2, 4),),
    "GroupNorm": ((3, 2, 4),),
    "RMSNorm": ((2, 4),),
    "Embedding": (("long", 2, 3),),
    "EmbeddingBag": (("long", 2, 3),),
    "PReLU": ((2, 3),),
}


def saved_parameters(cls_name: str, spec: M) -> list[str] | None:
    """Which of a module's ``weight`` / ``bias`` its backward needs, found by running it:
    forward (train mode, every float input requiring grad), a ``no_grad`` in-place write to
    one parameter, backward; the parameter is saved when that backward raises.  None: no
    sample input (the analysis then treats every parameter as saved)."""
    import torch
    import torch.nn as nn

    shapes = PARAM_SAMPLE_INPUTS.get(cls_name)
    if shapes is None:
        return None
    saved: list[str] = []
    for name in ("weight", "bias"):
        torch.manual_seed(0)
        module = getattr(nn, cls_name)(*spec.ctor, **spec.kw).train()
        param = getattr(module, name, None)
        if not isinstance(param, nn.Parameter):
            continue
        inputs = [
            torch.randint(0, 5, shape[1:])
            if shape[0] == "long"
            else torch.randn(*shape, requires_grad=True)
            for shape in shapes
        ]
        out = module(*inputs)
        with torch.no_grad():
            param.add_(1.0)
        try:
            out.sum().backward()
        except RuntimeError as exc:
            if "modified by an inplace operation" not in str(exc):
                raise
            saved.append(name)
    return saved


def build_modules(ops: dict[str, Any]) -> dict[str, Any]:
    import torch.nn as nn

    out: dict[str, Any] = {}
    for cls_name, spec in MODULES.items():
        cls = getattr(nn, cls_name, None)
        if cls is None:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = cls(*spec.ctor, **spec.kw)
        has_params = any(True for _ in module.parameters())
        pname, pindex = signature_inplace(cls.__init__, skip_self=True)
        ignored = pname is not None and not writes_in_place(cls, spec)
        if spec.explicit or spec.op is None:
            si, so = spec.saves_input, spec.saves_output
        else:
            si, so = op_saves_summary(ops, spec.op, "input")
        entry: dict[str, Any] = {
            "op": spec.op,
            "functional": spec.functional,
            "inplace_param": pname,
            "inplace_index": pindex,
            "inplace_op": spec.inplace_op if pname and not ignored else None,
            "has_parameters": has_params,
            "saves_input": si,
            "saves_output": so,
        }
        if pname and spec.inplace_op and not ignored:
            entry["inplace_saves_output"] = op_saves_summary(ops, spec.inplace_op, "self")[1]
        if ignored:
            entry["inplace_ignored"] = True  # accepts inplace= but its forward never uses it
        if spec.note:
            entry["note"] = spec.note
        saved = saved_parameters(cls_name, spec) if has_params else None
        if saved is not None:
            entry["saved_params"] = saved
        out[cls_name] = entry
    return out


def build_constructors() -> dict[str, Any]:
    """Every public torch.nn module class: the parameters its constructor accepts (a call
    with any other keyword, or too many positional arguments, raises TypeError)."""
    import torch.nn as nn

    out: dict[str, Any] = {}
    for name in sorted(dir(nn)):
        cls = getattr(nn, name)
        if not (isinstance(cls, type) and issubclass(cls, nn.Module)) or name.startswith("_"):
            continue
        try:
            sig = inspect.signature(cls.__init__)
        except (TypeError, ValueError):
            continue
        params = list(sig.parameters.values())[1:]
        kinds = {p.kind for p in params}
        out[name] = {
            "params": [
                p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
            ],
            "positional": sum(
                1 for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
            ),
            "varargs": inspect.Parameter.VAR_POSITIONAL in kinds,
            "varkw": inspect.Parameter.VAR_KEYWORD in kinds,
        }
    return out


# Tensor dunder methods bound in C++ to another op (__iadd__ -> add_), filled by
# build_operators after checking that the augmented operator really works in place.
DUNDER_ALIASES: dict[str, str] = {}


def build_aliases(ops: dict[str, Any]) -> dict[str, str]:
    """Dotted Python spellings (``linalg.norm``, ``special.expit``, ``fft.fft``) and Tensor
    dunders (``__iadd__``) -> op key."""
    out = dict(DUNDER_ALIASES)
    for name, op in ops.items():
        module = op.get("module")
        if module in ("linalg", "special", "fft") and name.startswith(module + "_"):
            out[f"{module}.{name[len(module) + 1 :]}"] = name
        elif module == "nn":
            out[f"_C._nn.{name}"] = name
    return out


def generate() -> dict[str, Any]:
    import torch

    PROBLEMS.clear()
    paths = torchgen_paths()
    fis, dont_require = load_torchgen(paths)
    ops = build_ops(fis, dont_require)
    functionals = build_functionals(ops)
    modules = build_modules(ops)
    DUNDER_ALIASES.clear()
    operators = build_operators(ops)
    aliases = build_aliases(ops)
    for op in ops.values():  # python-dispatch order, as a list
        op["overloads"] = [dict(name=n, **op["overloads"][n]) for n in op.pop("order")]
    return {
        "format": FORMAT_VERSION,
        "torch_version": torch.__version__.split("+")[0],
        "ops": ops,
        "aliases": aliases,
        "operators": operators,
        "functionals": functionals,
        "modules": modules,
        "constructors": build_constructors(),
    }


def dumps(table: dict[str, Any]) -> str:
    return json.dumps(table, sort_keys=True, separators=(",", ":"), ensure_ascii=True) + "\n"


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT)
    ns = parser.parse_args(list(argv) if argv is not None else None)
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    warnings.simplefilter("ignore")
    text = dumps(generate())
    for p in PROBLEMS:
        print("gen_optable:", p, file=sys.stderr)
    ns.output.parent.mkdir(parents=True, exist_ok=True)
    ns.output.write_text(text, encoding="ascii")
    print(f"wrote {ns.output} ({len(text)} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
