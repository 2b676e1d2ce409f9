'use strict';
// The common dataset type: toTensors, checkDataset, the normalisation constants, and download()'s
// checksum verification with an injected fetch (no network is touched: the machine is offline and
// tests never download).
const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const rk = require('..');

function tiny() {
  const images = new Uint8Array(2 * 3 * 2 * 2);
  for (let i = 0; i < images.length; i++) images[i] = i * 10;
  return { name: 'tiny', images, labels: new Int32Array([1, 0]), count: 2, channels: 3, height: 2, width: 2, numClasses: 2, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] };
}

describe('data: ImageDataset, toTensors, download', function () {
  it('toTensors gives uint8 [N,C,H,W] images and int64 [N] labels with the same values', () => {
    const { images, labels } = rk.data.toTensors(tiny());
    assert.deepStrictEqual(images.shape, [2, 3, 2, 2]);
    assert.strictEqual(images.dtype, 'uint8');
    assert.deepStrictEqual(Array.from(images.toArray()), Array.from(tiny().images));
    assert.deepStrictEqual(labels.shape, [2]);
    assert.strictEqual(labels.dtype, 'int64');
    assert.deepStrictEqual(Array.from(labels.toArray(), Number), [1, 0]);
    images.dispose();
    labels.dispose();
  });

  it('checkDataset rejects inconsistent datasets, naming the field', () => {
    const bad = (patch) => Object.assign(tiny(), patch);
    assert.throws(() => rk.data.toTensors(bad({ images: new Uint8Array(5) })), (e) => e instanceof RangeError && /dataset\.images has 5 values/.test(e.message));
    assert.throws(() => rk.data.toTensors(bad({ labels: new Int32Array([1, 2]) })), (e) => e instanceof RangeError && /dataset\.labels\[1\] = 2 is outside \[0, 2\)/.test(e.message));
    assert.throws(() => rk.data.checkDataset(bad({ labels: [1, 0] })), (e) => e instanceof TypeError && /dataset\.labels must be an Int32Array/.test(e.message));
    assert.throws(() => rk.data.checkDataset(bad({ mean: [0.5] })), (e) => e instanceof TypeError && /dataset\.mean/.test(e.message));
    assert.throws(() => rk.data.checkDataset(bad({ std: [1, 0, 1] })), (e) => e instanceof RangeError && /dataset\.std must be positive/.test(e.message));
    assert.throws(() => rk.data.checkDataset(bad({ classNames: ['a'] })), (e) => e instanceof RangeError && /classNames/.test(e.message));
    assert.throws(() => rk.data.checkDataset(bad({ height: 0 })), (e) => e instanceof TypeError && /dataset\.height/.test(e.message));
    assert.throws(() => rk.data.toTensors(null), (e) => e instanceof TypeError && /argument 'dataset'/.test(e.message));
    assert.throws(() => rk.data.toTensors(tiny(), { dtype: 'float32' }), (e) => e instanceof TypeError && /unknown option 'dtype'/.test(e.message));
  });

  it('normalisation constants: CIFAR (125.3, 123.0, 113.9)/255 and (63.0, 62.1, 66.7)/255, MNIST, Fashion-MNIST', () => {
    assert.deepStrictEqual(rk.data.CIFAR_MEAN, [125.3 / 255, 123.0 / 255, 113.9 / 255]);
    assert.deepStrictEqual(rk.data.CIFAR_STD, [63.0 / 255, 62.1 / 255, 66.7 / 255]);
    assert.deepStrictEqual([rk.data.MNIST_MEAN[0], rk.data.MNIST_STD[0]], [0.1307, 0.3081]);
    assert.deepStrictEqual([rk.data.FASHION_MNIST_MEAN[0], rk.data.FASHION_MNIST_STD[0]], [0.286, 0.353]);
    assert.ok(Object.isFrozen(rk.data.CIFAR_MEAN));
    assert.ok(Object.isFrozen(rk.data.DOWNLOADS.cifar10[0]));
  });

  describe('download (injected fetch; never the network)', function () {
    let tmp;
    beforeEach(() => {
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rk-dl-'));
    });
    afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

    it('a body with the wrong MD5 is rejected and nothing is kept', async () => {
      const urls = [];
      const fakeFetch = async (url) => {
        urls.push(url);
        return new Response('not the real archive');
      };
      await assert.rejects(rk.data.download('cifar10', tmp, { fetch: fakeFetch }), /cifar-10-binary\.tar\.gz has MD5 [0-9a-f]{32}, expected c32a1d4ab5d03f1284b67883e8d87530: .*nothing was kept/);
      assert.deepStrictEqual(urls, [rk.data.DOWNLOADS.cifar10[0].url]);
      assert.deepStrictEqual(fs.readdirSync(tmp), []);
    });

    it('offline and HTTP errors say what happened; bad arguments are TypeErrors', async () => {
      await assert.rejects(rk.data.download('fashion-mnist', tmp, { fetch: async () => { throw new Error('getaddrinfo ENOTFOUND'); } }), /cannot fetch .*train-images-idx3-ubyte\.gz \(getaddrinfo ENOTFOUND\); this needs network access/);
      await assert.rejects(rk.data.download('cifar100', tmp, { fetch: async () => new Response('gone', { status: 404 }) }), /cifar-100-binary\.tar\.gz answered HTTP 404/);
      await assert.rejects(rk.data.download('imagenet', tmp), (e) => e instanceof TypeError && /argument 'name' must be one of 'cifar10', 'cifar100', 'fashion-mnist'/.test(e.message));
      await assert.rejects(rk.data.download('cifar10', ''), (e) => e instanceof TypeError && /argument 'dir'/.test(e.message));
      await assert.rejects(rk.data.download('cifar10', tmp, { fetch: 'curl' }), (e) => e instanceof TypeError && /option 'fetch'/.test(e.message));
    });
  });
});
