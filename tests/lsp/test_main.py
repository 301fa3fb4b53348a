"""The command line of the server (stdio / --tcp / usage errors) and the scheduler."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time

from gradguard.config import Settings
from gradguard.lsp.scheduler import Job, Outcome, Scheduler, Step
from gradguard.lsp.server import main


def test_usage_errors_exit_2_and_help_exits_0(capsys):
    assert main(["--tcp", "no-port"]) == 2
    assert main(["--tcp", "127.0.0.1:99999"]) == 2
    assert main(["--stdio", "--tcp", "127.0.0.1:2087"]) == 2
    assert "HOST:PORT" in capsys.readouterr().err
    assert main(["--help"]) == 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _frame(message: dict) -> bytes:
    body = json.dumps({"jsonrpc": "2.0", **message}).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def _read(conn: socket.socket) -> dict:
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(4096)
    head, _, rest = data.partition(b"\r\n\r\n")
    length = int(head.split(b"Content-Length:")[1].split(b"\r\n")[0])
    while len(rest) < length:
        rest += conn.recv(4096)
    return json.loads(rest[:length])


def test_tcp_transport_answers_initialize():
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gradguard.lsp", "--tcp", f"127.0.0.1:{port}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                conn = socket.create_connection(("127.0.0.1", port), timeout=30)
                break
            except OSError:
                assert time.monotonic() < deadline, "the server never listened"
                time.sleep(0.1)
        with conn:
            conn.sendall(
                _frame(
                    {
                        "id": 1,
                        "method": "initialize",
                        "params": {"processId": None, "rootUri": None, "capabilities": {}},
                    }
                )
            )
            reply = _read(conn)
            assert reply["id"] == 1
            assert reply["result"]["serverInfo"]["name"] == "gradguard"
            assert reply["result"]["capabilities"]["positionEncoding"] == "utf-16"
            conn.sendall(_frame({"id": 2, "method": "shutdown"}))
            assert _read(conn)["id"] == 2
            conn.sendall(_frame({"method": "exit"}))
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def test_scheduler_analyses_the_newest_version_and_drops_the_rest():
    started = threading.Event()
    release = threading.Event()
    seen: list[int] = []
    delivered: list[Outcome] = []

    def runner(job: Job, stage: int, carry: object) -> Step:
        seen.append(job.version)
        started.set()
        release.wait(10)
        return Step(job.version)

    scheduler = Scheduler(runner, delivered.append, debounce=0.05)
    try:

        def job(version: int) -> Job:
            return Job("file:///a.py", version, 0, Settings(), None)

        scheduler.submit(job(1))  # leading edge: runs at once
        assert started.wait(10)
        for version in range(2, 8):  # a burst while version 1 is analysed
            scheduler.submit(job(version))
        assert scheduler.stale(job(1))
        release.set()
        deadline = time.monotonic() + 10
        while len(delivered) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert seen == [1, 7]
        assert [o.result for o in delivered] == [1, 7]
        assert not any(o.refined for o in delivered)  # jedi off in these settings
    finally:
        scheduler.shutdown()
