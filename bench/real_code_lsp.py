"""As-you-type latency of ``gradguard server`` on real files inside their real projects.

    bash scripts/bench_setup.sh                      # once: the real code bases (bench/.corpora)
    .venv/bin/python bench/real_code_lsp.py          # ~5 minutes on a quiet machine
    .venv/bin/python bench/real_code_lsp.py --edits 10 --memory-edits 50   # quicker

A real LSP client (pygls) starts the server over stdio with the package's folder as the
workspace, opens a file of that package (ultralytics' detection training script and its
trainer, its model file ``nn/tasks.py``, timm's 3,000-line ``efficientnet.py``) and types:
each edit inserts a statement line (inside a function, or at module level) and the next one
deletes it again; the latency is from ``didChange`` to the first ``publishDiagnostics`` of that
version (its own findings) and to its last one (after the server logged the version's last
stage: workspace callers, jedi; each edit waits for it before the next).  Also: first diagnostics after didOpen on a fresh server, the server's resident
memory after ``--memory-edits`` edits spread over 5 open files, and the server's cache hit
rates (the ``gradguard/stats`` log line).  The anchor, measured in the same run, is
pyflakes checking the same file's text in-process (the cost of one plain parse-and-lint).
Targets (issue 15): p50 <= 20 ms, p95 <= 50 ms, first diagnostics <= 1 s, RSS <= 300 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import statistics
import sys
import time
import tokenize
from dataclasses import dataclass
from pathlib import Path

from lsprotocol import types

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpora import ensure_installed, package  # noqa: E402
from lsp_latency import (  # noqa: E402
    Session,
    open_doc,
    pct,
    rss_mb,
    start_server,
    stop_server,
    wait_final,
    wait_version,
)

TARGET_P50_MS = 20.0
TARGET_P95_MS = 50.0
TARGET_FIRST_S = 1.0
TARGET_RSS_MB = 300.0


@dataclass(frozen=True)
class RealFile:
    label: str
    project: str  # package under bench/.corpora: the workspace folder
    path: str  # inside the package


FILES = [
    RealFile(
        "ultralytics detect/train.py (training script)",
        "ultralytics",
        "models/yolo/detect/train.py",
    ),
    RealFile("ultralytics engine/trainer.py", "ultralytics", "engine/trainer.py"),
    RealFile("ultralytics nn/tasks.py (model file)", "ultralytics", "nn/tasks.py"),
    RealFile("timm models/efficientnet.py (3,000 lines)", "timm", "models/efficientnet.py"),
]
MEMORY_FILES = [
    *FILES,
    RealFile("ultralytics nn/modules/block.py", "ultralytics", "nn/modules/block.py"),
]


@dataclass(frozen=True)
class Site:
    line: int  # 0-based line before which a statement line is inserted
    indent: str
    in_function: bool


def edit_sites(text: str) -> list[Site]:
    """Places where a statement line can go: after a logical line, at the next one's indent."""
    tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    lines = text.split("\n")
    sites: list[Site] = []
    for i, tok in enumerate(tokens):
        if tok.type != tokenize.NEWLINE:
            continue
        start_line = lines[_logical_start(tokens, i) - 1].lstrip()
        if start_line.startswith("@"):
            continue
        nxt = next(
            (
                t
                for t in tokens[i + 1 :]
                if t.type
                not in (
                    tokenize.NL,
                    tokenize.COMMENT,
                    tokenize.INDENT,
                    tokenize.DEDENT,
                    tokenize.NEWLINE,
                )
            ),
            None,
        )
        if nxt is None or nxt.type == tokenize.ENDMARKER:
            continue
        if nxt.string in ("else", "elif", "except", "finally", "case"):
            continue
        row = nxt.start[0] - 1
        indent = lines[row][: nxt.start[1]]
        if indent.strip():
            continue
        sites.append(Site(row, indent, in_function=_in_function(lines, row, len(indent))))
    return sites


def _logical_start(tokens: list[tokenize.TokenInfo], newline: int) -> int:
    j = newline
    while j > 0 and tokens[j - 1].type not in (
        tokenize.NEWLINE,
        tokenize.INDENT,
        tokenize.DEDENT,
        tokenize.ENCODING,
    ):
        j -= 1
    return tokens[j].start[0]


def _in_function(lines: list[str], row: int, indent: int) -> bool:
    if indent == 0:
        return False
    for prev in range(row - 1, -1, -1):
        text = lines[prev]
        stripped = text.lstrip()
        if not stripped or stripped.startswith("#"):
            continue
        depth = len(text) - len(stripped)
        if depth < indent and stripped.startswith(("def ", "async def ")):
            return True
        if depth == 0:
            return False
    return False


def change(
    session: Session,
    uri: str,
    version: int,
    start: tuple[int, int],
    end: tuple[int, int],
    text: str,
) -> float:
    session.client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(types.Position(*start), types.Position(*end)), text=text
                )
            ],
        )
    )
    return time.perf_counter()


@dataclass
class Latencies:
    """Per edit, ms from ``didChange`` to the first and to the last publish of its version."""

    first: list[float]
    last: list[float]
    done: list[float]  # to the server's log of the version's last stage (published or not)
    unfinished: int = 0  # versions whose last stage did not arrive within the timeout


async def type_edits(
    session: Session,
    uri: str,
    sites: list[Site],
    edits: int,
    version: int,
    think: float,
    final: bool = False,
) -> tuple[Latencies, int]:
    """`edits` edits (insert a line, delete it again, next site); latencies in ms.  With
    `final`, each edit waits for its version's last stage (callers, jedi) before the next."""
    latencies = Latencies([], [], [])
    for n in range(edits):
        site = sites[(n // 2 * 7) % len(sites)]
        if n % 2 == 0:
            stmt = f"{site.indent}_gg_bench_{n} = {n}\n"
            sent = change(session, uri, version, (site.line, 0), (site.line, 0), stmt)
        else:
            sent = change(session, uri, version, (site.line, 0), (site.line + 1, 0), "")
        arrived = await wait_version(session, uri, version, timeout=120)
        latencies.first.append((arrived - sent) * 1000)
        if final:
            if not await wait_final(session, uri, version, timeout=120):
                latencies.unfinished += 1
            latencies.last.append((session.last_arrived[(uri, version)] - sent) * 1000)
            done = session.finished.get((uri, version))
            if done is not None:
                latencies.done.append((done - sent) * 1000)
        version += 1
        await asyncio.sleep(think)
    return latencies, version


def pyflakes_ms(text: str, path: str) -> float:
    """The anchor: pyflakes on the same text, in this process (best of 3)."""
    from pyflakes.api import check
    from pyflakes.reporter import Reporter

    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        check(text, path, Reporter(io.StringIO(), io.StringIO()))
        best = min(best, time.process_time() - start)
    return best * 1000


def fmt(values: list[float]) -> str:
    if not values:
        return "-"
    return (
        f"p50 {statistics.median(values):6.0f}  p95 {pct(values, 95):6.0f}  max {max(values):6.0f}"
    )


async def one_file(args: argparse.Namespace, real: RealFile) -> dict[str, float]:
    root = package(real.project)
    path = root / real.path
    text = path.read_text(encoding="utf-8")
    session = await start_server(root)
    uri = path.as_uri()
    open_doc(session, uri, text)
    sent = time.perf_counter()
    await wait_version(session, uri, 1, timeout=120)
    first = time.perf_counter() - sent
    opened_final = await wait_final(session, uri, 1, timeout=120)
    complete = session.last_arrived[(uri, 1)] - sent
    done = session.finished.get((uri, 1), time.perf_counter()) - sent
    await asyncio.sleep(args.settle)
    sites = edit_sites(text)
    inside = [s for s in sites if s.in_function]
    module = [s for s in sites if not s.in_function]
    run_in, version = await type_edits(session, uri, inside, args.edits, 2, args.think, True)
    run_mod, version = await type_edits(session, uri, module, args.edits, version, args.think, True)
    rss = rss_mb(session.pid)
    await stop_server(session)
    anchor = pyflakes_ms(text, str(path))
    lines = text.count("\n")
    lat_in, lat_mod = run_in.first, run_mod.first
    both = lat_in + lat_mod
    last = run_in.last + run_mod.last
    unfinished = run_in.unfinished + run_mod.unfinished
    print(
        f"{real.label}: {lines:,} lines, first diagnostics {first * 1000:.0f} ms (last publish "
        f"after open {complete * 1000:.0f} ms, last stage done {done * 1000:.0f} ms"
        f"{'' if opened_final else ', unfinished'}), "
        f"RSS {rss:.0f} MB"
    )
    print(f"    edits inside functions ({len(lat_in)}): first publish {fmt(lat_in)} ms")
    print(f"                                  last publish  {fmt(run_in.last)} ms")
    print(f"    edits at module level  ({len(lat_mod)}): first publish {fmt(lat_mod)} ms")
    print(f"                                  last publish  {fmt(run_mod.last)} ms")
    print(f"    all: last stage done {fmt(run_in.done + run_mod.done)} ms")
    print(
        f"    all: last publish {fmt(last)} ms"
        + (f" ({unfinished} versions unfinished after 120 s)" if unfinished else "")
    )
    p50, p95 = statistics.median(both), pct(both, 95)
    print(
        f"    all: p50 {p50:.0f} ms = {p50 / anchor:.1f}x pyflakes ({anchor:.0f} ms CPU on this "
        f"file); targets p50 <= {TARGET_P50_MS:.0f}: {'ok' if p50 <= TARGET_P50_MS else 'MISSED'}"
        f", p95 <= {TARGET_P95_MS:.0f}: {'ok' if p95 <= TARGET_P95_MS else 'MISSED'}, first <= "
        f"{TARGET_FIRST_S:.0f} s: {'ok' if first <= TARGET_FIRST_S else 'MISSED'}"
    )
    if session.stats:
        print(f"    cache hits/misses in the server: {session.stats[-1]}")
    return {"p50": p50, "p95": p95, "first": first, "rss": rss, "last_p50": statistics.median(last)}


def own_rss_mb(pid: int) -> float:
    """Resident memory of the process alone (not its children), in MB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def memory(args: argparse.Namespace) -> float:
    """Server RSS after `--memory-edits` edits spread over 5 open files of one workspace."""
    root = package("ultralytics").parent
    session = await start_server(root)
    docs = []
    for real in MEMORY_FILES:
        path = package(real.project) / real.path
        text = path.read_text(encoding="utf-8")
        open_doc(session, path.as_uri(), text)
        await wait_version(session, path.as_uri(), 1, timeout=120)
        docs.append((path.as_uri(), [s for s in edit_sites(text)], 2))
    per_doc = max(2, args.memory_edits // len(docs))
    trail = []
    for round_ in range(0, per_doc, 10):
        for i, (uri, sites, version) in enumerate(docs):
            _, version = await type_edits(session, uri, sites[round_:] or sites, 10, version, 0.02)
            docs[i] = (uri, sites, version)
        trail.append(rss_mb(session.pid))
    unfinished = 0
    for uri, _, version in docs:  # every document's last version, all stages done
        unfinished += not await wait_final(session, uri, version - 1, timeout=120)
    rss = rss_mb(session.pid)
    own = own_rss_mb(session.pid)
    await stop_server(session)
    if session.stats:
        print(f"    cache hits/misses in the server: {session.stats[-1]}")
    print(
        f"memory: {per_doc * len(docs)} edits over {len(docs)} open files, last stages done"
        f"{f' ({unfinished} unfinished)' if unfinished else ''}: RSS {rss:.0f} MB (the server "
        f"{own:.0f}, its helper processes {rss - own:.0f}; peak while typing {max(trail):.0f}; "
        f"target <= {TARGET_RSS_MB:.0f}: {'ok' if rss <= TARGET_RSS_MB else 'MISSED'})"
    )
    return rss


async def run(args: argparse.Namespace) -> int:
    print(f"load average at start: {os.getloadavg()[0]:.2f} (cores: {os.cpu_count()})")
    for real in FILES:
        if args.file and not any(f in real.path for f in args.file):
            continue
        await one_file(args, real)
    if args.memory_edits:
        await memory(args)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--edits", type=int, default=20, help="edits per kind and file")
    parser.add_argument("--memory-edits", type=int, default=200)
    parser.add_argument("--think", type=float, default=0.15, help="pause between edits, s")
    parser.add_argument("--settle", type=float, default=3.0, help="pause after opening, s")
    parser.add_argument("--file", action="append", help="only files whose path contains this")
    args = parser.parse_args(argv)
    ensure_installed()
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
