// TorchScript import: a scripted module made in C++ (torch::jit::Module with registered parameters and
// buffers and a `define`d forward, saved with torch.jit's format), so no Python is needed.
const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');

const rk = require('..');
const { native } = require('../dist/native');
const { models } = rk;

let dir;
let fixture;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rk-torchscript-'));
  fixture = path.join(dir, 'tiny.pt');
  rk.manualSeed(3);
  native().torchScriptSaveFixture(fixture, 3, 5); // 3 input channels, 5 classes
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('models: TorchScript import', function () {
  this.timeout(60000);

  it('requires an explicit trustCode: true', () => {
    assert.throws(() => models.loadTorchScript(fixture), (e) => e instanceof TypeError && /trustCode: true/.test(e.message));
    assert.throws(() => models.loadTorchScript(fixture, { trustCode: 'yes' }), TypeError);
    assert.throws(() => native().torchScriptLoad(fixture, false, null), (e) => e instanceof TypeError && /trustCode/.test(e.message));
  });

  it('reports a missing or corrupt file as an Error naming it', () => {
    assert.throws(() => models.loadTorchScript(path.join(dir, 'nope.pt'), { trustCode: true }), /nope\.pt/);
    const junk = path.join(dir, 'junk.pt');
    fs.writeFileSync(junk, 'not a zip archive');
    assert.throws(() => models.loadTorchScript(junk, { trustCode: true }), /junk\.pt/);
  });

  it('mirrors the scripted parameters and buffers under their names', () => {
    const net = models.loadTorchScript(fixture, { trustCode: true });
    assert.strictEqual(net.kind, 'torchscript');
    assert.strictEqual(net.name, 'torchscript');
    assert.deepStrictEqual(Object.keys(net.namedParameters()).sort(), ['bn1.bias', 'bn1.weight', 'conv1.bias', 'conv1.weight', 'conv2.bias', 'conv2.weight', 'fc.bias', 'fc.weight']);
    assert.deepStrictEqual(Object.keys(net.namedBuffers()).sort(), ['bn1.running_mean', 'bn1.running_var']);
    // conv1 3->8 (3x3 + bias), bn1 8, conv2 8->16 (3x3 + bias), fc 16->5
    assert.strictEqual(net.numParameters(), 8 * 3 * 9 + 8 + 2 * 8 + 16 * 8 * 9 + 16 + 16 * 5 + 5);
    for (const p of net.parameters()) assert.strictEqual(p.requiresGrad, true);
  });

  it('gives logits and features; preact uses forward_preact', async () => {
    const net = models.loadTorchScript(fixture, { trustCode: true }).eval();
    const x = rk.randn([2, 3, 16, 16]);
    const logits = await net.forward(x);
    assert.deepStrictEqual(logits.shape, [2, 5]);
    const post = await net.forwardWithFeatures(x);
    assert.deepStrictEqual(post.features.map((f) => f.shape), [[2, 8, 16, 16], [2, 16, 8, 8], [2, 16, 1, 1]]);
    assert.ok(post.features[0].min().item() >= 0);
    const pre = await net.features(x, { preact: true });
    assert.ok(pre[0].min().item() < 0);
    // eval(): the scripted module runs BatchNorm with its running statistics, so it is deterministic.
    assert.deepStrictEqual(Array.from((await net.forward(x)).toArray()), Array.from(logits.toArray()));
  });

  it('trains one step and its loss decreases; train() reaches the scripted BatchNorm', async () => {
    const net = models.loadTorchScript(fixture, { trustCode: true }).train();
    rk.manualSeed(11);
    const x = rk.randn([8, 3, 16, 16]);
    const labels = rk.tensor([0, 1, 2, 3, 4, 0, 1, 2], { dtype: 'int64' });
    const opt = new rk.optim.SGD(net.parameters(), { lr: 0.1 });
    const lossOf = async () => rk.losses.crossEntropy(await net.forward(x), labels);
    const before = await lossOf();
    opt.zeroGrad();
    before.backward();
    opt.step();
    const after = await lossOf();
    assert.ok(after.item() < before.item(), `loss ${before.item()} -> ${after.item()}`);
    // Training-mode BatchNorm moved the scripted running mean (the mirrored buffer is the same tensor).
    assert.ok(net.namedBuffers()['bn1.running_mean'].abs().max().item() > 0);
  });

  it('saves to and loads from safetensors under the scripted names', async () => {
    const a = models.loadTorchScript(fixture, { trustCode: true }).train();
    // One SGD step moves a's weights (and BN statistics) away from the file's.
    const opt = new rk.optim.SGD(a.parameters(), { lr: 0.5 });
    (await a.forward(rk.randn([4, 3, 8, 8]))).sum().backward();
    opt.step();
    const file = path.join(dir, 'tiny.safetensors');
    a.save(file);
    const b = models.loadTorchScript(fixture, { trustCode: true });
    const x = rk.randn([1, 3, 8, 8]);
    b.eval();
    const fresh = Array.from((await b.forward(x)).toArray());
    assert.deepStrictEqual(b.load(file), { missing: [], unexpected: [], mismatched: [] });
    a.eval();
    assert.notDeepStrictEqual(Array.from((await a.forward(x)).toArray()), fresh);
    assert.deepStrictEqual(Array.from((await b.forward(x)).toArray()), Array.from((await a.forward(x)).toArray()));
  });

  it('a logits-only module works for forward and refuses the feature calls with a pointer to the contract', async () => {
    const plain = path.join(dir, 'plain.pt');
    native().torchScriptSaveFixture(plain, 3, 5, true);
    const net = models.loadTorchScript(plain, { trustCode: true }).eval();
    const x = rk.randn([2, 3, 8, 8]);
    assert.deepStrictEqual((await net.forward(x)).shape, [2, 5]);
    await assert.rejects(async () => net.forwardWithFeatures(x), /must return a tuple \(logits, List\[Tensor\]\).*docs\/models\.md/);
    await assert.rejects(async () => net.forward(rk.randn([2, 8, 8])), (e) => e instanceof RangeError && /4-d/.test(e.message));
  });

  it('moves to float64 with the scripted module seeing the new tensors', async () => {
    const net = models.loadTorchScript(fixture, { trustCode: true }).eval().to('float64');
    const logits = await net.forward(rk.randn([1, 3, 8, 8], { dtype: 'float64' }));
    assert.strictEqual(logits.dtype, 'float64');
  });
});

describe('TorchScript export', function () {
  this.timeout(120000);
  const fs = require('fs');
  const os = require('os');
  const path = require('path');

  it('traces a zoo model: same logits when reloaded, PyTorch state_dict names, other batch and image sizes', async () => {
    rk.manualSeed(3);
    const model = rk.models.create('resnet8', { numClasses: 10, inChannels: 1 });
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rk-ts-')), 'resnet8.pt');
    model.exportTorchScript(file, { exampleInput: rk.randn([2, 1, 16, 16]) });
    assert.strictEqual(model.training, true, 'the training flag is restored after the eval-mode trace');
    model.eval();
    const loaded = rk.models.loadTorchScript(file, { trustCode: true }).eval();
    assert.deepStrictEqual(Object.keys(loaded.stateDict()).sort(), Object.keys(model.stateDict()).sort());
    for (const shape of [[2, 1, 16, 16], [5, 1, 28, 28]]) {
      const x = rk.randn(shape);
      const a = await model.forward(x);
      const b = await loaded.forward(x);
      assert.strictEqual(a.sub(b).abs().max().item(), 0, `logits differ for input ${shape}`);
    }
  });

  it('Trainer.exportStudent writes TorchScript for a .pt path and rejects a bad format', async () => {
    const { squaresDataset } = require('./train-helpers');
    rk.manualSeed(4);
    const student = rk.models.create('resnet8', { numClasses: 10, inChannels: 1 });
    const trainer = await rk.train.Trainer.create({ student, train: squaresDataset(64, 1) });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rk-ts-'));
    // Without the normalisation (on by default) the file computes exactly the student's forward; with it, see test/first-hour.test.js.
    trainer.exportStudent(path.join(dir, 'student.pt'), { normalize: false });
    const loaded = rk.models.loadTorchScript(path.join(dir, 'student.pt'), { trustCode: true }).eval();
    const x = rk.randn([3, 1, 16, 16]);
    student.eval();
    assert.strictEqual((await student.forward(x)).sub(await loaded.forward(x)).abs().max().item(), 0);
    assert.throws(() => trainer.exportStudent(path.join(dir, 's.bin'), { format: 'onnx' }), /format/);
    assert.throws(() => student.exportTorchScript(''), TypeError);
  });
});
