// The model zoo: every model's logits and feature shapes at the spec's sizes, parameter counts derived
// from the reference layer definitions, reference state_dict names, pre-activation semantics,
// safetensors round trips and errors, determinism, device/dtype moves, channels-last.
const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');

const rk = require('..');
const { models } = rk;

let dir;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rk-models-'));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const file = (name) => path.join(dir, name);

// ---- parameter counts, derived from the layer definitions of the reference code ----
// conv: out * (in / groups) * k * k (+ out with bias); BatchNorm: weight + bias = 2c; Linear: in * out + out.
const conv = (i, o, k, groups = 1, bias = false) => o * (i / groups) * k * k + (bias ? o : 0);
const bn = (c) => 2 * c;
const linear = (i, o) => i * o + o;

// CIFAR ResNet (resnet_cifar.py): stem conv3x3(inC -> w0) + bn; 3 stages of n = (depth-2)/6 BasicBlocks
// (conv3x3 + bn + conv3x3 + bn, plus a 1x1 conv + bn projection when stride or width changes); fc.
function cifarResNetParams(depth, w, classes = 100, inC = 3) {
  const n = (depth - 2) / 6;
  let total = conv(inC, w[0], 3) + bn(w[0]);
  let inp = w[0];
  for (let s = 0; s < 3; s++) {
    const p = w[s + 1];
    for (let b = 0; b < n; b++) {
      const stride = b === 0 && s > 0 ? 2 : 1;
      total += conv(inp, p, 3) + bn(p) + conv(p, p, 3) + bn(p);
      if (stride !== 1 || inp !== p) total += conv(inp, p, 1) + bn(p);
      inp = p;
    }
  }
  return total + linear(w[3], classes);
}

// WRN (wide_resnet_cifar.py): conv3x3(inC -> 16); 3 groups of n = (depth-4)/6 pre-activation blocks
// (bn(in) + conv3x3(in -> out) + bn(out) + conv3x3(out -> out), plus a bias-free 1x1 convShortcut when
// in != out); final bn; fc.
function wrnParams(depth, k, classes = 100, inC = 3) {
  const n = (depth - 4) / 6;
  const c = [16, 16 * k, 32 * k, 64 * k];
  let total = conv(inC, 16, 3);
  for (let g = 0; g < 3; g++) {
    for (let b = 0; b < n; b++) {
      const i = b === 0 ? c[g] : c[g + 1];
      const o = c[g + 1];
      total += bn(i) + conv(i, o, 3) + bn(o) + conv(o, o, 3) + (i !== o ? conv(i, o, 1) : 0);
    }
  }
  return total + bn(c[3]) + linear(c[3], classes);
}

// VGG-BN (vgg.py): each conv3x3 has a bias and a BatchNorm; classifier Linear(512, classes).
function vggParams(cfg, classes = 100, inC = 3) {
  let total = 0;
  let inp = inC;
  for (const block of cfg) {
    for (const w of block) {
      total += conv(inp, w, 3, 1, true) + bn(w);
      inp = w;
    }
  }
  return total + linear(512, classes);
}

// MobileNetV2 (mobilenetv2.py): conv3x3 s2 (inC -> 32w) + bn; inverted residuals with a 1x1 expand
// (always present), 3x3 depthwise and 1x1 project, each + bn; conv1x1 -> 1280 + bn; Linear.
function mobileNetV2Params(t, width, classes = 100, inC = 3) {
  const setting = [[1, 16, 1], [t, 24, 2], [t, 32, 3], [t, 64, 4], [t, 96, 3], [t, 160, 3], [t, 320, 1]];
  let inp = Math.floor(32 * width);
  let total = conv(inC, inp, 3) + bn(inp);
  for (const [e, ch, reps] of setting) {
    const out = Math.floor(ch * width);
    for (let r = 0; r < reps; r++) {
      const h = inp * e;
      total += conv(inp, h, 1) + bn(h) + conv(h, h, 3, h) + bn(h) + conv(h, out, 1) + bn(out);
      inp = out;
    }
  }
  return total + conv(inp, 1280, 1) + bn(1280) + linear(1280, classes);
}

// ShuffleNetV1 g=3 (ShuffleNetv1.py): conv1x1(inC -> 24) + bn; per unit with branch width o and mid = o/4:
// grouped 1x1 (groups 1 after the 24-ch stem, else 3) + bn, depthwise 3x3 + bn, grouped 1x1 (groups 3)
// + bn; the strided first unit of a stage has o = stage width - input width (its shortcut is concatenated).
function shuffleV1Params(classes = 100, inC = 3) {
  let total = conv(inC, 24, 1) + bn(24);
  let inp = 24;
  for (const [width, units] of [[240, 4], [480, 8], [960, 4]]) {
    for (let u = 0; u < units; u++) {
      const o = u === 0 ? width - inp : width;
      const mid = Math.floor(o / 4);
      total += conv(inp, mid, 1, inp === 24 ? 1 : 3) + bn(mid) + conv(mid, mid, 3, mid) + bn(mid) + conv(mid, o, 1, 3) + bn(o);
      inp = width;
    }
  }
  return total + linear(960, classes);
}

// ShuffleNetV2 1.0 (ShuffleNetv2.py): conv1x1(inC -> 24) + bn; per stage a DownBlock (depthwise 3x3 s2 +
// bn + 1x1 -> mid + bn on the left; 1x1 -> mid + bn, depthwise 3x3 s2 + bn, 1x1 + bn on the right;
// mid = width/2) and BasicBlocks on half the channels (1x1 + bn, depthwise 3x3 + bn, 1x1 + bn);
// conv1x1 464 -> 1024 + bn; Linear.
function shuffleV2Params(classes = 100, inC = 3) {
  let total = conv(inC, 24, 1) + bn(24);
  let inp = 24;
  for (const [width, units] of [[116, 3], [232, 7], [464, 3]]) {
    const mid = width / 2;
    total += conv(inp, inp, 3, inp) + bn(inp) + conv(inp, mid, 1) + bn(mid);
    total += conv(inp, mid, 1) + bn(mid) + conv(mid, mid, 3, mid) + bn(mid) + conv(mid, mid, 1) + bn(mid);
    for (let u = 0; u < units; u++) total += conv(mid, mid, 1) + bn(mid) + conv(mid, mid, 3, mid) + bn(mid) + conv(mid, mid, 1) + bn(mid);
    inp = width;
  }
  return total + conv(464, 1024, 1) + bn(1024) + linear(1024, classes);
}

// Bottleneck ResNets: 1x1 (in -> p) + bn, 3x3 (p -> p) + bn, 1x1 (p -> 4p) + bn, projection 1x1 + bn on the
// first block of each stage (the width changes there). CIFAR ResNet50 (resnetv2.py): 3x3 stem to 64;
// torchvision ResNet50: 7x7 stem to 64.
function bottleneckStages(counts) {
  let total = 0;
  let inp = 64;
  [64, 128, 256, 512].forEach((p, s) => {
    for (let b = 0; b < counts[s]; b++) {
      total += conv(inp, p, 1) + bn(p) + conv(p, p, 3) + bn(p) + conv(p, 4 * p, 1) + bn(4 * p);
      if (b === 0) total += conv(inp, 4 * p, 1) + bn(4 * p);
      inp = 4 * p;
    }
  });
  return total;
}
// torchvision BasicBlock stages (ResNet18/34): as the CIFAR BasicBlock, widths 64..512, stride 2 after stage 1.
function basicStages(counts) {
  let total = 0;
  let inp = 64;
  [64, 128, 256, 512].forEach((p, s) => {
    for (let b = 0; b < counts[s]; b++) {
      total += conv(inp, p, 3) + bn(p) + conv(p, p, 3) + bn(p);
      if (b === 0 && (s > 0 || inp !== p)) total += conv(inp, p, 1) + bn(p);
      inp = p;
    }
  });
  return total;
}
// MobileNet V1 (ImageNet/models/mobilenet.py): conv3x3 s2 (inC -> 32) + bn; 13 units of depthwise 3x3 +
// bn and pointwise 1x1 + bn; fc.
function mobileNetV1Params(classes = 1000, inC = 3) {
  const units = [[32, 64], [64, 128], [128, 128], [128, 256], [256, 256], [256, 512], [512, 512], [512, 512], [512, 512], [512, 512], [512, 512], [512, 1024], [1024, 1024]];
  let total = conv(inC, 32, 3) + bn(32);
  for (const [i, o] of units) total += conv(i, i, 3, i) + bn(i) + conv(i, o, 1) + bn(o);
  return total + linear(1024, classes);
}

const V = {
  8: [[64], [128], [256], [512], [512]],
  11: [[64], [128], [256, 256], [512, 512], [512, 512]],
  13: [[64, 64], [128, 128], [256, 256], [512, 512], [512, 512]],
  16: [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]],
  19: [[64, 64], [128, 128], [256, 256, 256, 256], [512, 512, 512, 512], [512, 512, 512, 512]],
};
const cifar3 = (a, b, c) => [[a, 32, 32], [b, 16, 16], [c, 8, 8], [c, 1, 1]];
const imagenet4 = (a, b, c, d) => [[a, 56, 56], [b, 28, 28], [c, 14, 14], [d, 7, 7], [d, 1, 1]];

// name -> [expected parameters, feature shapes of docs/models.md (C, H, W), post-activation is non-negative]
const EXPECTED = {
  resnet8: [cifarResNetParams(8, [16, 16, 32, 64]), cifar3(16, 32, 64), true],
  resnet14: [cifarResNetParams(14, [16, 16, 32, 64]), cifar3(16, 32, 64), true],
  resnet20: [cifarResNetParams(20, [16, 16, 32, 64]), cifar3(16, 32, 64), true],
  resnet32: [cifarResNetParams(32, [16, 16, 32, 64]), cifar3(16, 32, 64), true],
  resnet44: [cifarResNetParams(44, [16, 16, 32, 64]), cifar3(16, 32, 64), true],
  resnet56: [cifarResNetParams(56, [16, 16, 32, 64]), cifar3(16, 32, 64), true],
  resnet110: [cifarResNetParams(110, [16, 16, 32, 64]), cifar3(16, 32, 64), true],
  resnet8x4: [cifarResNetParams(8, [32, 64, 128, 256]), cifar3(64, 128, 256), true],
  resnet32x4: [cifarResNetParams(32, [32, 64, 128, 256]), cifar3(64, 128, 256), true],
  'wrn-16-1': [wrnParams(16, 1), cifar3(16, 32, 64), false],
  'wrn-16-2': [wrnParams(16, 2), cifar3(32, 64, 128), false],
  'wrn-16-4': [wrnParams(16, 4), cifar3(64, 128, 256), false],
  'wrn-28-2': [wrnParams(28, 2), cifar3(32, 64, 128), false],
  'wrn-28-10': [wrnParams(28, 10), cifar3(160, 320, 640), false],
  'wrn-40-1': [wrnParams(40, 1), cifar3(16, 32, 64), false],
  'wrn-40-2': [wrnParams(40, 2), cifar3(32, 64, 128), false],
  'wrn-40-4': [wrnParams(40, 4), cifar3(64, 128, 256), false],
  vgg8: [vggParams(V[8]), [[128, 16, 16], [256, 8, 8], [512, 4, 4], [512, 4, 4], [512, 1, 1]], true],
  vgg11: [vggParams(V[11]), [[128, 16, 16], [256, 8, 8], [512, 4, 4], [512, 4, 4], [512, 1, 1]], true],
  vgg13: [vggParams(V[13]), [[128, 16, 16], [256, 8, 8], [512, 4, 4], [512, 4, 4], [512, 1, 1]], true],
  vgg16: [vggParams(V[16]), [[128, 16, 16], [256, 8, 8], [512, 4, 4], [512, 4, 4], [512, 1, 1]], true],
  vgg19: [vggParams(V[19]), [[128, 16, 16], [256, 8, 8], [512, 4, 4], [512, 4, 4], [512, 1, 1]], true],
  'mobilenetv2-0.5': [mobileNetV2Params(6, 0.5), [[12, 16, 16], [16, 8, 8], [48, 4, 4], [160, 2, 2], [1280, 1, 1]], false],
  'mobilenetv2-1.0': [mobileNetV2Params(6, 1.0), [[24, 16, 16], [32, 8, 8], [96, 4, 4], [320, 2, 2], [1280, 1, 1]], false],
  shufflenetv1: [shuffleV1Params(), [[240, 16, 16], [480, 8, 8], [960, 4, 4], [960, 1, 1]], true],
  shufflenetv2: [shuffleV2Params(), [[116, 16, 16], [232, 8, 8], [464, 4, 4], [1024, 1, 1]], true],
  'cifar-resnet50': [conv(3, 64, 3) + bn(64) + bottleneckStages([3, 4, 6, 3]) + linear(2048, 100), [[256, 32, 32], [512, 16, 16], [1024, 8, 8], [2048, 4, 4], [2048, 1, 1]], true],
  resnet18: [conv(3, 64, 7) + bn(64) + basicStages([2, 2, 2, 2]) + linear(512, 1000), imagenet4(64, 128, 256, 512), true],
  resnet34: [conv(3, 64, 7) + bn(64) + basicStages([3, 4, 6, 3]) + linear(512, 1000), imagenet4(64, 128, 256, 512), true],
  resnet50: [conv(3, 64, 7) + bn(64) + bottleneckStages([3, 4, 6, 3]) + linear(2048, 1000), imagenet4(256, 512, 1024, 2048), true],
  mobilenetv1: [mobileNetV1Params(), imagenet4(128, 256, 512, 1024), true],
};

const minOf = (t) => rk.scope(() => t.min().item());
// Starts an async forward with autograd off: the native call captures the grad mode synchronously,
// and rk.noGrad itself only covers synchronous work.
function noGradAsync(fn) {
  let promise;
  rk.noGrad(() => {
    promise = fn();
  });
  return promise;
}

describe('models: registry', () => {
  it('lists every model of the issue with its reference feature shapes', () => {
    const names = models.list().map((m) => m.name);
    assert.deepStrictEqual(names.slice().sort(), Object.keys(EXPECTED).sort());
    for (const m of models.list()) assert.deepStrictEqual(m.featureShapes, EXPECTED[m.name][1], m.name);
  });

  it('reports parameter counts equal to the reference definitions', function () {
    this.timeout(30000);
    for (const m of models.list()) assert.strictEqual(m.numParameters, EXPECTED[m.name][0], m.name);
    // Published reference numbers as a cross-check of the derivations (CRD / torchvision).
    assert.strictEqual(EXPECTED.resnet56[0], 861620);
    assert.strictEqual(EXPECTED['wrn-40-2'][0], 2255156);
    assert.strictEqual(EXPECTED.resnet18[0], 11689512);
    assert.strictEqual(EXPECTED.resnet50[0], 25557032);
  });

  it('resolves aliases and any wrn-D-W', () => {
    assert.strictEqual(models.info('ShuffleV1').name, 'shufflenetv1');
    assert.strictEqual(models.info('mobile_half').name, 'mobilenetv2-0.5');
    assert.strictEqual(models.info('ResNet50').name, 'cifar-resnet50');
    assert.strictEqual(models.info('resnet50').name, 'resnet50');
    const w = models.info('wrn-22-8');
    assert.strictEqual(w.numParameters, wrnParams(22, 8));
    assert.deepStrictEqual(w.featureShapes, cifar3(128, 256, 512));
  });

  it('rejects an unknown name with the closest names, and bad arguments with TypeError/RangeError', () => {
    assert.throws(() => models.create('resnet21'), (e) => e instanceof RangeError && /unknown model 'resnet21'.*closest names: 'resnet20'/.test(e.message));
    assert.throws(() => models.create('wrn-17-2'), (e) => e instanceof RangeError && /6n\+4/.test(e.message));
    assert.throws(() => models.create(42), TypeError);
    assert.throws(() => models.create('resnet20', { numClasses: 2.5 }), TypeError);
    assert.throws(() => models.create('resnet20', { numClasses: 0 }), (e) => e instanceof RangeError && /numClasses/.test(e.message));
    assert.throws(() => models.create('resnet20', { inChannels: -1 }), (e) => e instanceof RangeError && /inChannels/.test(e.message));
  });
});

describe('models: shapes, counts and activations of every model', function () {
  this.timeout(60000);
  for (const [name, [params, shapes, postNonNegative]] of Object.entries(EXPECTED)) {
    it(name, async () => {
      const imagenet = shapes[0][1] === 56;
      const n = imagenet ? 1 : 2;
      const side = imagenet ? 224 : 32;
      const classes = imagenet ? 1000 : 100;
      await (async () => {
        const net = models.create(name).eval();
        assert.strictEqual(net.numParameters(), params);
        assert.strictEqual(net.name, name);
        rk.manualSeed(1);
        const x = rk.randn([n, 3, side, side]);
        const post = await noGradAsync(() => net.forwardWithFeatures(x));
        assert.deepStrictEqual(post.logits.shape, [n, classes]);
        assert.deepStrictEqual(post.features.map((f) => f.shape), shapes.map((s) => [n, ...s]));
        if (imagenet) return; // one forward each for the 224x224 models (time)
        const pre = await noGradAsync(() => net.features(x, { preact: true }));
        assert.deepStrictEqual(pre.map((f) => f.shape), shapes.map((s) => [n, ...s]));
        const stages = shapes.length - 1;
        if (name.startsWith('mobilenetv2')) {
          // Linear bottlenecks: no activation to drop, so both calls give the same maps.
          for (let i = 0; i < stages; i++) assert.ok(minOf(pre[i].sub(post.features[i]).abs()) === 0 && minOf(pre[i]) < 0);
        } else {
          for (let i = 0; i < stages; i++) {
            assert.ok(minOf(pre[i]) < 0, `${name} preact feature ${i} has negative values`);
            if (postNonNegative) assert.ok(minOf(post.features[i]) >= 0, `${name} feature ${i} is post-ReLU`);
          }
        }
        // The pooled feature is pooled from the post-activation map, whatever preact says.
        assert.deepStrictEqual(Array.from(pre[stages].toArray()), Array.from(post.features[stages].toArray()));
      })();
    });
  }

  it('ImageNet models with preact give pre-ReLU stage maps', async () => {
    await (async () => {
      const net = models.create('mobilenetv1').eval();
      const feats = await noGradAsync(() => net.features(rk.randn([1, 3, 64, 64]), { preact: true }));
      assert.ok(minOf(feats[0]) < 0);
    })();
  });
});

describe('models: state_dict names follow the reference definitions', () => {
  const cases = {
    resnet8x4: { 'conv1.weight': [32, 3, 3, 3], 'layer1.0.downsample.0.weight': [64, 32, 1, 1], 'layer1.0.downsample.1.running_var': [64], 'layer3.0.conv2.weight': [256, 256, 3, 3], 'fc.weight': [100, 256] },
    'wrn-40-2': { 'block1.layer.0.bn1.weight': [16], 'block1.layer.0.convShortcut.weight': [32, 16, 1, 1], 'block2.layer.5.conv2.weight': [64, 64, 3, 3], 'bn1.num_batches_tracked': [], 'fc.bias': [100] },
    vgg13: { 'block0.0.bias': [64], 'block0.3.weight': [64, 64, 3, 3], 'block0.4.running_mean': [64], 'block4.4.weight': [512], 'classifier.weight': [100, 512] },
    'mobilenetv2-0.5': { 'conv1.0.weight': [16, 3, 3, 3], 'blocks.0.0.conv.0.weight': [16, 16, 1, 1], 'blocks.1.0.conv.3.weight': [48, 1, 3, 3], 'blocks.6.0.conv.7.running_mean': [160], 'conv2.0.weight': [1280, 160, 1, 1], 'classifier.0.weight': [100, 1280] },
    shufflenetv1: { 'conv1.weight': [24, 3, 1, 1], 'layer1.0.conv1.weight': [54, 24, 1, 1], 'layer1.0.conv3.weight': [216, 18, 1, 1], 'layer3.3.bn3.weight': [960], 'linear.weight': [100, 960] },
    shufflenetv2: { 'layer1.0.conv1.weight': [24, 1, 3, 3], 'layer1.0.conv5.weight': [58, 58, 1, 1], 'layer2.7.bn3.running_var': [116], 'conv2.weight': [1024, 464, 1, 1], 'linear.bias': [100] },
    'cifar-resnet50': { 'conv1.weight': [64, 3, 3, 3], 'layer1.0.shortcut.0.weight': [256, 64, 1, 1], 'layer4.2.conv3.weight': [2048, 512, 1, 1], 'linear.weight': [100, 2048] },
    resnet50: { 'conv1.weight': [64, 3, 7, 7], 'layer1.0.downsample.0.weight': [256, 64, 1, 1], 'layer2.0.conv2.weight': [128, 128, 3, 3], 'layer4.2.bn3.num_batches_tracked': [], 'fc.weight': [1000, 2048] },
    resnet18: { 'layer1.0.conv1.weight': [64, 64, 3, 3], 'layer2.0.downsample.1.weight': [128], 'fc.weight': [1000, 512] },
    mobilenetv1: { 'model.0.0.weight': [32, 3, 3, 3], 'model.1.0.weight': [32, 1, 3, 3], 'model.1.3.weight': [64, 32, 1, 1], 'model.13.4.running_mean': [1024], 'fc.weight': [1000, 1024] },
  };
  for (const [name, keys] of Object.entries(cases)) {
    it(name, () => {
      rk.scope(() => {
        const sd = models.create(name).stateDict();
        for (const [k, shape] of Object.entries(keys)) {
          assert.ok(k in sd, `${name} has '${k}'`);
          assert.deepStrictEqual(sd[k].shape, shape, k);
        }
        // No key outside the reference vocabulary of parameter and buffer leaves.
        for (const k of Object.keys(sd)) assert.match(k, /\.(weight|bias|running_mean|running_var|num_batches_tracked)$/);
      });
    });
  }
  it('ResNet keys equal the reference list exactly (resnet8)', () => {
    const expected = ['conv1.weight', 'bn1.weight', 'bn1.bias'];
    for (const s of [1, 2, 3]) {
      expected.push(`layer${s}.0.conv1.weight`, `layer${s}.0.bn1.weight`, `layer${s}.0.bn1.bias`, `layer${s}.0.conv2.weight`, `layer${s}.0.bn2.weight`, `layer${s}.0.bn2.bias`);
      if (s > 1) expected.push(`layer${s}.0.downsample.0.weight`, `layer${s}.0.downsample.1.weight`, `layer${s}.0.downsample.1.bias`);
    }
    expected.push('fc.weight', 'fc.bias');
    rk.scope(() => assert.deepStrictEqual(Object.keys(models.create('resnet8').namedParameters()).sort(), expected.sort()));
  });
});

describe('models: options, modes, moves', function () {
  this.timeout(30000);
  it('numClasses and inChannels change the head and the stem', async () => {
    await (async () => {
      const net = models.create('wrn-16-1', { numClasses: 10, inChannels: 1 }).eval();
      assert.strictEqual(net.numParameters(), wrnParams(16, 1, 10, 1));
      assert.strictEqual(net.inChannels, 1);
      assert.deepStrictEqual((await net.forward(rk.randn([2, 1, 32, 32]))).shape, [2, 10]);
      await assert.rejects(async () => net.forward(rk.randn([2, 3, 32, 32])), (e) => e instanceof RangeError && /3 channels.*inChannels 1/.test(e.message));
      await assert.rejects(async () => net.forward(rk.randn([1, 32, 32])), (e) => e instanceof RangeError && /4-d/.test(e.message));
      await assert.rejects(async () => net.forward('x'), TypeError);
      await assert.rejects(async () => net.forwardWithFeatures(rk.randn([2, 1, 32, 32]), { preact: 1 }), TypeError);
    })();
  });

  it('eval-mode forward is deterministic; train mode updates BatchNorm statistics', async () => {
    await (async () => {
      const net = models.create('resnet8').eval();
      const x = rk.randn([2, 3, 32, 32]);
      const a = await net.forward(x);
      const b = await net.forward(x);
      assert.deepStrictEqual(Array.from(a.toArray()), Array.from(b.toArray()));
      assert.strictEqual(net.training, false);
      net.train();
      assert.strictEqual(net.training, true);
      await noGradAsync(() => net.forward(x));
      assert.strictEqual(Number(net.namedBuffers()['bn1.num_batches_tracked'].item()), 1);
    })();
  });

  it('moves to float64 and checks the input dtype', async () => {
    await (async () => {
      const net = models.create('resnet8').eval().to('float64');
      assert.strictEqual(net.parameters()[0].dtype, 'float64');
      assert.deepStrictEqual((await net.forward(rk.randn([2, 3, 32, 32], { dtype: 'float64' }))).shape, [2, 100]);
      await assert.rejects(async () => net.forward(rk.randn([2, 3, 32, 32])), (e) => e instanceof TypeError && /float32.*float64/.test(e.message));
    })();
  });

  it('channels-last weights give the same outputs', async () => {
    await (async () => {
      const net = models.create('resnet8x4').eval();
      const x = rk.randn([2, 3, 32, 32]);
      const a = await net.forward(x);
      net.channelsLast();
      assert.strictEqual(net.namedParameters()['conv1.weight'].isContiguous, false);
      const b = await net.forward(x);
      assert.ok(a.sub(b).abs().max().item() < 1e-4);
      net.channelsLast(false);
      assert.strictEqual(net.namedParameters()['conv1.weight'].isContiguous, true);
    })();
  });

  it('trains: gradients reach every parameter', async () => {
    await (async () => {
      const net = models.create('shufflenetv2', { numClasses: 10 }).train();
      const { logits, features } = await net.forwardWithFeatures(rk.randn([2, 3, 32, 32]));
      logits.sum().add(features[0].mean()).backward();
      for (const [k, p] of Object.entries(net.namedParameters())) assert.ok(p.grad !== null, k);
    })();
  });
});

describe('models: safetensors weights', function () {
  this.timeout(30000);
  it('save -> load round trip is bit-exact (parameters, BN statistics, outputs)', async () => {
    await (async () => {
      const a = models.create('resnet8x4').train();
      await noGradAsync(() => a.forward(rk.randn([4, 3, 32, 32]))); // moves the running statistics off their init
      a.eval();
      a.save(file('a.safetensors'), { note: 'test' });
      const b = models.create('resnet8x4').eval();
      const report = b.load(file('a.safetensors'));
      assert.deepStrictEqual(report, { missing: [], unexpected: [], mismatched: [] });
      const sa = a.stateDict();
      const sb = b.stateDict();
      for (const k of Object.keys(sa)) assert.deepStrictEqual(Buffer.from(sb[k].toArray().buffer), Buffer.from(sa[k].toArray().buffer), k);
      const x = rk.randn([2, 3, 32, 32]);
      assert.deepStrictEqual(Array.from((await b.forward(x)).toArray()), Array.from((await a.forward(x)).toArray()));
      assert.strictEqual(rk.io.loadSafetensorsWithMetadata(file('a.safetensors')).metadata.model, 'resnet8x4');
    })();
  });

  it('a file with a wrong key or shape lists missing, unexpected and mis-shaped keys; strict: false loads the rest', () => {
    rk.scope(() => {
      const net = models.create('resnet8');
      const sd = net.stateDict();
      const record = { ...sd };
      record['layer1.0.conv1.weights'] = record['layer1.0.conv1.weight'];
      delete record['layer1.0.conv1.weight'];
      record['fc.weight'] = rk.zeros([10, 64]);
      rk.io.saveSafetensors(file('bad.safetensors'), record);
      const fresh = models.create('resnet8');
      assert.throws(
        () => fresh.load(file('bad.safetensors')),
        (e) =>
          e instanceof RangeError &&
          /missing keys: layer1\.0\.conv1\.weight/.test(e.message) &&
          /unexpected keys: layer1\.0\.conv1\.weights/.test(e.message) &&
          /mis-shaped keys: fc\.weight \(file \[10, 64\], module \[100, 64\]\)/.test(e.message) &&
          /bad\.safetensors/.test(e.message),
      );
      const report = fresh.load(file('bad.safetensors'), { strict: false });
      assert.deepStrictEqual(report.missing, ['layer1.0.conv1.weight']);
      assert.deepStrictEqual(report.unexpected, ['layer1.0.conv1.weights']);
      assert.strictEqual(report.mismatched.length, 1);
      assert.deepStrictEqual(Array.from(fresh.namedParameters()['fc.bias'].toArray()), Array.from(sd['fc.bias'].toArray()));
    });
  });
});
