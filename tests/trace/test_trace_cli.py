"""``gradguard trace`` as a command: real programs, bad input, multi-file programs, --all,
-m, the JSON report, threads and torch.compile; and ``check``/``server`` never load torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .conftest import ROOT, run_python, trace

SAVED = "one of the variables needed for gradient computation has been modified"


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_clean_program_same_output_exit_code_and_argv(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "prog.py",
        "import sys, torch\n"
        "x = torch.ones(2, requires_grad=True)\n"
        "(x * 3).sum().backward()\n"
        "print(sys.argv[1:], x.grad.tolist(), __name__)\n"
        "print('to stderr', file=sys.stderr)\n"
        "sys.exit(int(sys.argv[1]))\n",
    )
    run = trace(["prog.py", "3", "--flag"], tmp_path)
    plain = run_python(["prog.py", "3", "--flag"], tmp_path)
    assert (run.returncode, run.stdout, run.stderr) == (3, plain.stdout, plain.stderr)
    assert run.stdout == "['3', '--flag'] [3.0, 3.0] __main__\n"
    assert run.findings == []  # an empty report clears the editor's runtime findings


def test_program_error_that_is_not_autograd_keeps_its_traceback(tmp_path: Path) -> None:
    _write(tmp_path, "prog.py", "import torch\nprint('before')\nraise ValueError('boom')\n")
    run = trace(["prog.py"], tmp_path)
    plain = run_python(["prog.py"], tmp_path)
    assert (run.returncode, run.stdout, run.stderr) == (1, plain.stdout, plain.stderr)
    assert "gradguard" not in run.stderr


def test_bad_input_gives_clear_errors(tmp_path: Path) -> None:
    run = trace(["missing.py"], tmp_path)
    assert run.returncode == 2
    assert "can't open file" in run.stderr and "missing.py" in run.stderr
    assert "Traceback" not in run.stderr

    _write(tmp_path, "broken.py", "x = (\n")
    run = trace(["broken.py"], tmp_path)
    plain = run_python(["broken.py"], tmp_path)
    assert (run.returncode, run.stderr) == (plain.returncode, plain.stderr)
    assert "SyntaxError" in run.stderr and "gradguard" not in run.stderr

    run = trace(["-m", "no_such_module_here"], tmp_path)
    assert run.returncode == 1 and "no module named 'no_such_module_here'" in run.stderr

    for args in ([], ["--bogus", "x.py"], ["--report"]):
        run = trace(args, tmp_path)
        assert run.returncode == 2 and run.stderr.startswith("gradguard trace: error:"), args


def test_program_over_two_files_and_a_helper_package(tmp_path: Path) -> None:
    """The model in one file, the training loop in another, the write in a package helper."""
    _write(
        tmp_path,
        "model.py",
        "import torch\nfrom torch import nn\n\n\nclass Net(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n        self.fc = nn.Linear(3, 2)\n\n"
        "    def forward(self, x):\n        return torch.tanh(self.fc(x))\n",
    )
    _write(tmp_path, "vendor/mathutil/__init__.py", "")
    _write(
        tmp_path,
        "vendor/mathutil/ops.py",
        "def scale_(t, k):\n    t.mul_(k)\n    return t\n",
    )
    _write(
        tmp_path,
        "train.py",
        "import sys\nimport torch\n"
        "sys.path.insert(0, 'vendor')\n"
        "from mathutil.ops import scale_\n"
        "from model import Net\n\n"
        "torch.manual_seed(0)\n"
        "net = Net()\n"
        "out = net(torch.randn(4, 3))\n"
        "scale_(out, 2.0)\n"
        "out.sum().backward()\n",
    )
    run = trace(["train.py"], tmp_path)
    assert run.returncode == 1 and SAVED in run.stderr
    [finding] = run.findings
    assert finding["code"] == "GG105"
    assert finding["filename"] == str(tmp_path / "vendor/mathutil/ops.py")
    assert finding["location"]["row"] == 2
    related = {(Path(r["filename"]).name, r["location"]["row"]) for r in finding["related"]}
    assert ("model.py", 11) in related  # tanh saved its output there
    assert ("train.py", 11) in related  # the backward() that raised
    assert "vendor/mathutil/ops.py:2:5: error[GG105]" in run.report_text
    assert "saved for backward by `tanh` (TanhBackward0) here (in model.py)" in run.report_text


def test_module_mode_runs_like_python_dash_m(tmp_path: Path) -> None:
    _write(tmp_path, "pkg/__init__.py", "")
    _write(
        tmp_path,
        "pkg/main.py",
        "import sys, torch\nprint(__name__, sys.argv)\n"
        "w = torch.zeros(2, requires_grad=True)\nw[0] = 1.0\n",
    )
    run = trace(["-m", "pkg.main", "arg"], tmp_path)
    plain = run_python(["-m", "pkg.main", "arg"], tmp_path)
    assert (run.returncode, run.stdout) == (plain.returncode, plain.stdout)
    # `python -m` shows two frames of runpy first; gradguard shows none. The rest is the same.
    user_part = plain.stderr[plain.stderr.index('  File "' + str(tmp_path)) :]
    assert run.stderr.startswith("Traceback (most recent call last):\n" + user_part)
    [finding] = run.findings
    assert (finding["code"], finding["location"]["row"]) == ("GG103", 4)


def test_all_reports_writes_that_did_not_raise(tmp_path: Path) -> None:
    source = (
        "import torch\n"
        "x = torch.tensor([1.0, 2.0], requires_grad=True)\n"
        "y = x.exp()\n"
        "y.add_(1)\n"  # would break y's backward, but none runs
        "w = torch.ones(2, requires_grad=True)\n"
        "w.data = torch.zeros(2)\n"
        "z = x.sigmoid()\n"
        "z.sum().backward()\n"
        "z.mul_(2)\n"  # after the backward: fine
        "print('done')\n"
    )
    _write(tmp_path, "prog.py", source)
    quiet = trace(["prog.py"], tmp_path)
    assert quiet.returncode == 0 and quiet.stderr == "" and quiet.findings == []
    run = trace(["--all", "prog.py"], tmp_path)
    assert run.returncode == 0 and run.stdout == "done\n"
    got = sorted((f["code"], f["location"]["row"], f["severity"]) for f in run.findings)
    assert got == [("GG105", 4, "warning"), ("GG108", 6, "warning")]
    assert "prog.py:4:1: warning[GG105]" in run.report_text


def test_default_report_location_and_no_report(tmp_path: Path) -> None:
    _write(tmp_path, "prog.py", "import torch\nx = torch.ones(1, requires_grad=True)\nx += 1\n")
    proc = run_python(["-m", "gradguard", "trace", "prog.py"], tmp_path)
    assert proc.returncode == 1
    [finding] = json.loads((tmp_path / ".gradguard" / "trace.json").read_text())
    assert (finding["code"], finding["location"]["row"]) == ("GG102", 3)
    (tmp_path / ".gradguard" / "trace.json").unlink()
    proc = run_python(["-m", "gradguard", "trace", "--no-report", "prog.py"], tmp_path)
    assert proc.returncode == 1 and not (tmp_path / ".gradguard" / "trace.json").exists()


def test_write_in_another_thread_is_reported_as_unseen(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "prog.py",
        "import threading, torch\n"
        "x = torch.tensor([1.0, 2.0], requires_grad=True)\n"
        "y = x.exp()\n"
        "t = threading.Thread(target=lambda: y.add_(1))\n"
        "t.start(); t.join()\n"
        "y.sum().backward()\n",
    )
    run = trace(["prog.py"], tmp_path)
    assert run.returncode == 1 and SAVED in run.stderr
    [finding] = run.findings
    assert finding["location"]["row"] == 6  # the backward(): the write itself was not seen
    assert "another thread" in finding["message"]
    assert finding["fix"] is None


def test_torch_compile_runs_under_the_tracer(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "prog.py",
        "import torch\n"
        "f = torch.compile(torch.nn.Linear(3, 3), backend='eager')\n"
        "x = torch.randn(2, 3, requires_grad=True)\n"
        "y = torch.exp(f(x))\n"
        "print(tuple(y.shape))\n"
        "y.add_(1)\n"
        "y.sum().backward()\n",
    )
    run = trace(["prog.py"], tmp_path)
    assert run.returncode == 1 and run.stdout == "(2, 3)\n"
    [finding] = run.findings
    assert (finding["code"], finding["location"]["row"]) == ("GG105", 6)


def test_check_and_server_never_import_torch(tmp_path: Path) -> None:
    program = _write(
        tmp_path, "prog.py", "import torch\nx = torch.ones(1, requires_grad=True)\nx += 1\n"
    )
    assert run_python(["-m", "gradguard", "trace", "prog.py"], tmp_path).returncode == 1
    code = (
        "import sys\n"
        "from gradguard.cli import main\n"
        "main(['check', sys.argv[1]])\n"
        "from gradguard.lsp.server import create_server\n"
        "from gradguard.lsp import runtime\n"
        "from gradguard.lsp.convert import TextIndex\n"
        "create_server()\n"
        "text = open(sys.argv[1]).read()\n"
        "found, _ = runtime.findings(sys.argv[1], text, TextIndex(text), uri='file://x', version=1)\n"
        "print('FOUND', len(found), 'TORCH', 'torch' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(program)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(ROOT / "server"), "PATH": "/usr/bin:/bin"},
    ).stdout
    assert "FOUND 1 TORCH False" in out


def test_positional_inplace_flag_and_a_program_that_changes_directory(tmp_path: Path) -> None:
    """nn.Dropout passes `inplace` to F.dropout positionally; the version counter tells."""
    _write(
        tmp_path,
        "prog.py",
        "import os\nimport torch\nfrom torch import nn\n"
        "x = torch.tensor([0.5, -1.0], requires_grad=True)\n"
        "y = torch.exp(x)\n"
        "os.chdir(os.path.dirname(os.getcwd()))\n"
        "nn.Dropout(p=0.5, inplace=True)(y)\n"
        "y.sum().backward()\n",
    )
    run = trace(["prog.py"], tmp_path)
    assert run.returncode == 1
    [finding] = run.findings
    assert (finding["code"], finding["location"]["row"]) == ("GG106", 7)
    assert "prog.py:7:1: error[GG106]" in run.report_text
    assert "saved for backward by `exp` (ExpBackward0)" in run.report_text


def test_custom_function_save_is_matched_through_the_error_message(tmp_path: Path) -> None:
    """ctx.save_for_backward in a custom Function: its node is only seen later, so the write
    is found from PyTorch's message (shape, expected version, creator)."""
    _write(
        tmp_path,
        "prog.py",
        "import torch\n\n\n"
        "class Square(torch.autograd.Function):\n"
        "    @staticmethod\n"
        "    def forward(ctx, x):\n"
        "        ctx.save_for_backward(x)\n"
        "        return x * x\n\n"
        "    @staticmethod\n"
        "    def backward(ctx, g):\n"
        "        (x,) = ctx.saved_tensors\n"
        "        return 2 * x * g\n\n\n"
        "w = torch.tensor([1.0, 2.0], requires_grad=True)\n"
        "h = w * 1\n"
        "y = Square.apply(h)\n"
        "h.add_(1)\n"
        "y.sum().backward()\n",
    )
    run = trace(["prog.py"], tmp_path)
    assert run.returncode == 1 and SAVED in run.stderr
    [finding] = run.findings
    assert (finding["code"], finding["location"]["row"]) == ("GG105", 19)
    assert "the save itself was not seen" in finding["message"]
    assert [r["location"]["row"] for r in finding["related"]] == [20]


def test_all_says_what_the_recorder_left_alone_and_what_the_program_caught(
    tmp_path: Path,
) -> None:
    """Inference tensors have no version counter: the program runs as it does plain, and
    `--all` says they were skipped. An in-place error the program catches is no error of the
    run: only `--all` shows it, as a warning on the write."""
    _write(
        tmp_path,
        "prog.py",
        "import torch\n"
        "with torch.inference_mode():\n"
        "    out = torch.ones(2) * 1.5\n"
        "    out.clamp_(0, 1)\n"
        "w = torch.ones(2, requires_grad=True)\n"
        "try:\n"
        "    w.add_(1)\n"
        "except RuntimeError:\n"
        "    print('caught')\n"
        "print(out.tolist())\n",
    )
    plain = run_python(["prog.py"], tmp_path)
    quiet = trace(["prog.py"], tmp_path)
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, plain.stdout, plain.stderr)
    assert quiet.findings == []
    run = trace(["--all", "prog.py"], tmp_path)
    assert (run.returncode, run.stdout) == (0, "caught\n[1.0, 1.0]\n")
    assert "left alone, unrecorded: version counter of inference tensors (1×)" in run.stderr
    [finding] = run.findings
    assert (finding["code"], finding["location"]["row"], finding["severity"]) == (
        "GG101",
        7,
        "warning",
    )
    assert "the program caught this error" in finding["message"]
