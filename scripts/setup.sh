#!/usr/bin/env bash
# Set up the project's Python environment in .venv (idempotent).
#   bash scripts/setup.sh          gradguard only (what the demo needs)
#   bash scripts/setup.sh --dev    plus tests, torch 2.13 CPU, benchmarks, editors' test tools
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
  echo "gradguard needs Python >= 3.10 (found: $("$PYTHON" --version 2>&1))" >&2
  exit 2
fi
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.gradguard-setup
extras=""
[ "${1:-}" = "--dev" ] && extras="[test,bench]"
# The stamp changes with pyproject.toml and with this script, so a venv made by an older
# set-up gets what this one installs.
want="$(cat pyproject.toml scripts/setup.sh | sha1sum | cut -c1-12)"
have="$(cat "$stamp" 2>/dev/null || true)"
# A --dev venv has everything the plain set-up installs.
if [ "$have" = "$want$extras" ] || { [ -z "$extras" ] && [ "$have" = "$want[test,bench]" ]; }; then
  exit 0
fi
.venv/bin/python -m pip install --quiet --upgrade pip >/dev/null
# The build requirement ([build-system] requires: setuptools>=77, which reads PEP 639's
# `license = "MIT"`): `npm run package` builds gradguard's wheel with this venv's setuptools
# (a venv starts with Python's own, older one, or none).
# shellcheck disable=SC2046 # one word per requirement
.venv/bin/python -m pip install --quiet --upgrade $(.venv/bin/python scripts/build_requires.py)
# torch==2.13.0 (CPU) comes from the local wheel this kind of machine carries; any other
# version would download gigabytes.
.venv/bin/python -m pip install --quiet -e ".$extras"
if [ "${1:-}" = "--dev" ]; then
  # The quiet-code corpora (pyproject's `corpora` extra): source only, without dependencies.
  corpora=$(.venv/bin/python - <<'PY'
try:
    import tomllib
except ImportError:  # Python 3.10: tomli comes with gradguard
    import tomli as tomllib
with open("pyproject.toml", "rb") as f:
    print(" ".join(tomllib.load(f)["project"]["optional-dependencies"]["corpora"]))
PY
)
  # shellcheck disable=SC2086 # one word per requirement
  .venv/bin/python -m pip install --quiet --no-deps $corpora
fi
echo "$want$extras" > "$stamp"
