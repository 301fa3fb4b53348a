import {
    commands,
    ExtensionContext,
    NotebookCellKind,
    NotebookEditor,
    TextDocument,
    window,
    workspace,
} from 'vscode';
import { logError, logInfo, showLog } from './common/log';
import { initializePythonExtension, onDidChangeInterpreter } from './common/python';
import { GradGuardServer } from './common/server';
import { RESTART_SETTINGS, SECTION } from './common/settings';
import { ServerStatus } from './common/status';
import { TRACE_COMMAND, traceFile } from './common/trace';

let server: GradGuardServer | undefined;

export async function activate(context: ExtensionContext): Promise<void> {
    const status = new ServerStatus();
    server = new GradGuardServer(context, status);
    const running = server;
    context.subscriptions.push(
        status,
        running,
        commands.registerCommand('gradguard.showLog', showLog),
        commands.registerCommand('gradguard.restart', () => running.restart()),
        commands.registerCommand(TRACE_COMMAND, () => traceFile(context)),
        commands.registerCommand('gradguard.fixAll', async () => {
            // In a notebook the server's fix-all covers every cell, whichever cell asks.
            const document = window.activeTextEditor?.document ?? firstPythonCell(window.activeNotebookEditor);
            if (!document || document.languageId !== 'python') {
                void window.showInformationMessage('GradGuard: open a Python file to fix.');
                return;
            }
            if (!(await running.fixAll(document))) {
                void window.showInformationMessage('GradGuard: nothing to fix.');
            }
        }),
        workspace.onDidChangeConfiguration((event) => {
            if (RESTART_SETTINGS.some((key) => event.affectsConfiguration(`${SECTION}.${key}`))) {
                void running.restart();
            } else if (event.affectsConfiguration(SECTION)) {
                running.sendSettings().catch((error: unknown) => logError('Sending settings failed', error));
            }
        }),
        workspace.onDidGrantWorkspaceTrust(() => void running.restart()),
        onDidChangeInterpreter(() => void running.restart()),
    );
    logInfo(`GradGuard ${(context.extension.packageJSON as { version: string }).version} activating.`);
    await initializePythonExtension(context.subscriptions);
    await running.restart();
}

/** The first Python code cell of a notebook editor (when no cell editor has the focus). */
function firstPythonCell(editor: NotebookEditor | undefined): TextDocument | undefined {
    return editor?.notebook
        .getCells()
        .find((cell) => cell.kind === NotebookCellKind.Code && cell.document.languageId === 'python')?.document;
}

export async function deactivate(): Promise<void> {
    await server?.stop();
}
