// Downloads a wheel (a zip) over HTTPS with a sha256 check, and unpacks part of it, without pip or Python.
// Used to fetch the pinned torch wheel and unpack LibTorch (torch/lib, torch/include, torch/share,
// torch/version.py) into the cache. Node built-ins plus `yauzl` (a maintained streaming zip reader that
// validates entry sizes and names; the wheel's 114 MB libtorch_cpu.so is inflated as a stream).
//
// It runs as a child process of the loader (pinned-wheel.ts), which is synchronous:
//   node dist/loader/wheel-fetch.js --url URL [--sha256 HEX] --dest DIR [--wheel FILE] [--keep PREFIX ...] [--timeout-ms N]
//   node dist/loader/wheel-fetch.js --wheel FILE [--sha256 HEX] --dest DIR [--keep PREFIX ...]
// It prints one line of JSON on stdout and progress on stderr; an error is one paragraph on stderr, exit 1.
//
// Proxies: an https:// URL goes through the http:// proxy named by https_proxy / HTTPS_PROXY (CONNECT
// tunnel, optional user:password in the proxy URL), unless no_proxy / NO_PROXY names the host
// (comma-separated host names or domain suffixes, `*` for all). http:// URLs (meant for tests) always go
// direct. Proxies that need anything else (an https:// proxy, NTLM/Kerberos, PAC files) are not
// supported here: on such networks pip (`python3 -m pip download torch==VERSION --no-deps`), which the
// loader tries first, is the way.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as fsp from 'fs/promises';
import * as http from 'http';
import * as https from 'https';
import * as net from 'net';
import * as path from 'path';
import * as tls from 'tls';
import { Transform, type Readable } from 'stream';
import { pipeline } from 'stream/promises';

import { sha256File } from './hashing';
import { setting } from './settings';

/** What a C++ build needs from a torch wheel. */
export const DEFAULT_KEEP = ['torch/lib/', 'torch/include/', 'torch/share/', 'torch/version.py'];
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const PROGRESS_INTERVAL_MS = 1000;

type Log = (line: string) => void;

/** Temporary files and folders of work in progress; the CLI removes them on SIGINT/SIGTERM. */
const pending = new Set<string>();

const uniqueSuffix = () => `${process.pid}-${crypto.randomBytes(4).toString('hex')}`;

function formatMB(bytes: number): string {
  const mb = bytes / 1e6;
  return mb < 10 ? mb.toFixed(1) : String(Math.round(mb));
}

/**
 * A progress reporter that calls `log` at most about once per second, and (when the total is known) only
 * when at least 5% more is done, or 10 s passed since the last line; `done` always logs.
 */
function throttle(log: Log, format: (amount: number, fraction: number) => string, total: number | null) {
  let lastTime = Date.now();
  let lastFraction = 0;
  return (amount: number, done = false) => {
    const now = Date.now();
    const fraction = total && total > 0 ? amount / total : 0;
    const due = done
      || (now - lastTime >= PROGRESS_INTERVAL_MS && (!(total && total > 0) || fraction - lastFraction >= 0.05))
      || now - lastTime >= 10 * PROGRESS_INTERVAL_MS;
    if (!due) return;
    lastTime = now;
    lastFraction = fraction;
    log(format(amount, fraction));
  };
}

function normalizeSha256(sha256: string | null | undefined): string | null {
  if (sha256 === undefined || sha256 === null || sha256 === '') return null;
  const hex = String(sha256).trim().toLowerCase().replace(/^sha256[:=]/, '');
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error(`sha256 must be 64 hexadecimal digits, got ${JSON.stringify(String(sha256))}`);
  return hex;
}

// ---------------------------------------------------------------------------------------------------------
// Proxy support (https_proxy / HTTPS_PROXY, no_proxy / NO_PROXY)

function bypassesProxy(hostname: string, port: string | number): boolean {
  const list = setting('NO_PROXY');
  if (!list) return false;
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  for (let entry of list.split(/[\s,]+/)) {
    entry = entry.trim().toLowerCase();
    if (!entry) continue;
    if (entry === '*') return true;
    let entryPort: string | null = null;
    const m = /^(.*?):(\d+)$/.exec(entry);
    if (m && !entry.startsWith('[') && m[1].indexOf(':') === -1) [, entry, entryPort] = m;
    entry = entry.replace(/^\*?\./, '').replace(/^\[|\]$/g, '');
    if (entryPort && Number(entryPort) !== Number(port)) continue;
    if (host === entry || host.endsWith(`.${entry}`)) return true;
  }
  return false;
}

/** The proxy URL to use for `target`, or null. `proxy` overrides the environment (null: none). */
function proxyFor(target: URL, proxy: string | null | undefined): URL | null {
  if (target.protocol !== 'https:') return null;
  let raw = proxy;
  if (raw === undefined) {
    raw = setting('HTTPS_PROXY') ?? null;
    if (raw && bypassesProxy(target.hostname, target.port || 443)) return null;
  }
  if (!raw) return null;
  const url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`);
  if (url.protocol !== 'http:') {
    throw new Error(`the proxy ${url.protocol}//${url.host} is not supported (only http:// proxies are); `
      + 'on this network fetch the wheel with pip (python3 -m pip download ... --no-deps) instead');
  }
  return url;
}

/** Opens a CONNECT tunnel through `proxy` to target's host:port; resolves with the raw socket. */
function openTunnel(proxy: URL, target: URL, onRequest: (req: http.ClientRequest) => void): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const port = target.port || 443;
    const hostname = target.hostname.replace(/^\[|\]$/g, '');
    const authority = net.isIPv6(hostname) ? `[${hostname}]:${port}` : `${hostname}:${port}`;
    const headers: Record<string, string> = { Host: authority };
    if (proxy.username || proxy.password) {
      const credentials = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
      headers['Proxy-Authorization'] = `Basic ${Buffer.from(credentials).toString('base64')}`;
    }
    const req = http.request({ host: proxy.hostname.replace(/^\[|\]$/g, ''), port: proxy.port || 80, method: 'CONNECT', path: authority, headers, agent: false });
    onRequest(req);
    req.once('connect', (res, socket, head) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        reject(new Error(`the proxy ${proxy.host} refused to connect to ${authority}: HTTP ${res.statusCode} ${res.statusMessage || ''}`.trim()));
        return;
      }
      if (head && head.length) socket.unshift(head);
      resolve(socket);
    });
    req.once('error', (err) => reject(new Error(`the proxy ${proxy.host}: ${err.message}`)));
    req.end();
  });
}

// ---------------------------------------------------------------------------------------------------------
// Download

/** One GET in flight: its idle timer and the first failure (a timeout), more telling than 'aborted'. */
interface Connection {
  error: (Error & { code?: string }) | null;
  req: http.ClientRequest | null;
  tunnelReq: http.ClientRequest | null;
  timer: NodeJS.Timeout | undefined;
  gotResponse: boolean;
  bytes: number;
  /** Restarts the idle timer (connect, waiting for headers, and between body chunks). */
  kick(): void;
  stop(): void;
}

interface Opened { req: http.ClientRequest; res: http.IncomingMessage; conn: Connection }

/** Sends one GET; resolves on response headers. */
function sendGet(target: URL, { timeoutMs, proxy }: { timeoutMs: number; proxy: URL | null }): Promise<Opened> {
  return new Promise((resolve, reject) => {
    const conn: Connection = {
      error: null, req: null, tunnelReq: null, timer: undefined, gotResponse: false, bytes: 0,
      stop: () => clearTimeout(conn.timer),
      kick: () => {
        clearTimeout(conn.timer);
        conn.timer = setTimeout(() => {
          const err: Error & { code?: string } = new Error(conn.gotResponse
            ? `the connection stalled: no data for ${timeoutMs} ms`
            : `no response from ${target.host}${proxy ? ` (through the proxy ${proxy.host})` : ''} within ${timeoutMs} ms`);
          err.code = 'ETIMEDOUT';
          if (!conn.error) conn.error = err;
          if (conn.req) conn.req.destroy(err);
          if (conn.tunnelReq) conn.tunnelReq.destroy(err);
          reject(err);
        }, timeoutMs);
      },
    };
    const fail = (err: Error) => {
      if (!conn.error) conn.error = err;
      conn.stop();
      reject(conn.error);
    };
    conn.kick();

    const headers = { 'User-Agent': `reviewkd-wheel-fetch (node ${process.version})`, Accept: '*/*', 'Accept-Encoding': 'identity' };
    const start = (socket: net.Socket | null) => {
      const options: https.RequestOptions = { method: 'GET', headers };
      if (socket) {
        const hostname = target.hostname.replace(/^\[|\]$/g, '');
        const tlsSocket = tls.connect({ socket, host: hostname, servername: net.isIP(hostname) ? undefined : hostname, ALPNProtocols: ['http/1.1'] });
        options.createConnection = () => tlsSocket;
      } else {
        options.agent = false;
      }
      const req = (target.protocol === 'https:' ? https : http).request(target, options);
      conn.req = req;
      req.once('response', (res) => {
        conn.gotResponse = true;
        conn.kick();
        resolve({ req, res, conn });
      });
      req.on('error', (err) => fail(err));
      req.end();
    };
    if (proxy) {
      openTunnel(proxy, target, (r) => { conn.tunnelReq = r; }).then((socket) => {
        if (conn.error) socket.destroy();
        else start(socket);
      }, fail);
    } else {
      start(null);
    }
  });
}

/** GET following redirects (never from https to http); resolves with the 2xx response. */
async function openFollowingRedirects(url: string, { timeoutMs, maxRedirects, proxy }: { timeoutMs: number; maxRedirects: number; proxy?: string | null }): Promise<Opened & { url: string }> {
  let current = new URL(url);
  for (let hop = 0; ; hop++) {
    if (current.protocol !== 'https:' && current.protocol !== 'http:') {
      throw new Error(`cannot fetch ${current.href}: only https:// (and http://) URLs are supported`);
    }
    const viaProxy = proxyFor(current, proxy);
    const from = current.href !== url ? ` (redirected from ${url})` : '';
    let response: Opened;
    try {
      response = await sendGet(current, { timeoutMs, proxy: viaProxy });
    } catch (err) {
      throw new Error(`GET ${current.href}${from} failed: ${(err as Error).message}`);
    }
    const { req, res, conn } = response;
    const status = res.statusCode ?? 0;
    if (REDIRECTS.has(status)) {
      conn.stop();
      res.resume();
      req.destroy();
      const location = res.headers.location;
      if (!location) throw new Error(`GET ${current.href}: HTTP ${status} redirect without a Location header`);
      if (hop >= maxRedirects) throw new Error(`GET ${url}: more than ${maxRedirects} redirects (last: ${current.href} -> ${location})`);
      const next = new URL(location, current);
      if (current.protocol === 'https:' && next.protocol !== 'https:') {
        throw new Error(`GET ${current.href}: refusing to follow a redirect from https to ${next.href}`);
      }
      current = next;
      continue;
    }
    if (status < 200 || status >= 300) {
      conn.stop();
      res.resume();
      req.destroy();
      const err: Error & { status?: number } = new Error(`GET ${current.href}${from}: HTTP ${status} ${res.statusMessage || ''}`.trim());
      err.status = status;
      throw err;
    }
    return { req, res, conn, url: current.href };
  }
}

/** Options of downloadFile. */
export interface DownloadOptions {
  url: string;
  destination: string;
  /** Expected sha256 (hex); a mismatch discards the download. */
  sha256?: string | null;
  log?: Log;
  /** Idle timeout: connect, headers, and between body chunks. */
  timeoutMs?: number;
  maxRedirects?: number;
  /** An http:// proxy URL, null for none; undefined reads HTTPS_PROXY / NO_PROXY. */
  proxy?: string | null;
}

/**
 * Downloads url to destination: a temporary file next to it is written while the sha256 is computed,
 * checked against `sha256` (when given), flushed to disk and renamed into place. On any failure the
 * temporary file is removed and nothing is left at destination (an existing destination is untouched).
 */
export async function downloadFile({ url, destination, sha256, log = () => {}, timeoutMs = 30000, maxRedirects = 5, proxy }: DownloadOptions): Promise<{ file: string; sha256: string; bytes: number; url: string }> {
  if (!url) throw new Error('downloadFile: url is required');
  if (!destination) throw new Error('downloadFile: destination is required');
  if (!(timeoutMs > 0)) throw new Error(`downloadFile: timeoutMs must be a positive number, got ${timeoutMs}`);
  const expected = normalizeSha256(sha256);
  const target = path.resolve(destination);
  await fsp.mkdir(path.dirname(target), { recursive: true });
  const temp = path.join(path.dirname(target), `.${path.basename(target)}.${uniqueSuffix()}.part`);
  pending.add(temp);
  let conn: Connection | null = null;
  try {
    const opened = await openFollowingRedirects(url, { timeoutMs, maxRedirects: Math.max(0, maxRedirects | 0), proxy });
    const c = opened.conn;
    conn = c;
    const { res } = opened;
    const lengthHeader = res.headers['content-length'];
    const total = lengthHeader !== undefined && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : null;
    const name = path.basename(target);
    const progress = throttle(log, (bytes, fraction) => (total
      ? `reviewkd: downloading ${name} ${Math.floor(fraction * 100)}% (${formatMB(bytes)} of ${formatMB(total)} MB)`
      : `reviewkd: downloading ${name} (${formatMB(bytes)} MB)`), total);
    log(`reviewkd: downloading ${name}${total ? ` (${formatMB(total)} MB)` : ''} from ${new URL(opened.url).host}`);
    const hash = crypto.createHash('sha256');
    const meter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        hash.update(chunk);
        c.bytes += chunk.length;
        c.kick();
        progress(c.bytes);
        callback(null, chunk);
      },
    });
    try {
      await pipeline(res, meter, fs.createWriteStream(temp, { flags: 'wx', mode: 0o644 }));
    } catch (err) {
      const reason = c.error ?? (err as Error);
      const why = reason.message === 'aborted' ? 'the server closed the connection' : reason.message;
      throw new Error(`download of ${opened.url} failed after ${c.bytes}${total ? ` of ${total}` : ''} bytes: ${why}`);
    }
    c.stop();
    if (total !== null && c.bytes !== total) throw new Error(`download of ${opened.url} was cut short: ${c.bytes} of ${total} bytes`);
    progress(c.bytes, true);
    const actual = hash.digest('hex');
    if (expected && actual !== expected) {
      throw new Error(`sha256 mismatch for ${url}: expected ${expected}, got ${actual} (${c.bytes} bytes); the download was discarded`);
    }
    const fh = await fsp.open(temp, 'r+');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(temp, target);
    return { file: target, sha256: actual, bytes: c.bytes, url: opened.url };
  } catch (err) {
    await fsp.rm(temp, { force: true }).catch(() => {});
    throw err;
  } finally {
    if (conn) conn.stop();
    pending.delete(temp);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Extraction

/** The part of yauzl's API used here (the package ships no types). */
interface ZipEntry {
  fileName: string;
  versionMadeBy: number;
  externalFileAttributes: number;
  relativeOffsetOfLocalHeader: number;
  compressedSize: number;
  uncompressedSize: number;
}
interface ZipFile {
  entryCount: number;
  isOpen: boolean;
  readEntry(): void;
  openReadStream(entry: ZipEntry, cb: (err: Error | null, stream: Readable) => void): void;
  close(): void;
  on(event: 'entry', cb: (entry: ZipEntry) => void): void;
  on(event: 'end', cb: () => void): void;
  on(event: 'error', cb: (err: Error) => void): void;
}
interface Yauzl {
  open(file: string, options: Record<string, boolean>, cb: (err: Error | null, zip: ZipFile) => void): void;
}

function loadYauzl(): Yauzl {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('yauzl') as Yauzl;
  } catch (err) {
    throw new Error(`the npm package yauzl is needed to unpack wheels (npm install yauzl): ${(err as Error).message}`);
  }
}

/** Why a zip member name is unsafe to extract (absolute, drive letter, `..`, backslash, NUL), or null. */
function unsafeMemberName(name: string): string | null {
  if (name.includes('\0')) return 'a NUL character';
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) return 'an absolute path';
  if (name.includes('\\')) return 'a backslash';
  if (name.split('/').some((part) => part === '..')) return 'a ".." component';
  return null;
}

type ZipItem = { entry: ZipEntry } | { end: true } | { error: Error };

/** Pulls entries one at a time from a yauzl zipfile opened with lazyEntries. */
function entryReader(zip: ZipFile): () => Promise<ZipItem> {
  let waiting: ((item: ZipItem) => void) | null = null;
  const queue: ZipItem[] = [];
  const deliver = (item: ZipItem) => {
    if (waiting) {
      const w = waiting;
      waiting = null;
      w(item);
    } else {
      queue.push(item);
    }
  };
  zip.on('entry', (entry) => deliver({ entry }));
  zip.on('end', () => deliver({ end: true }));
  zip.on('error', (error) => deliver({ error }));
  return () => new Promise((resolve) => {
    if (queue.length) {
      resolve(queue.shift() as ZipItem);
      return;
    }
    waiting = resolve;
    zip.readEntry();
  });
}

/** Puts `staging` at `destination`, replacing what is there (moved aside first, then removed). */
async function replaceDirectory(staging: string, destination: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await fsp.rename(staging, destination);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      if (!['ENOTEMPTY', 'EEXIST', 'ENOTDIR', 'EISDIR', 'EPERM'].includes(code) || attempt >= 3) throw err;
    }
    const old = path.join(path.dirname(destination), `.${path.basename(destination)}.old-${uniqueSuffix()}`);
    try {
      await fsp.rename(destination, old);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err; // someone else removed it meanwhile: just retry
    }
    pending.add(old);
    try {
      await fsp.rename(staging, destination);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      if (!['ENOTEMPTY', 'EEXIST'].includes(code) || attempt >= 3) throw err; // another process won the race
    } finally {
      await fsp.rm(old, { recursive: true, force: true });
      pending.delete(old);
    }
  }
}

/** Options of extractWheel. */
export interface ExtractOptions {
  wheel: string;
  destination: string;
  /** Member name prefixes to unpack (default DEFAULT_KEEP). */
  keep?: string[];
  log?: Log;
}

/**
 * Unpacks the members of `wheel` whose names start with one of `keep` into a staging folder next to
 * destination (executable bits kept, unsafe names and symbolic links refused), writes `.complete`
 * (holding the wheel's file name), then swaps the staging folder in for destination. Nothing is left
 * behind on failure.
 */
export async function extractWheel({ wheel, destination, keep = DEFAULT_KEEP, log = () => {} }: ExtractOptions): Promise<{ destination: string; wheel: string; entries: number; bytes: number }> {
  if (!wheel) throw new Error('extractWheel: wheel is required');
  if (!destination) throw new Error('extractWheel: destination is required');
  if (!Array.isArray(keep) || keep.length === 0 || keep.some((k) => typeof k !== 'string' || k === '')) {
    throw new Error('extractWheel: keep must be a non-empty list of non-empty name prefixes');
  }
  const yauzl = loadYauzl();
  const wheelPath = path.resolve(wheel);
  const wheelName = path.basename(wheelPath);
  const target = path.resolve(destination);
  await fsp.mkdir(path.dirname(target), { recursive: true });
  const staging = path.join(path.dirname(target), `.${path.basename(target)}.staging-${uniqueSuffix()}`);

  let zip: ZipFile;
  let wheelSize: number;
  try {
    wheelSize = (await fsp.stat(wheelPath)).size;
    zip = await new Promise<ZipFile>((resolve, reject) => {
      yauzl.open(wheelPath, { lazyEntries: true, autoClose: false, decodeStrings: true, validateEntrySizes: true }, (err, z) => (err ? reject(err) : resolve(z)));
    });
  } catch (err) {
    throw new Error(`cannot open ${wheelPath} as a zip file: ${(err as Error).message}`);
  }

  pending.add(staging);
  const made = new Set<string>();
  const ensureDir = async (dir: string) => {
    if (made.has(dir)) return;
    await fsp.mkdir(dir, { recursive: true });
    made.add(dir);
  };
  let entries = 0;
  let bytes = 0;
  let index = 0;
  const count = zip.entryCount;
  // Progress is the position in the wheel file (entries are stored in order), so that one big member
  // (libtorch_cpu.so is 114 of the 191 MB) still shows progress while it is inflated.
  const progress = throttle(log, (_position, fraction) => `reviewkd: unpacking ${wheelName} ${Math.floor(fraction * 100)}% `
    + `(${index} of ${count} entries read, ${entries} unpacked, ${formatMB(bytes)} MB written)`, wheelSize);
  const positionOf = (entry: ZipEntry, written: number) => Math.min(wheelSize, entry.relativeOffsetOfLocalHeader
    + (entry.uncompressedSize > 0 ? Math.round(entry.compressedSize * (written / entry.uncompressedSize)) : entry.compressedSize));
  try {
    await fsp.mkdir(staging);
    made.add(staging);
    log(`reviewkd: unpacking ${wheelName} (${keep.join(', ')}) into ${target}`);
    const next = entryReader(zip);
    for (;;) {
      const item = await next();
      if ('error' in item) {
        const unsafe = /invalid relative path|absolute path|invalid characters/.test(item.error.message);
        throw new Error(unsafe
          ? `refusing to unpack ${wheelPath}: it holds an unsafe member name (${item.error.message}); names must stay inside the destination folder`
          : `${wheelPath} is not a valid zip file: ${item.error.message}`);
      }
      if ('end' in item) break;
      const { entry } = item;
      index++;
      const name = entry.fileName;
      const why = unsafeMemberName(name);
      if (why) throw new Error(`refusing to unpack ${wheelPath}: member ${JSON.stringify(name)} has ${why}; names must stay inside the destination folder`);
      if (keep.some((prefix) => name.startsWith(prefix))) {
        const out = path.resolve(staging, name);
        if (out !== staging && !out.startsWith(staging + path.sep)) {
          throw new Error(`refusing to unpack ${wheelPath}: member ${JSON.stringify(name)} would land outside ${target}`);
        }
        const unixMode = (entry.versionMadeBy >> 8) === 3 ? (entry.externalFileAttributes >>> 16) & 0xffff : 0;
        const type = unixMode & 0o170000;
        if (type === 0o120000) throw new Error(`refusing to unpack ${wheelPath}: member ${JSON.stringify(name)} is a symbolic link`);
        if (name.endsWith('/') || type === 0o040000) {
          await ensureDir(out);
        } else {
          await ensureDir(path.dirname(out));
          const stream = await new Promise<Readable>((resolve, reject) => {
            zip.openReadStream(entry, (err, s) => (err ? reject(err) : resolve(s)));
          });
          let written = 0;
          stream.on('data', (chunk: Buffer) => {
            written += chunk.length;
            bytes += chunk.length;
            progress(positionOf(entry, written));
          });
          try {
            await pipeline(stream, fs.createWriteStream(out, { mode: unixMode & 0o111 ? 0o755 : 0o644 }));
          } catch (err) {
            throw new Error(`unpacking ${name} from ${wheelPath} failed: ${(err as Error).message}`);
          }
          entries++;
        }
      }
      progress(positionOf(entry, entry.uncompressedSize));
    }
    progress(wheelSize, true);
    await fsp.writeFile(path.join(staging, '.complete'), `${wheelName}\n`);
    await replaceDirectory(staging, target);
    pending.delete(staging);
    return { destination: target, wheel: wheelPath, entries, bytes };
  } catch (err) {
    await fsp.rm(staging, { recursive: true, force: true }).catch(() => {});
    pending.delete(staging);
    throw err;
  } finally {
    if (zip.isOpen) zip.close();
  }
}

// ---------------------------------------------------------------------------------------------------------
// The child-process entry

const USAGE = `usage:
  node dist/loader/wheel-fetch.js --url URL [--sha256 HEX] --dest DIR [--wheel FILE] [--keep PREFIX ...] [--timeout-ms N]
  node dist/loader/wheel-fetch.js --wheel FILE [--sha256 HEX] --dest DIR [--keep PREFIX ...]
With --url and --wheel the download is kept at FILE (and reused when its sha256 already matches); with
--url alone it goes to a temporary folder next to DIR and is removed after unpacking. Prints
{"ok":true,"dest":...,"wheel":...} on stdout; progress goes to stderr.`;

interface CliOptions { url?: string; sha256?: string; dest?: string; wheel?: string; timeoutMs?: number; keep: string[]; help?: boolean }

function parseArgs(argv: string[]): CliOptions {
  const opts: CliOptions = { keep: [] };
  const valueOf = (i: number, flag: string) => {
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) throw new Error(`${flag} needs a value`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    if (eq > 0) {
      argv = [...argv.slice(0, i), arg.slice(0, eq), arg.slice(eq + 1), ...argv.slice(i + 1)];
      arg = argv[i];
    }
    switch (arg) {
      case '--url': opts.url = valueOf(i++, arg); break;
      case '--sha256': opts.sha256 = valueOf(i++, arg); break;
      case '--dest': opts.dest = valueOf(i++, arg); break;
      case '--wheel': opts.wheel = valueOf(i++, arg); break;
      case '--timeout-ms': opts.timeoutMs = Number(valueOf(i++, arg)); break;
      case '--keep':
        opts.keep.push(valueOf(i++, arg));
        while (argv[i + 1] !== undefined && !argv[i + 1].startsWith('--')) opts.keep.push(argv[++i]);
        break;
      case '--help': case '-h': opts.help = true; break;
      default: throw new Error(`unknown argument ${JSON.stringify(arg)}`);
    }
  }
  if (opts.help) return opts;
  if (!opts.dest) throw new Error('--dest DIR is required');
  if (!opts.url && !opts.wheel) throw new Error('--url URL or --wheel FILE is required');
  if (opts.timeoutMs !== undefined && !(opts.timeoutMs > 0)) throw new Error('--timeout-ms must be a positive number');
  if (opts.sha256 !== undefined) normalizeSha256(opts.sha256);
  return opts;
}

function wheelNameFromUrl(url: string): string {
  const base = decodeURIComponent(path.posix.basename(new URL(url).pathname));
  if (!base || base === '/' || base === '.' || base === '..' || base.includes('/') || base.includes('\\')) return 'download.whl';
  return base;
}

async function cli(argv: string[]): Promise<void> {
  const opts = parseArgs(argv);
  if (opts.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const dest = path.resolve(opts.dest as string);
  const keep = opts.keep.length ? opts.keep : DEFAULT_KEEP;
  const expected = normalizeSha256(opts.sha256);
  let wheel = opts.wheel ? path.resolve(opts.wheel) : null;
  let tempDir: string | null = null;
  let downloaded = false;
  try {
    if (opts.url) {
      if (!wheel) {
        tempDir = path.join(path.dirname(dest), `.${path.basename(dest)}.download-${uniqueSuffix()}`);
        pending.add(tempDir);
        wheel = path.join(tempDir, wheelNameFromUrl(opts.url));
      }
      const reusable = !tempDir && expected && fs.existsSync(wheel) && sha256File(wheel) === expected;
      if (reusable) {
        log(`reviewkd: ${wheel} is already here (sha256 matches)`);
      } else {
        await downloadFile({ url: opts.url, destination: wheel, sha256: expected, log, timeoutMs: opts.timeoutMs });
        downloaded = true;
      }
    } else if (expected) {
      const actual = sha256File(wheel as string);
      if (actual !== expected) throw new Error(`sha256 mismatch for ${wheel}: expected ${expected}, got ${actual}`);
    }
    await extractWheel({ wheel: wheel as string, destination: dest, keep, log });
  } finally {
    if (tempDir) {
      await fsp.rm(tempDir, { recursive: true, force: true });
      pending.delete(tempDir);
    }
  }
  process.stdout.write(`${JSON.stringify({ ok: true, dest, wheel, downloaded, wheelKept: !tempDir })}\n`);
}

if (require.main === module) {
  const onSignal = (signal: string, code: number) => () => {
    for (const p of pending) {
      try {
        fs.rmSync(p, { recursive: true, force: true });
      } catch {
        // best effort
      }
    }
    process.stderr.write(`reviewkd: wheel-fetch interrupted (${signal}); temporary files removed\n`);
    process.exit(code);
  };
  process.on('SIGINT', onSignal('SIGINT', 130));
  process.on('SIGTERM', onSignal('SIGTERM', 143));
  cli(process.argv.slice(2)).then(() => {
    process.exitCode = 0;
  }, (err: unknown) => {
    const message = String((err as Error)?.message ?? err).replace(/\s*\n\s*/g, ' ').trim();
    process.stderr.write(`reviewkd: wheel-fetch: ${message}\n`);
    process.exitCode = 1;
  });
}
