'use strict';
// lib/loader/wheel-fetch.ts: download with sha256 check over a local HTTP server on 127.0.0.1 (redirects,
// 404, stalls, short bodies, an HTTPS_PROXY CONNECT tunnel), and wheel unpacking (keep prefixes, exec
// bits, zip-slip refusal, the .complete marker), plus the real pinned torch wheel when /opt/wheels has it.
// Only 127.0.0.1 traffic; every wait is bounded.
const assert = require('assert');
const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const https = require('https');
const net = require('net');
const os = require('os');
const path = require('path');
const { spawn, spawnSync } = require('child_process');
const { downloadFile, extractWheel, DEFAULT_KEEP } = require('../dist/loader/wheel-fetch');
const { sha256File } = require('../dist/loader/hashing');

const SCRIPT = path.join(__dirname, '..', 'dist', 'loader', 'wheel-fetch.js');
const REAL_WHEEL = '/opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl';
const REAL_SHA256 = '6746dbcbeb526eb61330b76b41ff1b4eb848951103a892eeb080dfa2b264667b';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rk-wheel-fetch-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let dirCount = 0;
const freshDir = (name) => fs.mkdtempSync(path.join(root, `${name}-${dirCount++}-`));

// Writes a zip with python3's zipfile. members: [name, text or {random: n}, mode, stored?]
function makeZip(file, members) {
  const script = [
    'import json, os, sys, zipfile',
    'members = json.loads(sys.argv[2])',
    "with zipfile.ZipFile(sys.argv[1], 'w') as z:",
    '    for name, data, mode, stored in members:',
    '        zi = zipfile.ZipInfo(name, date_time=(2024, 1, 2, 3, 4, 6))',
    '        zi.create_system = 3',
    '        zi.external_attr = mode << 16',
    '        zi.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED',
    "        payload = os.urandom(data['random']) if isinstance(data, dict) else data.encode()",
    '        z.writestr(zi, payload)',
  ].join('\n');
  const r = spawnSync('python3', ['-c', script, file, JSON.stringify(members)], { encoding: 'utf8', timeout: 60000 });
  assert.strictEqual(r.status, 0, `python3 zipfile: ${r.stderr}`);
  return file;
}

const FILE = 0o100000;
const DIR = 0o040000;
const fixtureMembers = [
  ['torch/', '', DIR | 0o755, false],
  ['torch/__init__.py', 'import torch._C\n', FILE | 0o644, false],
  ['torch/version.py', "__version__ = '2.13.0+cpu'\ngit_version = 'test'\n", FILE | 0o644, false],
  ['torch/lib/libtorch_fake.so', { random: 3 * 1024 * 1024 }, FILE | 0o755, true],
  ['torch/lib/libc10_fake.so', 'not really a library\n', FILE | 0o644, false],
  ['torch/include/', '', DIR | 0o755, false],
  ['torch/include/ATen/core/deep/nested/header.h', '#pragma once\n', FILE | 0o644, false],
  ['torch/share/cmake/Torch/TorchConfig.cmake', 'set(TORCH_FOUND TRUE)\n', FILE | 0o644, false],
  ['torch/bin/protoc', '#!/bin/sh\n', FILE | 0o755, false],
  ['torch/testing/_internal/data.py', 'x = 1\n', FILE | 0o644, false],
  ['torch-2.13.0+cpu.dist-info/RECORD', 'torch/version.py,,\n', FILE | 0o644, false],
];

// Lists a tree as sorted relative paths (folders end with '/').
function listTree(dir) {
  const out = [];
  const walk = (d, rel) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        out.push(`${r}/`);
        walk(path.join(d, e.name), r);
      } else {
        out.push(r);
      }
    }
  };
  walk(dir, '');
  return out.sort();
}

function assertFixtureLayout(dest, wheelName) {
  const files = listTree(dest).filter((f) => !f.endsWith('/'));
  assert.deepStrictEqual(files, [
    '.complete',
    'torch/include/ATen/core/deep/nested/header.h',
    'torch/lib/libc10_fake.so',
    'torch/lib/libtorch_fake.so',
    'torch/share/cmake/Torch/TorchConfig.cmake',
    'torch/version.py',
  ]);
  assert.strictEqual(fs.readFileSync(path.join(dest, '.complete'), 'utf8').trim(), wheelName);
  assert.match(fs.readFileSync(path.join(dest, 'torch/version.py'), 'utf8'), /__version__ = '2\.13\.0\+cpu'/);
  assert.ok(fs.statSync(path.join(dest, 'torch/lib/libtorch_fake.so')).mode & 0o100, 'the exec bit is kept');
  assert.strictEqual(fs.statSync(path.join(dest, 'torch/lib/libc10_fake.so')).mode & 0o111, 0, 'no exec bit where the zip has none');
  assert.strictEqual(fs.statSync(path.join(dest, 'torch/lib/libtorch_fake.so')).size, 3 * 1024 * 1024);
}

const sha256 = (file) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

/** Runs the CLI without blocking the event loop (the test servers live in this process). */
function runCli(args, env = process.env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SCRIPT, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

const withoutProxyEnv = () => {
  const env = { ...process.env };
  for (const k of ['https_proxy', 'HTTPS_PROXY', 'http_proxy', 'HTTP_PROXY', 'no_proxy', 'NO_PROXY', 'all_proxy', 'ALL_PROXY']) delete env[k];
  return env;
};

const listen = (server) => new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));

describe('wheel-fetch: download and unpack a wheel', function () {
  this.timeout(120000);
  const WHEEL_NAME = 'torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl';
  let fixture;
  let fixtureSha;
  let server;
  let base;
  const sockets = new Set();
  const requests = [];

  before(async () => {
    fixture = makeZip(path.join(freshDir('fixture'), WHEEL_NAME), fixtureMembers);
    fixtureSha = sha256(fixture);
    const body = fs.readFileSync(fixture);
    server = http.createServer((req, res) => {
      requests.push(req.url);
      const u = new URL(req.url, 'http://x');
      switch (u.pathname) {
        case `/whl/${encodeURIComponent(WHEEL_NAME)}`: {
          res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length });
          // In 64 KiB pieces, so that progress and hashing see many chunks.
          let off = 0;
          const pump = () => {
            while (off < body.length) {
              const ok = res.write(body.subarray(off, off + 65536));
              off += 65536;
              if (!ok) return res.once('drain', pump);
            }
            return res.end();
          };
          pump();
          return;
        }
        case '/hop1': res.writeHead(302, { Location: '/hop2' }); res.end(); return;
        case '/hop2': res.writeHead(301, { Location: `${base}/whl/${encodeURIComponent(WHEEL_NAME)}` }); res.end(); return;
        case '/loop': res.writeHead(307, { Location: '/loop' }); res.end(); return;
        case '/stall': return; // accepts the request and never answers
        case '/stall-body':
          res.writeHead(200, { 'Content-Length': 100000 });
          res.write(Buffer.alloc(1000));
          return; // never finishes
        case '/short':
          res.writeHead(200, { 'Content-Length': 100000 });
          res.write(Buffer.alloc(1000), () => setTimeout(() => res.socket.destroy(), 20));
          return;
        default:
          res.writeHead(404, { 'Content-Type': 'text/plain' });
          res.end('not here\n');
      }
    });
    server.on('connection', (s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    base = `http://127.0.0.1:${await listen(server)}`;
  });

  after(() => {
    for (const s of sockets) s.destroy();
    if (server) server.close();
  });

  const wheelUrl = () => `${base}/whl/${encodeURIComponent(WHEEL_NAME)}`;

  it('downloads with a verified sha256, logs throttled progress, and unpacks only the kept members', async () => {
    const dir = freshDir('ok');
    const dest = path.join(dir, 'wheels', WHEEL_NAME);
    const lines = [];
    const result = await downloadFile({ url: wheelUrl(), destination: dest, sha256: fixtureSha.toUpperCase(), log: (l) => lines.push(l) });
    assert.strictEqual(result.sha256, fixtureSha);
    assert.strictEqual(result.bytes, fs.statSync(fixture).size);
    assert.strictEqual(await sha256File(dest), fixtureSha);
    assert.deepStrictEqual(fs.readdirSync(path.dirname(dest)), [WHEEL_NAME], 'no temporary file left');
    assert.ok(lines.length >= 2 && lines.length <= 25, `a few progress lines, not one per chunk: ${lines.length}`);
    assert.ok(lines.every((l) => l.startsWith(`reviewkd: downloading ${WHEEL_NAME}`)), lines.join('\n'));
    assert.match(lines[lines.length - 1], /100% \(\d+\.\d of \d+\.\d MB\)$/);

    const out = path.join(dir, 'libtorch');
    const unpackLines = [];
    const ex = await extractWheel({ wheel: dest, destination: out, log: (l) => unpackLines.push(l) });
    assert.strictEqual(ex.entries, 5);
    assertFixtureLayout(out, WHEEL_NAME);
    assert.ok(unpackLines.length >= 1 && unpackLines.length <= 10, unpackLines.join('\n'));
    assert.deepStrictEqual(fs.readdirSync(dir).sort(), ['libtorch', 'wheels'], 'no staging folder left');
  });

  it('replaces an existing destination wholesale', async () => {
    const dir = freshDir('replace');
    const out = path.join(dir, 'libtorch');
    fs.mkdirSync(path.join(out, 'torch', 'stale'), { recursive: true });
    fs.writeFileSync(path.join(out, 'torch', 'stale', 'old.h'), 'old');
    await extractWheel({ wheel: fixture, destination: out });
    assertFixtureLayout(out, WHEEL_NAME);
    await extractWheel({ wheel: fixture, destination: out, keep: ['torch/version.py'] });
    assert.deepStrictEqual(listTree(out), ['.complete', 'torch/', 'torch/version.py']);
    assert.deepStrictEqual(fs.readdirSync(dir), ['libtorch']);
  });

  it('follows redirects, and gives up after maxRedirects', async () => {
    const dir = freshDir('redirect');
    const dest = path.join(dir, 'w.whl');
    requests.length = 0;
    const r = await downloadFile({ url: `${base}/hop1`, destination: dest, sha256: fixtureSha });
    assert.strictEqual(r.url, wheelUrl());
    assert.deepStrictEqual(requests, ['/hop1', '/hop2', `/whl/${encodeURIComponent(WHEEL_NAME)}`]);
    assert.strictEqual(sha256(dest), fixtureSha);
    await assert.rejects(downloadFile({ url: `${base}/hop1`, destination: path.join(dir, 'x.whl'), maxRedirects: 1 }), /more than 1 redirects/);
    await assert.rejects(downloadFile({ url: `${base}/loop`, destination: path.join(dir, 'y.whl') }), /more than 5 redirects/);
    assert.deepStrictEqual(fs.readdirSync(dir), ['w.whl']);
  });

  it('a sha256 mismatch throws naming the url and both hashes, and leaves no file', async () => {
    const dir = freshDir('mismatch');
    const wrong = 'ab'.repeat(32);
    await assert.rejects(
      downloadFile({ url: wheelUrl(), destination: path.join(dir, 'w.whl'), sha256: wrong }),
      (e) => e.message.includes(wheelUrl()) && e.message.includes(wrong) && e.message.includes(fixtureSha),
    );
    assert.deepStrictEqual(fs.readdirSync(dir), []);
    // An existing good file at destination is not touched by a failed download.
    fs.writeFileSync(path.join(dir, 'w.whl'), 'previous');
    await assert.rejects(downloadFile({ url: wheelUrl(), destination: path.join(dir, 'w.whl'), sha256: wrong }), /sha256 mismatch/);
    assert.deepStrictEqual(fs.readdirSync(dir), ['w.whl']);
    assert.strictEqual(fs.readFileSync(path.join(dir, 'w.whl'), 'utf8'), 'previous');
    await assert.rejects(downloadFile({ url: wheelUrl(), destination: path.join(dir, 'z.whl'), sha256: 'xyz' }), /64 hexadecimal digits/);
  });

  it('HTTP 404 is an error with the status, and leaves no file', async () => {
    const dir = freshDir('404');
    await assert.rejects(
      downloadFile({ url: `${base}/missing.whl`, destination: path.join(dir, 'w.whl') }),
      (e) => /HTTP 404 Not Found/.test(e.message) && e.message.includes(`${base}/missing.whl`) && e.status === 404,
    );
    assert.deepStrictEqual(fs.readdirSync(dir), []);
  });

  it('a server that never answers, or stalls mid-body, times out with a clear error; a cut-off body fails', async () => {
    const dir = freshDir('stall');
    let t0 = Date.now();
    await assert.rejects(downloadFile({ url: `${base}/stall`, destination: path.join(dir, 'a.whl'), timeoutMs: 300 }), /no response from 127\.0\.0\.1:\d+ within 300 ms/);
    assert.ok(Date.now() - t0 < 5000, 'bounded');
    t0 = Date.now();
    await assert.rejects(downloadFile({ url: `${base}/stall-body`, destination: path.join(dir, 'b.whl'), timeoutMs: 300 }), /failed after 1000 of 100000 bytes: the connection stalled: no data for 300 ms/);
    assert.ok(Date.now() - t0 < 5000, 'bounded');
    await assert.rejects(downloadFile({ url: `${base}/short`, destination: path.join(dir, 'c.whl'), timeoutMs: 5000 }), /failed after 1000 of 100000 bytes: the server closed the connection/);
    assert.deepStrictEqual(fs.readdirSync(dir), []);
  });

  it('refuses zip members with "..", absolute paths or symlinks, writing nothing', async () => {
    const cases = [
      ['../evil', /unsafe member name.*\.\.\/evil/],
      ['torch/lib/../../../evil', /unsafe member name/],
      ['/tmp/abs-evil', /unsafe member name.*absolute path/],
    ];
    for (const [bad, pattern] of cases) {
      const dir = freshDir('slip');
      const inner = path.join(dir, 'inner');
      fs.mkdirSync(inner);
      const zip = makeZip(path.join(dir, 'evil.whl'), [
        ['torch/lib/first.so', 'x', FILE | 0o644, false],
        [bad, 'pwned', FILE | 0o644, false],
        ['torch/lib/last.so', 'y', FILE | 0o644, false],
      ]);
      // keep: [''] is refused, so keep a prefix that would match everything under torch/ and the bad name's first part.
      await assert.rejects(extractWheel({ wheel: zip, destination: path.join(inner, 'out'), keep: ['torch/', '../', '/'] }), pattern);
      assert.deepStrictEqual(fs.readdirSync(inner), [], 'no destination and no staging folder');
      assert.deepStrictEqual(fs.readdirSync(dir).sort(), ['evil.whl', 'inner']);
      assert.ok(!fs.existsSync('/tmp/abs-evil'));
    }
    const dir = freshDir('symlink');
    const zip = makeZip(path.join(dir, 'link.whl'), [['torch/lib/link.so', '/etc/passwd', 0o120777, false]]);
    await assert.rejects(extractWheel({ wheel: zip, destination: path.join(dir, 'out') }), /symbolic link/);
    assert.deepStrictEqual(fs.readdirSync(dir), ['link.whl']);
    await assert.rejects(extractWheel({ wheel: path.join(dir, 'link.whl.nope'), destination: path.join(dir, 'out') }), /cannot open .* as a zip file/);
    fs.writeFileSync(path.join(dir, 'bad.whl'), 'not a zip');
    await assert.rejects(extractWheel({ wheel: path.join(dir, 'bad.whl'), destination: path.join(dir, 'out') }), /cannot open .* as a zip file/);
  });

  it('CLI: --url downloads, unpacks and prints JSON; errors are one paragraph on stderr with exit 1', async () => {
    const dir = freshDir('cli');
    const dest = path.join(dir, 'libtorch');
    const r = await runCli(['--url', wheelUrl(), '--sha256', fixtureSha, '--dest', dest], withoutProxyEnv());
    assert.strictEqual(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.strictEqual(out.ok, true);
    assert.strictEqual(out.dest, dest);
    assert.strictEqual(path.basename(out.wheel), WHEEL_NAME);
    assert.strictEqual(out.wheelKept, false);
    assertFixtureLayout(dest, WHEEL_NAME);
    assert.deepStrictEqual(fs.readdirSync(dir), ['libtorch'], 'the temporary download is removed');
    assert.match(r.stderr, /reviewkd: downloading /);

    // --wheel with --url keeps the download and reuses it when the hash matches.
    const kept = path.join(dir, 'cache', WHEEL_NAME);
    const r2 = await runCli(['--url', wheelUrl(), '--sha256', fixtureSha, '--wheel', kept, '--dest', dest, '--keep', 'torch/version.py', 'torch/share/'], withoutProxyEnv());
    assert.strictEqual(r2.code, 0, r2.stderr);
    assert.deepStrictEqual(JSON.parse(r2.stdout), { ok: true, dest, wheel: kept, downloaded: true, wheelKept: true });
    assert.deepStrictEqual(listTree(path.join(dest, 'torch')), ['share/', 'share/cmake/', 'share/cmake/Torch/', 'share/cmake/Torch/TorchConfig.cmake', 'version.py']);
    const r3 = await runCli(['--url', `${base}/missing.whl`, '--sha256', fixtureSha, '--wheel', kept, '--dest', dest], withoutProxyEnv());
    assert.strictEqual(r3.code, 0, r3.stderr);
    assert.strictEqual(JSON.parse(r3.stdout).downloaded, false, 'the matching wheel is reused, no request');

    const bad = await runCli(['--url', `${base}/missing.whl`, '--dest', path.join(dir, 'x')], withoutProxyEnv());
    assert.strictEqual(bad.code, 1);
    assert.strictEqual(bad.stdout, '');
    assert.match(bad.stderr, /reviewkd: wheel-fetch: GET .*missing\.whl: HTTP 404/);
    assert.strictEqual(bad.stderr.trim().split('\n').length, 1, bad.stderr);
    assert.deepStrictEqual(fs.readdirSync(dir).sort(), ['cache', 'libtorch']);

    const usage = await runCli(['--dest', dest]);
    assert.strictEqual(usage.code, 1);
    assert.match(usage.stderr, /--url URL or --wheel FILE is required/);
    const mismatch = await runCli(['--wheel', fixture, '--sha256', 'cd'.repeat(32), '--dest', path.join(dir, 'y')]);
    assert.strictEqual(mismatch.code, 1);
    assert.match(mismatch.stderr, /sha256 mismatch/);
    assert.ok(!fs.existsSync(path.join(dir, 'y')));
  });

  it('spawnSync callers can use the CLI on a local wheel', () => {
    const dest = path.join(freshDir('sync'), 'lt');
    const r = spawnSync(process.execPath, [SCRIPT, '--wheel', fixture, '--dest', dest], { encoding: 'utf8', timeout: 60000 });
    assert.strictEqual(r.status, 0, r.stderr);
    assert.deepStrictEqual(JSON.parse(r.stdout), { ok: true, dest, wheel: fixture, downloaded: false, wheelKept: true });
    assertFixtureLayout(dest, WHEEL_NAME);
  });

  it('goes through an HTTPS_PROXY CONNECT tunnel for https URLs, and NO_PROXY bypasses it', async function () {
    const dir = freshDir('proxy');
    const key = path.join(dir, 'key.pem');
    const cert = path.join(dir, 'cert.pem');
    const ssl = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { encoding: 'utf8', timeout: 30000 });
    if (ssl.error && ssl.error.code === 'ENOENT') this.skip(); // no openssl to make a test certificate
    assert.strictEqual(ssl.status, 0, ssl.stderr);
    const body = fs.readFileSync(fixture);
    const tlsServer = https.createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert) }, (req, res) => {
      res.writeHead(200, { 'Content-Length': body.length });
      res.end(body);
    });
    const connects = [];
    const tunnels = new Set();
    const proxy = http.createServer((req, res) => { res.writeHead(405); res.end(); });
    proxy.on('connect', (req, clientSocket, head) => {
      connects.push({ target: req.url, auth: req.headers['proxy-authorization'] });
      const [host, port] = req.url.split(':');
      const upstream = net.connect(Number(port), host, () => {
        clientSocket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        if (head.length) upstream.write(head);
        upstream.pipe(clientSocket);
        clientSocket.pipe(upstream);
      });
      tunnels.add(upstream).add(clientSocket);
      upstream.on('error', () => clientSocket.destroy());
      clientSocket.on('error', () => upstream.destroy());
    });
    try {
      const tlsPort = await listen(tlsServer);
      const proxyPort = await listen(proxy);
      const url = `https://127.0.0.1:${tlsPort}/whl/${encodeURIComponent(WHEEL_NAME)}`;
      const env = { ...withoutProxyEnv(), NODE_EXTRA_CA_CERTS: cert, HTTPS_PROXY: `http://user:p%40ss@127.0.0.1:${proxyPort}` };
      const dest = path.join(dir, 'lt');
      const r = await runCli(['--url', url, '--sha256', fixtureSha, '--dest', dest], env);
      assert.strictEqual(r.code, 0, r.stderr);
      assertFixtureLayout(dest, WHEEL_NAME);
      assert.deepStrictEqual(connects, [{ target: `127.0.0.1:${tlsPort}`, auth: `Basic ${Buffer.from('user:p@ss').toString('base64')}` }]);

      const bypass = await runCli(['--url', url, '--sha256', fixtureSha, '--dest', path.join(dir, 'lt2')], { ...env, NO_PROXY: 'localhost,127.0.0.1' });
      assert.strictEqual(bypass.code, 0, bypass.stderr);
      assert.strictEqual(connects.length, 1, 'NO_PROXY skips the proxy');

      const untrusted = await runCli(['--url', url, '--dest', path.join(dir, 'lt3')], { ...withoutProxyEnv(), HTTPS_PROXY: `http://127.0.0.1:${proxyPort}` });
      assert.strictEqual(untrusted.code, 1);
      assert.match(untrusted.stderr, /certificate/i, 'TLS is verified end to end through the tunnel');
    } finally {
      for (const s of tunnels) s.destroy();
      tlsServer.close();
      proxy.close();
    }
  });

  it('unpacks the real pinned torch wheel (version.py only) and its sha256 is the pinned one', async function () {
    if (!fs.existsSync(REAL_WHEEL)) this.skip();
    const out = path.join(freshDir('real'), 'libtorch');
    const r = await extractWheel({ wheel: REAL_WHEEL, destination: out, keep: ['torch/version.py'] });
    assert.strictEqual(r.entries, 1);
    assert.deepStrictEqual(listTree(out), ['.complete', 'torch/', 'torch/version.py']);
    assert.match(fs.readFileSync(path.join(out, 'torch', 'version.py'), 'utf8'), /__version__ = '2\.13\.0(\+cpu)?'/);
    assert.strictEqual(fs.readFileSync(path.join(out, '.complete'), 'utf8').trim(), path.basename(REAL_WHEEL));
    assert.strictEqual(await sha256File(REAL_WHEEL), REAL_SHA256);
    assert.deepStrictEqual(DEFAULT_KEEP, ['torch/lib/', 'torch/include/', 'torch/share/', 'torch/version.py']);
  });
});
