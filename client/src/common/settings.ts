import { ConfigurationScope, workspace } from 'vscode';

export const SECTION = 'gradguard';

export type ImportStrategy = 'useBundled' | 'fromEnvironment';
export type SeverityName = 'error' | 'warning' | 'info' | 'hint';
export type LogLevel = 'error' | 'warning' | 'info' | 'debug';

/** Everything the extension reads from `gradguard.*`. */
export interface ExtensionSettings {
    enable: boolean;
    interpreter: string[];
    importStrategy: ImportStrategy;
    select: string[];
    ignore: string[];
    severity: Record<string, SeverityName>;
    fixStyle: string;
    logLevel: LogLevel;
}

/**
 * The part the language server understands (camelCase keys, as in initializationOptions).
 * Only keys the user actually set are sent: an editor value wins over `[tool.gradguard]` in
 * pyproject.toml key by key, so sending defaults (an empty `select`) would override the project.
 */
export interface ServerSettings {
    select?: string[];
    ignore?: string[];
    severity?: Record<string, SeverityName>;
    fixStyle?: string;
    logLevel?: LogLevel;
}

/** Settings whose change needs a new server process. */
export const RESTART_SETTINGS = ['enable', 'interpreter', 'importStrategy'] as const;

function stringArray(value: unknown): string[] {
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/**
 * A setting that decides which program runs. In an untrusted workspace only the user's own
 * (global) value counts, so a cloned repository cannot point it at a binary of its choosing.
 * VS Code already does this for `restrictedConfigurations`; reading `inspect()` makes it explicit.
 */
function machineSetting<T>(key: string, fallback: T, scope?: ConfigurationScope): T {
    const config = workspace.getConfiguration(SECTION, scope);
    if (workspace.isTrusted) {
        return config.get<T>(key, fallback);
    }
    const inspected = config.inspect<T>(key);
    return inspected?.globalValue ?? inspected?.defaultValue ?? fallback;
}

export function readSettings(scope?: ConfigurationScope): ExtensionSettings {
    const config = workspace.getConfiguration(SECTION, scope);
    const strategy = machineSetting<string>('importStrategy', 'useBundled', scope);
    const severity = config.get<Record<string, SeverityName>>('severity', {});
    return {
        enable: config.get<boolean>('enable', true),
        interpreter: stringArray(machineSetting<unknown>('interpreter', [], scope)),
        importStrategy: strategy === 'fromEnvironment' ? 'fromEnvironment' : 'useBundled',
        select: stringArray(config.get('select', [])),
        ignore: stringArray(config.get('ignore', [])),
        severity: typeof severity === 'object' && severity !== null ? severity : {},
        fixStyle: config.get<string>('fixStyle', 'where'),
        logLevel: config.get<LogLevel>('logLevel', 'info'),
    };
}

/** Whether the user set `gradguard.<key>` anywhere (user, workspace or folder settings). */
function isSet(key: string, scope?: ConfigurationScope): boolean {
    const inspected = workspace.getConfiguration(SECTION, scope).inspect(key);
    return (
        inspected !== undefined &&
        [inspected.globalValue, inspected.workspaceValue, inspected.workspaceFolderValue].some(
            (value) => value !== undefined,
        )
    );
}

export function toServerSettings(settings: ExtensionSettings, scope?: ConfigurationScope): ServerSettings {
    const result: ServerSettings = {};
    if (settings.select.length > 0) {
        result.select = settings.select;
    }
    if (settings.ignore.length > 0) {
        result.ignore = settings.ignore;
    }
    if (Object.keys(settings.severity).length > 0) {
        result.severity = settings.severity;
    }
    if (isSet('fixStyle', scope)) {
        result.fixStyle = settings.fixStyle;
    }
    if (isSet('logLevel', scope)) {
        result.logLevel = settings.logLevel;
    }
    return result;
}
