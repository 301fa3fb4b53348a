"""What names from libraries and training frameworks are, as far as autograd cares.

A hand-listed table (sources: each library's public API, checked against transformers 5.24,
torchvision 0.28, timm 1.0, lightning 2.6, accelerate 1.16, pytorch-ignite 0.5): which calls
build a model with trainable parameters (factories static analysis cannot see through:
registries, ``from_pretrained``, ``create_model``, ``torch.hub.load``), which classes are
framework bases whose hooks the framework backpropagates, and which methods of framework
objects are a backward or hand their arguments back.

Paths are dotted as imported (``transformers.BertModel``); an instance adds ``()``
(``accelerate.Accelerator().backward``).  Pure data and pure functions: the dataflow asks.
"""

from __future__ import annotations

import re

# Top-level packages whose names, when the workspace does not hold their sources, are
# library values (`from transformers import BertModel`, `import timm`).
LIBRARY_ROOTS = frozenset(
    {
        "transformers",
        "torchvision",
        "timm",
        "lightning",
        "pytorch_lightning",
        "lightning_fabric",
        "accelerate",
        "ignite",
        "diffusers",
        "peft",
    }
)

# transformers / diffusers classes that are models: `BertModel`, `GPT2LMHeadModel`,
# `BertForSequenceClassification`, `AutoModelForCausalLM`, `UNet2DModel`.
_MODEL_CLASS = re.compile(r"^[A-Z]\w*(Model|For[A-Z]\w*)$|^AutoModel\w*$")
# Class methods building a model of such a class.
MODEL_CONSTRUCTORS = frozenset({"from_pretrained", "from_config", "from_single_file"})
# torchvision.models / timm: builder functions are lower case (`resnet18`, `vit_b_16`).
_BUILDER = re.compile(r"^[a-z][a-z0-9_]*$")
# Factories whose first argument names the architecture.
MODEL_FACTORIES = frozenset(
    {
        "timm.create_model",
        "timm.models.create_model",
        "torchvision.models.get_model",
        "torch.hub.load",
        "peft.get_peft_model",
    }
)
_NOT_BUILDERS = frozenset(
    {"get_model_weights", "get_weight", "list_models", "get_model_builder", "register_model"}
)

# Framework base classes: a subclass is an nn.Module whose hooks the framework drives.
LIGHTNING_BASES = frozenset({"LightningModule"})
HF_TRAINER_BASES = frozenset({"Trainer", "Seq2SeqTrainer", "SFTTrainer"})
# Callback bases: the framework calls their hooks with the model it trains as an argument
# (Lightning: `hook(self, trainer, pl_module, ...)`; transformers: `model=` keyword).
LIGHTNING_CALLBACK_BASES = frozenset({"Callback"})
HF_CALLBACK_BASES = frozenset({"TrainerCallback"})
MODULE_BASES = LIGHTNING_BASES | frozenset({"PreTrainedModel", "ModelMixin"})

# Lightning: hooks whose returned loss Lightning backpropagates (automatic optimization).
LIGHTNING_BACKPROPAGATED = frozenset({"training_step"})
# The HF Trainer's `training_step` backpropagates what `compute_loss` returns.
HF_TRAINER_BACKPROPAGATED = frozenset({"compute_loss"})

# Methods of framework objects (Accelerator, Fabric, LightningModule) that run a backward
# on their first argument.
BACKWARD_METHODS = frozenset({"backward", "manual_backward"})
# Methods that give back their arguments (wrapped for devices/precision, same tensors).
PASS_THROUGH_METHODS = frozenset(
    {
        "prepare",
        "prepare_model",
        "prepare_optimizer",
        "prepare_data_loader",
        "prepare_scheduler",
        "unwrap_model",
        "setup",
        "setup_module",
        "setup_optimizers",
        "setup_dataloaders",
    }
)
# Framework objects those methods belong to (the class names, any import path).
FRAMEWORK_OBJECTS = frozenset({"Accelerator", "Fabric"})


def root_of(path: str) -> str:
    return path.split(".", 1)[0]


def is_library(path: str) -> bool:
    return root_of(path) in LIBRARY_ROOTS


def _parts(path: str) -> list[str]:
    return path.split(".")


def builds_model(path: str) -> bool:
    """Does calling ``path`` give an ``nn.Module`` with trainable parameters?"""
    if "()" in path:
        return False
    parts = _parts(path)
    last = parts[-1]
    if path in MODEL_FACTORIES:
        return True
    if root_of(path) in ("transformers", "diffusers", "peft"):
        if _MODEL_CLASS.match(last) and not last.startswith("AutoModel"):
            return True
        return (
            len(parts) >= 2 and last in MODEL_CONSTRUCTORS and bool(_MODEL_CLASS.match(parts[-2]))
        )
    if root_of(path) == "torchvision" and len(parts) >= 3 and parts[1] == "models":
        return last not in _NOT_BUILDERS and (
            _BUILDER.match(last) is not None or last[:1].isupper()
        )
    if root_of(path) == "timm" and len(parts) >= 3 and parts[1] == "models":
        return last not in _NOT_BUILDERS and _BUILDER.match(last) is not None
    return False


def model_name(path: str) -> str:
    """How a message names the model a library call built."""
    parts = _parts(path)
    if parts[-1] in MODEL_CONSTRUCTORS and len(parts) >= 2:
        return parts[-2]
    return parts[-1]


def framework_of_bases(bases: list[str]) -> str | None:
    """ "lightning" / "hf_trainer" when a class derives from a framework base."""
    for base in bases:
        last = base.rsplit(".", 1)[-1]
        if last in LIGHTNING_BASES:
            return "lightning"
        if last in HF_TRAINER_BASES and is_library(base):
            return "hf_trainer"
        if last in LIGHTNING_CALLBACK_BASES and root_of(base) in _LIGHTNING_ROOTS:
            return "lightning_callback"
        if last in HF_CALLBACK_BASES and root_of(base) == "transformers":
            return "hf_callback"
    return None


_LIGHTNING_ROOTS = frozenset({"lightning", "pytorch_lightning"})


def is_fit_call(path: str) -> bool:
    """`lightning.Trainer().fit` (any import path of Lightning's Trainer)."""
    owner, _, name = path.rpartition(".")
    return name == "fit" and owner.endswith(".Trainer()") and root_of(path) in _LIGHTNING_ROOTS


def is_module_base(base: str) -> bool:
    return base.rsplit(".", 1)[-1] in MODULE_BASES


def framework_method(path: str) -> str | None:
    """`accelerate.Accelerator().backward` -> "backward"; "pass" for prepare/setup; None."""
    owner, _, name = path.rpartition(".")
    if not owner.endswith("()"):
        return None
    cls = owner[:-2].rsplit(".", 1)[-1]
    if cls not in FRAMEWORK_OBJECTS:
        return None
    if name in BACKWARD_METHODS:
        return "backward"
    if name in PASS_THROUGH_METHODS:
        return "pass"
    return None


def backpropagated_hook(framework: str | None, method: str, manual: bool) -> bool:
    """Does the framework run a backward on what this hook of a subclass returns?"""
    if framework == "lightning":
        return method in LIGHTNING_BACKPROPAGATED and not manual
    if framework == "hf_trainer":
        return method in HF_TRAINER_BACKPROPAGATED
    return False


# HF Trainer methods called with the model being trained as their `model` argument.
HF_TRAINER_MODEL_HOOKS = frozenset({"compute_loss", "training_step", "prediction_step"})


# How a hook's model argument is named: the model the framework trains.
TRAINED_MODEL = {
    "hf_trainer": "transformers.Trainer.model",
    "hf_callback": "transformers.Trainer.model",
    "lightning_callback": "lightning.Trainer.lightning_module",
}


def hook_model_parameter(framework: str | None, method: str, parameter: str, index: int) -> bool:
    """Is this parameter (`index` counts `self` as 0) of a framework hook the model the
    framework trains?"""
    if framework == "hf_trainer":
        return method in HF_TRAINER_MODEL_HOOKS and parameter == "model"
    if framework == "hf_callback":  # `CallbackHandler.call_event` passes `model=self.model`
        return method in _GRAD_MODE_HOOKS["hf_callback"] and parameter == "model"
    if framework == "lightning_callback":  # `hook(trainer, pl_module, ...)`
        return method in _GRAD_MODE_HOOKS["lightning_callback"] and index == 2
    return False


# Fields of a transformers ModelOutput that hold a tuple of tensors (one per layer).
OUTPUT_TUPLES = frozenset(
    {"hidden_states", "attentions", "cross_attentions", "past_key_values", "encoder_hidden_states"}
)
# Libraries whose models return a ModelOutput (or a tuple), not a tensor.
_MODEL_OUTPUT_LIBRARIES = frozenset({"transformers", "diffusers", "peft"})


def returns_tensor(model_path: str) -> bool:
    """Does the forward of a model built by this call return a plain tensor?"""
    return root_of(model_path) not in _MODEL_OUTPUT_LIBRARIES and model_path != "torch.hub.load"


# Methods a LightningModule inherits that the analysis models (`self.manual_backward(loss)`,
# `self.optimizers()`: what `configure_optimizers` returned).
LIGHTNING_SELF_METHODS = frozenset({"manual_backward", "optimizers"})


# Trainers built from (model, optimizer, loss_fn): each iteration backpropagates
# `loss_fn(model(x), y)`.
SUPERVISED_TRAINERS = frozenset(
    {"ignite.engine.create_supervised_trainer", "ignite.engine.engine.create_supervised_trainer"}
)


# Lightning's training hooks: the fit loop's `reset()` runs `torch.set_grad_enabled(True)`
# before them (lightning/pytorch/loops/fit_loop.py); `on_before_optimizer_step` runs inside
# the optimizer's closure, which torch optimizers call under `torch.enable_grad()`.
_LIGHTNING_TRAIN_HOOKS = frozenset(
    {
        "on_train_start",
        "on_train_epoch_start",
        "on_train_batch_start",
        "on_before_backward",
        "on_after_backward",
        "on_before_optimizer_step",
        "on_train_batch_end",
        "on_train_epoch_end",
        "on_train_end",
    }
)
# The HF Trainer's training loop calls these callback events (no `no_grad` around them).
_HF_CALLBACK_TRAIN_HOOKS = frozenset(
    {
        "on_train_begin",
        "on_epoch_begin",
        "on_step_begin",
        "on_pre_optimizer_step",
        "on_optimizer_step",
        "on_substep_end",
        "on_step_end",
        "on_epoch_end",
        "on_train_end",
    }
)
# Hooks a framework calls in grad mode (whatever the optimization mode).
_GRAD_MODE_HOOKS = {
    "lightning": frozenset({"training_step"}) | _LIGHTNING_TRAIN_HOOKS,
    "lightning_callback": _LIGHTNING_TRAIN_HOOKS,
    "hf_trainer": frozenset({"compute_loss", "training_step"}),
    "hf_callback": _HF_CALLBACK_TRAIN_HOOKS,
}


def grad_mode_hook(framework: str | None, method: str) -> bool:
    """Does the framework call this hook of a subclass with grad mode on?"""
    return framework is not None and method in _GRAD_MODE_HOOKS.get(framework, frozenset())


# Engines built from a process function `step(engine, batch)` they call once per batch.
PROCESS_FUNCTION_ENGINES = frozenset({"ignite.engine.Engine", "ignite.engine.engine.Engine"})


def is_engine(path: str) -> bool:
    """An ignite training engine: `Engine(step)` or `create_supervised_trainer(…)`'s result
    (not an evaluator: `create_supervised_evaluator` runs its step under no_grad)."""
    return path.endswith("()") and (
        path[:-2] in PROCESS_FUNCTION_ENGINES or path[:-2] in SUPERVISED_TRAINERS
    )


def annotates_module(path: str) -> bool:
    """Is a parameter annotated with this class an nn.Module (`nn.Linear`, `nn.Module`,
    `PreTrainedModel`, `LightningModule`, a transformers model class)?"""
    last = path.rsplit(".", 1)[-1]
    if path.startswith("torch.nn.") and not path.startswith("torch.nn.functional"):
        return last[:1].isupper() and last not in ("Parameter", "UninitializedParameter", "Buffer")
    if not is_library(path):
        return False
    return last in MODULE_BASES or bool(_MODEL_CLASS.match(last))


# Methods of a model that return one of its submodules.
SUBMODULE_METHODS = frozenset(
    {
        "get_input_embeddings",
        "get_output_embeddings",
        "get_submodule",
        "get_encoder",
        "get_decoder",
        "get_base_model",
        "get_classifier",
    }
)

# Attributes a framework base gives its subclasses' instances: (framework, name) -> the
# library object they hold.
FRAMEWORK_ATTRIBUTES = {("hf_trainer", "accelerator"): "accelerate.Accelerator()"}

# Lightning hooks it calls under `torch.inference_mode()` (validation, test, predict).
_INFERENCE_HOOKS = frozenset({"validation_step", "test_step", "predict_step"})


def inference_hook(framework: str | None, method: str) -> bool:
    """Does the framework call this hook of a subclass with grad mode off?"""
    return framework == "lightning" and method in _INFERENCE_HOOKS
