'use strict';
// What a new user meets in the first hour (issue "The first hour of a new user"): errors that say in the
// user's terms what does not fit, short runs that keep the method on, progress in logs, one epoch
// numbering, exports that carry their preprocessing, and a report that plots every loss term.
const assert = require('assert');
const fs = require('fs');
const path = require('path');
const rk = require('..');
const { cli, cliAsync, tmp, imageFolder } = require('./cli-helpers');
const { parseCommand } = require('../dist/cli/args');
const { defaultLossWarmup, resolveLossWarmup } = require('../dist/train/schedule');

const FMNIST = rk.data.findFashionMnist();
const small = ['--limit', '256', '--test-limit', '64'];

describe('first hour: errors, short runs, progress, epoch numbers, exports, report', function () {
  this.timeout(300000);
  let dir;
  let folder; // 4 classes, RGB, 16x16
  let folderTeacher; // resnet8 trained on it
  let fmTeacher; // resnet8 trained on Fashion-MNIST (10 classes, 1 channel)

  before(async () => {
    assert.ok(FMNIST, 'Fashion-MNIST is installed (apt-get install dataset-fashion-mnist)');
    dir = tmp('first-hour');
    folder = await imageFolder(path.join(dir, 'shapes'), 12);
    folderTeacher = path.join(dir, 'runs', 'folder-teacher');
    let r = cli(['train', '--model', 'resnet8', '--data', folder, '--epochs', '1', '--batch', '16', '--out', folderTeacher]);
    assert.strictEqual(r.code, 0, r.stderr);
    fmTeacher = path.join(dir, 'runs', 'fm-teacher');
    r = cli(['train', '--model', 'resnet8', '--dataset', 'fashion-mnist', ...small, '--epochs', '2', '--out', fmTeacher]);
    assert.strictEqual(r.code, 0, r.stderr);
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  describe('errors say what does not fit before any training starts', () => {
    it('a 10-class grayscale teacher on 4-class colour data: classes and channels, in those words', () => {
      const out = path.join(dir, 'runs', 'never');
      const r = cli(['distill', '--student', 'resnet8', '--teacher', fmTeacher, '--data', folder, '--epochs', '1', '--out', out]);
      assert.strictEqual(r.code, 2, r.stderr);
      assert.match(r.stderr, /option --teacher: the teacher has 10 classes, the data has 4; the teacher takes 1-channel \(grayscale\) images, the data has 3-channel \(colour\) images \(it was trained on fashion-mnist\)/);
      assert.ok(!fs.existsSync(path.join(out, 'log.jsonl')), 'nothing was trained');
      // eval says the same of the model it is given.
      const e = cli(['eval', fmTeacher, '--data', folder]);
      assert.strictEqual(e.code, 2, e.stderr);
      assert.match(e.stderr, /argument <weights>: the model has 10 classes, the data has 4; the model takes 1-channel \(grayscale\) images/);
    });

    it('a 4-class colour teacher on Fashion-MNIST, the other way round', () => {
      const r = cli(['distill', '--student', 'resnet8', '--teacher', folderTeacher, '--dataset', 'fashion-mnist', ...small, '--epochs', '1', '--out', path.join(dir, 'runs', 'never2')]);
      assert.strictEqual(r.code, 2, r.stderr);
      assert.match(r.stderr, /the teacher has 4 classes, the data has 10; the teacher takes 3-channel \(colour\) images, the data has 1-channel \(grayscale\) images \(it was trained on imagefolder\)/);
    });

    it('weights of another architecture name the model they were saved from', () => {
      const r = cli(['distill', '--student', 'resnet8', '--teacher', fmTeacher, '--teacher-model', 'resnet20', '--dataset', 'fashion-mnist', ...small, '--epochs', '1', '--out', path.join(dir, 'runs', 'never3')]);
      assert.strictEqual(r.code, 2, r.stderr);
      assert.match(r.stderr, /the teacher weights in '.*best\.safetensors' are not a 'resnet20': \d+ of its \d+ tensors are not in the file .*they were saved from 'resnet8': pass --teacher-model resnet8/);
    });

    it('another image size than the teacher was trained on is a note, with the flag that fixes it', () => {
      const out = path.join(dir, 'runs', 'size');
      const r = cli(['distill', '--student', 'resnet8', '--teacher', folderTeacher, '--data', folder, '--image-size', '24', '--epochs', '1', '--batch', '16', '--out', out]);
      assert.strictEqual(r.code, 0, r.stderr);
      assert.match(r.stderr, /note: the teacher was trained on 16x16 images, the data has 24x24: .*--image-size 16/);
    });

    it('a folder with one class, and a test split with classes the training split lacks, are usage errors', () => {
      const one = path.join(dir, 'one-class');
      fs.cpSync(path.join(folder, 'a-top'), path.join(one, 'a-top'), { recursive: true });
      let r = cli(['train', '--model', 'resnet8', '--data', one, '--epochs', '1', '--out', path.join(dir, 'runs', 'one')]);
      assert.strictEqual(r.code, 2, r.stderr);
      assert.match(r.stderr, /option --data: the training images of '.*one-class' hold 1 class \('a-top'\).*a classifier needs at least 2 classes/);
      // The first 2 Fashion-MNIST training images are an ankle boot and a T-shirt: the test set has 8 more classes.
      r = cli(['train', '--model', 'resnet8', '--dataset', 'fashion-mnist', '--limit', '2', '--epochs', '1', '--out', path.join(dir, 'runs', 'two')]);
      assert.strictEqual(r.code, 2, r.stderr);
      assert.match(r.stderr, /the test images of .* hold class\(es\) 'Trouser', 'Pullover'.* that the training images lack; --limit 2 keeps only the first 2 images/);
    });

    it('negative numbers reach the range check (the range message, not "ambiguous"), and pass where the range allows', () => {
      for (const [flag, value, range] of [['--epochs', '-1', 'between 1 and 100000'], ['--lr', '-0.1', 'between 0 and 10']]) {
        const r = cli(['train', '--model', 'resnet8', '--dataset', 'fashion-mnist', '--epochs', '1', flag, value]);
        assert.strictEqual(r.code, 2, r.stderr);
        assert.match(r.stderr, new RegExp(`option ${flag} is out of range: must be ${range}; got ${value}`));
        assert.ok(!/ambiguous/.test(r.stderr), r.stderr);
      }
      const spec = { name: 't', summary: '', usage: '', options: [{ name: 'shift', type: 'number', help: '' }, { name: 'n', type: 'int', min: -5, help: '' }, { name: 'xs', type: 'numbers', help: '' }] };
      const p = parseCommand(spec, ['--shift', '-0.5', '--n', '-3', '--xs', '-1,2']);
      assert.deepStrictEqual([p.values.shift, p.values.n, p.values.xs], [-0.5, -3, [-1, 2]]);
    });

    it('a CUDA device the build or machine lacks is a usage error (exit 2)', () => {
      // A CPU build refuses any CUDA device; a CUDA build one beyond its devices.
      const cpuBuild = rk.info().libtorch.variant !== 'cuda';
      const device = cpuBuild ? 'cuda' : 'cuda:99';
      const r = cli(['train', '--model', 'resnet8', '--dataset', 'fashion-mnist', '--epochs', '1', '--device', device]);
      assert.strictEqual(r.code, 2, r.stderr);
      assert.match(r.stderr, cpuBuild ? /option --device cuda: this LibTorch build .* is CPU-only; use --device cpu/ : /option --device cuda:99: \d+ CUDA device\(s\) visible/);
    });
  });

  describe('short runs keep the method on', () => {
    it('the loss warm-up scales with the run as the milestones do; 240 epochs keep the reference 20', () => {
      assert.deepStrictEqual([240, 120, 24, 12, 11, 2, 1].map(defaultLossWarmup), [20, 10, 2, 1, 0, 0, 0]);
      const ramped = [{ name: 'reviewkd', weight: 0.6 }];
      assert.deepStrictEqual(resolveLossWarmup(undefined, 240, ramped), { epochs: 20, messages: [] });
      assert.deepStrictEqual(resolveLossWarmup(20, 240, ramped), { epochs: 20, messages: [] });
      assert.match(resolveLossWarmup(3, 1, ramped).messages[0], /weight 0 throughout this 1-epoch run/);
      assert.match(resolveLossWarmup(20, 2, ramped).messages[0], /outlasts this 2-epoch run: reviewkd never reaches full weight \(factor 0\.00 in epoch 1, 0\.05 in epoch 2\)/);
      assert.match(resolveLossWarmup(undefined, 2, [{ name: 'reviewkd', weight: 0 }]).messages[0], /reviewkd has weight 0/);
    });

    it('a 2-epoch distillation says so in one line and trains the feature loss from epoch 1', () => {
      const out = path.join(dir, 'runs', 'short');
      const r = cli(['distill', '--student', 'resnet8', '--teacher', fmTeacher, '--dataset', 'fashion-mnist', ...small, '--epochs', '2', '--out', out]);
      assert.strictEqual(r.code, 0, r.stderr);
      assert.match(r.stderr, /loss warm-up of reviewkd: none \(the reference's 20 of 240 epochs, scaled to this 2-epoch run/);
      const log = fs.readFileSync(path.join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      // The weighted total exceeds cross-entropy in the first epoch: the feature loss is on.
      assert.ok(log[0].loss > log[0].losses.ce + 0.01, `epoch 1: loss ${log[0].loss}, ce ${log[0].losses.ce}`);
      const r1 = cli(['distill', '--student', 'resnet8', '--teacher', fmTeacher, '--dataset', 'fashion-mnist', ...small, '--epochs', '1', '--loss-warmup', '5', '--out', path.join(dir, 'runs', 'short1')]);
      assert.strictEqual(r1.code, 0, r1.stderr);
      assert.match(r1.stderr, /warning: the 5-epoch loss warm-up gives reviewkd weight 0 throughout this 1-epoch run/);
    });
  });

  describe('progress, epoch numbers, summaries', () => {
    it('a non-TTY run prints progress lines every --progress-every seconds, long before the epoch ends', async () => {
      const out = path.join(dir, 'runs', 'progress');
      const child = cliAsync(['train', '--model', 'resnet8', '--dataset', 'fashion-mnist', '--limit', '2000', '--test-limit', '64', '--epochs', '2', '--batch', '32', '--progress-every', '1', '--out', out]);
      const started = Date.now();
      const lines = [];
      let buf = '';
      child.stderr.on('data', (d) => {
        buf += d;
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          lines.push({ t: Date.now() - started, text: buf.slice(0, i) });
          buf = buf.slice(i + 1);
        }
      });
      const code = await new Promise((resolve) => child.on('close', resolve));
      assert.strictEqual(code, 0, lines.map((l) => l.text).join('\n'));
      const progress = lines.filter((l) => / step \d+\/\d+ \(\d+%\)/.test(l.text));
      const firstEpoch = lines.find((l) => /epoch 1\/2 loss/.test(l.text));
      assert.ok(progress.length >= 2 && progress[0].t < firstEpoch.t, lines.map((l) => `${l.t} ms ${l.text}`).join('\n'));
      assert.match(progress[0].text, /^\[resnet8\] epoch 1\/2 step \d+\/63 \(\d+%\) \d+ img\/s loss \d+\.\d{4} ETA epoch [\d.ms]+, run [\d.ms]+$/);
      // Lines come about every second (the epoch's steps are far shorter), not only at epoch ends.
      const gaps = progress.slice(1).map((l, i) => l.t - progress[i].t).filter((g) => g < 20000);
      assert.ok(gaps.some((g) => g < 3000), `gaps between progress lines: ${gaps.join(', ')} ms`);
      assert.match(firstEpoch.text, /epoch time [\d.ms]+, total [\d.ms]+$/);
      assert.ok(!/\(ce /.test(firstEpoch.text), 'cross-entropy alone is not repeated as a term');
    });

    it('epochs are 1-based in the console, summary.json, log.jsonl, log.csv and checkpoint names', () => {
      const out = path.join(dir, 'runs', 'progress');
      const log = fs.readFileSync(path.join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      assert.deepStrictEqual(log.map((h) => h.epoch), [1, 2]);
      assert.deepStrictEqual(fs.readFileSync(path.join(out, 'log.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(',')[0]), ['1', '2']);
      const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
      const best = log.reduce((b, h) => (h.testTop1 > b.testTop1 ? h : b));
      assert.strictEqual(summary.bestEpoch, best.epoch);
      assert.ok(fs.existsSync(path.join(out, 'epoch-0002.json')) && fs.existsSync(path.join(out, 'epoch-0001.json')));
      assert.strictEqual(require('../dist/cli/weights').safetensorsMetadata(path.join(out, 'best.safetensors')).epoch, String(best.epoch));
    });

    it('Ctrl-C in the first epoch: the summary says the run was not evaluated yet, with the measured img/s', async () => {
      const out = path.join(dir, 'runs', 'ctrl-c');
      const child = cliAsync(['train', '--model', 'resnet8', '--dataset', 'fashion-mnist', '--limit', '20000', '--test-limit', '64', '--epochs', '1', '--batch', '32', '--progress-every', '0.5', '--out', out]);
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => {
        stderr += d;
        if (/ step \d+\/\d+/.test(stderr) && !child.killed) child.kill('SIGINT');
      });
      const code = await new Promise((resolve) => child.on('close', resolve));
      assert.strictEqual(code, 130, stderr);
      assert.match(stdout, /not evaluated yet \(stopped in epoch 1 of 1\); [1-9]\d* img\/s/);
      assert.ok(!/no test set/.test(stdout), stdout);
      assert.ok(fs.readdirSync(out).includes('interrupted-0001.json'), fs.readdirSync(out).join(' '));
    });

    it('4 classes: no top-5 (it would always be 100 %)', () => {
      const summary = JSON.parse(fs.readFileSync(path.join(folderTeacher, 'summary.json'), 'utf8'));
      assert.strictEqual(summary.top5, null);
      assert.ok(typeof summary.top1 === 'number');
    });

    it('models and bench say what they are doing while they work', () => {
      let r = cli(['models', '--dataset', 'cifar']);
      assert.strictEqual(r.code, 0, r.stderr);
      assert.match(r.stderr, /building each model of the zoo to measure it/);
      r = cli(['bench', '--pair', 'resnet56-resnet20', '--batch', '4', '--steps', '1', '--repeats', '1', '--json']);
      assert.strictEqual(r.code, 0, r.stderr);
      assert.match(r.stderr, /bench: resnet56-resnet20 batch 4: reviewkd distillation step \(warm-up, then 1 timings of 1 steps\)/);
      assert.doesNotThrow(() => JSON.parse(r.stdout), 'stdout stays JSON');
    });
  });

  describe('exports carry their preprocessing', () => {
    it('TorchScript with normalisation: raw images give the trained model\'s logits on normalised ones; safetensors records the preprocessing', async () => {
      const full = await rk.data.loadMnist(null, { kind: 'fashion-mnist', split: 'train' });
      const train = rk.data.subset(full, { count: 256, seed: 3 });
      rk.manualSeed(0);
      const student = rk.models.create('resnet8', { numClasses: 10, inChannels: 1 });
      const trainer = await rk.train.Trainer.create({ student, train });
      await trainer.fit({ epochs: 1, batchSize: 64, progress: 'none' });
      const out = tmp('export');
      trainer.exportStudent(path.join(out, 'raw255.pt'));
      trainer.exportStudent(path.join(out, 'raw1.pt'), { inputScale: 1 });
      trainer.exportStudent(path.join(out, 'plain.pt'), { normalize: false });
      trainer.exportStudent(path.join(out, 'student.safetensors'));
      const meta = require('../dist/cli/weights').safetensorsMetadata(path.join(out, 'student.safetensors'));
      assert.strictEqual(meta.inputSize, '28x28');
      assert.strictEqual(meta.channels, '1');
      assert.deepStrictEqual(JSON.parse(meta.mean), [0.286]);
      assert.deepStrictEqual(JSON.parse(meta.std), [0.353]);
      assert.strictEqual(meta.pixelScale, '255');
      assert.deepStrictEqual(JSON.parse(meta.classNames), [...rk.data.FASHION_MNIST_CLASSES]);
      assert.strictEqual(meta.library, `reviewkd ${require('../package.json').version}`);

      const n = 8;
      const pixels = new Float32Array(train.images.subarray(0, n * 28 * 28));
      const raw = rk.tensor(pixels, { shape: [n, 1, 28, 28] });
      const unit = raw.div(255);
      const normalised = unit.sub(0.286).div(0.353);
      student.eval();
      const want = (await student.forward(normalised)).toArray();
      const load = (f) => rk.models.loadTorchScript(path.join(out, f), { trustCode: true }).eval();
      const close = (got, what) => {
        let max = 0;
        for (let i = 0; i < want.length; i++) max = Math.max(max, Math.abs(got[i] - want[i]));
        assert.ok(max < 1e-4, `${what}: max |logit difference| ${max}`);
      };
      close((await load('raw255.pt').forward(raw)).toArray(), 'raw 0-255');
      close((await load('raw1.pt').forward(unit)).toArray(), 'raw 0-1');
      close((await load('plain.pt').forward(normalised)).toArray(), 'without normalisation');
      trainer.dispose();
      fs.rmSync(out, { recursive: true, force: true });
    });

    it('reviewkd export --format torchscript of a run folder normalises inside and says what input it takes', async () => {
      const out = path.join(dir, 'fm.pt');
      const r = cli(['export', fmTeacher, '--format', 'torchscript', '--out', out]);
      assert.strictEqual(r.code, 0, r.stderr);
      assert.match(r.stdout, /input: raw 28x28 images with 1 channel\(s\), pixel values 0-255 \(normalisation inside the file\)/);
      const sf = path.join(dir, 'fm.safetensors');
      assert.strictEqual(cli(['export', fmTeacher, '--out', sf]).code, 0);
      const meta = require('../dist/cli/weights').safetensorsMetadata(sf);
      assert.strictEqual(meta.inputSize, '28x28');
      assert.strictEqual(meta.model, 'resnet8');
      const model = rk.models.create('resnet8', { numClasses: 10, inChannels: 1 });
      model.load(sf);
      model.eval();
      const raw = rk.rand([3, 1, 28, 28]).mul(255);
      const want = (await model.forward(raw.div(255).sub(0.286).div(0.353))).toArray();
      const got = (await rk.models.loadTorchScript(out, { trustCode: true }).eval().forward(raw)).toArray();
      for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) < 1e-4, `logit ${i}: ${got[i]} vs ${want[i]}`);
    });
  });

  describe('report', () => {
    it('the loss plot has the feature-loss series, no paper legend without paper numbers, one time unit', async () => {
      const out = path.join(dir, 'report');
      const res = await rk.report.writeReport(out, [path.join(dir, 'runs', 'short'), fmTeacher]);
      assert.ok(res.series['loss.png'].includes('train feature loss (hcl)'), res.series['loss.png'].join(', '));
      assert.deepStrictEqual(res.series['top1.png'], ['this run']);
      const html = fs.readFileSync(res.html, 'utf8');
      assert.match(html, /<th>time \(s\)<\/th>/);
      assert.ok(!/ min<\/td>/.test(html));
    });
  });
});
