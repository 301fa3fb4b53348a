// Every DOM selector the e2e tests use (VS Code 1.139 workbench, code-server 4.139.1), in one
// place: when the workbench DOM moves, this is the only file to change.

export const SEL = {
    workbench: '.monaco-workbench',
    statusBar: '#workbench\\.parts\\.statusbar',
    /** Our status bar item: its accessible label starts with "GradGuard: <state>". */
    statusItem: '#workbench\\.parts\\.statusbar [aria-label^="GradGuard: "]',
    quickInput: '.quick-input-widget',
    quickInputBox: '.quick-input-widget .quick-input-box input',
    quickInputRow: '.quick-input-widget .monaco-list-row',
    editor: '.editor-instance .monaco-editor',
    editorLines: '.editor-instance .monaco-editor .view-lines',
    editorInput: '.editor-instance .monaco-editor textarea.inputarea, .editor-instance .monaco-editor .native-edit-context',
    squiggleError: '.monaco-editor .squiggly-error',
    squiggleAny: '.monaco-editor [class*="squiggly-"]',
    hover: '.monaco-hover:not(.hidden)',
    hoverContent: '.monaco-hover:not(.hidden) .hover-contents, .monaco-hover:not(.hidden) .marker.hover-contents',
    actionWidget: '.action-widget:not(.action-list-submenu-panel)',
    actionRow: '.action-widget:not(.action-list-submenu-panel) .monaco-list-row.action',
    notificationToast: '.notifications-toasts .notification-toast',
    notificationButton: '.notifications-toasts .notification-toast .monaco-button',
    notebookCellEditor: '.notebookOverlay .cell-editor-container .monaco-editor',
    notebookSquiggleError: '.notebookOverlay .cell-editor-container .squiggly-error',
    dirtyTab: '.tabs-container .tab.dirty',
    tab: '.tabs-container .tab',
    activeTab: '.tabs-container .tab.active',
    /** A tab whose label says "• N problems in this file" (the workbench's problem decoration). */
    tabWithProblems: '.tabs-container .tab .monaco-icon-label[aria-label*="problem"]',
};

/** Monaco renders spaces as U+00A0; compare text with this. */
export function normalizeText(text) {
    return text.replace(/\u00a0/g, ' ');
}
