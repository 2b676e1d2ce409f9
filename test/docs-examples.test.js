'use strict';
// Every code block of README.md and docs/*.md runs, so the examples cannot rot. Blocks of one file run
// in order in one fresh folder, as a reader following the page would (the README's API quick start uses
// the teacher its command-line quick start trained), with `reviewkd` resolving to this checkout:
//   ts / js   written to a file and run with node (.mjs when the block uses `import` or top-level await;
//             TypeScript is transpiled, not type-checked);
//   sh        run by bash with `reviewkd` and `npx reviewkd` meaning bin/reviewkd.js of this checkout.
// A block that is not meant to run (installs, Python, C++, Electron, files the reader brings) says so on
// the line before its fence: <!-- doc-test: skip: why -->. Any other block of another language fails here.
const assert = require('assert');
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const ROOT = path.join(__dirname, '..');
const BIN = path.join(ROOT, 'bin', 'reviewkd.js');
const FILES = ['README.md', ...fs.readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];
const SKIP = /^<!--\s*doc-test:\s*skip:\s*(.+?)\s*-->$/;

/** The fenced blocks of a Markdown file: language, code, first line number, and a skip reason when annotated. */
function blocks(file) {
  const lines = fs.readFileSync(path.join(ROOT, file), 'utf8').split('\n');
  const out = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i]);
    if (!open) continue;
    let j = i + 1;
    while (j < lines.length && !/^```\s*$/.test(lines[j])) j++;
    let k = i - 1;
    while (k >= 0 && lines[k].trim() === '') k--;
    const skip = k >= 0 ? SKIP.exec(lines[k].trim()) : null;
    out.push({ lang: open[1], code: lines.slice(i + 1, j).join('\n'), line: i + 1, skip: skip ? skip[1] : null });
    i = j;
  }
  return out;
}

/** A folder where `require('reviewkd')` and `import 'reviewkd'` resolve to this checkout. */
function workspace(name) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `rk-docs-${name}-`));
  fs.mkdirSync(path.join(dir, 'node_modules'));
  fs.symlinkSync(ROOT, path.join(dir, 'node_modules', 'reviewkd'), 'dir');
  return dir;
}

function runBlock(block, dir, where) {
  let r;
  if (block.lang === 'sh' || block.lang === 'bash') {
    const prelude = `set -euo pipefail\nreviewkd() { node ${JSON.stringify(BIN)} "$@"; }\nnpx() { if [ "$1" = reviewkd ]; then shift; reviewkd "$@"; else command npx "$@"; fi; }\n`;
    r = spawnSync('bash', ['-c', prelude + block.code], { cwd: dir, encoding: 'utf8', timeout: 420000 });
  } else if (block.lang === 'js' || block.lang === 'ts') {
    let code = block.code;
    if (block.lang === 'ts') {
      const ts = require('typescript');
      code = ts.transpileModule(code, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
    }
    // ES modules allow top-level await; `require` is provided there too, so a block may use either.
    const esm = /^\s*import\s/m.test(code) || /\bawait\b/.test(code);
    const file = path.join(dir, `block-${block.line}.${esm ? 'mjs' : 'cjs'}`);
    fs.writeFileSync(file, esm && /\brequire\(/.test(code) ? `import { createRequire } from 'module';\nconst require = createRequire(import.meta.url);\n${code}` : code);
    r = spawnSync(process.execPath, [file], { cwd: dir, encoding: 'utf8', timeout: 420000 });
  } else {
    assert.fail(`${where}: a '${block.lang || 'plain'}' block cannot be run; mark it <!-- doc-test: skip: why --> if it is not meant to run`);
  }
  assert.strictEqual(r.status, 0, `${where} failed (exit ${r.status}${r.signal ? `, ${r.signal}` : ''}):\n${block.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
  return r;
}

describe('docs: every code block of README.md and docs/ runs (or says why not)', function () {
  this.timeout(1500000);
  for (const file of FILES) {
    const found = blocks(file);
    if (found.length === 0) continue;
    it(`${file}: ${found.filter((b) => !b.skip).length} block(s) run, ${found.filter((b) => b.skip).length} marked not to run`, () => {
      const dir = workspace(path.basename(file, '.md'));
      try {
        for (const b of found) {
          if (b.skip) continue;
          runBlock(b, dir, `${file}:${b.line}`);
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it('the runner refuses an unmarked block it cannot run, and skips a marked one', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rk-docs-self-'));
    const md = path.join(dir, 'x.md');
    fs.writeFileSync(md, 'text\n\n<!-- doc-test: skip: Python -->\n```python\nprint(1)\n```\n\n```python\nprint(2)\n```\n');
    const rel = path.relative(ROOT, md);
    const [marked, unmarked] = blocks(rel);
    assert.deepStrictEqual([marked.skip, unmarked.skip], ['Python', null]);
    assert.throws(() => runBlock(unmarked, dir, 'x.md:8'), /a 'python' block cannot be run; mark it/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
