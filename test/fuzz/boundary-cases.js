'use strict';
// Boundary fuzz cases for test/reliability-boundary.test.js. Every exported function and method of the
// package is called with its valid arguments and then with each argument (and each option key) replaced
// by a hostile value: wrong types, non-finite and huge numbers, disposed tensors and modules, 'cuda'
// devices, tensors of the wrong rank... Every case must end in a JS exception or a normal result.
//
// The case list is deterministic (same order every run), so the child process that runs it
// (boundary-child.js) can be restarted after a crash at the next case index.
const fs = require('fs');
const path = require('path');
const rk = require('../..');
const { native } = require('../../dist/native');
const { squaresDataset } = require('../train-helpers');

// ---------------------------------------------------------------- fixtures (built once per child)

async function makeContext(tmp) {
  const keepT = (t) => rk.keep(t);
  const ctx = { tmp };
  ctx.t23 = keepT(rk.randn([2, 3]));
  ctx.t33 = keepT(rk.randn([3, 3]));
  ctx.scalar = keepT(rk.tensor(1.5));
  ctx.vec = keepT(rk.randn([3]));
  ctx.t5d = keepT(rk.randn([1, 1, 1, 2, 1]));
  ctx.i64 = keepT(rk.tensor(new BigInt64Array([0n, 1n])));
  ctx.boolT = keepT(rk.tensor([true, false]));
  ctx.half = keepT(rk.randn([2], { dtype: 'float16' }));
  ctx.empty = keepT(rk.zeros([0, 3]));
  ctx.img = keepT(rk.randn([2, 1, 16, 16]));
  ctx.img3 = keepT(rk.randn([2, 3, 8, 8]));
  ctx.weight = keepT(rk.randn([4, 3, 3, 3]));
  ctx.u8 = keepT(rk.tensor(new Uint8Array(2 * 1 * 8 * 8).fill(7), { shape: [2, 1, 8, 8] }));
  ctx.logits = keepT(rk.randn([4, 10]));
  ctx.labels = keepT(rk.tensor(new BigInt64Array([0n, 3n, 9n, 1n])));
  ctx.feat = keepT(rk.randn([2, 8, 4, 4]));
  ctx.disposedTensor = rk.zeros([2]);
  ctx.disposedTensor.dispose();

  ctx.model = rk.keep(rk.models.create('resnet8', { numClasses: 10, inChannels: 1 }));
  ctx.disposedModel = rk.models.create('resnet8', { numClasses: 10, inChannels: 1 });
  ctx.disposedModel.dispose();
  ctx.abf = rk.keep(new rk.nn.ABF({ inChannels: 8, midChannels: 8, outChannels: 8, fuse: false }));
  ctx.reg = rk.keep(new rk.nn.HintRegressor({ inChannels: 8, outChannels: 8 }));
  const shapes = [[8, 4, 4], [8, 1, 1]];
  ctx.head = rk.keep(rk.nn.createReviewHead({ studentShapes: shapes, teacherShapes: shapes }));
  ctx.headFeats = [keepT(rk.randn([2, 8, 4, 4])), keepT(rk.randn([2, 8, 1, 1]))];

  ctx.weightsFile = path.join(tmp, 'resnet8.safetensors');
  ctx.model.save(ctx.weightsFile);
  ctx.smallFile = path.join(tmp, 'small.safetensors');
  rk.io.saveSafetensors(ctx.smallFile, { a: ctx.vec });
  ctx.junkFile = path.join(tmp, 'junk.bin');
  fs.writeFileSync(ctx.junkFile, Buffer.from('PK\u0003\u0004 this is not a torchscript archive at all'));
  ctx.fifo = path.join(tmp, 'fifo');
  try {
    require('child_process').execFileSync('mkfifo', [ctx.fifo]);
  } catch {
    ctx.fifo = null;
  }

  ctx.ds = squaresDataset(12, 1);
  ctx.testDs = squaresDataset(6, 2);
  ctx.student = rk.keep(rk.models.create('resnet8', { numClasses: 10, inChannels: 1 }));
  ctx.teacher = rk.keep(rk.models.create('resnet8', { numClasses: 10, inChannels: 1 }));
  ctx.trainer = await rk.train.Trainer.create({ student: ctx.student, method: 'vanilla', train: ctx.ds, test: ctx.testDs, augment: false });
  ctx.sampler = new rk.data.BatchSampler(10, { batchSize: 3, seed: 1 });
  ctx.rng = new rk.data.Rng(1, 2);
  ctx.sgdParam = keepT(rk.randn([3]).requireGrad());
  ctx.sgd = new rk.optim.SGD([ctx.sgdParam], { lr: 0.1, momentum: 0.9 });
  return ctx;
}

// A fresh, cheap module for calls that dispose or change their receiver.
const freshAbf = () => new rk.nn.ABF({ inChannels: 4, midChannels: 4, outChannels: 4, fuse: false });

// ---------------------------------------------------------------- hostile values

function badValues(ctx) {
  const throwingProxy = new Proxy(
    {},
    {
      get() {
        throw new Error('proxy get trap');
      },
      has() {
        throw new Error('proxy has trap');
      },
      ownKeys() {
        throw new Error('proxy ownKeys trap');
      },
      getPrototypeOf() {
        throw new Error('proxy getPrototypeOf trap');
      },
    },
  );
  const throwingGetter = Object.defineProperty({}, 'dtype', {
    enumerable: true,
    get() {
      throw new Error('getter throws');
    },
  });
  return [
    ['undefined', undefined],
    ['null', null],
    ['string', 'abc'],
    ['emptyString', ''],
    ['object', {}],
    ['nullProtoObject', Object.create(null)],
    ['emptyArray', []],
    ['array', [1, 2]],
    ['raggedArray', [[1], [2, 3]]],
    ['sparseArray', new Array(3)],
    ['longArray', new Array(100000).fill(1)],
    ['symbol', Symbol('fuzz')],
    ['bigint', 10n],
    ['function', () => 1],
    ['NaN', NaN],
    ['Infinity', Infinity],
    ['-Infinity', -Infinity],
    ['-1', -1],
    ['1e12', 1e12],
    ['2**53', 2 ** 53],
    ['1.5', 1.5],
    ['true', true],
    ['date', new Date(0)],
    ['typedArray', new Float32Array(3)],
    ['throwingProxy', throwingProxy],
    ['throwingGetter', throwingGetter],
    ['cuda', 'cuda'],
    ['cuda:7', 'cuda:7'],
    ['disposedTensor', ctx.disposedTensor],
    ['scalarTensor', ctx.scalar],
    ['5dTensor', ctx.t5d],
    ['int64Tensor', ctx.i64],
    ['emptyTensor', ctx.empty],
    ['fakeTensor', Object.create(rk.Tensor.prototype)],
    ['tensorLookalike', { handle: {}, shape: [2, 3], dtype: 'float32' }],
    ['disposedModule', ctx.disposedModel],
  ];
}

// ---------------------------------------------------------------- targets
// Each target: name, args(ctx) -> valid arguments, call(ctx, args) -> result (maybe a Promise).
// options: [index, keys] fuzzes each key of the options object at that index. extra: special cases.

const T = (name, args, call, more = {}) => ({ name, args, call, ...more });
const self = (fn) => (ctx, a) => fn(ctx, ...a);

function targets(ctx) {
  const list = [];
  const add = (...x) => list.push(T(...x));

  // --- tensor creation and top-level functions
  add('rk.tensor', () => [[1, 2, 3], { dtype: 'float32' }], (c, a) => rk.tensor(...a), { options: [1, ['dtype', 'device', 'shape', 'requiresGrad']] });
  add('rk.tensor(typed)', () => [new Float32Array(6), { shape: [2, 3] }], (c, a) => rk.tensor(...a), { options: [1, ['dtype', 'device', 'shape', 'requiresGrad']] });
  for (const f of ['zeros', 'ones', 'rand', 'randn']) {
    add(`rk.${f}`, () => [[2, 3], { dtype: 'float32' }], (c, a) => rk[f](...a), { options: [1, ['dtype', 'device', 'requiresGrad']] });
  }
  add('rk.full', () => [[2], 3, {}], (c, a) => rk.full(...a), { options: [2, ['dtype', 'device', 'requiresGrad']] });
  add('rk.randint', () => [0, 5, [3], {}], (c, a) => rk.randint(...a), { options: [3, ['device']] });
  add('rk.arange', () => [0, 5, 1, {}], (c, a) => rk.arange(...a), { options: [3, ['dtype', 'device']] });
  add('rk.cat', () => [[ctx.t23, ctx.t23], 0], (c, a) => rk.cat(...a));
  add('rk.stack', () => [[ctx.t23, ctx.t23], 1], (c, a) => rk.stack(...a));
  add('rk.conv2dAsync', () => [ctx.img3, ctx.weight, { stride: 1, padding: 1 }], (c, a) => rk.conv2dAsync(...a), { options: [2, ['bias', 'stride', 'padding']] });
  add('rk.manualSeed', () => [1], (c, a) => rk.manualSeed(...a));
  add('rk.noGrad', () => [() => 1], (c, a) => rk.noGrad(...a));
  add('rk.isGradEnabled', () => [], (c, a) => rk.isGradEnabled(...a));
  add('rk.scope', () => [() => 1], (c, a) => rk.scope(...a));
  add('rk.keep', () => [rk.zeros([1])], (c, a) => rk.keep(...a));
  add('rk.info', () => [], (c, a) => rk.info(...a));
  add('rk.setNumThreads', () => [2], (c, a) => {
    try {
      return rk.setNumThreads(...a);
    } finally {
      rk.setNumThreads(2);
    }
  });
  add('rk.getNumThreads', () => [], (c, a) => rk.getNumThreads(...a));
  add('rk.cuda.isAvailable', () => [], (c, a) => rk.cuda.isAvailable(...a));
  add('rk.cuda.deviceCount', () => [], (c, a) => rk.cuda.deviceCount(...a));
  add('rk.memory', () => [], (c, a) => rk.memory(...a));

  // --- Tensor methods, on a valid receiver (and, below, on a disposed and a fake one)
  const methods = {
    add: [1], sub: [ctx.t23], mul: [2], div: [ctx.t23], pow: [2], maximum: [ctx.t23], minimum: [0], eq: [0], ne: [0], lt: [0], le: [0], gt: [0], ge: [0],
    matmul: [ctx.t33], matmulAsync: [ctx.t33], neg: [], abs: [], exp: [], log: [], sqrt: [], relu: [], sigmoid: [], tanh: [], clamp: [0, 1],
    sum: [1, false], mean: [0, true], max: [1], min: [[0, 1]], argmax: [1], argmin: [0], softmax: [1], logSoftmax: [1],
    reshape: [[3, 2]], view: [[6]], permute: [[1, 0]], transpose: [0, 1], squeeze: [0], unsqueeze: [0], flatten: [0, -1], slice: [1, 0, 2, 1],
    indexSelect: [1, ctx.i64], contiguous: [], clone: [], detach: [], to: ['float64'], cpu: [], toArray: [], data: [], rawBits16: [], toNested: [], item: [],
    toString: [], requireGrad: [true], zeroGrad: [], backward: [], dispose: [],
  };
  for (const [m, a] of Object.entries(methods)) {
    const destructive = m === 'dispose';
    add(`Tensor.${m}`, () => a, (c, args) => {
      const recv = destructive ? rk.randn([2, 3]) : m === 'item' ? c.scalar : m === 'rawBits16' ? c.half : m === 'backward' ? rk.randn([1]).requireGrad().sum() : c.t23;
      return recv[m](...args);
    });
    add(`Tensor.${m}@disposed`, () => a, (c, args) => c.disposedTensor[m](...args), { noFuzz: true });
    add(`Tensor.${m}@fake`, () => a, (c, args) => Object.create(rk.Tensor.prototype)[m](...args), { noFuzz: true });
    add(`Tensor.${m}@lookalike`, () => a, (c, args) => rk.Tensor.prototype[m].apply({ handle: freshAbf().handle }, args), { noFuzz: true });
  }
  add('Tensor.to(object)', () => [{ dtype: 'float64', device: 'cpu', channelsLast: false }], (c, a) => c.img.to(...a), { options: [0, ['dtype', 'device', 'channelsLast']] });
  for (const g of ['shape', 'rank', 'numel', 'dtype', 'device', 'isContiguous', 'disposed', 'requiresGrad', 'grad']) {
    for (const [label, recv] of [['valid', () => ctx.t23], ['disposed', () => ctx.disposedTensor], ['fake', () => Object.create(rk.Tensor.prototype)], ['module', () => ({ handle: ctx.model.handle })]]) {
      add(`Tensor.${g}[get]@${label}`, () => [], () => Reflect.get(rk.Tensor.prototype, g, recv()), { noFuzz: true });
    }
  }
  add('Tensor.requiresGrad[set]', () => [true], (c, a) => {
    const t = rk.randn([2]);
    t.requiresGrad = a[0];
    return t.requiresGrad;
  });
  add('new Tensor', () => [ctx.t23.handle], (c, a) => new rk.Tensor(...a));

  // --- Module / Model methods
  const moduleMethods = {
    train: [true], eval: [], namedParameters: [], parameters: [], namedBuffers: [], stateDict: [], numParameters: [], zeroGrad: [], dispose: [],
    loadStateDict: [null, { strict: true }], to: ['cpu'],
  };
  for (const [m, a] of Object.entries(moduleMethods)) {
    const args = m === 'loadStateDict' ? (c) => [c.abf.stateDict(), { strict: true }] : () => a;
    add(`Module.${m}`, args, (c, x) => (m === 'dispose' || m === 'to' ? freshAbf() : c.abf)[m](...x), m === 'loadStateDict' ? { options: [1, ['strict', 'prefix']] } : {});
    add(`Module.${m}@disposed`, args, (c, x) => c.disposedModel[m](...x), { noFuzz: true });
    add(`Module.${m}@fake`, args, (c, x) => Object.create(rk.Module.prototype)[m](...x), { noFuzz: true });
    add(`Module.${m}@tensorHandle`, args, (c, x) => rk.Module.prototype[m].apply({ handle: c.t23.handle }, x), { noFuzz: true });
  }
  add('Module.to(cuda)', () => ['cuda'], (c, a) => freshAbf().to(...a), { noFuzz: true });
  add('Module.to({device})', () => [{ device: 'cpu', dtype: 'float32' }], (c, a) => freshAbf().to(...a), { options: [0, ['device', 'dtype']] });
  for (const g of ['kind', 'disposed', 'training']) {
    for (const [label, recv] of [['valid', () => ctx.abf], ['disposed', () => ctx.disposedModel], ['fake', () => Object.create(rk.Module.prototype)]]) {
      add(`Module.${g}[get]@${label}`, () => [], () => Reflect.get(rk.Module.prototype, g, recv()), { noFuzz: true });
    }
  }
  for (const g of ['name', 'inChannels']) {
    for (const [label, recv] of [['valid', () => ctx.model], ['disposed', () => ctx.disposedModel], ['fake', () => Object.create(rk.models.Model.prototype)], ['abf', () => ctx.abf]]) {
      add(`Model.${g}[get]@${label}`, () => [], () => Reflect.get(rk.models.Model.prototype, g, recv()), { noFuzz: true });
    }
  }
  add('Model.forward', () => [ctx.img], (c, a) => c.model.forward(...a));
  add('Model.forward(3ch)', () => [ctx.img3], (c, a) => c.model.forward(...a), { noFuzz: true });
  add('Model.forward(rank3)', () => [rk.randn([1, 16, 16])], (c, a) => c.model.forward(...a), { noFuzz: true });
  add('Model.forward(int64)', () => [ctx.i64], (c, a) => c.model.forward(...a), { noFuzz: true });
  add('Model.forward(float16)', () => [rk.randn([1, 1, 16, 16], { dtype: 'float16' })], (c, a) => c.model.forward(...a), { noFuzz: true });
  add('Model.forward(1x1)', () => [rk.randn([1, 1, 1, 1])], (c, a) => c.model.forward(...a), { noFuzz: true });
  add('Model.forward(empty batch)', () => [rk.zeros([0, 1, 16, 16])], (c, a) => c.model.forward(...a), { noFuzz: true });
  add('Model.forward(NaN input)', () => [rk.full([2, 1, 16, 16], NaN)], (c, a) => c.model.forward(...a), { noFuzz: true });
  add('Model.forward@disposed', () => [ctx.img], (c, a) => c.disposedModel.forward(...a), { noFuzz: true });
  add('Model.forward@abf', () => [ctx.img], (c, a) => rk.models.Model.prototype.forward.apply(c.abf, a), { noFuzz: true });
  add('Model.features', () => [ctx.img, { preact: true }], (c, a) => c.model.features(...a), { options: [1, ['preact']] });
  add('Model.forwardWithFeatures', () => [ctx.img, { preact: false }], (c, a) => c.model.forwardWithFeatures(...a), { options: [1, ['preact']] });
  add('Model.channelsLast', () => [false], (c, a) => c.model.channelsLast(...a));
  add('Model.save', () => [path.join(ctx.tmp, 'saved.safetensors'), { k: 'v' }], (c, a) => c.model.save(...a));
  add('Model.save@disposed', () => [path.join(ctx.tmp, 'saved2.safetensors')], (c, a) => c.disposedModel.save(...a), { noFuzz: true });
  add('Model.load', () => [ctx.weightsFile, { strict: true }], (c, a) => c.model.load(...a), { options: [1, ['strict', 'prefix']] });
  add('Model.load(wrong model)', () => [ctx.smallFile], (c, a) => c.model.load(...a), { noFuzz: true });
  add('Model.load(fifo)', () => [ctx.fifo], (c, a) => c.model.load(...a), { noFuzz: true, skip: !ctx.fifo });

  // --- rk.nn
  add('new nn.ABF', () => [{ inChannels: 4, midChannels: 4, outChannels: 4, fuse: false, attention: true }], (c, a) => new rk.nn.ABF(...a), {
    options: [0, ['inChannels', 'midChannels', 'outChannels', 'fuse', 'attention']],
  });
  add('ABF.forward', () => [ctx.feat, null, { outSize: [4, 4] }], (c, a) => c.abf.forward(...a), { options: [2, ['outSize']] });
  add('ABF.forward(huge outSize)', () => [ctx.feat, null, { outSize: [1e6, 1e6] }], (c, a) => c.abf.forward(...a), { noFuzz: true });
  const headOpts = () => [{ studentShapes: [[8, 4, 4], [8, 1, 1]], teacherShapes: [[8, 4, 4], [8, 1, 1]], midChannels: 8, variant: 'residual' }];
  const headKeys = [0, ['studentShapes', 'teacherShapes', 'midChannels', 'variant']];
  add('nn.createReviewHead', headOpts, (c, a) => rk.nn.createReviewHead(...a), { options: headKeys });
  add('new nn.ReviewHead', headOpts, (c, a) => new rk.nn.ReviewHead(...a), { options: headKeys });
  add('nn.createReviewHead(huge shapes)', () => [{ studentShapes: [[1e12, 4, 4]], teacherShapes: [[2 ** 53, 1e12, 1e12]] }], (c, a) => rk.nn.createReviewHead(...a), { noFuzz: true });
  add('nn.createReviewHead(bad shape entries)', () => [{ studentShapes: [[8, 4]], teacherShapes: [[8, 4, 4, 4]] }], (c, a) => rk.nn.createReviewHead(...a), { noFuzz: true });
  add('ReviewHead.forward', () => [ctx.headFeats], (c, a) => c.head.forward(...a));
  add('ReviewHead.forward(wrong shapes)', () => [[ctx.feat, ctx.feat]], (c, a) => c.head.forward(...a), { noFuzz: true });
  add('ReviewHead.forwardAsync', () => [ctx.headFeats], (c, a) => c.head.forwardAsync(...a));
  add('ReviewHead.loss', () => [ctx.headFeats, ctx.headFeats, { levels: [2, 1] }], (c, a) => c.head.loss(...a), { options: [2, ['levels']] });
  add('new nn.HintRegressor', () => [{ inChannels: 4, outChannels: 4 }], (c, a) => new rk.nn.HintRegressor(...a), { options: [0, ['inChannels', 'outChannels']] });

  // --- rk.losses
  add('losses.hcl', () => [[ctx.feat], [ctx.feat], { levels: [2, 1] }], (c, a) => rk.losses.hcl(...a), { options: [2, ['levels']] });
  add('losses.hcl(mismatch)', () => [[ctx.feat], [ctx.img3]], (c, a) => rk.losses.hcl(...a), { noFuzz: true });
  add('losses.crossEntropy', () => [ctx.logits, ctx.labels, { labelSmoothing: 0.1 }], (c, a) => rk.losses.crossEntropy(...a), { options: [2, ['labelSmoothing']] });
  add('losses.crossEntropy(label out of range)', () => [ctx.logits, rk.tensor(new BigInt64Array([0n, 3n, 10n, -1n]))], (c, a) => rk.losses.crossEntropy(...a), { noFuzz: true });
  add('losses.kd', () => [ctx.logits, ctx.logits, { temperature: 4 }], (c, a) => rk.losses.kd(...a), { options: [2, ['temperature']] });
  add('losses.at', () => [ctx.feat, ctx.feat], (c, a) => rk.losses.at(...a));
  add('losses.fitnet', () => [ctx.reg, ctx.feat, ctx.feat], (c, a) => rk.losses.fitnet(...a));

  // --- rk.io
  add('io.loadSafetensors', () => [ctx.weightsFile], (c, a) => rk.io.loadSafetensors(...a));
  add('io.loadSafetensorsWithMetadata', () => [ctx.weightsFile], (c, a) => rk.io.loadSafetensorsWithMetadata(...a));
  add('io.saveSafetensors', () => [path.join(ctx.tmp, 'io.safetensors'), { a: ctx.vec }, { k: 'v' }], (c, a) => rk.io.saveSafetensors(...a));
  for (const [label, p] of [['dir', ctx.tmp], ['/dev/zero', '/dev/zero'], ['missing', path.join(ctx.tmp, 'nope', 'x')], ['NUL', `${ctx.tmp}/a\u0000b`], ['fifo', ctx.fifo]]) {
    add(`io.loadSafetensors(${label})`, () => [p], (c, a) => rk.io.loadSafetensors(...a), { noFuzz: true, skip: !p });
    if (label !== 'fifo' && label !== '/dev/zero') add(`io.saveSafetensors(${label})`, () => [p, { a: ctx.vec }], (c, a) => rk.io.saveSafetensors(...a), { noFuzz: true });
  }
  add('io.saveSafetensors(record with disposed)', () => [path.join(ctx.tmp, 'd.safetensors'), { a: ctx.disposedTensor }], (c, a) => rk.io.saveSafetensors(...a), { noFuzz: true });
  add('io.saveSafetensors(__metadata__ key)', () => [path.join(ctx.tmp, 'm.safetensors'), { __metadata__: ctx.vec }], (c, a) => rk.io.saveSafetensors(...a), { noFuzz: true });

  // --- rk.models
  add('models.create', () => ['resnet8', { numClasses: 10, inChannels: 1 }], (c, a) => rk.models.create(...a), { options: [1, ['numClasses', 'inChannels']] });
  add('models.create(huge classes)', () => ['resnet8', { numClasses: 2 ** 31 }], (c, a) => rk.models.create(...a), { noFuzz: true });
  add('models.list', () => [], (c, a) => rk.models.list(...a));
  add('models.info', () => ['resnet8'], (c, a) => rk.models.info(...a));
  add('models.info(wrn-1e12-2)', () => ['wrn-1000000000000-2'], (c, a) => rk.models.info(...a), { noFuzz: true });
  add('models.create(wrn huge)', () => ['wrn-4000000000000000000-10'], (c, a) => rk.models.create(...a), { noFuzz: true });
  add('models.loadTorchScript', () => [ctx.junkFile, { trustCode: true, device: 'cpu' }], (c, a) => rk.models.loadTorchScript(...a), { options: [1, ['trustCode', 'device']] });
  add('models.loadTorchScript(safetensors)', () => [ctx.weightsFile, { trustCode: true }], (c, a) => rk.models.loadTorchScript(...a), { noFuzz: true });
  add('models.loadTorchScript(fifo)', () => [ctx.fifo, { trustCode: true }], (c, a) => rk.models.loadTorchScript(...a), { noFuzz: true, skip: !ctx.fifo });
  add('models.loadTorchScript(/dev/zero)', () => ['/dev/zero', { trustCode: true }], (c, a) => rk.models.loadTorchScript(...a), { noFuzz: true });
  add('models.loadTorchScript(dir)', () => [ctx.tmp, { trustCode: true }], (c, a) => rk.models.loadTorchScript(...a), { noFuzz: true });
  add('models.loadTorchScript(untrusted)', () => [ctx.weightsFile, { trustCode: 'yes' }], (c, a) => rk.models.loadTorchScript(...a), { noFuzz: true });
  add('new models.Model', () => [ctx.t23.handle], (c, a) => new rk.models.Model(...a).name);

  // --- rk.data
  const dsKeys = ['images', 'labels', 'count', 'channels', 'height', 'width', 'numClasses', 'mean', 'std', 'classNames'];
  add('data.toTensors', () => [ctx.ds, { device: 'cpu' }], (c, a) => rk.data.toTensors(...a), { options: [1, ['device']], datasetArg: 0 });
  add('data.checkDataset', () => [ctx.ds], (c, a) => rk.data.checkDataset(...a), { datasetArg: 0 });
  add('data.checkClassNames', () => [['a', 'b'], ['a', 'c'], 'where'], (c, a) => rk.data.checkClassNames(...a));
  add('data.readTar', () => [new Uint8Array(1024), 'x.tar'], (c, a) => rk.data.readTar(...a));
  add('data.randomResizedCrop', () => [500, 375, ctx.rng], (c, a) => rk.data.randomResizedCrop(...a));
  add('data.cropPlan', () => [500, 375, { top: 0, left: 0, height: 100, width: 120 }, 224], (c, a) => rk.data.cropPlan(...a));
  add('data.centerPlan', () => [500, 375, 256, 224], (c, a) => rk.data.centerPlan(...a));
  add('data.openImageStream', () => [ctx.tmp, { size: 16, indexCache: false, decoder: 'auto' }], (c, a) => rk.data.openImageStream(...a), { options: [1, ['size', 'indexCache', 'decoder']] });
  add('data.jpegDecoder', () => [], (c, a) => rk.data.jpegDecoder(...a));
  add('data.loadIdx', () => [ctx.junkFile, rk.data.IDX_IMAGES_MAGIC], (c, a) => rk.data.loadIdx(...a));
  add('data.loadMnist', () => [ctx.tmp, { split: 'train', kind: 'mnist' }], (c, a) => rk.data.loadMnist(...a), { options: [1, ['split', 'kind']] });
  add('data.loadIdx(fifo)', () => [ctx.fifo, rk.data.IDX_LABELS_MAGIC], (c, a) => rk.data.loadIdx(...a), { noFuzz: true, skip: !ctx.fifo });
  add('data.loadCifar10(fifo)', () => [ctx.fifo], (c, a) => rk.data.loadCifar10(...a), { noFuzz: true, skip: !ctx.fifo });
  add('data.loadIdx(/dev/zero)', () => ['/dev/zero', rk.data.IDX_LABELS_MAGIC], (c, a) => rk.data.loadIdx(...a), { noFuzz: true });
  add('data.findFashionMnist', () => [], (c, a) => rk.data.findFashionMnist(...a));
  add('data.loadCifar10', () => [ctx.tmp, { split: 'test' }], (c, a) => rk.data.loadCifar10(...a), { options: [1, ['split']] });
  add('data.loadCifar100', () => [ctx.tmp, { split: 'test', labels: 'fine' }], (c, a) => rk.data.loadCifar100(...a), { options: [1, ['split', 'labels']] });
  add('data.loadImageFolder', () => [ctx.tmp, { size: [8, 8], channels: 3, concurrency: 2 }], (c, a) => rk.data.loadImageFolder(...a), {
    options: [1, ['size', 'classNames', 'channels', 'concurrency']],
  });
  add('data.download', () => ['cifar10', path.join(ctx.tmp, 'dl'), { fetch: async () => { throw new Error('offline (fuzz)'); } }], (c, a) => rk.data.download(...a), {
    options: [2, ['fetch', 'onProgress']],
  });
  add('new data.BatchSampler', () => [10, { batchSize: 3, shuffle: true, seed: 1, dropLast: false }], (c, a) => new rk.data.BatchSampler(...a).batchesPerEpoch, {
    options: [1, ['batchSize', 'shuffle', 'seed', 'dropLast']],
  });
  add('BatchSampler.order', () => [0], (c, a) => c.sampler.order(...a));
  add('BatchSampler.batches', () => [1, 1], (c, a) => [...c.sampler.batches(...a)]);
  add('BatchSampler.epoch', () => [2], (c, a) => c.sampler.epoch(...a));
  add('BatchSampler.next', () => [], (c, a) => c.sampler.next(...a));
  add('BatchSampler.state', () => [], (c) => c.sampler.state);
  add('BatchSampler.restore', () => [{ seed: 1, epoch: 0, position: 1 }], (c, a) => c.sampler.restore(...a), { options: [0, ['seed', 'epoch', 'position']] });
  add('new data.Rng', () => [1, 2], (c, a) => new rk.data.Rng(...a).nextUint32());
  add('Rng.nextUint32', () => [], (c, a) => c.rng.nextUint32(...a));
  add('Rng.nextFloat', () => [], (c, a) => c.rng.nextFloat(...a));
  add('Rng.nextInt', () => [5], (c, a) => c.rng.nextInt(...a));
  add('Rng.shuffle', () => [[1, 2, 3]], (c, a) => c.rng.shuffle(...a));
  add('new data.DataFormatError', () => ['f', 1, 'problem'], (c, a) => new rk.data.DataFormatError(...a).message);

  // --- rk.optim
  add('new optim.SGD', () => [[ctx.sgdParam], { lr: 0.1, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: false }], (c, a) => new rk.optim.SGD(...a), {
    options: [1, ['lr', 'momentum', 'dampening', 'weightDecay', 'nesterov']],
  });
  add('SGD.step', () => [], (c, a) => c.sgd.step(...a));
  add('SGD.zeroGrad', () => [], (c, a) => c.sgd.zeroGrad(...a));
  add('SGD.momentumBuffers', () => [], (c, a) => c.sgd.momentumBuffers(...a));
  add('SGD.lr[set]', () => [0.05], (c, a) => {
    c.sgd.lr = a[0];
    return c.sgd.lr;
  });

  // --- rk.distributed (no job is joined here: init() without a launcher environment throws)
  add('distributed.launcherEnv', () => [], (c, a) => rk.distributed.launcherEnv(...a));
  add('distributed.isLaunched', () => [], (c, a) => rk.distributed.isLaunched(...a));
  add('distributed.recordError', () => [new Error('x')], (c, a) => rk.distributed.recordError(...a));
  add('new distributed.ShardedBatchSampler', () => [10, { batchSize: 4, seed: 1 }, 0, 2], (c, a) => new rk.distributed.ShardedBatchSampler(...a).epoch(0).length, {
    options: [1, ['batchSize', 'seed', 'dropLast', 'shuffle']],
  });
  add('distributed.init(no launcher)', () => [{ timeoutMs: 1000 }], (c, a) => rk.distributed.init(...a), { noFuzz: true });

  // --- rk.train
  add('train.learningRate', () => [0.1, { type: 'step' }, 0, { epoch: 1, step: 0, stepsPerEpoch: 10, epochs: 5 }], (c, a) => rk.train.learningRate(...a), {
    options: [3, ['epoch', 'step', 'stepsPerEpoch', 'epochs']],
  });
  add('train.lossWarmup', () => [1, 20], (c, a) => rk.train.lossWarmup(...a));
  add('train.pairDefaults', () => ['resnet8', 'resnet32'], (c, a) => rk.train.pairDefaults(...a));
  add('train.defaultLr', () => ['resnet8'], (c, a) => rk.train.defaultLr(...a));
  add('train.listCheckpoints', () => [path.join(ctx.tmp, 'runs-list'), { verifyHash: true }], (c, a) => rk.train.listCheckpoints(...a), { options: [1, ['verifyHash']] });
  add('train.removeOrphans', () => [path.join(ctx.tmp, 'runs-orphans')], (c, a) => rk.train.removeOrphans(...a));
  add('train.augmentImages', () => [ctx.u8, { padding: 2, flip: true, mean: [0.5], std: [0.25], seed: 1 }], (c, a) => rk.train.augmentImages(...a), {
    options: [1, ['padding', 'flip', 'mean', 'std', 'seed']],
  });
  if (rk.train.NumericalFaultError) add('new train.NumericalFaultError', () => ['x'], (c, a) => String(new rk.train.NumericalFaultError(...a)));

  add(
    'Trainer.create',
    () => [{ student: rk.models.create('resnet8', { numClasses: 10, inChannels: 1 }), method: 'vanilla', train: ctx.ds, test: ctx.testDs, augment: { padding: 2 }, seed: 1 }],
    async (c, a) => (await rk.train.Trainer.create(...a)).dispose(),
    {
      options: [0, ['student', 'teacher', 'method', 'train', 'test', 'device', 'methodOptions', 'teacherBN', 'teacherPreact', 'studentPreact', 'augment', 'channelsLast', 'autocast', 'momentum', 'weightDecay', 'nesterov', 'seed']],
      datasetOption: [0, 'train'],
    },
  );
  add(
    'Trainer.create(reviewkd)',
    () => [{ student: rk.models.create('resnet8', { numClasses: 10, inChannels: 1 }), teacher: ctx.teacher, method: 'reviewkd', train: ctx.ds, methodOptions: { reviewkdHclLevels: [2, 1], reviewkdMidChannels: 8 } }],
    async (c, a) => (await rk.train.Trainer.create(...a)).dispose(),
    { options: [0, ['teacher', 'methodOptions', 'teacherBN', 'method']] },
  );
  add('Trainer.create(cuda)', () => [{ student: rk.models.create('resnet8', { numClasses: 10, inChannels: 1 }), train: ctx.ds, device: 'cuda' }], (c, a) => rk.train.Trainer.create(...a), { noFuzz: true });
  add('Trainer.create(3ch data, 1ch model)', () => [{ student: ctx.student, train: { ...ctx.ds, channels: 3 } }], (c, a) => rk.train.Trainer.create(...a), { noFuzz: true });
  add('Trainer.create(disposed student)', () => [{ student: ctx.disposedModel, train: ctx.ds }], (c, a) => rk.train.Trainer.create(...a), { noFuzz: true });
  const fitKeys = ['epochs', 'batchSize', 'lr', 'schedule', 'warmupEpochs', 'lossWarmupEpochs', 'dropLast', 'statsEvery', 'evaluateEvery', 'runDir', 'keepLast', 'resume', 'onStep', 'onEpochEnd', 'signal', 'progress'];
  add(
    'Trainer.fit',
    () => {
      // Aborts after 6 steps, so that no fuzzed value (epochs: 1e12) can run for long.
      const ac = new AbortController();
      let steps = 0;
      return [{ epochs: 1, batchSize: 4, lr: 0.01, runDir: path.join(ctx.tmp, 'fit-run'), keepLast: 2, evaluateEvery: 1, statsEvery: 1, progress: 'none', signal: ac.signal, onStep: () => ++steps >= 6 && ac.abort() }];
    },
    async (c, a) => {
      const r = await c.trainer.fit(...a);
      if (r.aborted && !a[0]?.signal?.aborted && a[0]?.signal) throw new Error('aborted without a signal');
      return r;
    },
    { options: [0, fitKeys], fitSignal: true },
  );
  add('Trainer.evaluate', () => [ctx.testDs, { batchSize: 4 }], (c, a) => c.trainer.evaluate(...a), { options: [1, ['batchSize']], datasetArg: 0 });
  add('Trainer.exportStudent', () => [path.join(ctx.tmp, 'export.safetensors'), { k: 'v' }], (c, a) => c.trainer.exportStudent(...a));
  add('Trainer.create@fake', () => [], () => rk.train.Trainer.prototype.fit.call({}, { epochs: 1 }), { noFuzz: true });
  add('Trainer.evaluate@fake', () => [], () => rk.train.Trainer.prototype.evaluate.call({}), { noFuzz: true });
  return list;
}

// ---------------------------------------------------------------- concurrency and disposal-while-busy

function concurrencyCases() {
  const busy = /busy/;
  const fitOpts = (ctx, extra = {}) => ({ epochs: 1, batchSize: 4, lr: 0.01, progress: 'none', ...extra });
  const expectBusy = async (p, what) => {
    try {
      await p;
    } catch (e) {
      if (!busy.test(e.message)) throw new Error(`${what}: expected a 'busy' error, got: ${e.message}`);
      return 'busy';
    }
    throw new Error(`${what}: a second call on a busy trainer resolved instead of failing with 'busy'`);
  };
  return [
    ['fit || fit', async (c) => {
      const a = c.trainer.fit(fitOpts(c));
      const b = c.trainer.fit(fitOpts(c));
      const [ra, rb] = await Promise.allSettled([a, expectBusy(b, 'second fit')]);
      if (rb.status === 'rejected') throw rb.reason;
      if (ra.status === 'rejected') throw ra.reason;
    }],
    ['fit || evaluate', async (c) => {
      const a = c.trainer.fit(fitOpts(c));
      const [ra, rb] = await Promise.allSettled([a, expectBusy(c.trainer.evaluate(), 'evaluate during fit')]);
      if (rb.status === 'rejected') throw rb.reason;
      if (ra.status === 'rejected') throw ra.reason;
    }],
    ['evaluate || evaluate', async (c) => {
      const a = c.trainer.evaluate();
      const [ra, rb] = await Promise.allSettled([a, expectBusy(c.trainer.evaluate(), 'second evaluate')]);
      if (rb.status === 'rejected') throw rb.reason;
      if (ra.status === 'rejected') throw ra.reason;
    }],
    ['evaluate || fit', async (c) => {
      const a = c.trainer.evaluate();
      const [ra, rb] = await Promise.allSettled([a, expectBusy(c.trainer.fit(fitOpts(c)), 'fit during evaluate')]);
      if (rb.status === 'rejected') throw rb.reason;
      if (ra.status === 'rejected') throw ra.reason;
    }],
    ['fit || fit(resume) leaves the running fit alone', async (c) => {
      const runDir = path.join(c.tmp, 'busy-resume');
      await c.trainer.fit(fitOpts(c, { runDir }));
      const before = c.student.stateDict()['conv1.weight'].toArray().slice();
      let steps = 0;
      const a = c.trainer.fit(fitOpts(c, { runDir: path.join(c.tmp, 'busy-resume-2'), onStep: () => steps++ }));
      const [running, second] = await Promise.allSettled([a, expectBusy(c.trainer.fit(fitOpts(c, { runDir, resume: true })), 'fit(resume) during fit')]);
      if (second.status === 'rejected') throw second.reason;
      if (running.status === 'rejected') throw new Error(`the running fit failed after a rejected fit(resume): ${running.reason.message}`);
      // The rejected call must not have loaded the checkpoint into the running student: the weights after
      // the running fit must differ from the checkpointed ones (they trained on), which a load would undo.
      const after = c.student.stateDict()['conv1.weight'].toArray();
      if (steps > 0 && after.every((v, i) => v === before[i])) throw new Error('weights equal to the checkpoint: the rejected resume loaded it');
    }],
    ['fit with onEpochEnd calling evaluate', async (c) => {
      let msg = null;
      await c.trainer.fit(fitOpts(c, { onEpochEnd: async () => { try { await c.trainer.evaluate(); } catch (e) { msg = e.message; } } }));
      return msg ?? 'evaluate allowed';
    }],
    ['trainer.dispose during fit', async (c) => {
      const tr = await rk.train.Trainer.create({ student: rk.models.create('resnet8', { numClasses: 10, inChannels: 1 }), train: c.ds, test: c.testDs, augment: false });
      const a = tr.fit(fitOpts(c, { epochs: 2 }));
      tr.dispose();
      try {
        await a;
      } catch (e) {
        return `error: ${e.message}`;
      }
      return 'completed';
    }],
    ['student.dispose during fit', async (c) => {
      const student = rk.models.create('resnet8', { numClasses: 10, inChannels: 1 });
      const tr = await rk.train.Trainer.create({ student, train: c.ds, test: c.testDs, augment: false });
      const a = tr.fit(fitOpts(c, { epochs: 2 }));
      student.dispose();
      try {
        await a;
      } catch (e) {
        return `error: ${e.message}`;
      } finally {
        tr.dispose();
      }
      return 'completed';
    }],
    ['student.to(float64) during fit', async (c) => {
      const student = rk.models.create('resnet8', { numClasses: 10, inChannels: 1 });
      const tr = await rk.train.Trainer.create({ student, train: c.ds, augment: false });
      const a = tr.fit(fitOpts(c, { epochs: 2, onStep: () => { try { student.to('float64'); } catch { /* refused is fine */ } } }));
      try {
        await a;
      } catch (e) {
        return `error: ${e.message}`;
      } finally {
        tr.dispose();
      }
      return 'completed';
    }],
    ['student.forward during fit', async (c) => {
      // One call at a time per model is the documented contract: a forward racing the training step may
      // fail either call with an Error (autograd sees BatchNorm buffers change), but must not crash.
      const outs = await Promise.allSettled([c.trainer.fit(fitOpts(c)), c.student.forward(c.img), c.student.forward(c.img)]);
      return outs.map((o) => (o.status === 'rejected' && !(o.reason instanceof Error) ? 'non-Error' : o.status)).join(',');
    }],
    ['model.forward x8 at once', async (c) => (await Promise.allSettled(Array.from({ length: 8 }, () => c.model.forward(c.img)))).map((o) => o.status).join(',')],
    ['input.dispose during forward', async (c) => {
      const x = rk.randn([2, 1, 16, 16]);
      const p = c.model.forward(x);
      x.dispose();
      return (await p).shape;
    }],
    ['model.dispose during forward', async (c) => {
      const m = rk.models.create('resnet8', { numClasses: 10, inChannels: 1 });
      const p = m.forward(c.img);
      m.dispose();
      return (await p).shape;
    }],
    ['operand.dispose during matmulAsync', async (c) => {
      const a = rk.randn([64, 64]);
      const b = rk.randn([64, 64]);
      const p = a.matmulAsync(b);
      a.dispose();
      b.dispose();
      return (await p).shape;
    }],
    ['weight.dispose during conv2dAsync', async (c) => {
      const w = rk.randn([4, 3, 3, 3]);
      const p = rk.conv2dAsync(c.img3, w);
      w.dispose();
      return (await p).shape;
    }],
    ['head.dispose during forwardAsync', async (c) => {
      const shapes = [[8, 4, 4], [8, 1, 1]];
      const h = rk.nn.createReviewHead({ studentShapes: shapes, teacherShapes: shapes });
      const p = h.forwardAsync(c.headFeats);
      h.dispose();
      return (await p).length;
    }],
  ];
}

// ---------------------------------------------------------------- the case list

/** All cases: [{name, run(ctx) -> result}], in a fixed order. */
function buildCases(ctx) {
  const cases = [];
  const bad = badValues(ctx);
  const push = (name, run) => cases.push({ name, run });
  const fitGuard = (target, args) => {
    // A fuzzed fit keeps the abort-after-6-steps guard unless the fuzzed key is the guard itself.
    if (!target.fitSignal) return args;
    return args;
  };
  for (const target of targets(ctx)) {
    if (target.skip) continue;
    push(`${target.name}(valid)`, (c) => target.call(c, target.args(c)));
    if (target.noFuzz) continue;
    const n = target.args(ctx).length;
    for (let i = 0; i <= n; i++) {
      for (const [label, value] of bad) {
        push(`${target.name} arg${i}=${label}`, (c) => {
          const args = fitGuard(target, target.args(c));
          if (i === n) args.push(value);
          else args[i] = value;
          return target.call(c, args);
        });
      }
    }
    if (target.options) {
      const [at, keys] = target.options;
      for (const key of keys) {
        for (const [label, value] of bad) {
          if (target.name === 'data.download' && key === 'fetch' && (value === undefined || value === null)) continue; // would use the network
          push(`${target.name} options.${key}=${label}`, (c) => {
            const args = target.args(c);
            args[at] = { ...args[at], [key]: value };
            return target.call(c, args);
          });
        }
      }
    }
    const dsAt = target.datasetArg ?? (target.datasetOption ? target.datasetOption[0] : undefined);
    if (dsAt !== undefined) {
      for (const key of ['images', 'labels', 'count', 'channels', 'height', 'width', 'numClasses', 'mean', 'std', 'classNames']) {
        for (const [label, value] of bad) {
          push(`${target.name} dataset.${key}=${label}`, (c) => {
            const args = target.args(c);
            const ds = { ...c.ds, [key]: value };
            if (target.datasetOption) args[dsAt] = { ...args[dsAt], [target.datasetOption[1]]: ds };
            else args[dsAt] = ds;
            return target.call(c, args);
          });
        }
      }
    }
  }
  // These must come out right, not merely without a crash: any exception is reported as a failure.
  for (const [name, run] of concurrencyCases()) {
    push(`concurrency: ${name}`, async (c) => {
      try {
        return await run(c);
      } catch (e) {
        throw Object.assign(new Error(`concurrency case failed: ${e && e.message}`), { fuzzFailure: true });
      }
    });
  }
  return cases;
}

// ---------------------------------------------------------------- raw native bindings (under the typed layer)

/** Calls every function the addon exports with hostile arguments in each of the first 5 positions. */
function nativeCases(ctx) {
  const n = native();
  const cases = [];
  const skip = new Set(['NativeTensor', 'NativeModule', 'NativeSGD', 'NativeDistiller', 'NativeTerm', 'setNumThreads', 'torchScriptSaveFixture']);
  const bad = badValues(ctx).filter(([label]) => !['longArray'].includes(label));
  const base = (c) => [c.t23, c.t23, 1, 1, 1];
  for (const name of Object.keys(n).sort()) {
    if (skip.has(name) || typeof n[name] !== 'function') continue;
    for (let i = 0; i < 5; i++) {
      for (const [label, value] of bad) {
        cases.push({
          name: `native.${name} arg${i}=${label}`,
          run: (c) => {
            const args = base(c).map((x) => (x instanceof rk.Tensor ? x.handle : x));
            args[i] = value instanceof rk.Tensor || value instanceof rk.Module ? value.handle : value;
            const r = n[name](...args);
            return r;
          },
        });
      }
    }
  }
  // Methods of the native classes called on a receiver of another native class.
  for (const cls of ['NativeTensor', 'NativeModule', 'NativeSGD', 'NativeDistiller', 'NativeTerm']) {
    const proto = n[cls].prototype;
    for (const key of Object.getOwnPropertyNames(proto)) {
      if (key === 'constructor') continue;
      for (const [label, recv] of [['plainObject', () => ({})], ['tensorHandle', (c) => c.t23.handle], ['moduleHandle', (c) => c.abf.handle]]) {
        cases.push({
          name: `native.${cls}.${key}@${label}`,
          run: (c) => {
            const d = Object.getOwnPropertyDescriptor(proto, key);
            if (d.get) return d.get.call(recv(c));
            return d.value.call(recv(c));
          },
        });
      }
    }
    cases.push({ name: `native.new ${cls}()`, run: () => new n[cls]() });
  }
  return cases;
}

module.exports = { makeContext, buildCases, nativeCases };
