'use strict';
// The loader's environment settings (lib/loader/settings.ts): one table, one spelling of yes/no, every
// read goes through it, and `doctor` lists them all.
const assert = require('assert');
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const { SETTINGS, setting, flagSetting, cacheRoot } = require('../dist/loader/settings');
const { doctor, formatDoctorReport } = require('../dist/doctor');

/** Runs body with the given variables set (undefined: unset), restoring them afterwards. */
function withEnv(vars, body) {
  const saved = {};
  for (const k of Object.keys(vars)) saved[k] = process.env[k];
  try {
    for (const [k, v] of Object.entries(vars)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    return body();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

describe('loader settings', () => {
  it('reads yes/no settings one way, and refuses a value it does not understand', () => {
    for (const v of ['1', 'true', 'YES', 'on']) withEnv({ REVIEWKD_OFFLINE: v }, () => assert.strictEqual(flagSetting('REVIEWKD_OFFLINE', false), true, v));
    for (const v of ['0', 'false', 'No', 'off']) withEnv({ REVIEWKD_OFFLINE: v }, () => assert.strictEqual(flagSetting('REVIEWKD_OFFLINE', true), false, v));
    withEnv({ REVIEWKD_OFFLINE: undefined }, () => assert.strictEqual(flagSetting('REVIEWKD_OFFLINE', true), true));
    withEnv({ REVIEWKD_OFFLINE: '  ' }, () => assert.strictEqual(flagSetting('REVIEWKD_OFFLINE', false), false), 'blank is unset');
    withEnv({ REVIEWKD_OFFLINE: 'maybe' }, () => assert.throws(() => flagSetting('REVIEWKD_OFFLINE', false), /REVIEWKD_OFFLINE=maybe is not understood: use 1 or 0/));
    assert.throws(() => setting('REVIEWKD_NOT_A_SETTING'), /not in SETTINGS/);
  });

  it('reads alternative spellings in their order (https_proxy before HTTPS_PROXY, CUDA_HOME before CUDA_PATH)', () => {
    withEnv({ https_proxy: 'http://a:1', HTTPS_PROXY: 'http://b:2' }, () => assert.strictEqual(setting('HTTPS_PROXY'), 'http://a:1'));
    withEnv({ https_proxy: undefined, HTTPS_PROXY: 'http://b:2' }, () => assert.strictEqual(setting('HTTPS_PROXY'), 'http://b:2'));
    withEnv({ CUDA_HOME: undefined, CUDA_PATH: '/opt/cuda' }, () => assert.strictEqual(setting('CUDA_HOME'), '/opt/cuda'));
    withEnv({ REVIEWKD_CACHE: '/tmp/rk-cache-x', XDG_CACHE_HOME: '/nope' }, () => assert.strictEqual(cacheRoot(), '/tmp/rk-cache-x'));
    withEnv({ REVIEWKD_CACHE: undefined, XDG_CACHE_HOME: '/tmp/xdg' }, () => assert.strictEqual(cacheRoot(), path.join('/tmp/xdg', 'reviewkd')));
  });

  it('no code under lib/ reads an environment variable except through the settings table', () => {
    const lib = path.join(__dirname, '..', 'lib');
    const offenders = [];
    const walk = (dir) => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (p.endsWith('.ts') && !p.endsWith(path.join('loader', 'settings.ts'))) {
          fs.readFileSync(p, 'utf8').split('\n').forEach((line, i) => {
            // Passing the whole environment on to a child (`...process.env`) is not a read of a setting.
            if (/process\.env(\.|\[)/.test(line)) offenders.push(`${path.relative(lib, p)}:${i + 1}: ${line.trim()}`);
          });
        }
      }
    };
    walk(lib);
    assert.deepStrictEqual(offenders, []);
  });

  it('doctor lists every setting it reads, with the value of those that are set', () => {
    const text = withEnv({ REVIEWKD_TORCH_INDEX: 'https://mirror.example/whl' }, () => formatDoctorReport(doctor()));
    for (const { name } of SETTINGS) assert.match(text, new RegExp(`^  ${name}\\s`, 'm'), `${name} is listed`);
    assert.match(text, /^ {2}REVIEWKD_TORCH_INDEX\s+https:\/\/mirror\.example\/whl$/m);
    assert.match(text, /OK: the addon loads\./);
  });

  it('docs/install.md documents every setting', () => {
    const doc = fs.readFileSync(path.join(__dirname, '..', 'docs', 'install.md'), 'utf8');
    for (const { name } of SETTINGS) assert.match(doc, new RegExp(`^\\| \`${name}[\`=]`, 'm'), `${name} is in the settings table`);
  });

  it('a malformed setting makes doctor report the problem by name, not crash', () => {
    const r = withEnv({ REVIEWKD_BUILD_FROM_SOURCE: 'sometimes' }, () => doctor());
    assert.strictEqual(r.ok, false);
    assert.match(r.error, /REVIEWKD_BUILD_FROM_SOURCE=sometimes is not understood/);
  });

  it('the native build entry refuses bad arguments with a usage line and exit 2', () => {
    const r = spawnSync(process.execPath, [path.join(__dirname, '..', 'dist', 'loader', 'native-build.js'), '--bogus'], { encoding: 'utf8' });
    assert.strictEqual(r.status, 2);
    assert.match(r.stderr, /usage: node dist\/loader\/native-build\.js --out DIR/);
  });
});
