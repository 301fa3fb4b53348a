#!/usr/bin/env bash
# The VS Code end-to-end suite: installs what it needs (cached under .cache/e2e, skipped when
# present), then `npm ci`, type-check, lint, build, package the .vsix, and runs
# client/e2e/*.test.mjs with node's test runner against a real VS Code (code-server) in
# Debian's Chromium.
#
#   bash scripts/e2e.sh                 # everything
#   bash scripts/e2e.sh --no-package    # reuse gradguard-<version>.vsix (tests only)
#   GG_E2E_KEEP=1 bash scripts/e2e.sh   # keep each test's temp folder (user-data/logs/*/exthost*/
#                                       # gradguard.gradguard/GradGuard.log is the extension's log)
#
# Needs: the project's .venv (scripts/setup.sh --dev: its python has torch), the machine's
# Node/npm (>= 20), and root for apt-get on a fresh machine (chromium, libkrb5-dev).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# GRADGUARD_E2E_CACHE: keep the ~650 MB of Node 24 + code-server outside the checkout (e.g. a CI
# cache shared between clones); default: the git-ignored .cache/e2e of this checkout.
CACHE="${GRADGUARD_E2E_CACHE:-$ROOT/.cache/e2e}"
NODE_MAJOR=24
CODE_SERVER_VERSION=4.139.1
PACKAGE=1
for arg in "$@"; do
    case "$arg" in
        --no-package) PACKAGE=0 ;;
        *) echo "e2e.sh: unknown argument $arg" >&2; exit 2 ;;
    esac
done

step() { echo "== e2e: $*"; }
started=$SECONDS

case "$(uname -m)" in
    x86_64) NODE_ARCH=x64 ;;
    aarch64) NODE_ARCH=arm64 ;;
    *) echo "e2e.sh: unsupported machine $(uname -m)" >&2; exit 2 ;;
esac
NODE24_DIR="$CACHE/node$NODE_MAJOR"
NODE24_HOME="$NODE24_DIR/node_modules/node/node_modules/node-linux-$NODE_ARCH"
NODE24="$NODE24_HOME/bin/node"
CODE_SERVER_DIR="$CACHE/code-server"
CODE_SERVER_STAMP="$CODE_SERVER_DIR/.installed-$CODE_SERVER_VERSION-node$NODE_MAJOR"

# -- Debian packages: Chromium for the browser, Kerberos headers for code-server's native module.
missing=()
for pkg in chromium libkrb5-dev; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
    step "apt-get install ${missing[*]}"
    if [[ $(id -u) -ne 0 ]]; then
        echo "e2e.sh: need root to install ${missing[*]} (sudo apt-get install -y ${missing[*]})" >&2
        exit 2
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# -- Node 24 from the npm package `node`, in its own folder (code-server needs it; the machine has 20).
if [[ ! -x "$NODE24" ]] || [[ "$("$NODE24" -p 'process.versions.node.split(".")[0]')" != "$NODE_MAJOR" ]]; then
    step "install Node $NODE_MAJOR (npm package node@$NODE_MAJOR)"
    rm -rf "$NODE24_DIR"
    mkdir -p "$NODE24_DIR"
    echo '{"name": "gradguard-e2e-node", "private": true}' > "$NODE24_DIR/package.json"
    (cd "$NODE24_DIR" && npm install --no-audit --no-fund --loglevel=error "node@$NODE_MAJOR")
    [[ -x "$NODE24" ]] || { echo "e2e.sh: node@$NODE_MAJOR installed no binary at $NODE24" >&2; exit 1; }
fi

# -- code-server, built with Node 24 (its native modules must match Node 24's ABI and headers).
if [[ ! -f "$CODE_SERVER_STAMP" ]]; then
    step "install code-server@$CODE_SERVER_VERSION (about 2 minutes, 620 MB)"
    rm -rf "$CODE_SERVER_DIR"
    mkdir -p "$CODE_SERVER_DIR"
    echo '{"name": "gradguard-e2e-code-server", "private": true}' > "$CODE_SERVER_DIR/package.json"
    (
        cd "$CODE_SERVER_DIR"
        export PATH="$NODE24_HOME/bin:$PATH" npm_config_nodedir="$NODE24_HOME"
        npm install --no-audit --no-fund --loglevel=error "code-server@$CODE_SERVER_VERSION"
    )
    kerberos="$CODE_SERVER_DIR/node_modules/code-server/lib/vscode/node_modules/kerberos/build/Release/kerberos.node"
    [[ -f "$kerberos" ]] || { echo "e2e.sh: code-server's postinstall did not build $kerberos" >&2; exit 1; }
    touch "$CODE_SERVER_STAMP"
fi

# -- The project's Python (the server runs in it; its torch runs the fixed files).
if ! "$ROOT/.venv/bin/python" -c 'import torch, gradguard' 2>/dev/null; then
    echo "e2e.sh: $ROOT/.venv lacks torch or gradguard: run scripts/setup.sh --dev first" >&2
    exit 2
fi

cd "$ROOT"
# -- npm ci, skipped when node_modules was installed from this very lock file.
lock_hash="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [[ "$(cat node_modules/.gradguard-lock-hash 2>/dev/null)" != "$lock_hash" ]]; then
    step "npm ci"
    npm ci --no-audit --no-fund --loglevel=error
    echo "$lock_hash" > node_modules/.gradguard-lock-hash
fi

if ((PACKAGE)); then
    step "typecheck, lint, package"
    npm run --silent typecheck
    npm run --silent lint
    npm run --silent package
fi
step "setup took $((SECONDS - started)) s"

export GG_E2E_NODE="$NODE24" GG_E2E_CODE_SERVER="$CODE_SERVER_DIR/node_modules/code-server/out/node/entry.js"
step "tests (code-server $CODE_SERVER_VERSION, $("$NODE24" --version), $(chromium --version 2>/dev/null | head -1))"
"$NODE24" --test --test-reporter=spec --test-timeout=300000 client/e2e/*.test.mjs
step "done in $((SECONDS - started)) s"
