#!/usr/bin/env bash
# Installs gradguard (from this repository) and its pure-Python dependencies into bundled/libs,
# the folder the VS Code extension puts first on PYTHONPATH (gradguard.importStrategy=useBundled).
# Versions are those of the project's venv, so the .vsix ships what the tests ran against.
# Only pure-Python wheels (platform "any") are accepted: one .vsix serves every platform.
#
#   bash scripts/bundle_python_libs.sh            # uses .venv/bin/python (made by scripts/setup.sh when missing)
#   PYTHON=/path/to/python bash scripts/bundle_python_libs.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET="$ROOT/bundled/libs"

if [[ -n "${PYTHON:-}" ]]; then
    if [[ ! -x "$PYTHON" ]]; then
        echo "bundle_python_libs: no Python at PYTHON=$PYTHON" >&2
        exit 2
    fi
else
    PYTHON="$ROOT/.venv/bin/python"
    if [[ ! -x "$PYTHON" ]]; then
        # A fresh clone: make the project's venv the way the README's demo does.
        echo "bundle_python_libs: no $ROOT/.venv yet; creating it (bash scripts/setup.sh)" >&2
        bash "$ROOT/scripts/setup.sh"
    fi
fi

# The dependency closure of gradguard (pygls 2 -> lsprotocol, cattrs, attrs, typing_extensions).
RUNTIME_DEPS=(parso jedi pygls lsprotocol cattrs attrs typing_extensions)
# Needed on Python 3.10 only (backports); harmless on newer Pythons. Not in a 3.11 venv: pinned here.
BACKPORTS=("exceptiongroup==1.3.2" "tomli==2.5.0")

pins=()
for name in "${RUNTIME_DEPS[@]}"; do
    version="$("$PYTHON" -c 'import sys; from importlib.metadata import version; print(version(sys.argv[1]))' "$name")" || {
        echo "bundle_python_libs: $name is not installed in $PYTHON" >&2
        exit 2
    }
    pins+=("$name==$version")
done

rm -rf "$TARGET"
mkdir -p "$TARGET"
echo "bundle_python_libs: ${pins[*]} ${BACKPORTS[*]}"
"$PYTHON" -m pip install --quiet --disable-pip-version-check --no-deps --no-compile \
    --only-binary=:all: --platform any --implementation py --python-version 3.10 \
    --target "$TARGET" "${pins[@]}" "${BACKPORTS[@]}"

# gradguard itself, built from this checkout (a pure-Python wheel): with the interpreter's own
# setuptools when it meets pyproject's [build-system] requires (fast, offline; scripts/setup.sh
# installs it), else in pip's isolated build environment with the declared requirement.
isolation=(--no-build-isolation)
if ! "$PYTHON" "$ROOT/scripts/build_requires.py" --check; then
    echo "bundle_python_libs: $PYTHON lacks $("$PYTHON" "$ROOT/scripts/build_requires.py" | tr '\n' ' ')(pyproject's build requirement); pip builds in an isolated environment"
    isolation=()
fi
"$PYTHON" -m pip install --quiet --disable-pip-version-check --no-deps --no-compile \
    "${isolation[@]}" --target "$TARGET" "$ROOT"

rm -rf "$TARGET/bin"
# jedi's third-party stubs (typeshed/stubs: 4,300 files for requests, django, tensorflow, …) are
# never read for torch code; jedi skips a missing folder. They made the .vsix 5,900 files.
rm -rf "$TARGET/jedi/third_party/typeshed/stubs"
find "$TARGET" -name __pycache__ -type d -prune -exec rm -rf {} +
# Every file must be pure Python: a compiled extension would tie the .vsix to one platform.
if find "$TARGET" \( -name '*.so' -o -name '*.pyd' -o -name '*.dylib' \) | grep -q .; then
    echo "bundle_python_libs: compiled files found in $TARGET; the .vsix must stay universal" >&2
    exit 1
fi
echo "bundle_python_libs: $(du -sh "$TARGET" | cut -f1) in $TARGET"
