'use strict';
// The prebuilt CUDA variant on a machine with pip's CUDA torch but no GPU and no compiler. Run only by
// scripts/test-cuda-variant.js (npm run test:cuda-variant), which makes that machine: python3 is a venv
// holding torch 2.14.1+cu130 and the nvidia-* wheels, compilers and CMake are off PATH, the cache is fresh.
// Each test says what a user of such a machine must see.
const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.resolve(__dirname, '..', '..');
const rk = require(root);
const { loadedBinary } = require(path.join(root, 'dist', 'native'));
const { missingBuildTools } = require(path.join(root, 'dist', 'loader', 'source-build'));
const { cli, tmp, imageFolder } = require('../cli-helpers');

const pkg = require(path.join(root, 'package.json'));
const CUDA_VERSION = `${pkg.libtorch.cudaCheckVersion}+cu130`;
const NO_GPU = /found no usable GPU: Found no NVIDIA driver on your system|found no usable GPU: No CUDA GPUs are available/;

function node(script, env = {}) {
  return spawnSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 300000 });
}

describe('CUDA variant: pip CUDA torch, no GPU, no compiler', function () {
  this.timeout(300000);

  before(function () {
    if (process.env.REVIEWKD_CUDA_VARIANT_STAGE !== '1') {
      throw new Error('run through `npm run test:cuda-variant` (scripts/test-cuda-variant.js), which makes the machine these tests describe');
    }
  });

  it('no compiler, nvcc or CMake is reachable', () => {
    for (const tool of ['cc', 'c++', 'gcc', 'g++', 'clang', 'nvcc', 'cmake', 'make', 'ninja']) {
      const r = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' });
      assert.notStrictEqual(r.status, 0, `${tool} is on PATH at ${r.stdout.trim()}`);
    }
    assert.ok(missingBuildTools().includes('cmake'), missingBuildTools().join(', '));
  });

  it("loads the prebuilt CUDA variant through the normal loader, against python3's torch", () => {
    const info = rk.info();
    assert.deepStrictEqual([info.libtorch.version, info.libtorch.variant, info.libtorch.source], [CUDA_VERSION, 'cuda', 'python3']);
    const loaded = loadedBinary();
    assert.strictEqual(loaded.kind, 'prebuilt');
    assert.deepStrictEqual([loaded.record.prebuilt, loaded.record.libtorch.version, loaded.record.libtorch.variant], [true, CUDA_VERSION, 'cuda']);
    assert.ok(loaded.path.includes(`${path.sep}bindings${path.sep}`), loaded.path);
    // pip's libtorch_cuda.so finds cuBLAS, cuDNN, NCCL... through $ORIGIN/../../nvidia: the binding has that link.
    const bound = path.dirname(loaded.path);
    assert.strictEqual(fs.readlinkSync(path.join(bound, 'nvidia')), path.join(path.dirname(info.libtorch.path), 'nvidia'));
    const cpu = loaded.plan.candidates.find((c) => c.kind === 'prebuilt' && c.variant === 'cpu');
    assert.strictEqual(cpu.fits, false);
    assert.match(cpu.reason, new RegExp(`built for cpu LibTorch .*; the LibTorch found is cuda ${CUDA_VERSION.replace(/[.+]/g, '\\$&')}`));
  });

  it('CUDA is unavailable, and says why (no driver / no device)', () => {
    assert.strictEqual(rk.cuda.isAvailable(), false);
    assert.strictEqual(rk.cuda.deviceCount(), 0);
    assert.match(rk.cuda.unavailableReason(), NO_GPU);
    assert.match(rk.info().cuda.unavailableReason, NO_GPU);
  });

  it("a request for 'cuda' tensors, models or trainers fails with the cause, and CPU work goes on", async () => {
    const cause = (re) => (err) => re.test(err.message) && NO_GPU.test(err.message);
    assert.throws(() => rk.zeros([2, 3], { device: 'cuda' }), cause(/device.*'cuda' but CUDA is not available/));
    const t = rk.ones([2, 3]);
    assert.throws(() => t.to({ device: 'cuda:0' }), cause(/'cuda:0' but CUDA is not available/));
    const model = rk.models.create('resnet8', { numClasses: 4 });
    assert.throws(() => model.to('cuda'), cause(/'cuda' but CUDA is not available/));
    const train = {
      name: 'noise', images: new Uint8Array(8 * 3 * 16 * 16).map((_, i) => (i * 37) % 256), labels: Int32Array.from([0, 1, 2, 3, 0, 1, 2, 3]),
      count: 8, channels: 3, height: 16, width: 16, numClasses: 4, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25],
    };
    await assert.rejects(rk.train.Trainer.create({ student: model, train, device: 'cuda' }), cause(/CUDA is not available/));
    // The same process still trains on the CPU.
    const trainer = await rk.train.Trainer.create({ student: model, train });
    const { history } = await trainer.fit({ epochs: 1, batchSize: 4, progress: 'none', evaluateEvery: 0 });
    assert.ok(Number.isFinite(history[0].loss), JSON.stringify(history[0]));
    trainer.dispose();
    model.dispose();
    assert.strictEqual(t.add(1).sum().item(), 12);
  });

  it('`reviewkd doctor` says which variant is loaded and why CUDA is unavailable', () => {
    const text = cli(['doctor']);
    assert.strictEqual(text.code, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`Loaded     prebuilt \\(cuda variant, LibTorch ${CUDA_VERSION.replace(/[.+]/g, '\\$&')}\\): .*bindings`));
    assert.match(text.stdout, /CUDA       not available: this CUDA build of LibTorch .* found no usable GPU: /);
    assert.match(text.stdout, /a source build would need: cmake/);
    const report = JSON.parse(cli(['doctor', '--json']).stdout);
    assert.deepStrictEqual([report.ok, report.loaded.kind, report.loaded.variant, report.cuda.available], [true, 'prebuilt', 'cuda', false]);
    assert.match(report.cuda.reason, NO_GPU);
  });

  it('the CLI trains on the CPU with a one-line note; --device cuda is a usage error naming the cause', async () => {
    const dir = tmp('cuda-variant');
    const data = await imageFolder(path.join(dir, 'data'), 8);
    const r = cli(['train', '--model', 'resnet8', '--data', data, '--epochs', '1', '--batch', '16', '--out', path.join(dir, 'run'), '--progress', 'none', '--json']);
    assert.strictEqual(r.code, 0, r.stderr);
    const notes = r.stderr.split('\n').filter((l) => /CUDA/.test(l));
    assert.strictEqual(notes.length, 1, r.stderr);
    assert.match(notes[0], new RegExp(`^reviewkd: note: CUDA LibTorch ${CUDA_VERSION.replace(/[.+]/g, '\\$&')} loaded, but .*found no usable GPU.*; training on the CPU$`));
    assert.strictEqual(JSON.parse(r.stdout).device, 'cpu');
    const gpu = cli(['train', '--model', 'resnet8', '--data', data, '--epochs', '1', '--out', path.join(dir, 'run-gpu'), '--device', 'cuda']);
    assert.strictEqual(gpu.code, 2, gpu.stderr);
    assert.match(gpu.stderr, /option --device cuda: 0 CUDA device\(s\) visible \(this CUDA build of LibTorch .*found no usable GPU/);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the CUDA variant is refused for a CUDA LibTorch of another version, naming both (no crash)', () => {
    const torch = rk.info().libtorch.path;
    const other = fs.mkdtempSync(path.join(os.tmpdir(), 'rk-torch-2.14.0-'));
    for (const sub of ['include', 'lib', 'share']) fs.symlinkSync(path.join(torch, sub), path.join(other, sub));
    fs.writeFileSync(path.join(other, 'version.py'), "__version__ = '2.14.0+cu130'\n");
    const r = node("require('.').info()", { LIBTORCH: other });
    fs.rmSync(other, { recursive: true, force: true });
    assert.strictEqual(r.status, 1, r.stderr);
    assert.match(r.stderr, /no binary fits this LibTorch, and building one from source needs cmake/);
    assert.match(r.stderr, new RegExp(`prebuilt \\(cuda\\) .*: built against LibTorch ${CUDA_VERSION.replace(/[.+]/g, '\\$&')}; the LibTorch found is 2\\.14\\.0\\+cu130`));
    assert.doesNotMatch(r.stderr, /Segmentation|Aborted|core dumped/);
  });

  it('with the CPU LibTorch 2.13 the CUDA variant is refused naming both, and the CPU binary is used', () => {
    const python = '/tmp/ptvenv/bin/python3';
    if (!fs.existsSync(python)) throw new Error(`${python} (the PyTorch 2.13 CPU venv) is missing`);
    const r = node("const rk = require('.'); process.stdout.write(JSON.stringify(rk.doctor()))", { PYTHON: python });
    assert.strictEqual(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.strictEqual(report.loaded.variant, 'cpu');
    const cuda = report.binaries.find((b) => b.kind === 'prebuilt' && b.variant === 'cuda');
    assert.strictEqual(cuda.fits, false);
    assert.match(cuda.reason, new RegExp(`built for cuda LibTorch ${CUDA_VERSION.replace(/[.+]/g, '\\$&')}; the LibTorch found is cpu 2\\.13\\.0\\+cpu`));
  });
});
