'use strict';
// The loader's version safety: a LibTorch on disk that differs from the build's is refused with both
// versions named, before anything is dlopen'ed; and a LibTorch that disappeared is explained.
const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { checkLibTorch, loadedBinary, native } = require('../dist/native');
const { resolveLibTorch } = require('../scripts/libtorch');

function fakeLibTorch(version) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rk-libtorch-'));
  fs.writeFileSync(path.join(root, 'version.py'), `__version__ = '${version}'\n`);
  return root;
}

const record = (root, version) => ({ libtorch: { version, variant: 'cpu', root, libDir: path.join(root, 'lib'), source: 'test' }, builtAt: '', buildSeconds: 0 });

describe('loader: LibTorch version safety', () => {
  it('refuses a mismatch, naming both versions and the fix', () => {
    const root = fakeLibTorch('2.99.0+cpu');
    assert.throws(() => checkLibTorch(record(root, '2.13.0+cpu')), (e) => /built against 2\.13\.0\+cpu/.test(e.message) && /now holds 2\.99\.0\+cpu/.test(e.message) && /npm run setup -- --force/.test(e.message));
  });

  it('accepts the same version', () => {
    const root = fakeLibTorch('2.13.0+cpu');
    checkLibTorch(record(root, '2.13.0+cpu'));
  });

  it('explains a LibTorch folder that no longer exists', () => {
    assert.throws(() => checkLibTorch(record('/nonexistent/libtorch', '2.13.0+cpu')), /no longer exists/);
  });

  it('the loaded binary records the LibTorch it was built against, and it matches what is on disk', () => {
    native();
    const { path: file, record: rec } = loadedBinary();
    assert.ok(file && fs.existsSync(file));
    if (rec) assert.strictEqual(require('../scripts/libtorch').readVersion(rec.libtorch.root), rec.libtorch.version);
  });

  it('resolution lists every attempt when LibTorch cannot be found', () => {
    const saved = { ...process.env };
    try {
      process.env.LIBTORCH = '/nonexistent/libtorch';
      process.env.PYTHON = '/nonexistent/python3';
      process.env.REVIEWKD_CACHE = fs.mkdtempSync(path.join(os.tmpdir(), 'rk-cache-'));
      process.env.REVIEWKD_OFFLINE = '1';
      assert.throws(() => resolveLibTorch(), (e) => /Tried, in order/.test(e.message) && /LIBTORCH=\/nonexistent\/libtorch/.test(e.message) && /python3|python/.test(e.message) && /REVIEWKD_OFFLINE/.test(e.message) && /system libtorch/.test(e.message) && /Fix:/.test(e.message));
    } finally {
      for (const k of ['LIBTORCH', 'PYTHON', 'REVIEWKD_CACHE', 'REVIEWKD_OFFLINE']) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
    }
  });
});
