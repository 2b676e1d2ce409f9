// Downloading the public datasets, only when a user asks for it: this needs network access (tests never
// call it with the real network). Each file is checked against the checksum its authors publish
// before it is moved into place, so a partial or altered download never looks like data.
import { createHash } from 'crypto';
import { createWriteStream, promises as fsp } from 'fs';
import * as path from 'path';
import { Readable } from 'stream';
import { pipeline } from 'stream/promises';

import { describe, optionsOf, rejectUnknown, requireChoice, requirePath } from './checks';

/** A file {@link download} fetches, and its published MD5. */
export interface DownloadRemote {
  /** File name in the target folder. */
  file: string;
  /** Where it is fetched from. */
  url: string;
  /** The MD5 published by the dataset's authors (hex). */
  md5: string;
}

// Note: Debian's dataset-fashion-mnist package recompresses the .gz files, so its files have other
// MD5s than the published ones below; loadMnist reads either.
function remotes(list: [string, string, string][]): readonly DownloadRemote[] {
  return Object.freeze(list.map(([file, base, md5]) => Object.freeze({ file, url: `${base}/${file}`, md5 })));
}

const TORONTO = 'https://www.cs.toronto.edu/~kriz';
const ZALANDO = 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com';

/** What {@link download} fetches, with the MD5 sums published on the datasets' pages. */
export const DOWNLOADS: Readonly<Record<'cifar10' | 'cifar100' | 'fashion-mnist', readonly DownloadRemote[]>> = Object.freeze({
  cifar10: remotes([['cifar-10-binary.tar.gz', TORONTO, 'c32a1d4ab5d03f1284b67883e8d87530']]),
  cifar100: remotes([['cifar-100-binary.tar.gz', TORONTO, '03b5dce01913d631647c71ecec9e9cb8']]),
  'fashion-mnist': remotes([
    ['train-images-idx3-ubyte.gz', ZALANDO, '8d4fb7e6c68d591d4c3dfef9ec88bf0d'],
    ['train-labels-idx1-ubyte.gz', ZALANDO, '25c81989df183df01b3e8a0aad5dffbe'],
    ['t10k-images-idx3-ubyte.gz', ZALANDO, 'bef4ecab320f06d8554ea6380940ec79'],
    ['t10k-labels-idx1-ubyte.gz', ZALANDO, 'bb300cfdad3c16e7a12a480ee83cd310'],
  ]),
});

/** Names accepted by {@link download}. */
export type DownloadName = keyof typeof DOWNLOADS;

/** Options of {@link download}. */
export interface DownloadOptions {
  /** The fetch to use (default: the global fetch of node >= 18). */
  fetch?: typeof fetch;
  /** Called with a line of progress for each file. */
  onProgress?: (message: string) => void;
}

async function md5Of(file: string): Promise<string | null> {
  try {
    const h = createHash('md5');
    await pipeline((await fsp.open(file)).createReadStream(), h);
    return h.digest('hex');
  } catch {
    return null;
  }
}

/**
 * Downloads `name` ('cifar10', 'cifar100' or 'fashion-mnist') into `dir` (created if needed), verifying
 * each file's MD5; files already there with the right checksum are kept. Needs network access. Returns
 * the paths of the files. Load them afterwards with `loadCifar10(dir)`, `loadCifar100(dir)` or
 * `loadMnist(dir, { kind: 'fashion-mnist' })`.
 *
 * @example const files = await rk.data.download('cifar10', 'data'); const ds = await rk.data.loadCifar10('data');
 */
export async function download(name: DownloadName, dir: string, options?: DownloadOptions): Promise<string[]> {
  const fn = 'download';
  const which = requireChoice(fn, "argument 'name'", name, Object.keys(DOWNLOADS) as DownloadName[]);
  requirePath(fn, 'dir', dir);
  const opts = optionsOf(fn, options);
  rejectUnknown(fn, opts, ['fetch', 'onProgress']);
  if (opts.fetch !== undefined && typeof opts.fetch !== 'function') throw new TypeError(`${fn}: option 'fetch' must be a function; got ${describe(opts.fetch)}`);
  if (opts.onProgress !== undefined && typeof opts.onProgress !== 'function') throw new TypeError(`${fn}: option 'onProgress' must be a function; got ${describe(opts.onProgress)}`);
  const doFetch = (opts.fetch as typeof fetch | undefined) ?? globalThis.fetch;
  const progress = (opts.onProgress as ((m: string) => void) | undefined) ?? (() => {});
  await fsp.mkdir(dir, { recursive: true });
  const out: string[] = [];
  for (const remote of DOWNLOADS[which]) {
    const target = path.join(dir, remote.file);
    if ((await md5Of(target)) === remote.md5) {
      progress(`${remote.file}: already present, checksum verified`);
      out.push(target);
      continue;
    }
    progress(`${remote.file}: downloading ${remote.url}`);
    const partial = `${target}.part`;
    let response: Response;
    try {
      response = await doFetch(remote.url);
    } catch (err) {
      throw new Error(`${fn}: cannot fetch ${remote.url} (${(err as Error).message}); this needs network access`);
    }
    if (!response.ok || !response.body) throw new Error(`${fn}: ${remote.url} answered HTTP ${response.status}`);
    const hash = createHash('md5');
    try {
      const body = Readable.fromWeb(response.body as import('stream/web').ReadableStream<Uint8Array>);
      body.on('data', (chunk: Buffer) => hash.update(chunk));
      await pipeline(body, createWriteStream(partial));
    } catch (err) {
      await fsp.rm(partial, { force: true });
      throw new Error(`${fn}: downloading ${remote.url} failed (${(err as Error).message})`);
    }
    const md5 = hash.digest('hex');
    if (md5 !== remote.md5) {
      await fsp.rm(partial, { force: true });
      throw new Error(`${fn}: ${remote.url} has MD5 ${md5}, expected ${remote.md5}: the download is corrupt or the file changed; nothing was kept`);
    }
    await fsp.rename(partial, target);
    progress(`${remote.file}: done, checksum verified`);
    out.push(target);
  }
  return out;
}
