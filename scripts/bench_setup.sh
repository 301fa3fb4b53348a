#!/usr/bin/env bash
# Real code bases for the benchmarks (pyproject's `bench-corpora` extra), as source only:
# `pip install --no-deps --target bench/.corpora` (their dependencies would pull another torch;
# the benchmarks only read their text). Each package is then a project of its own, whose files
# import each other as in a checkout of that repository. Idempotent.
#   bash scripts/setup.sh --dev && bash scripts/bench_setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."
target=bench/.corpora
reqs=$(.venv/bin/python - <<'PY'
try:
    import tomllib
except ImportError:  # Python 3.10: tomli comes with gradguard
    import tomli as tomllib
with open("pyproject.toml", "rb") as f:
    print(" ".join(tomllib.load(f)["project"]["optional-dependencies"]["bench-corpora"]))
PY
)
stamp="$target/.stamp"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$reqs" ]; then
  exit 0
fi
rm -rf "$target"
# shellcheck disable=SC2086 # one word per requirement
.venv/bin/python -m pip install --quiet --no-deps --no-compile --target "$target" $reqs
echo "$reqs" > "$stamp"
