'use strict';
// rk.report.writeReport and `reviewkd report`: PNG plots that are not blank, and an HTML page that
// references them, from run folders shaped like the CLI's (log.jsonl + summary.json).
const assert = require('assert');
const fs = require('fs');
const path = require('path');
const sharp = require('sharp');
const rk = require('..');
const { cli, tmp } = require('./cli-helpers');

/** A fake run folder: `epochs` log lines with rising accuracy, and a summary (optionally with a recipe). */
function fakeRun(dir, name, { epochs = 5, top1 = 70, recipe, method = 'reviewkd' } = {}) {
  const run = path.join(dir, name);
  fs.mkdirSync(run, { recursive: true });
  const lines = [];
  for (let e = 0; e < epochs; e++) {
    const acc = top1 * (1 - Math.exp(-(e + 1) / 2));
    lines.push(JSON.stringify({ epoch: e, lr: 0.1, ce: 3 / (e + 1), feature: 1 / (e + 1), kd: 0, loss: 4 / (e + 1), trainTop1: acc + 5, testTop1: acc, testTop5: Math.min(100, acc + 20), testLoss: 3.2 / (e + 1), imagesPerSecond: 1000 + e, elapsed: 10 * (e + 1), skippedSteps: 0 }));
  }
  fs.writeFileSync(path.join(run, 'log.jsonl'), `${lines.join('\n')}\n`);
  const summary = { name, command: 'distill', method, student: 'resnet20', teacher: 'resnet56', dataset: 'cifar100', epochs, top1: top1 * (1 - Math.exp(-epochs / 2)), top5: 90, params: 278324, imagesPerSecond: 1002, seconds: 10 * epochs, seed: 0 };
  if (recipe) summary.recipe = { name: recipe.name, paperTop1: recipe.paperTop1, paper: recipe.paper };
  fs.writeFileSync(path.join(run, 'summary.json'), JSON.stringify(summary));
  return run;
}

async function pixelStd(file) {
  const { data, info } = await sharp(file).removeAlpha().greyscale().raw().toBuffer({ resolveWithObject: true });
  let sum = 0;
  let sq = 0;
  for (const v of data) {
    sum += v;
    sq += v * v;
  }
  const n = info.width * info.height;
  return Math.sqrt(sq / n - (sum / n) ** 2);
}

describe('report: HTML and PNG plots of runs', function () {
  this.timeout(120000);
  let dir;
  before(() => {
    dir = tmp('report');
  });

  it('writeReport draws non-blank PNGs and an HTML page referencing them by relative path', async () => {
    const recipe = rk.recipes.get('cifar100/resnet56-resnet20');
    const a = fakeRun(dir, 'r20-reviewkd', { recipe, top1: 72 });
    const b = fakeRun(dir, 'r20-kd', { method: 'kd', top1: 70, epochs: 4 });
    const out = path.join(dir, 'out');
    const r = await rk.report.writeReport(out, [a, b]);
    assert.strictEqual(r.images.length, 3);
    const html = fs.readFileSync(r.html, 'utf8');
    for (const img of r.images) {
      assert.ok(fs.existsSync(img), img);
      const meta = await sharp(img).metadata();
      assert.strictEqual(meta.format, 'png');
      assert.ok(meta.width > 300 && meta.height > 200, `${img}: ${meta.width}x${meta.height}`);
      const std = await pixelStd(img);
      assert.ok(std > 10, `${path.basename(img)} is not blank (pixel std ${std.toFixed(1)})`);
      assert.ok(html.includes(`src="${path.basename(img)}"`), `the page references ${path.basename(img)}`);
    }
    assert.match(html, /<style>/);
    assert.doesNotMatch(html, /<link |<script/, 'self-contained: inline CSS, no external resources');
    assert.match(html, /r20-reviewkd/);
    assert.match(html, /71\.89/, 'the paper number of the recipe');
    assert.match(html, /278,324/, 'params');
    assert.strictEqual(r.runs[0].paperTop1, 71.89);
    assert.strictEqual(r.runs[1].paperTop1, null);
  });

  it('reads a run without summary.json from its log, and names bad folders', async () => {
    const c = fakeRun(dir, 'running');
    fs.rmSync(path.join(c, 'summary.json'));
    const r = await rk.report.writeReport(path.join(dir, 'out2'), [c]);
    assert.strictEqual(r.runs[0].epochs, 5);
    assert.ok(r.runs[0].top1 > 0);
    await assert.rejects(rk.report.writeReport(path.join(dir, 'out3'), [path.join(dir, 'missing')]), /run folder '.*missing' does not exist/);
    await assert.rejects(rk.report.writeReport(path.join(dir, 'out3'), []), /non-empty array/);
  });

  it('reviewkd report writes the same through the CLI', async () => {
    const a = fakeRun(dir, 'cli-a', { top1: 60 });
    const out = path.join(dir, 'cli-out');
    const r = cli(['report', a, '--out', out, '--title', 'My runs', '--json']);
    assert.strictEqual(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.strictEqual(j.images.length, 3);
    assert.match(fs.readFileSync(path.join(out, 'index.html'), 'utf8'), /<title>My runs<\/title>/);
    assert.ok((await pixelStd(path.join(out, 'top1.png'))) > 10);
  });
});
