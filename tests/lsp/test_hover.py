"""Hover on a flagged operation, and on a code inside a # noqa comment."""

from __future__ import annotations

from lsprotocol import types
from pytest_lsp import LanguageClient

from gradguard.rules import get_rule

from .conftest import GG101_SOURCE, diagnostics, open_doc

URI = "file:///tmp/gradguard_lsp_tests/hover.py"


async def hover(client: LanguageClient, line: int, character: int) -> types.Hover | None:
    return await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=URI),
            position=types.Position(line, character),
        )
    )


async def test_hover_on_flagged_operation_explains(client: LanguageClient):
    open_doc(client, URI, GG101_SOURCE)
    [diag] = [d for d in await diagnostics(client, URI, 1) if d.code == "GG101"]
    result = await hover(client, diag.range.start.line, diag.range.start.character + 1)
    assert result is not None
    text = result.contents.value
    assert "GG101" in text
    assert "a leaf Variable that requires grad is being used in an in-place operation" in text
    for fix in diag.data["fixes"]:
        assert fix["title"] in text
    assert await hover(client, 0, 2) is None, "nothing flagged on `import torch`"


async def test_hover_on_noqa_code_shows_rule_docs(client: LanguageClient):
    source = GG101_SOURCE.replace("x.add_(1)\n", "x.add_(1)  # noqa: GG102, GG101\n")
    open_doc(client, URI, source)
    await diagnostics(client, URI, 1)
    column = source.splitlines()[2].index("GG101") + 2
    result = await hover(client, 2, column)
    rule = get_rule("GG101")
    assert rule is not None
    assert result is not None and rule.docs.strip()[:40] in result.contents.value
    assert "GG101" in result.contents.value


async def test_hover_on_the_inplace_flag_names_the_call(client: LanguageClient):
    """GG106 on `self.relu(out)`: the hover there names the `inplace=True`; the hover on
    the `inplace=True` names the call's line — both say the same finding and fix."""
    from .test_code_actions import INPLACE_MODULE_SOURCE as source

    open_doc(client, URI, source)
    [diag] = [d for d in await diagnostics(client, URI, 1) if d.code == "GG106"]
    assert diag.range.start.line == 13
    on_call = await hover(client, 13, diag.range.start.character + 2)
    assert on_call is not None
    assert "line 10: the module is created here with `inplace=True`" in on_call.contents.value
    column = source.splitlines()[9].index("inplace=True") + 3
    on_flag = await hover(client, 9, column)
    assert on_flag is not None
    text = on_flag.contents.value
    assert text.startswith("GG106 is reported on line 14; its fix edits here.")
    assert diag.message in text and "Use `inplace=False`" in text
    assert on_flag.range is not None and on_flag.range.start.line == 9
    assert await hover(client, 7, source.splitlines()[7].index("Linear")) is None
