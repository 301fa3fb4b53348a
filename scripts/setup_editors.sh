#!/usr/bin/env bash
# Debian packages the editor tests drive (tests/test_editor_docs.py): Emacs with eglot.
# Idempotent; about 20 s and 45 MB on a fresh machine (no recommends). Neovim comes from PyPI
# (the test extra), VS Code from npm (scripts/e2e.sh).
set -euo pipefail

missing=()
for pkg in emacs-nox elpa-eglot; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
((${#missing[@]})) || exit 0
if [[ $(id -u) -ne 0 ]]; then
    echo "setup_editors.sh: need root to install ${missing[*]} (sudo apt-get install -y --no-install-recommends ${missing[*]})" >&2
    exit 2
fi
echo "== apt-get install ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
