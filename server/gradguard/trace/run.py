"""``gradguard trace [--report PATH | --no-report] [--all] (SCRIPT | -m MODULE) [ARGS…]``.

Runs the program like ``python SCRIPT ARGS…`` / ``python -m MODULE ARGS…`` would, in this
interpreter (``sys.argv``, ``sys.path[0]``, ``__main__``, stdout/stderr, the exit code, the
traceback), under the recorder.  After an autograd in-place error it prints gradguard's
report on stderr, after the traceback; a clean run prints nothing extra.  The findings go to
``.gradguard/trace.json`` (``--report PATH`` elsewhere, ``--no-report`` nowhere), in
``gradguard check --format json``'s shape; the language server shows them in the editor.
"""

from __future__ import annotations

import importlib.util
import os
import runpy
import sys
import traceback
import types
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import DEFAULT_REPORT
from .events import Failure, TraceResult
from .sites import TRAMPOLINE, site_in_traceback

if TYPE_CHECKING:  # the recorder imports torch: at run time only once a program is traced
    from .recorder import Tracer

USAGE = """\
usage: gradguard trace [--report PATH | --no-report] [--all] SCRIPT [ARGS…]
       gradguard trace [--report PATH | --no-report] [--all] -m MODULE [ARGS…]

Run a Python program under PyTorch and, when autograd raises an in-place error, name the
line that wrote in place, the line that saved the tensor and the fixes.

options:
  --report PATH   write the findings as JSON there (default: .gradguard/trace.json)
  --no-report     write no JSON report
  --all           also report in-place writes on saved tensors that did not raise
                  (no backward ran through them), and `.data` writes, as warnings
  -m MODULE       run a module, like `python -m MODULE`
  -h, --help      show this help
"""

EXIT_USAGE = 2
_HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


class TraceUsageError(Exception):
    pass


@dataclass
class TraceArgs:
    script: str | None = None
    module: str | None = None
    args: list[str] = field(default_factory=list)
    report: str | None = DEFAULT_REPORT
    all: bool = False
    help: bool = False


def parse(argv: list[str]) -> TraceArgs:
    """Options up to the program (SCRIPT or ``-m MODULE``); everything after is the program's."""
    out = TraceArgs()
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("-h", "--help"):
            out.help = True
            return out
        if arg == "--all":
            out.all = True
        elif arg == "--no-report":
            out.report = None
        elif arg == "--report" or arg.startswith("--report="):
            if "=" in arg:
                out.report = arg.split("=", 1)[1]
            else:
                i += 1
                if i >= len(argv):
                    raise TraceUsageError("--report needs a PATH")
                out.report = argv[i]
            if not out.report:
                raise TraceUsageError("--report needs a PATH")
        elif arg == "-m" or (arg.startswith("-m") and len(arg) > 2):
            if len(arg) > 2:
                out.module = arg[2:]
            else:
                i += 1
                if i >= len(argv):
                    raise TraceUsageError("-m needs a MODULE")
                out.module = argv[i]
            out.args = argv[i + 1 :]
            return out
        elif arg == "--":
            i += 1
            if i < len(argv):
                out.script, out.args = argv[i], argv[i + 1 :]
            break
        elif arg.startswith("-") and arg != "-":
            raise TraceUsageError(f"unknown option {arg!r} (options go before the script)")
        else:
            out.script, out.args = arg, argv[i + 1 :]
            return out
        i += 1
    if out.script is None and out.module is None:
        raise TraceUsageError("give a SCRIPT to run, or -m MODULE")
    return out


_TORCH_HINT = os.sep.join(("", "torch", ""))


def _torch_prefix() -> str:
    torch = sys.modules.get("torch")
    path = getattr(torch, "__file__", None) if torch is not None else None
    return os.path.dirname(path) + os.sep if path else _TORCH_HINT


def _is_dispatch(code: types.CodeType) -> bool:
    return code.co_name == "handle_torch_function" and code.co_filename.endswith(
        os.sep.join(("torch", "overrides.py"))
    )


def _ours(filename: str) -> bool:
    return (
        filename.startswith(_HERE)
        or os.path.basename(filename) == "runpy.py"
        or filename == "<frozen runpy>"
    )


def _trim(exc: BaseException, seen: set[int] | None = None) -> None:
    """Drop gradguard's and runpy's frames from a traceback (and its chained exceptions)."""
    seen = seen if seen is not None else set()
    if id(exc) in seen:
        return
    seen.add(id(exc))
    kept: list[types.TracebackType] = []
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if _is_dispatch(code):  # torch handing the call to the recorder: not in a plain run
            if kept and kept[-1].tb_frame.f_code.co_filename.startswith(_torch_prefix()):
                kept.pop()
        elif not _ours(code.co_filename) and code.co_name != TRAMPOLINE:
            kept.append(tb)
        tb = tb.tb_next
    new = None
    for entry in reversed(kept):
        new = types.TracebackType(new, entry.tb_frame, entry.tb_lasti, entry.tb_lineno)
    exc.__traceback__ = new
    for other in (exc.__cause__, exc.__context__):
        if other is not None:
            _trim(other, seen)


def _exit_code(exc: SystemExit) -> int:
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _use_color() -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    try:
        return sys.stderr.isatty() and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):
        return False


def _fallback_failure(exc: BaseException, result: TraceResult) -> None:
    """An autograd in-place error the recorder did not see (another thread, compiled code…)."""
    from .recorder import error_kind

    if not isinstance(exc, RuntimeError):
        return
    message = str(exc).strip()
    kind = error_kind(message)
    first = message.splitlines()[0] if message else ""
    if kind is None or any(f.message == first for f in result.failures):
        return
    site = site_in_traceback(exc.__traceback__)
    unseen = (
        "the tracer did not see this operation (it ran in another thread, a torch.compile'd "
        "region or native code, or started before tracing)"
    )
    if kind == "version":
        result.failures.append(Failure(kind, first, None, backward=site, unseen=unseen))
    else:
        result.failures.append(Failure(kind, first, site, op="", unseen=unseen))


def _messages(exc: BaseException | None) -> set[str]:
    """First lines of an exception and of those it was raised from or during."""
    out: set[str] = set()
    seen: set[int] = set()
    stack = [exc]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        text = str(e).strip()
        out.add(text.splitlines()[0] if text else "")
        stack += [e.__cause__, e.__context__]
    return out


def keep_escaped(
    result: TraceResult, raised: BaseException | None, *, keep_caught: bool = False
) -> None:
    """Errors are the in-place errors that ended the program; the ones it caught (a fallback
    in a ``try``) move to ``result.caught`` (shown by ``--all`` as warnings)."""
    ended = _messages(raised)
    if keep_caught:
        result.caught = [f for f in result.failures if f.message not in ended]
    result.failures = [f for f in result.failures if f.message in ended]


def _prepare_script(path: str) -> types.CodeType:
    """Read and compile like ``python SCRIPT`` (PEP 263 encodings); SyntaxError propagates."""
    import io
    import tokenize

    with io.open_code(path) as handle:
        encoding, _ = tokenize.detect_encoding(handle.readline)
    with open(path, encoding=encoding, newline="") as handle:
        source = handle.read()
    # Like `python SCRIPT` (3.9+): the code and __file__ carry the absolute path.
    return compile(source, os.path.abspath(path), "exec", dont_inherit=True)


def _run_program(opts: TraceArgs, code: types.CodeType | None) -> None:
    if opts.module is not None:
        sys.argv = [opts.module, *opts.args]
        sys.path.insert(0, os.getcwd())
        runpy.run_module(opts.module, run_name="__main__", alter_sys=True)
        return
    assert opts.script is not None and code is not None
    script = opts.script
    sys.argv = [script, *opts.args]
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    main = types.ModuleType("__main__")
    main.__file__ = os.path.abspath(script)
    main.__package__ = None
    main.__spec__ = None
    main.__cached__ = None  # type: ignore[attr-defined]
    main.__builtins__ = __builtins__  # type: ignore[attr-defined]
    saved_main = sys.modules.get("__main__")
    sys.modules["__main__"] = main
    try:
        exec(code, main.__dict__)
    finally:
        if saved_main is not None:
            sys.modules["__main__"] = saved_main


def main(argv: list[str]) -> int:
    try:
        opts = parse(argv)
    except TraceUsageError as exc:
        print(f"gradguard trace: error: {exc}", file=sys.stderr)
        print(USAGE.splitlines()[0], file=sys.stderr)
        return EXIT_USAGE
    if opts.help:
        sys.stdout.write(USAGE)
        return 0
    if opts.report:
        opts.report = os.path.abspath(opts.report)  # the program may chdir
        try:
            from .report import prepare_folder

            prepare_folder(opts.report)
        except OSError as exc:
            print(f"gradguard trace: error: cannot write {opts.report}: {exc}", file=sys.stderr)
            return EXIT_USAGE
    code = None
    if opts.script is not None:
        if not os.path.isfile(opts.script):
            print(
                f"gradguard trace: error: can't open file {os.path.abspath(opts.script)!r}: "
                "no such file",
                file=sys.stderr,
            )
            return EXIT_USAGE
        try:
            code = _prepare_script(opts.script)
        except (SyntaxError, ValueError) as exc:
            _trim(exc)
            traceback.print_exception(exc)
            return 1
        except OSError as exc:
            print(f"gradguard trace: error: can't read {opts.script!r}: {exc}", file=sys.stderr)
            return EXIT_USAGE
    else:
        assert opts.module is not None
        sys.path.insert(0, os.getcwd())
        try:
            found = importlib.util.find_spec(opts.module)
        except (ImportError, ValueError):
            found = None
        finally:
            sys.path.pop(0)
        if found is None:
            print(f"gradguard trace: error: no module named {opts.module!r}", file=sys.stderr)
            return 1
    try:
        from .recorder import Tracer
    except ImportError as exc:
        print(
            f"gradguard trace: error: needs PyTorch in this interpreter ({sys.executable}): {exc}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    return _traced(opts, code, Tracer())


def _traced(opts: TraceArgs, code: types.CodeType | None, tracer: Tracer) -> int:
    start_dir = os.getcwd()
    exit_code = 0
    raised: BaseException | None = None
    tracer.__enter__()
    try:
        _run_program(opts, code)
    except SystemExit as exc:
        exit_code = _exit_code(exc)
    except KeyboardInterrupt as exc:
        raised, exit_code = exc, 130
    except BaseException as exc:  # the program's own error: reported like Python does
        raised, exit_code = exc, 1
    finally:
        tracer.__exit__(None, None, None)
    try:
        os.chdir(start_dir)  # paths in the report are shown relative to where trace started
    except OSError:
        pass
    result = tracer.result(unraised=opts.all)
    keep_escaped(result, raised, keep_caught=opts.all)
    if raised is not None:
        _fallback_failure(raised, result)
        _trim(raised)
        try:
            sys.stdout.flush()
        except (OSError, ValueError):
            pass
        sys.excepthook(type(raised), raised, raised.__traceback__)
    _report(opts, result)
    return exit_code


def _report(opts: TraceArgs, result: TraceResult) -> None:
    from . import report

    try:
        findings = report.build(result)
        text = report.render_text(findings, color=_use_color())
        if opts.all and result.notes:  # what the recorder had to leave alone
            text += "".join(f"\ngradguard trace: note: {note}" for note in result.notes) + "\n"
        if text:
            sys.stderr.write(text)
            sys.stderr.flush()
        if opts.report:
            report.write_json(findings, opts.report)
    except Exception as exc:  # never a gradguard traceback after the program's own output
        if os.environ.get("GRADGUARD_DEBUG"):
            raise
        print(f"gradguard trace: internal error while reporting: {exc!r}", file=sys.stderr)
