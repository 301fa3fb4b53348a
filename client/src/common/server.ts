import * as fs from 'node:fs';
import * as path from 'node:path';
import {
    CodeAction,
    CodeActionKind,
    commands,
    Disposable,
    ExtensionContext,
    Range,
    TextDocument,
    workspace,
} from 'vscode';
import {
    DidChangeConfigurationNotification,
    Executable,
    LanguageClient,
    LanguageClientOptions,
    RevealOutputChannelOn,
    State,
    StaticFeature,
    Trace,
} from 'vscode-languageclient/node';
import { getLogChannel, logError, logInfo, logWarn } from './log';
import { askForInterpreter, isSupported, MIN_PYTHON, probePython, resolveInterpreter } from './python';
import { ExtensionSettings, readSettings, SECTION, toServerSettings } from './settings';
import { ServerStatus } from './status';

export const SERVER_MODULE = 'gradguard.lsp';
export const FIX_ALL_KIND = CodeActionKind.SourceFixAll.append('gradguard');

/** Python files on disk, untitled Python buffers and Python notebook cells. */
export const DOCUMENT_SELECTOR = [
    { scheme: 'file', language: 'python' },
    { scheme: 'untitled', language: 'python' },
    { scheme: 'vscode-notebook-cell', language: 'python' },
];

function traceSetting(): Trace {
    return Trace.fromString(workspace.getConfiguration(SECTION).get<string>('trace.server', 'off'));
}

function workingDirectory(): string {
    const folder = workspace.workspaceFolders?.[0];
    return folder?.uri.scheme === 'file' ? folder.uri.fsPath : process.cwd();
}

/** The environment of the server process; `useBundled` puts the shipped libraries first. */
export function serverEnvironment(context: ExtensionContext, settings: ExtensionSettings): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env, PYTHONUNBUFFERED: '1' };
    if (settings.importStrategy === 'useBundled') {
        const libs = path.join(context.extensionPath, 'bundled', 'libs');
        if (fs.existsSync(libs)) {
            env.PYTHONPATH = [libs, process.env.PYTHONPATH].filter(Boolean).join(path.delimiter);
        } else {
            logWarn(`No bundled libraries at ${libs}: using the gradguard installed in the interpreter.`);
        }
    }
    return env;
}

/**
 * vscode-languageclient 9 never pulls diagnostics for notebook cells (it pulls only for documents
 * open in a text tab; microsoft/vscode-languageserver-node#1464). Not advertising pull makes the
 * server push diagnostics, which VS Code shows for files and notebook cells alike.
 */
const pushDiagnosticsOnly: StaticFeature = {
    fillClientCapabilities(capabilities) {
        delete capabilities.textDocument?.diagnostic;
        delete capabilities.workspace?.diagnostics;
    },
    initialize() {},
    getState: () => ({ kind: 'static' }),
    clear() {},
};

/** Owns the language client: start, stop, restart (serialised), settings, fix-all. */
export class GradGuardServer implements Disposable {
    private client: LanguageClient | undefined;
    private clientDisposables: Disposable[] = [];
    private queue: Promise<void> = Promise.resolve();

    constructor(
        private readonly context: ExtensionContext,
        private readonly status: ServerStatus,
    ) {}

    /** Stops any running server and starts a new one; calls never overlap. */
    restart(): Promise<void> {
        this.queue = this.queue.then(
            () => this.doRestart(),
            () => this.doRestart(),
        );
        return this.queue;
    }

    private async doRestart(): Promise<void> {
        await this.stop();
        const settings = readSettings();
        if (!settings.enable) {
            this.status.set('disabled', 'gradguard.enable is off');
            logInfo('GradGuard is disabled (gradguard.enable).');
            return;
        }
        this.status.set('starting', 'starting');
        const interpreter = await resolveInterpreter(settings.interpreter);
        const env = serverEnvironment(this.context, settings);
        logInfo(`Interpreter (${interpreter.source}): ${interpreter.command.join(' ')}`);

        let pythonLabel: string;
        try {
            const probe = await probePython(interpreter.command, env);
            pythonLabel = `Python ${probe.version.join('.')}, ${probe.executable}`;
            logInfo(pythonLabel);
            if (!isSupported(probe.version)) {
                this.status.set('error', `${pythonLabel} is too old`);
                void askForInterpreter(
                    `${probe.executable} is Python ${probe.version.join('.')}; ` +
                        `GradGuard needs Python ${MIN_PYTHON.join('.')} or newer.`,
                );
                return;
            }
            if (!probe.hasGradguard) {
                this.status.set('error', `gradguard is not importable in ${probe.executable}`);
                void askForInterpreter(
                    `gradguard is not installed in ${probe.executable}. ` +
                        'Run "pip install gradguard" there, or set gradguard.importStrategy to useBundled.',
                );
                return;
            }
        } catch (error) {
            const message = error instanceof Error ? error.message : String(error);
            this.status.set('error', message);
            void askForInterpreter(`no usable Python (${message}).`);
            return;
        }

        const executable: Executable = {
            command: interpreter.command[0],
            args: [...interpreter.command.slice(1), '-m', SERVER_MODULE],
            options: { cwd: workingDirectory(), env },
        };
        const clientOptions: LanguageClientOptions = {
            documentSelector: DOCUMENT_SELECTOR,
            outputChannel: getLogChannel(),
            traceOutputChannel: getLogChannel(),
            revealOutputChannelOn: RevealOutputChannelOn.Never,
            initializationOptions: toServerSettings(settings),
            middleware: {
                workspace: {
                    // The server asks for section "gradguard": answer with the keys the user set,
                    // not VS Code's merged defaults (they would override pyproject.toml).
                    configuration: (params, token, next) => {
                        const forServer = toServerSettings(readSettings());
                        return params.items.some((item) => item.section === SECTION)
                            ? params.items.map((item) => (item.section === SECTION ? forServer : null))
                            : next(params, token);
                    },
                },
            },
        };
        const client = new LanguageClient(SECTION, 'GradGuard', executable, clientOptions);
        client.registerFeature(pushDiagnosticsOnly);
        this.clientDisposables.push(
            client.onDidChangeState((event) => {
                if (event.newState === State.Running) {
                    this.status.set('ready', pythonLabel);
                } else if (event.newState === State.Starting) {
                    this.status.set('starting', pythonLabel);
                } else if (this.client === client) {
                    this.status.set('error', `server stopped; ${pythonLabel}`);
                }
            }),
        );
        this.client = client;
        try {
            await client.start();
            await client.setTrace(traceSetting());
            logInfo(`Server started: ${[executable.command, ...(executable.args ?? [])].join(' ')}`);
        } catch (error) {
            logError('The language server failed to start', error);
            this.status.set('error', `server failed to start; ${pythonLabel}`);
        }
    }

    async stop(): Promise<void> {
        const client = this.client;
        this.client = undefined;
        for (const disposable of this.clientDisposables) {
            disposable.dispose();
        }
        this.clientDisposables = [];
        if (client) {
            try {
                await client.stop(5_000);
            } catch (error) {
                logError('Stopping the server failed', error);
            }
        }
    }

    /** Sends changed rule settings to the running server, no restart. */
    async sendSettings(): Promise<void> {
        const client = this.client;
        if (!client || client.state !== State.Running) {
            return;
        }
        const gradguard = toServerSettings(readSettings());
        await client.sendNotification(DidChangeConfigurationNotification.type, { settings: { gradguard } });
        await client.setTrace(traceSetting());
    }

    /** Applies the server's `source.fixAll.gradguard` action to the document. */
    async fixAll(document: TextDocument): Promise<boolean> {
        const fullRange = new Range(0, 0, document.lineCount, 0);
        const actions = await commands.executeCommand<CodeAction[]>(
            'vscode.executeCodeActionProvider',
            document.uri,
            fullRange,
            FIX_ALL_KIND.value,
            1,
        );
        const fixAll = actions?.find((action) => action.kind && FIX_ALL_KIND.contains(action.kind));
        if (!fixAll) {
            return false;
        }
        if (fixAll.edit) {
            await workspace.applyEdit(fixAll.edit);
        }
        if (fixAll.command) {
            await commands.executeCommand(fixAll.command.command, ...((fixAll.command.arguments ?? []) as unknown[]));
        }
        return true;
    }

    dispose(): void {
        void this.stop();
    }
}
