#!/usr/bin/env bash
# Set up everything on a fresh machine (Python env with torch 2.13 CPU, editors' test tools)
# and run every test: lint, the Python suite (rules checked against PyTorch, CLI, language
# server, Neovim, Emacs, JupyterLab's LSP proxy, the install channels), then the VS Code end-to-end suite in a real VS Code (code-server).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev
bash scripts/setup_editors.sh
echo "== ruff"
.venv/bin/ruff check server tests bench scripts
.venv/bin/ruff format --check server tests bench scripts
echo "== mypy (strict, config in pyproject.toml)"
.venv/bin/mypy
if [ -f scripts/e2e.sh ] && [ "${GRADGUARD_SKIP_E2E:-0}" != "1" ]; then
  echo "== VS Code end-to-end (code-server + Chromium)"
  bash scripts/e2e.sh
fi
echo "== pytest"
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
