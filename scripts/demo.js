#!/usr/bin/env node
'use strict';
// npm run demo: distils a small student from the Fashion-MNIST teacher shipped in demo/, and compares,
// on the same budget, the student trained alone, with KD and with ReviewKD. Ends with a table and a
// report folder (HTML + PNG plots).
//   node scripts/demo.js [--seeds 1,2,3] [--subset 5000] [--epochs 4] [--out demo-output] [--student resnet8]
const fs = require('fs');
const path = require('path');
const { parseArgs } = require('util');
const rk = require('..');
const { ensureFashionMnist, subset, teacherRecord, loadTeacher } = require('./demo-data');

const root = path.resolve(__dirname, '..');
const HELP = `Usage: node scripts/demo.js [options]   (npm run demo -- [options], from a clone of the repository)

Distils a student from the Fashion-MNIST teacher in demo/ and compares, on the same budget, the student
trained alone, with KD and with ReviewKD; prints a table and writes a report (HTML + PNG plots).

Options:
  --seeds 1,2,3        seeds (mean and std over them; default 1)
  --subset N           training images (default 5000)
  --epochs E           epochs (default 4)
  --student NAME       student model (default resnet8)
  --methods a,b,..     methods or '+' combinations (default vanilla,kd,reviewkd)
  --lambda L           ReviewKD's weight (default: the pair's published one)
  --out DIR            output folder (default demo-output)
  -h, --help           this help
`;
let values;
try {
  ({ values } = parseArgs({
    options: {
      seeds: { type: 'string', default: '1' },
      subset: { type: 'string', default: '5000' },
      epochs: { type: 'string', default: '4' },
      student: { type: 'string', default: 'resnet8' },
      lambda: { type: 'string' },
      methods: { type: 'string', default: 'vanilla,kd,reviewkd' },
      out: { type: 'string', default: path.join(root, 'demo-output') },
      help: { type: 'boolean', short: 'h' },
    },
  }));
} catch (err) {
  // A bad flag is a usage error: say which and show the options, no stack trace.
  process.stderr.write(`demo: ${err.message.split('\n')[0]}\n\n${HELP}`);
  process.exit(2);
}
if (values.help) {
  process.stdout.write(HELP);
  process.exit(0);
}

function log(msg) {
  process.stderr.write(`${msg}\n`);
}

(async () => {
  const started = Date.now();
  const dataDir = ensureFashionMnist('demo');
  const fullTrain = await rk.data.loadMnist(dataDir, { kind: 'fashion-mnist', split: 'train' });
  const test = await rk.data.loadMnist(dataDir, { kind: 'fashion-mnist', split: 'test' });
  const record = teacherRecord();
  const teacher = loadTeacher(record);
  const seeds = values.seeds.split(',').map(Number);
  const epochs = Number(values.epochs);
  const methods = values.methods.split(',');
  log(`demo: teacher ${record.model} (${record.parameters.toLocaleString('en-US')} parameters, trained by \`${record.command}\`), student ${values.student}; ` +
    `${values.subset} training images, ${epochs} epochs, methods ${methods.join(', ')}, seed(s) ${seeds.join(', ')}`);

  const teacherEval = await rk.train.Trainer.create({ student: teacher, train: subset(fullTrain, 64, 0), test });
  const teacherTop1 = (await teacherEval.evaluate()).top1;
  teacherEval.dispose();
  log(`demo: teacher top-1 on the 10,000 test images: ${teacherTop1.toFixed(2)}%`);

  const runs = [];
  for (const seed of seeds) {
    const train = subset(fullTrain, Number(values.subset), seed);
    for (const method of methods) {
      const runDir = path.join(values.out, 'runs', `${method}-seed${seed}`);
      fs.rmSync(runDir, { recursive: true, force: true });
      rk.manualSeed(seed);
      const student = rk.models.create(values.student, { numClasses: 10, inChannels: 1 });
      const trainer = await rk.train.Trainer.create({
        student,
        teacher: method === 'vanilla' ? undefined : teacher,
        method,
        train,
        test,
        seed,
        augment: { padding: 2, flip: true },
        ...(values.lambda ? { methodOptions: { reviewkdWeight: Number(values.lambda) } } : {}),
      });
      const t0 = Date.now();
      const { history } = await trainer.fit({
        epochs, batchSize: 64, lr: 0.1, schedule: { type: 'cosine' }, lossWarmupEpochs: 1, runDir, progress: 'auto', keepLast: 1,
      });
      const seconds = (Date.now() - t0) / 1000;
      const last = history[history.length - 1];
      const summary = {
        name: `${values.student} ${method} (seed ${seed})`,
        command: `node scripts/demo.js ${process.argv.slice(2).join(' ')}`.trim(),
        method,
        student: values.student,
        teacher: method === 'vanilla' ? null : record.model,
        dataset: train.name,
        epochs,
        seed,
        top1: last.testTop1,
        top5: last.testTop5,
        params: student.numParameters(),
        imagesPerSecond: history.reduce((s, h) => s + h.imagesPerSecond, 0) / history.length,
        seconds,
        weights: trainer.weights,
      };
      fs.writeFileSync(path.join(runDir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
      runs.push({ ...summary, runDir });
      trainer.dispose();
      student.dispose();
    }
  }

  const rows = methods.map((method) => {
    const rs = runs.filter((r) => r.method === method);
    const top = rs.map((r) => r.top1);
    const mean = top.reduce((a, b) => a + b, 0) / top.length;
    const std = Math.sqrt(top.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, top.length - 1));
    return { method, mean, std, n: top.length, params: rs[0].params, rate: rs.reduce((a, r) => a + r.imagesPerSecond, 0) / rs.length, seconds: rs.reduce((a, r) => a + r.seconds, 0) / rs.length };
  });
  console.log(`\nFashion-MNIST, ${values.subset} training images, ${epochs} epochs, test on 10,000 images; teacher ${record.model}: ${teacherTop1.toFixed(2)}%`);
  console.log('method     student   top-1 (%)          parameters  img/s   time (s)');
  for (const r of rows) {
    const acc = r.n > 1 ? `${r.mean.toFixed(2)} ± ${r.std.toFixed(2)} (n=${r.n})` : r.mean.toFixed(2);
    console.log(`${r.method.padEnd(10)} ${values.student.padEnd(9)} ${acc.padEnd(18)} ${String(r.params).padStart(10)}  ${r.rate.toFixed(0).padStart(5)}  ${r.seconds.toFixed(1).padStart(8)}`);
  }
  const reportDir = path.join(values.out, 'report');
  const report = await rk.report.writeReport(reportDir, runs.map((r) => r.runDir), { title: 'reviewkd demo: Fashion-MNIST' });
  fs.writeFileSync(path.join(values.out, 'results.json'), `${JSON.stringify({ teacher: { ...record, history: undefined, top1: teacherTop1 }, rows, runs }, null, 2)}\n`);
  console.log(`\nreport: ${report.html}\ntotal time: ${((Date.now() - started) / 1000).toFixed(0)} s`);
})().catch((err) => {
  console.error(err.message);
  process.exit(1);
});
