// End-to-end tests of the packaged extension in a real VS Code (code-server 4.139.1) driven
// through Debian's Chromium. Run: scripts/e2e.sh (installs, builds, packages, then runs this
// file with `node --test`). Each test starts its own code-server from a fresh profile.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { execFile } from 'node:child_process';
import { runPython, Session, TIMEOUT, VENV_PYTHON } from './harness.mjs';
import { normalizeText, SEL } from './selectors.mjs';

const LEAF_PROGRAM = 'import torch\nx = torch.zeros(3, requires_grad=True)\nx.add_(1)\nprint(x)\n';
const LEAF_MESSAGE = 'a leaf Variable that requires grad is being used in an in-place operation';

const sessions = new Set();
/** Files the tests write outside a session (a copy of the unfixed program, a fake interpreter). */
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'gg-e2e-scratch-'));
after(async () => {
    for (const session of sessions) {
        await session.close();
    }
    fs.rmSync(scratch, { recursive: true, force: true });
});

async function start(options) {
    const session = await Session.start(options);
    sessions.add(session);
    return session;
}

async function stop(session) {
    sessions.delete(session);
    await session.close();
}

/** Waits until a condition on the workspace file holds (the editor writes asynchronously). */
async function waitForFile(file, predicate) {
    const deadline = Date.now() + TIMEOUT;
    let text = '';
    while (Date.now() < deadline) {
        text = fs.readFileSync(file, 'utf8');
        if (predicate(text)) {
            return text;
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.fail(`${path.basename(file)} never reached the expected text; it holds:\n${text}`);
}

async function editorText(session) {
    return normalizeText(await session.page.locator(SEL.editorLines).first().innerText());
}

async function waitForEditorText(session, needle) {
    await session.page.locator(SEL.editorLines, { hasText: needle }).first().waitFor();
}

test('squiggle, hover, quick fix (preferred first), save, and the saved file runs under torch', async () => {
    const unfixed = path.join(scratch, 'leaf.py');
    fs.writeFileSync(unfixed, LEAF_PROGRAM);
    const before = await runPython(unfixed);
    assert.notEqual(before.code, 0, 'the unfixed program must fail under torch');
    assert.match(before.stderr, new RegExp(LEAF_MESSAGE));

    const session = await start({ name: 'quickfix', files: { 'train.py': LEAF_PROGRAM } });
    const page = session.page;
    await session.openFile('train.py');

    const squiggle = page.locator(SEL.squiggleError).first();
    await squiggle.waitFor();
    await page.locator(SEL.tabWithProblems).first().waitFor();
    const status = page.locator(SEL.statusItem).first();
    await page.locator(`${SEL.statusBar} [aria-label^="GradGuard: ready"]`).first().waitFor();
    assert.match((await status.getAttribute('aria-label')) ?? '', /GradGuard: ready \(Python 3\.\d+\.\d+, .*python/);

    await session.pointAt(squiggle);
    const hover = page.locator(SEL.hover, { hasText: 'GG101' }).first();
    await hover.waitFor();
    const hoverText = await hover.innerText();
    assert.match(hoverText, /leaf tensor that requires grad/);
    assert.match(hoverText, new RegExp(LEAF_MESSAGE));
    await session.screenshot('1-squiggle-hover');

    await session.pointAt(squiggle, { click: true });
    await page.keyboard.press('Escape');
    await page.keyboard.press('Control+.');
    await page.locator(SEL.actionRow).first().waitFor();
    const titles = (await page.locator(SEL.actionRow).locator('.title').allInnerTexts()).map(normalizeText);
    assert.equal(titles[0], 'Rebind out of place: `x = x.add(1)`', `first quick fix: ${titles.join(' | ')}`);
    assert.ok(titles.includes('Disable GG101 for this line'), titles.join(' | '));
    assert.ok(titles.some((title) => title.includes('torch.no_grad()')), titles.join(' | '));
    await session.screenshot('2-quick-fix-menu');

    await page.keyboard.press('Enter'); // the focused (first, preferred) fix
    await waitForEditorText(session, 'x = x.add(1)');
    await page.locator(SEL.squiggleError).first().waitFor({ state: 'detached' });
    assert.ok(!(await editorText(session)).includes('x.add_(1)'));
    await page.locator(SEL.dirtyTab).first().waitFor();
    await page.mouse.move(900, 650); // away from the text: no stale hover in the picture
    await page.keyboard.press('Escape');
    await page.locator(SEL.hover).first().waitFor({ state: 'hidden' });
    await page.locator(SEL.tabWithProblems).first().waitFor({ state: 'detached' });
    await session.screenshot('3-after-fix');

    await page.keyboard.press('Control+S');
    await page.locator(SEL.dirtyTab).first().waitFor({ state: 'detached' });
    const saved = await waitForFile(session.file('train.py'), (text) => text.includes('x = x.add(1)'));
    assert.equal(saved, LEAF_PROGRAM.replace('x.add_(1)', 'x = x.add(1)'));

    const run = await runPython(session.file('train.py'));
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /tensor\(\[1\., 1\., 1\.\], grad_fn=<AddBackward0>\)/);
    await stop(session);
});

test('fix-all on save (editor.codeActionsOnSave source.fixAll.gradguard)', async () => {
    const program = 'import torch\nw = torch.ones(3, requires_grad=True)\nw.mul_(2)\nw.add_(1)\nprint(w)\n';
    const session = await start({
        name: 'fixall',
        files: { 'model.py': program },
        settings: { 'editor.codeActionsOnSave': { 'source.fixAll.gradguard': 'explicit' } },
    });
    const page = session.page;
    await session.openFile('model.py');
    await page.locator(SEL.squiggleError).nth(1).waitFor(); // both in-place calls are flagged

    // A user edit (a comment at the end), then Ctrl+S: the save runs the fix-all action.
    await session.pointAt(page.locator(SEL.editorLines).first(), { click: true });
    await page.keyboard.press('Control+End');
    await page.keyboard.type('# edited\n');
    await page.keyboard.press('Control+S');
    const saved = await waitForFile(session.file('model.py'), (text) => text.includes('# edited'));
    // Fix-all applies the safe fixes only, as `check --fix` does: rebinding `w` at its first
    // write is safe; rebinding it again is not (the name would no longer hold the tensor an
    // earlier line made), and after the first fix `w` is no leaf, so `w.add_(1)` is fine.
    assert.equal(
        saved,
        'import torch\nw = torch.ones(3, requires_grad=True)\nw = w.mul(2)\nw.add_(1)\nprint(w)\n# edited\n',
    );
    await page.locator(SEL.squiggleError).first().waitFor({ state: 'detached' });

    const run = await runPython(session.file('model.py'));
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /tensor\(\[3\., 3\., 3\.\], grad_fn=<AddBackward0>\)/);
    await stop(session);
});

test('a settings change reaches the running server, and "Fix All in File" fixes the file', async () => {
    const session = await start({ name: 'settings', files: { 'train.py': LEAF_PROGRAM } });
    const page = session.page;
    await session.openFile('train.py');
    await page.locator(SEL.squiggleError).first().waitFor();

    // Ignore GG101 in the workspace settings: the squiggle goes, no restart needed.
    const settingsFile = session.file('.vscode/settings.json');
    const settings = JSON.parse(fs.readFileSync(settingsFile, 'utf8'));
    fs.writeFileSync(settingsFile, JSON.stringify({ ...settings, 'gradguard.ignore': ['GG101'] }, null, 2));
    await page.locator(SEL.squiggleError).first().waitFor({ state: 'detached' });
    fs.writeFileSync(settingsFile, JSON.stringify(settings, null, 2));
    await page.locator(SEL.squiggleError).first().waitFor();

    // The command palette, as a user would run it.
    await session.pointAt(page.locator(SEL.editorLines).first(), { click: true });
    await page.keyboard.press('Control+Shift+P');
    await page.locator(SEL.quickInputBox).waitFor();
    await page.keyboard.type('GradGuard: Fix All in File');
    await page.locator(SEL.quickInputRow, { hasText: 'GradGuard: Fix All in File' }).first().waitFor();
    await page.keyboard.press('Enter');
    await waitForEditorText(session, 'x = x.add(1)');
    await page.locator(SEL.squiggleError).first().waitFor({ state: 'detached' });
    await stop(session);
});

test('"Trace Current File" runs the program in a terminal; the runtime finding squiggles the helper', async () => {
    // The helper is loaded by name at run time (importlib), which the static analysis does not
    // follow: only the run knows. The trace report (.gradguard/trace.json) becomes a
    // diagnostic there.
    const helper = 'def normalize_(t):\n    t /= t.sum()\n    return t\n';
    const train =
        'import importlib\nimport torch\nhelper = importlib.import_module("helper")\n' +
        'x = torch.tensor([0.5, -1.0], requires_grad=True)\n' +
        'h = torch.sigmoid(x)\nhelper.normalize_(h)\nh.sum().backward()\n';
    const session = await start({ name: 'trace', files: { 'helper.py': helper, 'train.py': train } });
    const page = session.page;
    await session.openFile('helper.py');
    await page.locator(`${SEL.statusBar} [aria-label^="GradGuard: ready"]`).first().waitFor();
    assert.equal(await page.locator(SEL.squiggleAny).count(), 0, 'nothing is flagged before the run');

    await session.openFile('train.py');
    await session.pointAt(page.locator(SEL.editorLines).first(), { click: true });
    await page.keyboard.press('Control+Shift+P');
    await page.locator(SEL.quickInputBox).waitFor();
    await page.keyboard.type('GradGuard: Trace Current File');
    await page.locator(SEL.quickInputRow, { hasText: 'GradGuard: Trace Current File' }).first().waitFor();
    await page.keyboard.press('Enter');

    const report = session.file('.gradguard/trace.json');
    const deadline = Date.now() + TIMEOUT * 2;
    while (!fs.existsSync(report) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const findings = JSON.parse(await waitForFile(report, (text) => text.trim().endsWith(']')));
    assert.deepEqual(
        findings.map((f) => [path.basename(f.filename), f.code, f.location.row]),
        [['helper.py', 'GG105', 2]],
    );

    // Back to the helper's tab (the terminal has the focus now).
    await page.locator(SEL.tab, { hasText: 'helper.py' }).first().click();
    await page.locator(SEL.activeTab, { hasText: 'helper.py' }).first().waitFor();
    const squiggle = page.locator(SEL.squiggleError).first();
    await squiggle.waitFor();
    await session.pointAt(squiggle);
    const hover = page.locator(SEL.hover, { hasText: 'Recorded at run time' }).first();
    await hover.waitFor();
    assert.match(await hover.innerText(), /gradguard \(runtime\)/);
    assert.match(await hover.innerText(), /SigmoidBackward0/);
    await session.screenshot('trace-runtime-finding');
    await stop(session);
});

test('a notebook cell gets a diagnostic', async () => {
    const cell = (source) => ({ cell_type: 'code', execution_count: null, metadata: {}, outputs: [], source });
    const notebook = {
        cells: [cell(['import torch\n', 'x = torch.zeros(3, requires_grad=True)']), cell(['x.add_(1)'])],
        metadata: {
            kernelspec: { display_name: 'Python 3', language: 'python', name: 'python3' },
            language_info: { name: 'python' },
        },
        nbformat: 4,
        nbformat_minor: 5,
    };
    const session = await start({ name: 'notebook', files: { 'explore.ipynb': JSON.stringify(notebook, null, 1) } });
    const page = session.page;
    await session.openFile('explore.ipynb');
    await page.locator(SEL.notebookCellEditor).nth(1).waitFor();
    await page.locator(SEL.notebookSquiggleError).first().waitFor();
    // The squiggle is in the second cell, the one with x.add_(1).
    const flagged = page.locator(SEL.notebookCellEditor, { has: page.locator('.squiggly-error') });
    assert.match(normalizeText(await flagged.first().innerText()), /x\.add_\(1\)/);
    await session.screenshot('4-notebook');
    await stop(session);
});

test('"Fix All in File" in a notebook fixes every cell, not only the focused one', async () => {
    const cell = (source) => ({ cell_type: 'code', execution_count: null, metadata: {}, outputs: [], source });
    const notebook = {
        cells: [
            cell(['import torch\n', 'a = torch.zeros(3, requires_grad=True)\n', 'a.add_(1)']),
            { cell_type: 'markdown', metadata: {}, source: ['Two more *bugs* below'] },
            cell(['b = torch.ones(2, requires_grad=True)\n', 'b.mul_(2)']),
            cell(['c = torch.ones(2, requires_grad=True)\n', 'c += 1\n', 'print(a.tolist(), b.tolist(), c.tolist())']),
        ],
        metadata: {
            kernelspec: { display_name: 'Python 3', language: 'python', name: 'python3' },
            language_info: { name: 'python' },
        },
        nbformat: 4,
        nbformat_minor: 5,
    };
    const session = await start({ name: 'nb-fixall', files: { 'three.ipynb': JSON.stringify(notebook, null, 1) } });
    const page = session.page;
    await session.openFile('three.ipynb');
    await page.locator(SEL.notebookSquiggleError).nth(2).waitFor(); // one squiggle in each code cell

    // Focus the first cell's editor, then the command palette, as a user would.
    await session.pointAt(page.locator(SEL.notebookCellEditor).first(), { click: true });
    await page.keyboard.press('Control+Shift+P');
    await page.locator(SEL.quickInputBox).waitFor();
    await page.keyboard.type('GradGuard: Fix All in File');
    await page.locator(SEL.quickInputRow, { hasText: 'GradGuard: Fix All in File' }).first().waitFor();
    await page.keyboard.press('Enter');
    await page.locator(SEL.notebookSquiggleError).first().waitFor({ state: 'detached' });
    await page.keyboard.press('Control+S');

    const saved = await waitForFile(session.file('three.ipynb'), (text) => text.includes('c = c + 1'));
    const sources = JSON.parse(saved).cells.map((c) => (Array.isArray(c.source) ? c.source.join('') : c.source));
    assert.deepEqual(sources, [
        'import torch\na = torch.zeros(3, requires_grad=True)\na = a.add(1)',
        'Two more *bugs* below',
        'b = torch.ones(2, requires_grad=True)\nb = b.mul(2)',
        'c = torch.ones(2, requires_grad=True)\nc = c + 1\nprint(a.tolist(), b.tolist(), c.tolist())',
    ]);
    // The fixed cells, run in order under torch, do what the buggy ones meant.
    const program = path.join(scratch, 'three.py');
    fs.writeFileSync(program, [sources[0], sources[2], sources[3]].join('\n') + '\n');
    const run = await runPython(program);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout.trim(), '[1.0, 1.0, 1.0] [2.0, 2.0] [2.0, 2.0]');
    await stop(session);
});

test('a too-old Python gives a notification with "Select Interpreter", not a crash loop', async () => {
    // A stand-in interpreter that reports Python 3.8 to the extension's version probe.
    const fake = path.join(scratch, 'python38.sh');
    fs.writeFileSync(fake, 'echo \'{"executable": "/usr/bin/python3.8", "version": [3, 8, 10], "hasGradguard": true}\'\n');
    const session = await start({
        name: 'oldpython',
        files: { 'train.py': LEAF_PROGRAM },
        settings: { 'gradguard.interpreter': ['bash', fake] },
    });
    const page = session.page;
    await session.openFile('train.py');
    const toast = page.locator(SEL.notificationToast, { hasText: 'GradGuard needs Python 3.10 or newer' });
    await toast.first().waitFor();
    assert.match(await toast.first().innerText(), /Python 3\.8\.10/);
    await toast.first().locator('.monaco-button', { hasText: 'Select Interpreter' }).waitFor();
    await page.locator(`${SEL.statusBar} [aria-label^="GradGuard: error"]`).first().waitFor();
    await stop(session);
});

test('the bundled server runs in a bare Python; fromEnvironment there says gradguard is missing', async () => {
    // A fresh venv from the same base interpreter: no gradguard, no torch, no pygls.
    const bare = path.join(scratch, 'bare-venv');
    await promisify(execFile)(VENV_PYTHON, ['-m', 'venv', '--without-pip', bare], { timeout: TIMEOUT });
    const barePython = path.join(bare, 'bin', 'python');
    const session = await start({
        name: 'bundled',
        files: { 'train.py': LEAF_PROGRAM },
        settings: { 'gradguard.interpreter': [barePython] },
    });
    const page = session.page;
    await session.openFile('train.py');
    await page.locator(SEL.squiggleError).first().waitFor(); // served from the .vsix's bundled/libs
    await page.locator(`${SEL.statusBar} [aria-label^="GradGuard: ready"]`).first().waitFor();
    assert.match((await page.locator(SEL.statusItem).first().getAttribute('aria-label')) ?? '', /bare-venv/);

    const settingsFile = session.file('.vscode/settings.json');
    const settings = JSON.parse(fs.readFileSync(settingsFile, 'utf8'));
    fs.writeFileSync(settingsFile, JSON.stringify({ ...settings, 'gradguard.importStrategy': 'fromEnvironment' }, null, 2));
    const toast = page.locator(SEL.notificationToast, { hasText: 'gradguard is not installed in' });
    await toast.first().waitFor();
    await page.locator(`${SEL.statusBar} [aria-label^="GradGuard: error"]`).first().waitFor();
    await page.locator(SEL.squiggleError).first().waitFor({ state: 'detached' }); // the server is gone
    await stop(session);
});

test('an untrusted workspace cannot choose the interpreter (restricted mode)', async () => {
    // The workspace asks for a program of its choosing; in restricted mode VS Code and the
    // extension ignore workspace values of gradguard.interpreter, so python3 runs instead.
    const planted = path.join(scratch, 'planted.sh');
    fs.writeFileSync(planted, 'echo \'{"executable": "/planted", "version": [3, 8, 0], "hasGradguard": true}\'\n');
    const session = await start({
        name: 'untrusted',
        files: { 'train.py': LEAF_PROGRAM },
        settings: { 'gradguard.interpreter': ['bash', planted] },
        untrusted: true,
    });
    const page = session.page;
    await session.openFile('train.py');
    await page.locator(SEL.squiggleError).first().waitFor();
    await page.locator(`${SEL.statusBar} [aria-label^="GradGuard: ready"]`).first().waitFor();
    const label = (await page.locator(SEL.statusItem).first().getAttribute('aria-label')) ?? '';
    assert.match(label, /GradGuard: ready \(Python 3\.\d+\.\d+, /);
    assert.doesNotMatch(label, /planted|3\.8\.0/);
    await stop(session);
});
