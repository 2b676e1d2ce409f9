#!/usr/bin/env node
'use strict';
// npm run bench: img/s of the full ReviewKD distillation step per paper pair, the student-only step and
// the teacher forward alone, in plain fp32 and with the fast paths (channels-last, bf16 autocast); on the
// CPU, in the same run, the same step written in PyTorch by a careful user (scripts/bench-pytorch.py: fp32,
// and channels-last + bf16 autocast with the teacher in eval mode under no_grad) with --python's torch
// (default python3; --no-pytorch skips it), each PyTorch cell timed right after ours; then the cost of a
// native call.
//   node scripts/bench.js [--device cpu|cuda] [--pair resnet56-resnet20 ...] [--batch 64 --batch 128]
//                         [--steps 8] [--repeats 3] [--modes fp32,fast] [--python python3] [--no-pytorch]
//                         [--json] [--quick]
//   node scripts/bench.js --data DIR [--workers 8] [--images 2000] [--decoder auto|libjpeg|sharp] [--python python3] [--no-step] [--json]
//     the input pipeline on an image folder (an ILSVRC root uses train/): ours (rk.bench.runPipelineBench)
//     and the PyTorch one (scripts/bench-pytorch.py --data: PIL, DataLoader with 2 workers) in one run,
//     then the ImageNet pair's step fed by our pipeline vs synthetic input.
const { parseArgs } = require('util');
const { spawnSync } = require('child_process');
const path = require('path');
const rk = require('..');

const { values } = parseArgs({
  options: {
    device: { type: 'string', default: 'cpu' },
    pair: { type: 'string', multiple: true },
    batch: { type: 'string', multiple: true },
    steps: { type: 'string' },
    repeats: { type: 'string' },
    modes: { type: 'string', default: 'fp32,fast' },
    json: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    data: { type: 'string' },
    workers: { type: 'string' },
    images: { type: 'string' },
    decoder: { type: 'string' },
    python: { type: 'string', default: 'python3' },
    'no-step': { type: 'boolean', default: false },
    'no-pytorch': { type: 'boolean', default: false },
  },
});

/** --data: ours vs the PyTorch pipeline on the same folder, one after the other, then the step table. */
async function pipelineBench() {
  const fs = require('fs');
  const dir = fs.existsSync(path.join(values.data, 'train')) ? path.join(values.data, 'train') : values.data;
  const images = values.images ? Number(values.images) : 2000;
  const ours = await rk.bench.runPipelineBench({ data: dir, pair: null, images, ...(values.workers ? { workers: Number(values.workers) } : {}), ...(values.decoder ? { decoder: values.decoder } : {}) });
  const py = spawnSync(values.python, [path.join(__dirname, 'bench-pytorch.py'), '--data', dir, '--workers', '2', '--images', String(ours.images + ours.batchSize), '--json'], { encoding: 'utf8' });
  const pytorch = py.status === 0 ? JSON.parse(py.stdout.trim().split('\n').pop()) : { error: (py.stderr || String(py.error)).trim().split('\n').pop() };
  const step = values['no-step'] ? null : (await rk.bench.runPipelineBench({ data: dir, images: 128, batchSize: 32, ...(values.batch ? { stepBatchSize: Number(values.batch[0]) } : {}), ...(values.steps ? { steps: Number(values.steps) } : {}) })).step;
  if (values.json) {
    console.log(JSON.stringify({ ours, pytorch, step }, null, 2));
    return;
  }
  console.log(`input pipeline on ${dir} (${ours.images} images timed after a first batch of ${ours.batchSize}, ${ours.size}x${ours.size} random-resized crop + flip, uint8), img/s:`);
  console.log('                                                  img/s   CPU ms/image');
  console.log(`  ${`reviewkd (${ours.decoder === 'libjpeg' ? 'libjpeg-turbo' : 'sharp'}, ${ours.workers} at once)`.padEnd(48)}${ours.pipelineImagesPerSecond.toFixed(0).padStart(6)}   ${ours.cpuMsPerImage.toFixed(2).padStart(6)}`);
  if (pytorch.imagesPerSecond) {
    console.log(`  PyTorch (PIL, DataLoader ${pytorch.workers} workers, torch ${pytorch.torch})  ${pytorch.imagesPerSecond.toFixed(0).padStart(6)}   ${pytorch.cpuMsPerImage.toFixed(2).padStart(6)}`);
    console.log(`  reviewkd / PyTorch                                ${(ours.pipelineImagesPerSecond / pytorch.imagesPerSecond).toFixed(2).padStart(5)}x  ${(ours.cpuMsPerImage / pytorch.cpuMsPerImage).toFixed(2).padStart(5)}x the CPU time`);
  } else console.log(`  PyTorch: not measured (${pytorch.error}); pass --python <a python with torch and Pillow>`);
  if (step) {
    console.log(`\n${step.pair} distillation step, batch ${step.batchSize}, img/s:`);
    console.log(`  fed by the pipeline ${step.pipelineImagesPerSecond.toFixed(1).padStart(7)}`);
    console.log(`  synthetic input     ${step.syntheticImagesPerSecond.toFixed(1).padStart(7)}`);
    console.log(`  ratio               ${(100 * step.ratio).toFixed(0).padStart(6)} %`);
  }
}

/** One cell (mode, pair, batch) timed in PyTorch (scripts/bench-pytorch.py --json): its result, or {error}. */
function pytorchCell(mode, pair, batch, threads) {
  const args = [path.join(__dirname, 'bench-pytorch.py'), '--pairs', pair, '--batch', String(batch), '--modes', mode, '--thread', 'main', '--threads', String(threads), '--json'];
  if (values.steps) args.push('--steps', values.steps);
  if (values.repeats) args.push('--repeats', values.repeats);
  const py = spawnSync(values.python, args, { encoding: 'utf8' });
  if (py.status !== 0) return { error: (py.stderr || String(py.error)).trim().split('\n').pop() };
  const out = JSON.parse(py.stdout.trim().split('\n').pop());
  return { torch: out.torch, threads: out.threads, result: out.results[0] };
}

(async () => {
  if (values.data) return pipelineBench();
  const quick = values.quick;
  const modes = values.modes.split(',');
  const pairs = values.pair ?? (quick ? ['resnet56-resnet20'] : ['resnet56-resnet20', 'wrn-40-2-wrn-16-2', 'resnet32x4-resnet8x4']);
  const batches = values.batch ? values.batch.map(Number) : [quick ? 16 : values.device === 'cpu' ? 64 : 128];
  const withPytorch = values.device === 'cpu' && !values['no-pytorch'] && !quick;
  const reports = [];
  const pytorch = withPytorch ? { results: [] } : null;
  // Cell by cell, ours then PyTorch's right after: on a shared machine the speed drifts by tens of per cent
  // within minutes, so each ratio compares two timings taken back to back.
  for (const mode of modes) {
    const fast = mode === 'fast';
    let report;
    for (const pair of pairs) {
      for (const batch of batches) {
        const cell = await rk.bench.runBench({
          device: values.device,
          pairs: [pair],
          batchSizes: [batch],
          steps: values.steps ? Number(values.steps) : quick ? 2 : undefined,
          repeats: values.repeats ? Number(values.repeats) : quick ? 1 : undefined,
          channelsLast: fast,
          autocast: fast ? 'bf16' : false,
        });
        if (!values.json) process.stderr.write(`  measured ${mode} ${pair} @${batch}\n`);
        if (report) report.results.push(...cell.results);
        else report = { mode, ...cell };
        if (pytorch && !pytorch.error) {
          const py = pytorchCell(mode, pair, batch, cell.threads);
          if (py.error) pytorch.error = py.error;
          else {
            Object.assign(pytorch, { torch: py.torch, threads: py.threads });
            pytorch.results.push(py.result);
            if (!values.json) process.stderr.write(`  measured ${mode} ${pair} @${batch} in PyTorch\n`);
          }
        }
      }
    }
    reports.push(report);
  }
  const overhead = spawnSync(process.execPath, [path.join(__dirname, 'bench-call-overhead.js'), '--json'], { encoding: 'utf8' });
  const callOverhead = overhead.status === 0 ? JSON.parse(overhead.stdout).nsPerCall : null;
  if (values.json) {
    console.log(JSON.stringify({ reports, pytorch, callOverheadNs: callOverhead }, null, 2));
    return;
  }
  const first = reports[0];
  console.log(`LibTorch ${first.libtorch} (${first.variant}), device ${first.device}, ${first.threads} threads, method ${first.method}`);
  if (pytorch?.error) console.log(`PyTorch not measured: ${pytorch.error} (pass --python <a python with torch>)`);
  else if (pytorch) console.log(`PyTorch ${pytorch.torch}, ${pytorch.threads} threads, same run (scripts/bench-pytorch.py; fast = the careful user: channels-last + bf16 autocast, teacher eval + no_grad)`);
  console.log('mode  pair                      batch  distill img/s  student img/s  teacher fwd img/s  PyTorch distill img/s  ours/PyTorch');
  for (const rep of reports) {
    for (const r of rep.results) {
      const py = pytorch?.results?.find((p) => p.mode === rep.mode && p.pair === r.pair && p.batch === r.batchSize);
      console.log(
        `${rep.mode.padEnd(5)} ${r.pair.padEnd(25)} ${String(r.batchSize).padStart(5)}  ${r.distillImagesPerSecond.toFixed(0).padStart(13)}  ${r.studentImagesPerSecond.toFixed(0).padStart(13)}  ${r.teacherForwardImagesPerSecond.toFixed(0).padStart(17)}  ${py ? py.distillImagesPerSecond.toFixed(0).padStart(21) : '                    -'}  ${py ? `${(r.distillImagesPerSecond / py.distillImagesPerSecond).toFixed(2)}x`.padStart(12) : '           -'}`,
      );
    }
    // A larger batch must not be slower per image (the page-fault collapse of the speed issue).
    for (const pair of new Set(rep.results.map((r) => r.pair))) {
      const rows = rep.results.filter((r) => r.pair === pair).sort((a, b) => a.batchSize - b.batchSize);
      for (let k = 1; k < rows.length; k++) {
        if (rows[k].distillImagesPerSecond < rows[k - 1].distillImagesPerSecond) {
          console.log(`  note: ${rep.mode} ${pair} is slower per image at batch ${rows[k].batchSize} than at ${rows[k - 1].batchSize}`);
        }
      }
    }
  }
  if (callOverhead) {
    console.log('\ncost of a native call (ns):');
    for (const [k, v] of Object.entries(callOverhead)) console.log(`  ${k.padEnd(48)} ${v.toFixed(0).padStart(8)}`);
  }
})().catch((err) => {
  console.error(err.stack || err.message);
  process.exit(1);
});
