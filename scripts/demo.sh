#!/usr/bin/env bash
# Set up, then lint the bundled examples/ and show the fixes as a diff (nothing is written).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 2
echo "== gradguard check examples/"
.venv/bin/gradguard check examples/
rc=$?
[ "$rc" -le 1 ] || exit "$rc"
echo
echo "== gradguard check examples/ --diff --unsafe-fixes   (what --fix would change)"
.venv/bin/gradguard check examples/ --diff --unsafe-fixes
rc=$?
[ "$rc" -le 1 ] || exit "$rc"
exit 0
