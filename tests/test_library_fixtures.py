"""Programs that use real libraries and frameworks (tests/fixtures/libraries/*.py, issue 16).

Models from transformers, loops run by Lightning, accelerate, the HF Trainer and ignite.
Each file says on its first line where the culprit write is (`# expect: GG105 18`) or
`# expect: nothing`.  Every expectation is checked against PyTorch 2.13 with the library
installed (all programs in one oracle process: the libraries are imported once), then
against the engine with the jedi tier off (the command line's default) and on.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from oracle import run_under_torch, torch_agrees
from oracle.expect import assert_twins
from oracle.expect import file_expectation as expectation

from gradguard.config import Settings
from gradguard.engine import check_source
from gradguard.model import Severity

FIXTURES = sorted((Path(__file__).parent / "fixtures" / "libraries").glob("*.py"))
IDS = [p.stem for p in FIXTURES]
LIBRARIES = ("lightning", "accelerate", "transformers", "ignite")
MISSING = [name for name in LIBRARIES if importlib.util.find_spec(name) is None]


@pytest.fixture(scope="module")
def torch_results() -> dict[str, dict]:
    programs = [p.read_text(encoding="utf-8") for p in FIXTURES]
    return {p.name: r for p, r in zip(FIXTURES, run_under_torch(programs), strict=True)}


def test_fixture_set_covers_both_sides():
    assert_twins(FIXTURES, 6)


@pytest.mark.parametrize("path", FIXTURES, ids=IDS)
def test_pytorch_agrees(path, torch_results):
    assert not MISSING, f"test dependencies not installed: {MISSING} (scripts/setup.sh --dev)"
    expected = expectation(path)
    result = torch_results[path.name]
    if expected is None:
        assert result["ok"], f"{path.name} expects nothing but PyTorch raised: {result['error']}"
    else:
        problem = torch_agrees(*expected, result)
        assert problem is None, f"{path.name}: {problem}"


def _shown(path: Path, settings: Settings | None) -> tuple[list[str], set[tuple[str, int]]]:
    diags = check_source(path.read_text(encoding="utf-8"), str(path), settings)
    shown = sorted(
        f"{d.range.start.line + 1}:{d.code}:{d.severity.label}"
        for d in diags
        if d.severity <= Severity.WARNING
    )
    errors = {(d.code, d.range.start.line + 1) for d in diags if d.severity == Severity.ERROR}
    return shown, errors


@pytest.mark.parametrize("jedi", [False, True], ids=["jedi_off", "jedi_on"])
@pytest.mark.parametrize("path", FIXTURES, ids=IDS)
def test_engine_reports(path, jedi):
    expected = expectation(path)
    shown, errors = _shown(path, Settings(jedi=True) if jedi else None)
    if expected is None:
        assert shown == [], f"{path.name} runs cleanly under torch, but the engine reports {shown}"
    else:
        assert expected in errors, (
            f"{path.name}: expected an ERROR {expected[0]} on line {expected[1]}; "
            f"the engine reports {shown or 'nothing'}"
        )


@pytest.mark.parametrize(
    ("path", "builds"),
    [
        ("transformers.BertModel", True),
        ("transformers.GPT2LMHeadModel", True),
        ("transformers.BertForSequenceClassification", True),
        ("transformers.AutoModelForCausalLM.from_pretrained", True),
        ("transformers.AutoModel.from_config", True),
        ("transformers.AutoModel", False),  # not constructible: a factory class
        ("transformers.AutoConfig.from_pretrained", False),
        ("transformers.AutoTokenizer.from_pretrained", False),
        ("transformers.BertConfig", False),
        ("torchvision.models.resnet18", True),
        ("torchvision.models.ResNet", True),
        ("torchvision.models.get_model", True),
        ("torchvision.models.get_model_weights", False),
        ("torchvision.transforms.Normalize", False),
        ("timm.create_model", True),
        ("timm.list_models", False),
        ("torch.hub.load", True),
        ("accelerate.Accelerator", False),
    ],
)
def test_which_library_calls_build_a_model(path, builds):
    from gradguard.analysis import libraries

    assert libraries.builds_model(path) is builds


def test_models_jedi_cannot_see_through_are_modules_with_trainable_parameters():
    # torchvision does not import here (its only wheel is a CUDA build) and timm needs it:
    # these are checked statically only.
    built = (
        "import torch\n"
        "import torchvision\n"
        "net = torchvision.models.resnet18()\n"
        "net.fc.weight.add_(1.0)\n"
        "hub = torch.hub.load('pytorch/vision', 'resnet18')\n"
        "with torch.no_grad():\n"
        "    hub.fc.weight.mul_(0.5)\n"
    )
    diags = check_source(built, "/tmp/gg_static_models.py")
    found = sorted((d.range.start.line + 1, d.code, d.severity.label) for d in diags)
    assert found == [(4, "GG101", "error")], found
    frozen = (
        "import timm\n"
        "backbone = timm.create_model('resnet18', pretrained=False)\n"
        "backbone.requires_grad_(False)\n"
        "backbone.fc.weight.add_(1.0)\n"
    )
    assert check_source(frozen, "/tmp/gg_static_frozen.py") == []


def test_lightning_evaluation_hooks_run_without_grad():
    # Lightning calls validation_step/test_step/predict_step under torch.inference_mode().
    source = Path("/tmp/gg_lightning_eval.py")
    text = (
        "import torch\n"
        "from torch import nn\n"
        "import lightning.pytorch as pl\n"
        "class M(pl.LightningModule):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.net = nn.Linear(4, 2)\n"
        "    def validation_step(self, batch, batch_idx):\n"
        "        probs = torch.sigmoid(self.net(batch[0]))\n"
        "        probs += 1\n"
        "        self.net.weight.add_(0.0)\n"
        "        return probs\n"
        "    def training_step(self, batch, batch_idx):\n"
        "        probs = torch.sigmoid(self.net(batch[0]))\n"
        "        probs += 1\n"
        "        return probs.sum()\n"
    )
    diags = check_source(text, str(source))
    found = sorted((d.range.start.line + 1, d.code, d.severity.label) for d in diags)
    assert found == [(15, "GG105", "error")], found


# How users import a torchvision builder (`from torchvision.models import …` was read as a
# torch function before: "torchvision" starts with "torch").
_TORCHVISION_IMPORTS = {
    "from_models": "from torchvision.models import resnet18 as build",
    "from_package": "from torchvision import models\nbuild = models.resnet18",
    "module_alias": "import torchvision.models as tvm\nbuild = tvm.resnet18",
    "get_model": "from torchvision.models import get_model\n\n\ndef build():\n"
    "    return get_model('resnet18', num_classes=10)",
}
# torchvision does not import here: the oracle runs the programs with a stand-in package
# (a small real nn.Module with trainable parameters, returning a tensor as resnet18 does),
# in a process of their own so no other program sees it.
_TORCHVISION_STAND_IN = (
    "import sys, types, torch\n"
    "_tv = types.ModuleType('torchvision'); _tvm = types.ModuleType('torchvision.models')\n"
    "_tvm.resnet18 = lambda **kw: torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), "
    "torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(4, 10))\n"
    "_tvm.get_model = lambda name, **kw: getattr(_tvm, name)(**kw)\n"
    "_tv.models = _tvm\n"
    "sys.modules.update({'torchvision': _tv, 'torchvision.models': _tvm})\n"
)


def _torchvision_program(imports: str, clone: bool) -> tuple[str, int]:
    """A program built on a torchvision model and the line of its write."""
    lines = [
        "import torch",
        *imports.split("\n"),
        "",
        "net = build()",
        "probs = net(torch.randn(2, 3, 16, 16)).softmax(1)",
        *(["probs = probs.clone()"] if clone else []),
        "probs[:, 0] = 0",  # softmax saved its output for backward
        "probs.sum().backward()",
    ]
    return "\n".join(lines) + "\n", len(lines) - 1


@pytest.fixture(scope="module")
def torchvision_results() -> dict[tuple[str, bool], dict]:
    keys = [(name, clone) for name in _TORCHVISION_IMPORTS for clone in (False, True)]
    programs = [
        _TORCHVISION_STAND_IN + _torchvision_program(_TORCHVISION_IMPORTS[n], c)[0] for n, c in keys
    ]
    return dict(zip(keys, run_under_torch(programs), strict=True))


@pytest.mark.parametrize("form", sorted(_TORCHVISION_IMPORTS))
def test_a_torchvision_model_imported_any_way_is_a_model(form, torchvision_results):
    failing, line = _torchvision_program(_TORCHVISION_IMPORTS[form], clone=False)
    working, _ = _torchvision_program(_TORCHVISION_IMPORTS[form], clone=True)
    assert torch_agrees("GG105", line, torchvision_results[(form, False)]) is None
    assert torchvision_results[(form, True)]["ok"], torchvision_results[(form, True)]
    found = {
        (d.code, d.range.start.line + 1, d.severity.label)
        for d in check_source(failing, f"/tmp/gg_tv_{form}.py")
    }
    assert ("GG105", line, "error") in found, found
    assert check_source(working, f"/tmp/gg_tv_{form}_ok.py") == []
