import { Disposable, StatusBarAlignment, StatusBarItem, ThemeColor, window } from 'vscode';

export type ServerState = 'starting' | 'ready' | 'error' | 'disabled';

const ICONS: Record<ServerState, string> = {
    starting: '$(loading~spin)',
    ready: '$(check)',
    error: '$(error)',
    disabled: '$(circle-slash)',
};

/** The status bar item: server state and which Python runs it; a click opens the log. */
export class ServerStatus implements Disposable {
    private readonly item: StatusBarItem;

    constructor() {
        this.item = window.createStatusBarItem('gradguard.status', StatusBarAlignment.Right, 100);
        this.item.name = 'GradGuard';
        this.item.command = 'gradguard.showLog';
        this.set('starting', 'starting');
        this.item.show();
    }

    set(state: ServerState, detail: string): void {
        const label = `GradGuard: ${state}${detail && detail !== state ? ` (${detail})` : ''}`;
        this.item.text = `${ICONS[state]} GradGuard`;
        this.item.tooltip = `${label}\nClick to show the log.`;
        this.item.accessibilityInformation = { label };
        this.item.backgroundColor =
            state === 'error' ? new ThemeColor('statusBarItem.errorBackground') : undefined;
    }

    dispose(): void {
        this.item.dispose();
    }
}
