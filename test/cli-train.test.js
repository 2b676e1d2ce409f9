'use strict';
// train, distill, eval, export end to end through the CLI on a tiny generated image-folder dataset
// (4 classes of 16x16 images), plus Ctrl-C (exit 130, checkpoint written) and --resume.
const assert = require('assert');
const fs = require('fs');
const path = require('path');
const rk = require('..');
const { cli, cliAsync, tmp, imageFolder } = require('./cli-helpers');

const SUMMARY_KEYS = ['name', 'command', 'method', 'student', 'teacher', 'dataset', 'epochs', 'top1', 'top5', 'params', 'imagesPerSecond', 'seconds', 'seed'];

describe('cli: train, distill, eval, export end to end', function () {
  this.timeout(300000);
  let dir;
  let data;
  let teacherRun;
  before(async () => {
    dir = tmp('e2e');
    data = await imageFolder(path.join(dir, 'data'), 50);
    teacherRun = path.join(dir, 'runs', 'teacher');
  });

  it('train writes a run folder with logs, checkpoints, student.safetensors and summary.json', () => {
    const r = cli(['train', '--model', 'resnet8', '--data', data, '--epochs', '2', '--batch', '32', '--lr', '0.05', '--out', teacherRun, '--progress', 'none', '--json']);
    assert.strictEqual(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stdout);
    for (const k of SUMMARY_KEYS) assert.ok(k in summary, `summary.${k}`);
    assert.strictEqual(summary.method, 'vanilla');
    assert.strictEqual(summary.student, 'resnet8');
    assert.strictEqual(summary.teacher, null);
    assert.strictEqual(summary.dataset, 'imagefolder');
    assert.strictEqual(summary.epochs, 2);
    assert.strictEqual(summary.params, rk.models.create('resnet8', { numClasses: 4 }).numParameters());
    assert.ok(summary.top1 >= 0 && summary.top1 <= 100);
    assert.ok(summary.imagesPerSecond > 0);
    for (const f of ['log.jsonl', 'log.csv', 'summary.json', 'student.safetensors', 'config.json', 'best.safetensors']) assert.ok(fs.existsSync(path.join(teacherRun, f)), f);
    assert.ok(fs.readdirSync(teacherRun).some((f) => /^epoch-\d+\.safetensors$/.test(f)), 'an epoch checkpoint');
    assert.strictEqual(fs.readFileSync(path.join(teacherRun, 'log.jsonl'), 'utf8').trim().split('\n').length, 2);
    assert.deepStrictEqual(JSON.parse(fs.readFileSync(path.join(teacherRun, 'summary.json'), 'utf8')), summary);
    // A second run into the same folder is refused without --resume.
    const again = cli(['train', '--model', 'resnet8', '--data', data, '--epochs', '1', '--out', teacherRun]);
    assert.strictEqual(again.code, 2);
    assert.match(again.stderr, /already holds a run/);
  });

  it('distill from the teacher run folder (model name read from the weights), then eval --json and export', () => {
    const out = path.join(dir, 'runs', 'student');
    const cfg = path.join(dir, 'distill.yaml');
    fs.writeFileSync(cfg, `student: resnet8\nteacher: runs/teacher\ndata: data\nepochs: 2\nbatch: 32\nlr: 0.05\nlossWarmup: 1\nmethod: reviewkd\nprogress: none\n`);
    const r = cli(['distill', '--config', cfg, '--out', out, '--reviewkd-weight', '0.5']);
    assert.strictEqual(r.code, 0, r.stderr);
    const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
    assert.strictEqual(summary.method, 'reviewkd');
    assert.strictEqual(summary.teacher, 'resnet8');
    assert.deepStrictEqual(summary.weights, { reviewkd: 0.5 });
    assert.ok(summary.losses.hcl > 0 && summary.losses.ce > 0, JSON.stringify(summary.losses));
    const log = fs.readFileSync(path.join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.strictEqual(log.length, 2);
    assert.ok(log[1].losses.hcl > 0, 'the review loss is on');

    const ev = cli(['eval', out, '--json']);
    assert.strictEqual(ev.code, 0, ev.stderr);
    const result = JSON.parse(ev.stdout);
    assert.strictEqual(result.model, 'resnet8');
    assert.strictEqual(result.split, 'test');
    assert.strictEqual(result.count, 20, '10% of 200 images held out');
    assert.ok(Math.abs(result.top1 - summary.top1) < 1e-9, `eval of best.safetensors ${result.top1} = the run's best ${summary.top1}`);

    const exported = path.join(dir, 'export', 'student.safetensors');
    const ex = cli(['export', out, '--out', exported, '--json']);
    assert.strictEqual(ex.code, 0, ex.stderr);
    const student = rk.models.create('resnet8', { numClasses: 4 });
    student.load(exported); // strict: every parameter and buffer is there
    const ev2 = JSON.parse(cli(['eval', exported, '--data', data, '--json']).stdout);
    assert.strictEqual(ev2.top1, result.top1);
  });

  it('every method runs through the CLI for one epoch', () => {
    for (const method of ['kd', 'fitnet', 'at', 'reviewkd+kd', 'vanilla']) {
      const r = cli(['distill', '--student', 'resnet8', '--teacher', path.join(teacherRun, 'student.safetensors'), '--teacher-model', 'resnet8', '--data', data,
        '--epochs', '1', '--batch', '50', '--method', method, '--out', path.join(dir, 'runs', `m-${method}`), '--progress', 'none', '--json']);
      assert.strictEqual(r.code, 0, `${method}: ${r.stderr}`);
      assert.strictEqual(JSON.parse(r.stdout).method, method);
    }
  });

  it('Ctrl-C stops cleanly with exit 130 and a checkpoint; --resume finishes the run', async () => {
    const out = path.join(dir, 'runs', 'interrupted');
    const child = cliAsync(['train', '--model', 'resnet8', '--data', data, '--epochs', '200', '--batch', '8', '--out', out, '--progress', 'lines', '--eval-every', '0']);
    let stderr = '';
    const code = await new Promise((resolve) => {
      child.stderr.on('data', (d) => {
        stderr += d;
        if (/epoch 1\/200/.test(stderr) && !child.killed) child.kill('SIGINT');
      });
      child.on('exit', (c) => resolve(c));
    });
    assert.strictEqual(code, 130, stderr);
    const files = fs.readdirSync(out);
    assert.ok(files.some((f) => /^(interrupted|epoch)-\d+\.json$/.test(f)), `a checkpoint: ${files.join(' ')}`);
    const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
    assert.strictEqual(summary.aborted, true);
    assert.ok(!files.includes('student.safetensors'));

    const r = cli(['train', '--resume', '--out', out, '--epochs', '3', '--progress', 'none', '--json']);
    assert.strictEqual(r.code, 0, r.stderr);
    const done = JSON.parse(r.stdout);
    assert.strictEqual(done.aborted, false);
    assert.strictEqual(done.epochsDone, 3);
    assert.ok(fs.existsSync(path.join(out, 'student.safetensors')));
  });

  it('SIGTERM stops like Ctrl-C (exit 143, checkpoint, summary); --resume ends with the weights of an uninterrupted run', async () => {
    const common = ['train', '--model', 'resnet8', '--data', data, '--epochs', '3', '--batch', '8', '--lr', '0.05', '--seed', '4', '--eval-every', '0'];
    const reference = path.join(dir, 'runs', 'term-reference');
    assert.strictEqual(cli([...common, '--out', reference, '--progress', 'none']).code, 0);

    const out = path.join(dir, 'runs', 'terminated');
    const child = cliAsync([...common, '--out', out, '--progress', 'lines']);
    let stderr = '';
    const code = await new Promise((resolve) => {
      child.stderr.on('data', (d) => {
        stderr += d;
        // After the first epoch's line: the signal lands early in epoch 2.
        if (/epoch 1\/3 loss/.test(stderr) && !child.killed) child.kill('SIGTERM');
      });
      child.on('exit', (c) => resolve(c));
    });
    assert.strictEqual(code, 143, stderr);
    assert.match(stderr, /received SIGTERM; stopping after this step and writing a checkpoint/);
    const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
    assert.deepStrictEqual([summary.aborted, summary.epochsDone], [true, 1]);

    const r = cli(['train', '--resume', '--out', out, '--progress', 'none', '--json']);
    assert.strictEqual(r.code, 0, r.stderr);
    assert.strictEqual(JSON.parse(r.stdout).epochsDone, 3);
    const bytes = (file) => Object.fromEntries(Object.entries(rk.io.loadSafetensors(file)).map(([k, v]) => [k, Buffer.from(v.toArray().buffer)]));
    const a = bytes(path.join(reference, 'student.safetensors'));
    const b = bytes(path.join(out, 'student.safetensors'));
    assert.deepStrictEqual(Object.keys(b).sort(), Object.keys(a).sort());
    const differ = Object.keys(a).filter((k) => !a[k].equals(b[k]));
    assert.deepStrictEqual(differ, [], 'tensors that differ from the uninterrupted run');
  });

  it('summary.json is rewritten after every epoch, so a run killed later still says how far it got', async () => {
    const out = path.join(dir, 'runs', 'killed');
    const child = cliAsync(['train', '--model', 'resnet8', '--data', data, '--epochs', '50', '--batch', '8', '--out', out, '--progress', 'lines', '--eval-every', '1']);
    let stderr = '';
    await new Promise((resolve) => {
      child.stderr.on('data', (d) => {
        stderr += d;
        if (/epoch 3\/50 loss/.test(stderr) && !child.killed) child.kill('SIGKILL');
      });
      child.on('exit', resolve);
    });
    const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
    assert.ok(summary.epochsDone >= 2, JSON.stringify(summary));
    assert.strictEqual(summary.aborted, false);
    assert.ok(summary.top1 !== null, 'the best top-1 so far');
  });
});
