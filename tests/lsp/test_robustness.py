"""Hostile traffic: the server logs, answers what it can, and keeps serving."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from typing import Any

from lsprotocol import types
from pytest_lsp import LanguageClient

from .conftest import GG101_SOURCE, SERVER_COMMAND, TIMEOUT, diagnostics, open_doc, published

URI = "file:///tmp/gradguard_lsp_tests/hostile.py"


class RawServer:
    """The server over a pipe, fed raw bytes; replies collected by a reader thread."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            SERVER_COMMAND, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self.replies: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        stream = self.proc.stdout
        assert stream is not None
        while True:
            length = None
            while True:
                line = stream.readline()
                if not line:
                    return
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
                if line in (b"\r\n", b"\n"):
                    break
            assert length is not None
            self.replies.append(json.loads(stream.read(length)))

    def send_bytes(self, body: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def send(self, message: dict[str, Any]) -> None:
        self.send_bytes(json.dumps({"jsonrpc": "2.0", **message}).encode())

    def reply(self, msg_id: Any) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            for reply in self.replies:
                if reply.get("id") == msg_id and "method" not in reply:
                    return reply
            time.sleep(0.01)
        raise AssertionError(f"no reply to {msg_id!r}")

    def close(self) -> int:
        self.send({"id": "bye", "method": "shutdown"})
        self.reply("bye")
        self.send({"method": "exit"})
        return self.proc.wait(timeout=TIMEOUT)


def test_malformed_json_unknown_methods_and_bad_params_over_a_raw_pipe():
    server = RawServer()
    try:
        server.send(
            {
                "id": 1,
                "method": "initialize",
                "params": {"processId": None, "rootUri": None, "capabilities": {}},
            }
        )
        assert "capabilities" in server.reply(1)["result"]
        server.send({"method": "initialized", "params": {}})
        server.send_bytes(b"{this is not json")
        server.send_bytes(b"\xff\xfe\x00garbage")
        server.send_bytes(b"[" * 3000 + b"]" * 3000)
        server.send({"method": "$/unknownNotification", "params": {"x": 1}})
        server.send({"id": 2, "method": "custom/unknownRequest", "params": {}})
        assert server.reply(2)["error"]["code"] == -32601  # method not found
        server.send({"id": 3, "method": "textDocument/hover", "params": "not an object"})
        assert "error" in server.reply(3)
        server.send(
            {
                "id": 4,
                "method": "textDocument/hover",
                "params": {"textDocument": {"uri": URI}, "position": {"line": 0, "character": 0}},
            }
        )
        assert server.reply(4)["result"] is None  # unknown document: no hover, no error
        server.send(
            {
                "method": "textDocument/didOpen",
                "params": {
                    "textDocument": {
                        "uri": URI,
                        "languageId": "python",
                        "version": 1,
                        "text": GG101_SOURCE,
                    }
                },
            }
        )
        deadline = time.monotonic() + TIMEOUT
        while not any(
            r.get("method") == "textDocument/publishDiagnostics" and r["params"]["uri"] == URI
            for r in server.replies
        ):
            assert time.monotonic() < deadline, "no diagnostics after the hostile traffic"
            time.sleep(0.01)
        assert server.close() == 0
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
        server.proc.wait()
        for stream in (server.proc.stdin, server.proc.stdout, server.proc.stderr):
            if stream is not None:
                stream.close()


def _change(
    client: LanguageClient,
    uri: str,
    version: int,
    start: tuple[int, int],
    end: tuple[int, int],
    text: str,
) -> None:
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(types.Position(*start), types.Position(*end)), text=text
                )
            ],
        )
    )


async def still_serving(client: LanguageClient, uri: str = URI + ".ok.py") -> None:
    open_doc(client, uri, GG101_SOURCE)
    assert [d for d in await diagnostics(client, uri, 1) if d.code == "GG101"]


async def test_change_before_open_and_out_of_range_edits(client: LanguageClient):
    _change(client, URI, 5, (0, 0), (0, 0), "x")  # never opened
    open_doc(client, URI, "import torch\n")
    _change(client, URI, 2, (1000, 5), (2000, 0), "x = torch.zeros(3, requires_grad=True)\n")
    _change(client, URI, 3, (9, 99), (2, 0), "x.add_(1)\n")  # end before start
    diags = await diagnostics(client, URI, 3)
    assert [d.code for d in diags] == ["GG101"]
    result = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=URI),
            position=types.Position(10**6, 10**6),
        )
    )
    assert result is None
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=URI),
            range=types.Range(types.Position(10**6, 0), types.Position(0, 10**6)),
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    assert "source.fixAll.gradguard" in [a.kind for a in actions or []]
    client.text_document_did_close(
        types.DidCloseTextDocumentParams(
            text_document=types.TextDocumentIdentifier(uri=URI + ".never-opened")
        )
    )
    await still_serving(client)


async def test_nul_bytes_lone_surrogates_deep_nesting_and_a_large_file(client: LanguageClient):
    weird = "import torch\x00\ns = '\ud800 \udfff'\n" + GG101_SOURCE.split("\n", 1)[1]
    open_doc(client, URI, weird)
    assert [d.code for d in await diagnostics(client, URI, 1)] == ["GG101"]

    deep = URI + ".deep.py"
    open_doc(client, deep, "x = " + "(" * 3000 + "1" + ")" * 3000 + "\n")
    assert await diagnostics(client, deep, 1) == []

    await still_serving(client)


async def test_a_1mb_file_is_analysed_while_the_server_keeps_answering(vscode: LanguageClient):
    big = URI + ".big.py"
    row = "w = [" + ", ".join(str(i) for i in range(60)) + "]  # data\n"
    text = GG101_SOURCE + row * (1_000_000 // len(row) + 1)
    assert len(text) > 1_000_000
    open_doc(vscode, big, text)
    started = time.monotonic()
    await vscode.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=big), position=types.Position(2, 1)
        )
    )
    assert time.monotonic() - started < 5, "requests are answered while the analysis runs"
    assert [d.code for d in await published(vscode, big, 1)] == ["GG101"]
