import { execFile } from 'node:child_process';
import { PythonExtension } from '@vscode/python-extension';
import { commands, Disposable, Event, EventEmitter, extensions, Uri, window } from 'vscode';
import { logError, logInfo, logWarn } from './log';

export const MIN_PYTHON: readonly [number, number] = [3, 10];
const PYTHON_EXTENSION_ID = 'ms-python.python';
/** Windows installs `python` (and the `py` launcher), not `python3`. */
const DEFAULT_PYTHON = process.platform === 'win32' ? 'python' : 'python3';

export type InterpreterSource = 'python extension' | 'gradguard.interpreter' | 'default';

/** The command that starts Python, and where it came from. */
export interface Interpreter {
    command: string[];
    source: InterpreterSource;
}

/** What a probe run of the interpreter reports. */
export interface PythonProbe {
    executable: string;
    version: [number, number, number];
    hasGradguard: boolean;
}

const interpreterChanged = new EventEmitter<void>();
/** Fires when the Python extension's selected interpreter changes. */
export const onDidChangeInterpreter: Event<void> = interpreterChanged.event;

let pythonApi: PythonExtension | undefined;

/** Hooks into the Python extension when it is installed; GradGuard works without it. */
export async function initializePythonExtension(disposables: Disposable[]): Promise<void> {
    if (!extensions.getExtension(PYTHON_EXTENSION_ID)) {
        logInfo('Python extension not installed: using gradguard.interpreter or python3.');
        return;
    }
    try {
        pythonApi = await PythonExtension.api();
        await pythonApi.ready;
        disposables.push(
            pythonApi.environments.onDidChangeActiveEnvironmentPath((event) => {
                logInfo(`Python extension selected ${event.path}`);
                interpreterChanged.fire();
            }),
        );
    } catch (error) {
        pythonApi = undefined;
        logError('Could not use the Python extension API', error);
    }
}

async function fromPythonExtension(resource?: Uri): Promise<string[] | undefined> {
    if (!pythonApi) {
        return undefined;
    }
    try {
        const envPath = pythonApi.environments.getActiveEnvironmentPath(resource);
        const env = await pythonApi.environments.resolveEnvironment(envPath);
        const executable = env?.executable.uri?.fsPath;
        return executable ? [executable] : undefined;
    } catch (error) {
        logError('The Python extension could not resolve the active environment', error);
        return undefined;
    }
}

/** `gradguard.interpreter` when set, else the Python extension's interpreter, else `python3` (`python` on Windows). */
export async function resolveInterpreter(setting: string[], resource?: Uri): Promise<Interpreter> {
    if (setting.length > 0 && setting[0].trim() !== '') {
        return { command: setting, source: 'gradguard.interpreter' };
    }
    const selected = await fromPythonExtension(resource);
    if (selected) {
        return { command: selected, source: 'python extension' };
    }
    return { command: [DEFAULT_PYTHON], source: 'default' };
}

const PROBE_SCRIPT = [
    'import importlib.util, json, sys',
    'print(json.dumps({"executable": sys.executable, "version": list(sys.version_info[:3]),',
    ' "hasGradguard": importlib.util.find_spec("gradguard") is not None}))',
].join('\n');

/** Runs the interpreter once (with the server's environment) to learn its version. */
export function probePython(command: string[], env: NodeJS.ProcessEnv): Promise<PythonProbe> {
    return new Promise((resolve, reject) => {
        execFile(
            command[0],
            [...command.slice(1), '-c', PROBE_SCRIPT],
            { env, timeout: 20_000, windowsHide: true },
            (error, stdout, stderr) => {
                if (error) {
                    const code = (error as NodeJS.ErrnoException).code;
                    const reason = code === 'ENOENT' ? 'not found' : (stderr.trim() || error.message);
                    reject(new Error(`cannot run ${command.join(' ')}: ${reason}`));
                    return;
                }
                try {
                    const lines = stdout.trim().split('\n');
                    resolve(JSON.parse(lines[lines.length - 1]) as PythonProbe);
                } catch {
                    reject(new Error(`unexpected output from ${command.join(' ')}: ${stdout.trim()}`));
                }
            },
        );
    });
}

export function isSupported(version: readonly number[]): boolean {
    const [major, minor] = version;
    return major > MIN_PYTHON[0] || (major === MIN_PYTHON[0] && minor >= MIN_PYTHON[1]);
}

/** A notification with a button to pick another interpreter; never throws. */
export async function askForInterpreter(message: string): Promise<void> {
    logWarn(message);
    const select = 'Select Interpreter';
    const log = 'Show Log';
    const choice = await window.showErrorMessage(`GradGuard: ${message}`, select, log);
    if (choice === select) {
        if (pythonApi) {
            await commands.executeCommand('python.setInterpreter');
        } else {
            await commands.executeCommand('workbench.action.openSettings', 'gradguard.interpreter');
        }
    } else if (choice === log) {
        await commands.executeCommand('gradguard.showLog');
    }
}
