"""``gradguard server``: the language server (pygls 2 + lsprotocol).

    gradguard server                 # stdio (the default)
    gradguard server --tcp 127.0.0.1:2087
    python -m gradguard.lsp --log-level debug

This module holds the server's state and wiring; each LSP concern lives in its own module
(documents, notebooks, diagnostics, code_actions, hover, settings) and registers its
handlers through ``register(ls)``.  The engine never sees LSP types: ``convert`` sits at
the edge.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import sys
from collections.abc import Generator
from dataclasses import replace
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.exceptions import (
    FeatureNotificationError,
    FeatureRequestError,
    JsonRpcException,
    JsonRpcInternalError,
)
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol, lsp_method

from .. import __version__, gc_tuning
from ..failures import LOG_MARKER, reason_of
from . import code_actions, diagnostics, documents, hover, notebooks, settings
from .convert import UTF16, negotiate_encoding
from .diagnostics import DiagnosticsHub, TextPayload, run_stage
from .documents import DocumentStore, uri_to_path
from .notebooks import NotebookStore
from .scheduler import Job, Outcome, Scheduler
from .settings import SettingsResolver

log = logging.getLogger("gradguard.lsp")

LOG_LEVELS = {
    "error": logging.ERROR,
    "warning": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
}
PYTHON_SUFFIXES = (".py", ".pyi")


class _Dropped:
    """A message that could not be read; already answered with an error if it was a request."""

    jsonrpc = None


DROPPED = _Dropped()


class GradguardProtocol(LanguageServerProtocol):
    """pygls' protocol with our own document sync (no pygls workspace bookkeeping), our
    capability adjustments after ``initialize``, and an answer for unreadable requests."""

    def _user(self, method: str, params: Any) -> Generator[Any, Any, None]:
        if (handler := self.fm.features.get(method)) is not None:
            yield handler, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(self, params: Any) -> Generator[Any, Any, None]:
        yield from self._user(types.TEXT_DOCUMENT_DID_OPEN, params)

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: Any) -> Generator[Any, Any, None]:
        yield from self._user(types.TEXT_DOCUMENT_DID_CHANGE, params)

    @lsp_method(types.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(self, params: Any) -> Generator[Any, Any, None]:
        yield from self._user(types.TEXT_DOCUMENT_DID_CLOSE, params)

    @lsp_method(types.NOTEBOOK_DOCUMENT_DID_OPEN)
    def lsp_notebook_document__did_open(self, params: Any) -> Generator[Any, Any, None]:
        yield from self._user(types.NOTEBOOK_DOCUMENT_DID_OPEN, params)

    @lsp_method(types.NOTEBOOK_DOCUMENT_DID_CHANGE)
    def lsp_notebook_document__did_change(self, params: Any) -> Generator[Any, Any, None]:
        yield from self._user(types.NOTEBOOK_DOCUMENT_DID_CHANGE, params)

    @lsp_method(types.NOTEBOOK_DOCUMENT_DID_CLOSE)
    def lsp_notebook_document__did_close(self, params: Any) -> Generator[Any, Any, None]:
        yield from self._user(types.NOTEBOOK_DOCUMENT_DID_CLOSE, params)

    @lsp_method(types.INITIALIZE)
    def lsp_initialize(self, params: types.InitializeParams) -> Generator[Any, Any, Any]:
        result = yield from super().lsp_initialize(params)
        server = self._server
        assert isinstance(server, GradguardServer)
        server.adjust_capabilities(result.capabilities)
        return result

    def structure_message(self, data: dict[str, Any]) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            method = data.get("method")
            if "id" in data and method is not None:
                log.warning(
                    "invalid %s request (id %r): answered with an error", method, data.get("id")
                )
                error = exc.to_response_error()
                error.message = f"invalid parameters for {method}"
                self._send_response(data["id"], error=error)
            else:
                log.warning("unreadable %s message: ignored", method or "JSON-RPC")
            return DROPPED

    def handle_message(self, message: Any) -> None:
        if message is DROPPED:
            return
        if not hasattr(message, "jsonrpc"):
            log.warning("not a JSON-RPC message: ignored")
            return
        super().handle_message(message)


class LspLogHandler(logging.Handler):
    """Forwards gradguard's log records to the client's log (window/logMessage)."""

    TYPES = {
        logging.ERROR: types.MessageType.Error,
        logging.WARNING: types.MessageType.Warning,
        logging.INFO: types.MessageType.Info,
        logging.DEBUG: types.MessageType.Log,
    }

    def __init__(self, server: GradguardServer) -> None:
        super().__init__()
        self.server = server

    def emit(self, record: logging.LogRecord) -> None:
        loop = self.server.loop
        if loop is None or loop.is_closed():
            return
        try:
            message = self.format(record)
        except Exception:
            return
        kind = self.TYPES.get(
            record.levelno,
            types.MessageType.Error if record.levelno > 40 else types.MessageType.Log,
        )
        params = types.LogMessageParams(type=kind, message=message)
        try:
            loop.call_soon_threadsafe(self.server.window_log_message, params)
        except RuntimeError:
            pass


def prepare_engine() -> None:
    """Import the analysis and load its tables (the first check pays for them otherwise)."""
    from .. import engine

    engine.check("import torch\nx = torch.zeros(1, requires_grad=True)\nx.add_(1)\n")
    gc.freeze()  # modules and tables stay: spare them the collector's full passes


class GradguardServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__(
            "gradguard",
            __version__,
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
            notebook_document_sync=types.NotebookDocumentSyncOptions(
                notebook_selector=[
                    types.NotebookDocumentFilterWithCells(
                        notebook="*", cells=[types.NotebookCellLanguage(language="python")]
                    )
                ]
            ),
            protocol_cls=GradguardProtocol,
        )
        self.encoding = UTF16
        self.documents = DocumentStore(self.encoding)
        self.notebooks = NotebookStore(self.documents)
        self.settings = SettingsResolver(report=self._report_setting_problem)
        self.diagnostics = DiagnosticsHub(self)
        self.scheduler: Scheduler | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.pull_mode = False
        self.supports_resolve_edit = False
        self.supports_document_changes = False
        self.supports_refresh = False
        self.init_options: dict[str, Any] = {}
        self.client_config: dict[str, Any] = {}
        self.default_log_level = "warning"
        self._reporting = False
        self._log_handler = LspLogHandler(self)
        self._log_handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))

    # -- initialize ----------------------------------------------------------------------
    def setup(self, params: types.InitializeParams) -> None:
        """Read the client's capabilities and options; start the analysis lanes."""
        self.loop = asyncio.get_running_loop()
        caps = params.capabilities
        text = caps.text_document
        self.encoding = negotiate_encoding(caps)
        self.documents.encoding = self.encoding
        self.pull_mode = text is not None and text.diagnostic is not None
        resolve = text.code_action.resolve_support if text and text.code_action else None
        self.supports_resolve_edit = resolve is not None and "edit" in (resolve.properties or [])
        ws = caps.workspace
        self.supports_document_changes = bool(
            ws and ws.workspace_edit and ws.workspace_edit.document_changes
        )
        self.supports_refresh = bool(ws and ws.diagnostics and ws.diagnostics.refresh_support)
        self.init_options = settings.editor_section(params.initialization_options)
        self.settings.set_editor(self.init_options)
        self.apply_log_level()
        jedi_on = self.settings.resolve(None).settings.jedi
        self.scheduler = self._make_scheduler(jedi_on)
        log.info(
            "initialized: encoding %s, %s diagnostics, jedi %s",
            self.encoding,
            "pull" if self.pull_mode else "push",
            "on" if jedi_on else "off",
        )

    def _make_scheduler(self, jedi_on: bool) -> Scheduler:
        loop = self.loop
        assert loop is not None

        def deliver(outcome: Outcome) -> None:
            try:
                loop.call_soon_threadsafe(self.diagnostics.accept, outcome)
            except RuntimeError:  # loop closed: shutting down
                pass

        warm_up = None
        if jedi_on:
            from ..analysis import jedi_types

            warm_up = jedi_types.warm_up
        return Scheduler(
            lambda job, stage, carry: run_stage(job, stage, carry, self.encoding),
            deliver,
            warm_up=warm_up,
            prepare=prepare_engine,
        )

    def adjust_capabilities(self, caps: types.ServerCapabilities) -> None:
        caps.position_encoding = self.encoding
        if not self.pull_mode:
            caps.diagnostic_provider = None  # push only: never both for one client
        provider = caps.code_action_provider
        if isinstance(provider, types.CodeActionOptions) and not self.supports_resolve_edit:
            provider.resolve_provider = False

    # -- logging -------------------------------------------------------------------------
    def apply_log_level(self) -> None:
        name = self.settings.log_level or self.default_log_level
        level = LOG_LEVELS.get(name, logging.WARNING)
        stderr_level = LOG_LEVELS.get(self.default_log_level, logging.WARNING)
        root = logging.getLogger("gradguard")
        # The editor's logLevel is for its log window; stderr keeps the --log-level
        # (a client that does not drain stderr must never block the server).
        root.setLevel(min(level, stderr_level))
        self._log_handler.setLevel(level)
        if self._log_handler not in root.handlers:
            root.addHandler(self._log_handler)

    def _report_setting_problem(self, message: str) -> None:
        log.warning("%s", message)
        self.window_show_message(
            types.ShowMessageParams(type=types.MessageType.Warning, message=f"gradguard: {message}")
        )

    def report_server_error(self, error: Exception, source: Any) -> None:
        """Log protocol-level problems (malformed JSON, failing handlers) instead of popping
        up messages; the server keeps serving."""
        if self._reporting:
            return
        self._reporting = True
        try:
            name = getattr(source, "__name__", source)
            log.debug("%s", name, exc_info=error)
            ours = isinstance(error, JsonRpcInternalError) and source in (
                FeatureRequestError,
                FeatureNotificationError,
            )  # an exception escaped one of our handlers (not a bad message from the client)
            if ours:
                log.error("%s: %s: %s", LOG_MARKER, name, reason_of(error))
            else:
                log.error("%s: %s", name, error)
        finally:
            self._reporting = False

    # -- client helpers ------------------------------------------------------------------
    def workspace_edit(
        self, uri: str, version: int | None, edits: list[types.TextEdit]
    ) -> types.WorkspaceEdit:
        if self.supports_document_changes:
            return types.WorkspaceEdit(
                document_changes=[
                    types.TextDocumentEdit(
                        text_document=types.OptionalVersionedTextDocumentIdentifier(
                            uri=uri, version=version
                        ),
                        edits=list(edits),
                    )
                ]
            )
        return types.WorkspaceEdit(changes={uri: list(edits)})

    def workspace_edits(
        self, changes: list[tuple[str, int | None, list[types.TextEdit]]]
    ) -> types.WorkspaceEdit:
        """One edit over several documents (e.g. the cells of a notebook)."""
        if self.supports_document_changes:
            return types.WorkspaceEdit(
                document_changes=[
                    types.TextDocumentEdit(
                        text_document=types.OptionalVersionedTextDocumentIdentifier(
                            uri=uri, version=version
                        ),
                        edits=list(edits),
                    )
                    for uri, version, edits in changes
                ]
            )
        return types.WorkspaceEdit(changes={uri: list(edits) for uri, _, edits in changes})

    def request_diagnostic_refresh(self) -> None:
        if self.pull_mode and self.supports_refresh:
            self.workspace_diagnostic_refresh(None)

    # -- scheduling ----------------------------------------------------------------------
    def is_python(self, doc: documents.Document) -> bool:
        if doc.language_id in ("python", ""):
            return True
        return (doc.path or doc.uri).endswith(PYTHON_SUFFIXES)

    def workspace_folders(self) -> list[Path]:
        """The workspace's folders (the root URI and every workspace folder), as paths."""
        try:
            workspace = self.workspace
        except RuntimeError:  # not initialized
            return []
        uris = [workspace.root_uri] + list(workspace.folders)
        paths = [uri_to_path(uri) for uri in uris if uri]
        return [Path(p) for p in paths if p]

    def workspace_of(self, path: str | None) -> str | None:
        """The deepest workspace folder holding `path` (where its callers are looked for)."""
        if path is None:
            return None
        absolute = Path(path).resolve()
        holders = [f.resolve() for f in self.workspace_folders()]
        holders = [f for f in holders if absolute.is_relative_to(f)]
        best = max(holders, key=lambda f: len(f.parts), default=None)
        return str(best) if best is not None else None

    def is_excluded(self, path: str | None, resolved: settings.ResolvedSettings) -> bool:
        """The CLI's matcher: patterns relative to the pyproject.toml's folder, else to the
        deepest workspace folder holding the file; a file outside both is never excluded."""
        if path is None:
            return False
        absolute = Path(path).resolve()
        base = resolved.root
        if base is None:
            holders = [f.resolve() for f in self.workspace_folders()]
            holders = [f for f in holders if absolute.is_relative_to(f)]
            base = max(holders, key=lambda f: len(f.parts), default=None)
        return base is not None and resolved.settings.is_excluded(absolute, base)

    def schedule(self, uri: str, *, immediate: bool = False, recheck: bool = False) -> None:
        """Analyse a document's current text: an edit (the fast lane first), or with
        ``recheck`` an unchanged document some file it uses changed (the background lane)."""
        doc = self.documents.get(uri)
        if doc is None or self.scheduler is None:
            return
        if doc.notebook_uri is not None:
            if not recheck:
                self.schedule_notebook(doc.notebook_uri, immediate=immediate)
            return
        if not self.is_python(doc):  # nothing to analyse: answer pulls at once
            self.diagnostics.store_empty(uri, doc.version)
            return
        before = self.settings.generation
        resolved = self.settings.resolve(doc.path)
        if self.settings.generation != before:  # a pyproject.toml changed on disk
            self.reanalyse_all()
            return
        excluded = self.is_excluded(doc.path, resolved)
        # The engine (and jedi) get the absolute path; per-file-ignores match its tail.
        others = tuple(
            (other.path, other.text)
            for other in self.documents.all()
            if other.path is not None and other.uri != uri and other.notebook_uri is None
        )
        workspace = self.workspace_of(doc.path)
        payload = TextPayload(uri, doc.text, doc.path or doc.uri, excluded, others, workspace)
        job = Job(
            uri,
            doc.version,
            self.settings.generation,
            resolved.settings,
            payload,
            callers=workspace is not None and not excluded,
        )
        if recheck:
            self.scheduler.recheck(job)
        else:
            self.scheduler.submit(job, immediate=immediate)

    def schedule_dependents(self, uri: str) -> None:
        """An edit in `uri` may change what its open callers find: re-check them."""
        doc = self.documents.get(uri)
        if doc is None or doc.path is None:
            return
        for dependent in self.diagnostics.cross.dependents(doc.path):
            if dependent != uri and dependent in self.documents:
                self.schedule(dependent, recheck=True)

    def schedule_notebook(self, uri: str, *, immediate: bool = False) -> None:
        notebook = self.notebooks.get(uri)
        if notebook is None or self.scheduler is None:
            return
        before = self.settings.generation
        resolved = self.settings.resolve(notebook.path if notebook.path != uri else None)
        if self.settings.generation != before:
            self.reanalyse_all()
            return
        snapshot = self.notebooks.snapshot(notebook)
        if notebook.path != uri and self.is_excluded(notebook.path, resolved):
            snapshot = replace(snapshot, excluded=True)
        job = Job(uri, notebook.revision, self.settings.generation, resolved.settings, snapshot)
        self.scheduler.submit(job, immediate=immediate)

    def reanalyse_all(self) -> None:
        for notebook in self.notebooks.all():
            self.schedule_notebook(notebook.uri, immediate=True)
        for doc in self.documents.all():
            if doc.notebook_uri is None:
                self.schedule(doc.uri, immediate=True)
        self.request_diagnostic_refresh()

    def stop_analysis(self) -> None:
        from ..analysis import jedi_types

        jedi_types.shutdown()
        if self.scheduler is not None:
            self.scheduler.shutdown()


def create_server() -> GradguardServer:
    ls = GradguardServer()

    @ls.feature(types.INITIALIZE)
    def initialize(params: types.InitializeParams) -> None:
        ls.setup(params)

    @ls.feature(types.SHUTDOWN)
    def shutdown(params: Any) -> None:
        ls.stop_analysis()

    documents.register(ls)
    notebooks.register(ls)
    diagnostics.register(ls)
    code_actions.register(ls)
    hover.register(ls)
    settings.register(ls)
    return ls


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="gradguard server",
        description="Run the gradguard language server (stdio unless --tcp is given).",
    )
    transport = parser.add_mutually_exclusive_group()
    transport.add_argument(
        "--stdio", action="store_true", help="talk LSP over stdin/stdout (the default)"
    )
    transport.add_argument("--tcp", metavar="HOST:PORT", help="listen on a TCP socket instead")
    parser.add_argument(
        "--log-level",
        choices=sorted(LOG_LEVELS),
        default="warning",
        help="what the server logs to stderr and to the client's log",
    )
    args = parser.parse_args(argv)
    if args.tcp is not None:
        host, sep, port = args.tcp.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            parser.error(f"--tcp expects HOST:PORT (e.g. 127.0.0.1:2087), got {args.tcp!r}")
        args.host, args.port = host.strip("[]"), int(port)
    return args


def main(argv: list[str] | None = None) -> int:
    if argv is None:  # the server's own process
        gc_tuning.tune()
    try:
        args = parse_args(argv)
    except SystemExit as exc:  # argparse: usage errors (2) and --help (0)
        return int(exc.code or 0)
    level = LOG_LEVELS[args.log_level]
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("gradguard").setLevel(level)
    # pygls logs every message it sends at INFO: keep it quiet unless debugging.
    pygls_level = logging.DEBUG if level <= logging.DEBUG else logging.WARNING
    logging.getLogger("pygls").setLevel(pygls_level)
    ls = create_server()
    ls.default_log_level = args.log_level
    try:
        if args.tcp is not None:
            ls.start_tcp(args.host, args.port)
        else:
            stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
            sys.stdout = sys.stderr  # a stray print() must not corrupt the protocol stream
            ls.start_io(stdin, stdout)
    except KeyboardInterrupt:
        pass
    finally:
        ls.stop_analysis()
    return 0
