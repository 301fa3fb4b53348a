"""Fill in ``fixed=`` for rule examples that lack it: the text the engine's fix gives.

    .venv/bin/python scripts/fill_fixed_texts.py

Only ``Invalid`` examples without a ``fixed=`` argument are touched (a stated text is never
overwritten): review the diff, it is what ``tests/test_rule_examples.py`` then holds the
engine to.  An example whose diagnostic offers no fix is left without one.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "server"))

from gradguard.engine import apply_fixes, check_source  # noqa: E402
from gradguard.rules import RULE_MODULES  # noqa: E402
from gradguard.rules.base import Invalid  # noqa: E402

OPEN, CLOSE = "        Invalid(", "        ),"


def fixed_text(code: str, example: Invalid) -> str | None:
    diags = [
        d
        for d in check_source(example.code)
        if d.code == code and d.range.start.line + 1 == example.line
    ]
    if not diags:
        raise SystemExit(f"{code}: no diagnostic on line {example.line}")
    fixes = diags[0].fixes
    if example.fix:
        fixes = tuple(f for f in fixes if example.fix.lower() in f.title.lower())
        fix = fixes[0] if fixes else None
    else:
        fix = diags[0].preferred_fix
    if fix is None:
        return None
    text, applied = apply_fixes(example.code, [fix])
    if applied != 1 or '"""' in text or "\\" in text or not text.endswith("\n"):
        raise SystemExit(f"{code}: cannot write this fixed text as a plain literal:\n{text}")
    return text


def main() -> int:
    for name in RULE_MODULES:
        module = importlib.import_module(f"gradguard.rules.{name}")
        path = Path(module.__file__ or "")
        lines = path.read_text(encoding="utf-8").split("\n")
        starts = [i for i, line in enumerate(lines) if line == OPEN]
        if len(starts) != len(module.RULE.invalid):
            raise SystemExit(f"{path}: expected one `{OPEN.strip()}` line per example")
        inserts = []
        for start, example in zip(starts, module.RULE.invalid, strict=True):
            end = next(j for j in range(start + 1, len(lines)) if lines[j] == CLOSE)
            if example.fixed is not None:
                continue
            text = fixed_text(module.RULE.code, example)
            if text is not None:
                block = ['            fixed="""\\', *text[:-1].split("\n"), '""",']
                inserts.append((end, block))
        for end, block in reversed(inserts):
            lines[end:end] = block
        if inserts:
            path.write_text("\n".join(lines), encoding="utf-8")
            print(f"{path}: {len(inserts)} fixed text(s) added")
    return 0


if __name__ == "__main__":
    sys.exit(main())
