#!/usr/bin/env bash
# Builds gradguard-<version>.vsix at the repository root: the esbuild bundle, the bundled Python
# libraries, manifest, the marketplace README (client/README.md), CHANGELOG, LICENSE and icon,
# staged in build/vsix so vsce never walks the repository's large ignored folders (.venv, .cache,
# node_modules). vsce rewrites the README's relative links and images to the repository's URLs,
# so docs/images need not travel in the package. Any vsce WARNING fails the build.
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
mkdir -p "$STAGE/dist" "$STAGE/bundled"
cp "$ROOT/package.json" "$ROOT/CHANGELOG.md" "$ROOT/LICENSE" "$ROOT/icon.png" "$ROOT/.vscodeignore" "$STAGE/"
cp "$ROOT/client/README.md" "$STAGE/README.md"
cp "$ROOT/dist/extension.js" "$STAGE/dist/"
cp -r "$ROOT/bundled/libs" "$STAGE/bundled/libs"

rm -f "$OUT"
# --allow-package-all-secrets: vsce's secret scan takes minutes over jedi's ~5,000 typeshed stubs;
# the stage holds only our bundle and published wheels.
(cd "$STAGE" && "$ROOT/node_modules/.bin/vsce" package --no-dependencies --allow-package-all-secrets \
    --out "$OUT") > "$ROOT/build/vsce.log" 2>&1 || { cat "$ROOT/build/vsce.log" >&2; exit 1; }
if grep -q "WARNING" "$ROOT/build/vsce.log"; then
    cat "$ROOT/build/vsce.log" >&2
    echo "package_vsix: vsce warned (see above); fix it rather than ship it" >&2
    exit 1
fi
grep -E "DONE" "$ROOT/build/vsce.log" || true
echo "package_vsix: $OUT ($(du -h "$OUT" | cut -f1))"
