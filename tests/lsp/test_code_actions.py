"""Quick fixes from Diagnostic.data, the noqa action, and source.fixAll.gradguard."""

from __future__ import annotations

import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities

from .conftest import (
    CONFIG,
    GG101_SOURCE,
    apply_edits,
    diagnostics,
    edits_of,
    encoding_of,
    finish,
    open_doc,
    replace_all,
    start,
)

URI = "file:///tmp/gradguard_lsp_tests/actions.py"


async def code_actions(
    client: LanguageClient, diags: list[types.Diagnostic], only: list[str] | None = None
) -> list[types.CodeAction]:
    rng = diags[0].range if diags else types.Range(types.Position(0, 0), types.Position(0, 0))
    result = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=URI),
            range=rng,
            context=types.CodeActionContext(diagnostics=diags, only=only),
        )
    )
    return list(result or [])


async def gg101_of(client: LanguageClient, version: int) -> list[types.Diagnostic]:
    return [d for d in await diagnostics(client, URI, version) if d.code == "GG101"]


async def test_quickfixes_preferred_first_then_noqa(client: LanguageClient):
    open_doc(client, URI, GG101_SOURCE)
    [diag] = await gg101_of(client, 1)
    actions = await code_actions(client, [diag])
    quick = [a for a in actions if a.kind == types.CodeActionKind.QuickFix]
    assert len(quick) == len(diag.data["fixes"]) + 1
    assert quick[0].is_preferred is True
    assert [a.is_preferred for a in quick[1:]].count(True) == 0
    assert quick[-1].title == "Disable GG101 for this line"
    for action, fix in zip(
        quick, sorted(diag.data["fixes"], key=lambda f: not f["preferred"]), strict=False
    ):
        assert action.title == fix["title"]
        assert list(action.diagnostics) == [diag]


async def test_preferred_quickfix_applied_clears_the_diagnostic(client: LanguageClient):
    open_doc(client, URI, GG101_SOURCE)
    [diag] = await gg101_of(client, 1)
    actions = await code_actions(client, [diag])
    [preferred] = [a for a in actions if a.is_preferred]
    fixed = apply_edits(GG101_SOURCE, edits_of(preferred.edit, URI), encoding_of(client))
    assert fixed != GG101_SOURCE
    replace_all(client, URI, fixed, 2)
    assert await gg101_of(client, 2) == []


async def test_noqa_action_silences_the_line(client: LanguageClient):
    open_doc(client, URI, GG101_SOURCE)
    [diag] = await gg101_of(client, 1)
    [noqa] = [a for a in await code_actions(client, [diag]) if a.title.startswith("Disable")]
    text = apply_edits(GG101_SOURCE, edits_of(noqa.edit, URI), encoding_of(client))
    assert text.splitlines()[2].endswith("# noqa: GG101")
    replace_all(client, URI, text, 2)
    assert await gg101_of(client, 2) == []


async def test_actions_for_a_stale_version_are_not_offered(client: LanguageClient):
    open_doc(client, URI, GG101_SOURCE)
    [diag] = await gg101_of(client, 1)
    replace_all(client, URI, "\n\n" + GG101_SOURCE, 2)
    await diagnostics(client, URI, 2)
    quick = [a for a in await code_actions(client, [diag]) if a.kind == "quickfix"]
    assert quick == [], "edits computed for version 1 would land in the wrong place"


async def test_neovim_empty_context_still_gets_quickfixes(neovim: LanguageClient):
    open_doc(neovim, URI, GG101_SOURCE)
    [diag] = [d for d in await diagnostics(neovim, URI, 1) if d.code == "GG101"]
    result = await neovim.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=URI),
            range=diag.range,
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    assert any(a.is_preferred for a in result or [])


def fix_all_expected(diag: types.Diagnostic) -> bool:
    return any(f["applicability"] == "safe" for f in diag.data["fixes"])


async def test_fix_all_applies_every_safe_fix(client: LanguageClient):
    source = GG101_SOURCE + "y = torch.ones(2, requires_grad=True)\ny.add_(2)\n"
    open_doc(client, URI, source)
    diags = await gg101_of(client, 1)
    assert len(diags) == 2
    actions = await code_actions(client, diags, only=["source.fixAll"])
    if not any(fix_all_expected(d) for d in diags):
        assert actions == []
        return
    [action] = actions
    assert action.kind == "source.fixAll.gradguard"
    if action.edit is None:  # the client supports codeAction/resolve: the edit comes now
        action = await client.code_action_resolve_async(action)
    fixed = apply_edits(source, edits_of(action.edit, URI), encoding_of(client))
    replace_all(client, URI, fixed, 2)
    left = await gg101_of(client, 2)
    assert not any(fix_all_expected(d) for d in left)
    assert len(left) < len(diags)


async def test_only_quickfix_does_not_compute_fix_all(client: LanguageClient):
    open_doc(client, URI, GG101_SOURCE)
    [diag] = await gg101_of(client, 1)
    actions = await code_actions(client, [diag], only=["quickfix"])
    assert actions and all(a.kind == "quickfix" for a in actions)


@pytest_lsp.fixture(config=CONFIG)
async def emacs(lsp_client: LanguageClient):
    await start(lsp_client, client_capabilities("emacs"))
    yield
    await finish(lsp_client)


async def test_client_without_resolve_gets_the_fix_all_edit_at_once(emacs: LanguageClient):
    assert emacs.server_capabilities.code_action_provider.resolve_provider is False
    assert encoding_of(emacs) == "utf-8"  # offered utf-32, utf-8, utf-16: UTF-8 wins
    open_doc(emacs, URI, GG101_SOURCE)
    [diag] = [d for d in await diagnostics(emacs, URI, 1) if d.code == "GG101"]
    assert fix_all_expected(diag)
    [action] = await code_actions(emacs, [diag], only=["source.fixAll.gradguard"])
    assert action.edit is not None
    fixed = apply_edits(GG101_SOURCE, edits_of(action.edit, URI), encoding_of(emacs))
    replace_all(emacs, URI, fixed, 2)
    assert await gg101_of(emacs, 2) == []
