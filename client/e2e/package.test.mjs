// The packaged extension is publishable: vsce packaged it without a warning, `vsce ls` lists
// only what the extension needs, and the manifest carries the marketplace metadata. Runs after
// scripts/e2e.sh packaged the .vsix (staged in build/vsix by scripts/package_vsix.sh); the other
// e2e tests install that same .vsix into code-server.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { ROOT, VENV_PYTHON, VSIX } from './harness.mjs';

const execFileAsync = promisify(execFile);
const STAGE = path.join(ROOT, 'build', 'vsix');
const VSCE = path.join(ROOT, 'node_modules', '.bin', 'vsce');
const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));

const TOP_LEVEL = ['CHANGELOG.md', 'LICENSE', 'README.md', 'dist/extension.js', 'icon.png', 'package.json'];

test('vsce packaged the .vsix without a warning', () => {
    const log = fs.readFileSync(path.join(ROOT, 'build', 'vsce.log'), 'utf8');
    assert.match(log, /DONE\s+Packaged:/);
    assert.doesNotMatch(log, /WARNING/);
});

test('vsce ls: the bundle, the bundled Python libraries, manifest, README, CHANGELOG, LICENSE, icon', async () => {
    const { stdout } = await execFileAsync(VSCE, ['ls', '--no-dependencies'], { cwd: STAGE });
    const files = stdout.split('\n').filter(Boolean).sort();
    const topLevel = files.filter((f) => !f.startsWith('bundled/libs/'));
    assert.deepEqual(topLevel.sort(), TOP_LEVEL);
    const libs = files.filter((f) => f.startsWith('bundled/libs/'));
    assert.ok(libs.includes('bundled/libs/gradguard/lsp/server.py'));
    assert.ok(libs.includes('bundled/libs/gradguard/data/optable.json'));
    assert.ok(libs.includes('bundled/libs/jedi/third_party/typeshed/stdlib/builtins.pyi'));
    const stray = libs.filter(
        (f) =>
            /(^|\/)__pycache__\//.test(f) ||
            /\.(pyc|so|pyd|dylib)$/.test(f) ||
            f.startsWith('bundled/libs/bin/') ||
            f.includes('/typeshed/stubs/'),
    );
    assert.deepEqual(stray, []);
    assert.ok(files.length < 2000, `${files.length} files`);
});

test('the .vsix holds the marketplace README and CHANGELOG, links rewritten to the repository', async () => {
    const script = [
        'import sys, zipfile, json',
        'z = zipfile.ZipFile(sys.argv[1])',
        'names = z.namelist()',
        'print(json.dumps({"names": names, "readme": z.read("extension/readme.md").decode(),',
        '                  "changelog": z.read("extension/changelog.md").decode()}))',
    ].join('\n');
    const { stdout } = await execFileAsync(VENV_PYTHON, ['-c', script, VSIX], { maxBuffer: 64 << 20 });
    const { names, readme, changelog } = JSON.parse(stdout);
    assert.ok(!names.some((n) => n.startsWith('extension/docs/')), 'no stray docs/ in the package');
    assert.match(readme, /^# GradGuard — PyTorch autograd in-place checker/);
    assert.match(readme, /https:\/\/github\.com\/gradguard\/gradguard\/raw\/HEAD\/docs\/images\/vscode-quick-fix\.png/);
    assert.doesNotMatch(readme, /\]\((?!https?:|#)[^)]+\)/, 'no relative link left in the README');
    assert.match(changelog, new RegExp(`## \\[${manifest.version.replace(/\./g, '\\.')}\\]`));
    // every setting and command of the manifest is documented in the marketplace README
    for (const key of Object.keys(manifest.contributes.configuration.properties)) {
        assert.ok(readme.includes(`\`${key}\``), `README documents ${key}`);
    }
    for (const { command } of manifest.contributes.commands) {
        assert.ok(readme.includes(`\`${command}\``), `README documents ${command}`);
    }
});

test('manifest: publisher, repository, bugs, homepage, categories and keywords agree with pyproject.toml', () => {
    const repo = 'https://github.com/gradguard/gradguard';
    assert.equal(manifest.publisher, 'gradguard');
    assert.equal(manifest.repository.url, `${repo}.git`);
    assert.equal(manifest.bugs.url, `${repo}/issues`);
    assert.equal(manifest.homepage, `${repo}#readme`);
    assert.ok(manifest.categories.includes('Linters'));
    assert.ok(manifest.keywords.includes('pytorch') && manifest.keywords.length <= 30);
    const pyproject = fs.readFileSync(path.join(ROOT, 'pyproject.toml'), 'utf8');
    assert.ok(pyproject.includes(`Repository = "${repo}.git"`));
    assert.ok(pyproject.includes(`Issues = "${repo}/issues"`));
    assert.match(pyproject, new RegExp(`^version = "${manifest.version}"`, 'm'));
});
