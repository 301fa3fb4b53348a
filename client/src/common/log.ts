import { LogOutputChannel, window } from 'vscode';

/** The one "GradGuard" output channel: the client's own log and the server's stderr/trace. */
let channel: LogOutputChannel | undefined;

export function getLogChannel(): LogOutputChannel {
    if (!channel) {
        channel = window.createOutputChannel('GradGuard', { log: true });
    }
    return channel;
}

function format(message: string, error?: unknown): string {
    if (error === undefined) {
        return message;
    }
    const detail =
        error instanceof Error ? (error.stack ?? error.message) : typeof error === 'string' ? error : JSON.stringify(error);
    return `${message}: ${detail}`;
}

export function logInfo(message: string): void {
    getLogChannel().info(message);
}

export function logWarn(message: string): void {
    getLogChannel().warn(message);
}

export function logError(message: string, error?: unknown): void {
    getLogChannel().error(format(message, error));
}

export function showLog(): void {
    getLogChannel().show(true);
}
