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


INPLACE_MODULE_SOURCE = """\
import torch
from torch import nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 2)
        self.act = nn.Sigmoid()
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        out = self.act(self.fc(x))
        out = self.relu(out)
        return out


block = Block()
block(torch.ones(1, 2)).sum().backward()
"""


async def actions_at(
    client: LanguageClient, rng: types.Range, diags: list[types.Diagnostic]
) -> list[types.CodeAction]:
    result = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=URI),
            range=rng,
            context=types.CodeActionContext(diagnostics=diags),
        )
    )
    return [a for a in result or [] if a.kind == types.CodeActionKind.QuickFix]


def _span(source: str, line: int, needle: str) -> types.Range:
    column = source.splitlines()[line].index(needle)
    return types.Range(types.Position(line, column), types.Position(line, column + len(needle)))


async def test_inplace_module_fix_is_offered_on_the_call_and_on_the_flag(client: LanguageClient):
    """GG106 is reported on the call in forward; its fix (and a related place) is the
    module's `inplace=True`: the quick fix is offered at both, and either clears it."""
    source = INPLACE_MODULE_SOURCE
    open_doc(client, URI, source)
    [diag] = [d for d in await diagnostics(client, URI, 1) if d.code == "GG106"]
    assert diag.range == _span(source, 13, "self.relu(out)")
    flag = _span(source, 9, "inplace=True")
    created = [r for r in diag.related_information or [] if r.location.range.start.line == 9]
    assert created and created[0].location.uri == URI
    assert "inplace=True" in created[0].message

    at_call = await actions_at(client, diag.range, [diag])
    # The client sends no diagnostic for the flag's line (none overlaps it).
    at_flag = await actions_at(client, flag, [])
    cursor = types.Range(flag.end, flag.end)
    assert [a.title for a in at_call][:1] == ["Use `inplace=False`"]
    assert "Disable GG106 for this line" in [a.title for a in at_call]
    assert [a.title for a in at_flag] == ["Use `inplace=False`"]  # no noqa for another line
    assert [a.title for a in await actions_at(client, cursor, [])] == ["Use `inplace=False`"]
    assert list(at_flag[0].diagnostics or []) == [diag] and at_flag[0].is_preferred
    assert edits_of(at_flag[0].edit, URI) == edits_of(at_call[0].edit, URI)
    fixed = apply_edits(source, edits_of(at_flag[0].edit, URI), encoding_of(client))
    assert fixed.splitlines()[9] == "        self.relu = nn.ReLU(inplace=False)"
    # Elsewhere (another layer's line, the sigmoid that saved the tensor): nothing.
    assert await actions_at(client, _span(source, 7, "nn.Linear(2, 2)"), []) == []
    assert await actions_at(client, _span(source, 12, "self.act"), []) == []
    replace_all(client, URI, fixed, 2)
    assert [d for d in await diagnostics(client, URI, 2) if d.code == "GG106"] == []
