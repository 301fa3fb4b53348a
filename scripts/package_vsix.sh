#!/usr/bin/env bash
# Builds gradguard-<version>.vsix at the repository root: the esbuild bundle, the bundled Python
# libraries, manifest, README, LICENSE and icon, staged in build/vsix so vsce never walks the
# repository's large ignored folders (.venv, .cache, node_modules).
#
#   npm run package        # = esbuild --production, then this script
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STAGE="$ROOT/build/vsix"
VERSION="$(node -p "require('$ROOT/package.json').version")"
OUT="$ROOT/gradguard-$VERSION.vsix"

[[ -f "$ROOT/dist/extension.js" ]] || { echo "package_vsix: run 'npm run build' first" >&2; exit 2; }

bash "$ROOT/scripts/bundle_python_libs.sh" 2> >(grep -v "WARNING: Location\|BuildBackendWarning\|^  " >&2)

rm -rf "$STAGE"
mkdir -p "$STAGE/dist" "$STAGE/bundled" "$STAGE/docs"
cp "$ROOT/package.json" "$ROOT/README.md" "$ROOT/LICENSE" "$ROOT/icon.png" "$ROOT/.vscodeignore" "$STAGE/"
cp "$ROOT/dist/extension.js" "$STAGE/dist/"
cp -r "$ROOT/bundled/libs" "$STAGE/bundled/libs"
if [[ -d "$ROOT/docs/images" ]]; then cp -r "$ROOT/docs/images" "$STAGE/docs/images"; fi

rm -f "$OUT"
# --allow-package-all-secrets: vsce's secret scan takes minutes over jedi's ~5,000 typeshed stubs;
# the stage holds only our bundle and published wheels.
(cd "$STAGE" && "$ROOT/node_modules/.bin/vsce" package --no-dependencies --allow-package-all-secrets \
    --out "$OUT") > "$ROOT/build/vsce.log" 2>&1 || { cat "$ROOT/build/vsce.log" >&2; exit 1; }
grep -E "DONE|WARNING" "$ROOT/build/vsce.log" | grep -v "consists of" || true
echo "package_vsix: $OUT ($(du -h "$OUT" | cut -f1))"
