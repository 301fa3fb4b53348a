"""The editor setups in docs/editors.md, run as written with real clients: Neovim 0.11
(its `vim.lsp.config` snippet), Emacs' eglot (its elisp snippet, `emacs --batch`) and
JupyterLab's language-server proxy jupyter-lsp (its JSON config). Each opens a file with a
GG101 bug and must get gradguard's diagnostic through that client.

`gradguard` is put on PATH from this venv, as `pipx install gradguard` would.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "editors.md"
BUGGY = "import torch\nx = torch.zeros(3, requires_grad=True)\nx.add_(1)\n"
BIN = str(Path(sys.executable).parent)


def snippet(section: str, language: str) -> str:
    """The first ``language`` code block under the ``## section`` heading of docs/editors.md."""
    text = DOC.read_text(encoding="utf-8")
    start = text.index(f"\n## {section}\n")
    end = text.find("\n## ", start + 1)
    body = text[start : end if end != -1 else len(text)]
    match = re.search(rf"```{language}\n(.*?)```", body, re.S)
    assert match, f"no {language} block under ## {section}"
    return match.group(1)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    work = tmp_path / "project"
    work.mkdir()
    (work / "pyproject.toml").write_text("[tool.gradguard]\n", encoding="utf-8")
    (work / "train.py").write_text(BUGGY, encoding="utf-8")
    return work


def _env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PATH": BIN + os.pathsep + os.environ.get("PATH", ""),
        "HOME": str(tmp_path / "home"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }


# --- Neovim ---------------------------------------------------------------------------------

NVIM_DRIVER = r"""
local file, result = os.getenv("GG_FILE"), os.getenv("GG_RESULT")
local function finish(verdict)
  local out = assert(io.open(result, "w")); out:write(verdict); out:close()
  vim.cmd("qall!")
end
vim.cmd("edit " .. vim.fn.fnameescape(file))
local buf = vim.api.nvim_get_current_buf()
local found = vim.wait(60000, function()
  for _, d in ipairs(vim.diagnostic.get(buf)) do
    if d.code == "GG101" and d.source == "gradguard" then return true end
  end
  return false
end, 50)
local names = {}
for _, c in ipairs(vim.lsp.get_clients({ bufnr = buf })) do
  table.insert(names, c.name .. "@" .. (c.root_dir or "?"))
end
finish((found and "OK " or "NO-DIAGNOSTIC ") .. table.concat(names, ","))
"""


def test_neovim_snippet(project: Path, tmp_path: Path):
    from nvim.test_neovim import nvim_binary

    init = tmp_path / "init.lua"
    init.write_text(snippet("Neovim", "lua"), encoding="utf-8")
    driver = tmp_path / "drive.lua"
    driver.write_text(NVIM_DRIVER, encoding="utf-8")
    result = tmp_path / "result.txt"
    env = {**_env(tmp_path), "GG_FILE": str(project / "train.py"), "GG_RESULT": str(result)}
    run = subprocess.run(
        [nvim_binary(), "--headless", "-u", str(init), "-i", "NONE", "-n"]
        + ["-c", f"luafile {driver}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
        cwd=project,
    )
    verdict = result.read_text() if result.exists() else "(no verdict)"
    assert verdict == f"OK gradguard@{project}", (verdict, run.stderr[-2000:])


# --- Emacs (eglot) ----------------------------------------------------------------------------

EMACS_DRIVER = r"""
(setq debug-on-error nil)
(find-file (getenv "GG_FILE"))
(unless (derived-mode-p 'python-mode) (python-mode))
;; eglot-ensure connects when the command that opened the file ends (post-command-hook);
;; batch mode runs no command loop, so end one by hand.
(run-hooks 'post-command-hook)
(let ((deadline (+ (float-time) 90)) (found nil))
  (while (and (not found) (< (float-time) deadline))
    (accept-process-output nil 0.2)
    (when (and (fboundp 'eglot-current-server) (eglot-current-server))
      (dolist (d (flymake-diagnostics))
        (when (string-match-p "GG101" (flymake-diagnostic-text d)) (setq found d)))))
  (let ((verdict (if found
                     (format "OK line %d %s" (line-number-at-pos (flymake-diagnostic-beg found))
                             (flymake-diagnostic-type found))
                   (format "NO-DIAGNOSTIC server=%S" (and (fboundp 'eglot-current-server)
                                                           (eglot-current-server))))))
    (with-temp-file (getenv "GG_RESULT") (insert verdict))))
(kill-emacs 0)
"""


def test_emacs_eglot_snippet(project: Path, tmp_path: Path):
    emacs = shutil.which("emacs")
    assert emacs, "emacs is not installed: scripts/setup_editors.sh installs emacs-nox + elpa-eglot"
    config = tmp_path / "config.el"
    config.write_text(snippet("Emacs (eglot)", "elisp"), "utf-8")
    driver = tmp_path / "drive.el"
    driver.write_text(EMACS_DRIVER, encoding="utf-8")
    result = tmp_path / "result.txt"
    env = {**_env(tmp_path), "GG_FILE": str(project / "train.py"), "GG_RESULT": str(result)}
    run = subprocess.run(
        # --batch skips the init file but runs site-start (Debian's elpa-eglot registers there)
        [emacs, "--batch", "-l", str(config), "-l", str(driver)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
        cwd=project,
    )
    verdict = result.read_text() if result.exists() else "(no verdict)"
    assert verdict.startswith("OK line 3 "), (verdict, run.stderr[-3000:])
    assert verdict.endswith(("eglot-error", ":error")), verdict


# --- JupyterLab (jupyter-lsp) -------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _lsp_over_jupyter(url: str, file: Path) -> list[dict]:
    from tornado.websocket import websocket_connect

    ws = await websocket_connect(url)

    async def send(message: dict) -> None:
        await ws.write_message(json.dumps({"jsonrpc": "2.0", **message}))

    await send(
        {
            "id": 1,
            "method": "initialize",
            "params": {
                "processId": None,
                "rootUri": file.parent.as_uri(),
                "capabilities": {"textDocument": {"publishDiagnostics": {}}},
            },
        }
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        raw = await asyncio.wait_for(ws.read_message(), 60)
        assert raw is not None, "the jupyter-lsp websocket closed"
        message = json.loads(raw)
        if message.get("id") == 1:
            break
    await send({"method": "initialized", "params": {}})
    await send(
        {
            "method": "textDocument/didOpen",
            "params": {
                "textDocument": {
                    "uri": file.as_uri(),
                    "languageId": "python",
                    "version": 1,
                    "text": file.read_text(encoding="utf-8"),
                }
            },
        }
    )
    while time.monotonic() < deadline:
        raw = await asyncio.wait_for(ws.read_message(), 60)
        assert raw is not None, "the jupyter-lsp websocket closed"
        message = json.loads(raw)
        if (
            message.get("method") == "textDocument/publishDiagnostics"
            and message["params"]["diagnostics"]
        ):
            ws.close()
            return message["params"]["diagnostics"]
    raise AssertionError("no diagnostics through jupyter-lsp")


def test_jupyterlab_lsp_config(project: Path, tmp_path: Path):
    config_dir = tmp_path / "home" / ".jupyter"  # ~/.jupyter, as the doc says
    config_dir.mkdir(parents=True)
    (config_dir / "jupyter_server_config.json").write_text(
        snippet("JupyterLab (jupyterlab-lsp)", "json"), encoding="utf-8"
    )
    port, token = _free_port(), "gradguard-test-token"
    env = {k: v for k, v in _env(tmp_path).items() if k != "JUPYTER_CONFIG_DIR"}
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", "--no-browser", f"--port={port}"]
        + ["--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}"]
        + ["--LanguageServerManager.autodetect=False", "--allow-root"],
        cwd=project,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        status = None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/lsp/status?token={token}", timeout=5
                ) as reply:
                    status = json.load(reply)
                break
            except OSError:
                time.sleep(0.3)
        assert status is not None, server.stderr.read().decode()[-3000:] if server.stderr else ""
        assert status["specs"]["gradguard"]["languages"] == ["python"]  # argv is censored
        url = f"ws://127.0.0.1:{port}/lsp/ws/gradguard?token={token}"
        diags = asyncio.run(_lsp_over_jupyter(url, project / "train.py"))
        assert [(d["code"], d["range"]["start"]["line"]) for d in diags] == [("GG101", 2)]
    finally:
        for sig, wait in ((15, 10), (9, None)):
            try:
                os.killpg(server.pid, sig)  # the server and the gradguard server it started
            except ProcessLookupError:
                break
            try:
                server.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
