"""Columns in the negotiated encoding, with Japanese text, emoji and tabs on the line."""

from __future__ import annotations

from lsprotocol import types
from pytest_lsp import LanguageClient

from gradguard import model
from gradguard.lsp.convert import UTF8, UTF16, UTF32, TextIndex, negotiate_encoding

from .conftest import apply_edits, diagnostics, edits_of, encoding_of, open_doc

URI = "file:///tmp/gradguard_lsp_tests/unicode.py"
PREFIX = 's = "日本語😀"; '
SOURCE = f"import torch\nx = torch.zeros(3, requires_grad=True)\n{PREFIX}x.add_(1)  # 😀\n"


def test_negotiation_prefers_utf8_then_utf32_else_utf16():
    def caps(*encs: str) -> types.ClientCapabilities:
        return types.ClientCapabilities(
            general=types.GeneralClientCapabilities(position_encodings=list(encs))
        )

    assert negotiate_encoding(caps("utf-16", "utf-8")) == UTF8
    assert negotiate_encoding(caps("utf-32", "utf-16")) == UTF32
    assert negotiate_encoding(caps()) == UTF16
    assert negotiate_encoding(types.ClientCapabilities()) == UTF16


def test_text_index_round_trips_in_every_encoding():
    text = 'a = "日本"\n\tb = "😀x"\r\nc\rlast'
    for encoding, col_after_emoji in ((UTF16, 8), (UTF8, 10), (UTF32, 7)):
        index = TextIndex(text, encoding)
        point = model.Position(1, 7)  # just after the emoji on the tab-indented line
        client = index.position_to_client(point)
        assert client == types.Position(1, col_after_emoji)
        assert index.position_from_client(client) == point
    index = TextIndex(text, UTF16)
    assert index.line(2) == "c" and index.line(3) == "last"
    # Out of range and inside a surrogate pair clamp instead of raising.
    assert index.position_from_client(types.Position(99, 0)) == model.Position(3, 4)
    assert index.position_from_client(types.Position(1, 999)) == model.Position(1, 9)
    assert index.position_from_client(types.Position(1, 7)) == model.Position(1, 7)


async def test_diagnostic_columns_and_fix_edits_use_the_client_encoding(client: LanguageClient):
    open_doc(client, URI, SOURCE)
    [diag] = [d for d in await diagnostics(client, URI, 1) if d.code == "GG101"]
    encoding = encoding_of(client)
    expected = TextIndex(SOURCE, encoding).position_to_client(model.Position(2, len(PREFIX)))
    assert diag.range.start == expected
    assert expected.character != len(PREFIX)  # the test would not notice a code-point column
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=URI),
            range=diag.range,
            context=types.CodeActionContext(diagnostics=[diag]),
        )
    )
    [noqa] = [a for a in actions or [] if a.title.startswith("Disable")]
    fixed = apply_edits(SOURCE, edits_of(noqa.edit, URI), encoding)
    assert fixed.splitlines()[2].startswith(PREFIX + "x.add_(1)")
    assert "GG101" in fixed.splitlines()[2]
