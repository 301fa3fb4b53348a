import * as path from 'node:path';
import { ExtensionContext, Uri, window, workspace } from 'vscode';
import { logInfo } from './log';
import { resolveInterpreter } from './python';
import { serverEnvironment } from './server';
import { readSettings } from './settings';

export const TRACE_COMMAND = 'gradguard.traceFile';
const TERMINAL_NAME = 'GradGuard trace';

/** Quotes one argument for the terminal's shell (POSIX shells; PowerShell/cmd on Windows). */
export function shellQuote(arg: string, windows = process.platform === 'win32'): string {
    if (/^[\w@%+=:,./-]+$/.test(arg)) {
        return arg;
    }
    if (windows) {
        return `"${arg.replace(/"/g, '""')}"`;
    }
    return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** The command line: `<python> -m gradguard trace <file>`, quoted for the shell. */
export function traceCommandLine(python: string[], file: string, windows = process.platform === 'win32'): string {
    const words = [...python, '-m', 'gradguard', 'trace', file].map((w) => shellQuote(w, windows));
    // PowerShell needs `&` to run a quoted program path.
    return windows && words[0].startsWith('"') ? `& ${words.join(' ')}` : words.join(' ');
}

/**
 * "GradGuard: Trace current file": save the file, then run it under `gradguard trace` in a
 * terminal, with the interpreter the server uses. The report lands in the workspace folder's
 * `.gradguard/trace.json`, which the server watches and shows as "gradguard (runtime)"
 * diagnostics. Running the file is running code: not offered in an untrusted workspace.
 */
export async function traceFile(context: ExtensionContext): Promise<void> {
    const editor = window.activeTextEditor;
    const document = editor?.document;
    if (!document || document.languageId !== 'python' || document.uri.scheme !== 'file') {
        void window.showInformationMessage('GradGuard: open a Python file (saved on disk) to trace.');
        return;
    }
    if (!workspace.isTrusted) {
        void window.showWarningMessage('GradGuard: tracing runs the file; trust this workspace first.');
        return;
    }
    if (document.isDirty && !(await document.save())) {
        return;
    }
    const settings = readSettings(document.uri);
    const interpreter = await resolveInterpreter(settings.interpreter, document.uri);
    const env = serverEnvironment(context, settings);
    const folder = workspace.getWorkspaceFolder(document.uri);
    const cwd = folder?.uri.scheme === 'file' ? folder.uri.fsPath : path.dirname(document.uri.fsPath);
    const commandLine = traceCommandLine(interpreter.command, document.uri.fsPath);
    logInfo(`Trace (${interpreter.source}) in ${cwd}: ${commandLine}`);
    window.terminals.find((t) => t.name === TERMINAL_NAME)?.dispose();
    const terminal = window.createTerminal({
        name: TERMINAL_NAME,
        cwd: Uri.file(cwd),
        env: env.PYTHONPATH ? { PYTHONPATH: env.PYTHONPATH } : undefined,
    });
    terminal.show();
    terminal.sendText(commandLine);
}
