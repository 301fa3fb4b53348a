"""Write docs/rules/GGxxx.md per rule and docs/rules/README.md from gradguard.rules.

python scripts/gen_rule_docs.py           # (re)write the docs
python scripts/gen_rule_docs.py --check   # exit 1 if the committed docs are stale
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "server"))

from gradguard.output.rule_docs import index_markdown, rule_markdown  # noqa: E402
from gradguard.rules import all_rules  # noqa: E402

DOCS = ROOT / "docs" / "rules"


README = ROOT / "README.md"
BEGIN, END = "<!-- section:rules -->", "<!-- /section:rules -->"


def readme_with_rules(rules) -> str:
    """README.md with its rules section rebuilt from the rules (the table, linked to docs/)."""
    text = README.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        return text
    rows = [
        "## Rules",
        "",
        "Codes are stable. Select, ignore and re-grade them in `[tool.gradguard]`, with CLI",
        "flags or editor settings; `gradguard rule GG105` prints a rule's page.",
        "",
        "| code | name | default severity | summary |",
        "|---|---|---|---|",
    ]
    for rule in rules:
        summary = rule.summary.replace("|", "\\|").replace("\n", " ").strip()
        rows.append(
            f"| [{rule.code}](docs/rules/{rule.code}.md) | {rule.name} | "
            f"{rule.severity.label} | {summary} |"
        )
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return head + BEGIN + "\n" + "\n".join(rows) + "\n" + END + tail


def expected_files() -> dict[Path, str]:
    rules = all_rules()
    files = {DOCS / f"{rule.code}.md": rule_markdown(rule) for rule in rules}
    files[DOCS / "README.md"] = index_markdown(rules)
    files[README] = readme_with_rules(rules)
    return files


def stale(files: dict[Path, str]) -> list[str]:
    problems = []
    for path, text in files.items():
        if not path.is_file():
            problems.append(f"{path.relative_to(ROOT)}: missing")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"{path.relative_to(ROOT)}: out of date")
    known = set(files)
    for path in sorted(DOCS.glob("GG*.md")):
        if path not in known:
            problems.append(f"{path.relative_to(ROOT)}: no such rule any more")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the committed docs are stale")
    args = parser.parse_args(argv)
    files = expected_files()
    if args.check:
        problems = stale(files)
        for line in problems:
            print(line, file=sys.stderr)
        if problems:
            print("run: python scripts/gen_rule_docs.py", file=sys.stderr)
            return 1
        print(f"docs/rules is up to date ({len(files) - 2} rules)")
        return 0
    DOCS.mkdir(parents=True, exist_ok=True)
    for path in sorted(DOCS.glob("GG*.md")):
        if path not in files:
            path.unlink()
    written = 0
    for path, text in files.items():
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            written += 1
    print(
        f"wrote {written} file(s) in {DOCS.relative_to(ROOT)} and README.md ({len(files) - 2} rules)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
