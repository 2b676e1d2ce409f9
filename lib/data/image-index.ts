// The list of samples of an image stream, made once and cached: an image folder (`<class>/<file>`, the
// ILSVRC train/ and val/ layouts included) or WebDataset-style tar shards (`<key>.jpg|jpeg|png` next to
// `<key>.cls` holding the class index). The cache is a JSON file beside the data (or in the cache folder
// when the data is read-only), valid while the class folders' mtimes (folders) or the shards' sizes and
// mtimes are unchanged: listing 1.28 M files again costs minutes on a network file system.
import { createHash } from 'crypto';
import { promises as fsp } from 'fs';
import * as path from 'path';

import { cacheRoot } from '../loader/settings';
import { DataFormatError } from './errors';
import { IMAGE_EXTENSIONS } from './image-folder';
import { isZeroBlock, numeric, paxPath, text } from './tar';

/** Where each sample's bytes are. */
export interface ImageIndex {
  kind: 'folder' | 'shards';
  /** The folder, or the shards' common folder. */
  root: string;
  /** Folder: the image paths relative to `root`, one per sample. Shards: the shard paths (absolute). */
  files: string[];
  /** Shards: the shard (index into `files`) of each sample. */
  shardOf?: Int32Array;
  /** Shards: byte offset and length of each sample's image member. */
  offsets?: Float64Array;
  lengths?: Int32Array;
  /** Shards: each sample's image member name, for messages. */
  members?: string[];
  labels: Int32Array;
  /** Folder: the class folder names (label = index). Shards: undefined (labels come from .cls). */
  classNames?: string[];
  numClasses: number;
  /** True when the index was read from the cache. */
  cached: boolean;
}

const VERSION = 1;
const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const isImage = (name: string) => IMAGE_EXTENSIONS.includes(path.extname(name).toLowerCase());

/** The shards of a source: a list of .tar files, or a folder holding them; null when it is an image folder. */
export async function shardList(source: string | string[]): Promise<string[] | null> {
  if (Array.isArray(source)) return source.map((s) => path.resolve(s));
  const st = await fsp.stat(source);
  if (st.isFile()) return [path.resolve(source)];
  const entries = await fsp.readdir(source, { withFileTypes: true });
  const tars = entries.filter((e) => e.isFile() && e.name.toLowerCase().endsWith('.tar')).map((e) => e.name).sort(byName);
  const dirs = entries.filter((e) => e.isDirectory() && !e.name.startsWith('.'));
  return tars.length > 0 && dirs.length === 0 ? tars.map((t) => path.join(path.resolve(source), t)) : null;
}

async function folderSignature(root: string): Promise<{ classes: string[]; signature: string }> {
  const entries = await fsp.readdir(root, { withFileTypes: true });
  const classes = entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort(byName);
  const parts: string[] = [];
  for (const c of classes) {
    const st = await fsp.stat(path.join(root, c));
    parts.push(`${c}:${st.mtimeMs}`);
  }
  return { classes, signature: parts.join('\n') };
}

async function shardSignature(shards: string[]): Promise<string> {
  const parts: string[] = [];
  for (const s of shards) {
    const st = await fsp.stat(s);
    parts.push(`${s}:${st.size}:${st.mtimeMs}`);
  }
  return parts.join('\n');
}

async function listFolder(root: string, classes: string[]): Promise<{ files: string[]; labels: number[] }> {
  if (classes.length === 0) throw new Error(`image stream: ${root} has no class subfolders (expected ${root}/<class>/<image>.jpg, or .tar shards)`);
  const files: string[] = [];
  const labels: number[] = [];
  for (let c = 0; c < classes.length; c++) {
    const names = (await fsp.readdir(path.join(root, classes[c]), { withFileTypes: true }))
      .filter((e) => e.isFile() && !e.name.startsWith('.') && isImage(e.name))
      .map((e) => e.name)
      .sort(byName);
    for (const n of names) {
      files.push(`${classes[c]}/${n}`);
      labels.push(c);
    }
  }
  if (files.length === 0) throw new Error(`image stream: the class folders of ${root} hold no ${IMAGE_EXTENSIONS.join('/')} images`);
  return { files, labels };
}

/** Walks a tar shard's headers (data is skipped, not read) and pairs `<key>.<image ext>` with `<key>.cls`. */
async function listShard(shard: string): Promise<{ key: string; member: string; offset: number; length: number; label: number }[]> {
  const fh = await fsp.open(shard, 'r');
  try {
    const size = (await fh.stat()).size;
    const header = new Uint8Array(512);
    const images = new Map<string, { member: string; offset: number; length: number }>();
    const classes = new Map<string, number>();
    let offset = 0;
    let longName: string | undefined;
    for (;;) {
      if (offset + 512 > size) throw new DataFormatError(shard, offset, 'tar data ends without the end-of-archive marker: the shard is truncated');
      await fh.read(header, 0, 512, offset);
      if (isZeroBlock(header)) break;
      let sum = 0;
      for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i];
      if (numeric(header, 148, 8) !== sum) throw new DataFormatError(shard, offset, 'tar header checksum mismatch: not a tar archive, or corrupt');
      const length = numeric(header, 124, 12);
      if (length === null) throw new DataFormatError(shard, offset + 124, 'tar header has a malformed size field');
      const dataStart = offset + 512;
      if (dataStart + length > size) throw new DataFormatError(shard, offset, `tar member needs ${length} bytes but the shard ends after ${size - dataStart}: the shard is truncated`);
      const type = header[156] === 0 ? '0' : String.fromCharCode(header[156]);
      const magic = text(header, 257, 6);
      let name = text(header, 0, 100);
      const prefix = magic === 'ustar' ? text(header, 345, 155) : '';
      if (prefix) name = `${prefix}/${name}`;
      if (type === 'L' || type === 'x') {
        const body = new Uint8Array(length);
        await fh.read(body, 0, length, dataStart);
        longName = type === 'L' ? text(body, 0, length) : paxPath(body, shard, dataStart) ?? longName;
      } else {
        if (longName !== undefined) name = longName;
        longName = undefined;
        if (type === '0' || type === '7') {
          // WebDataset: the key is the path up to the first dot of the file name.
          const slash = name.lastIndexOf('/');
          const dot = name.indexOf('.', slash + 1);
          if (dot > slash + 1) {
            const key = name.slice(0, dot);
            const ext = name.slice(dot + 1).toLowerCase();
            if (ext === 'cls') {
              const body = new Uint8Array(Math.min(length, 64));
              await fh.read(body, 0, body.length, dataStart);
              const s = Buffer.from(body).toString('utf8').trim();
              if (!/^\d+$/.test(s)) throw new DataFormatError(`${shard}:${name}`, dataStart, `a .cls member must hold a class index (a whole number); got ${JSON.stringify(s.slice(0, 20))}`);
              classes.set(key, Number(s));
            } else if (ext === 'jpg' || ext === 'jpeg' || ext === 'png') {
              images.set(key, { member: name, offset: dataStart, length });
            }
          }
        }
      }
      offset = dataStart + Math.ceil(length / 512) * 512;
    }
    const out: { key: string; member: string; offset: number; length: number; label: number }[] = [];
    for (const [key, img] of images) {
      const label = classes.get(key);
      if (label === undefined) throw new DataFormatError(`${shard}:${img.member}`, img.offset, `the sample '${key}' has an image but no ${key}.cls member`);
      out.push({ key, ...img, label });
    }
    return out;
  } finally {
    await fh.close();
  }
}

/** The cache file of a source: beside the data, or in the cache folder when that is not writable. */
function cachePaths(root: string, id: string): string[] {
  const hash = createHash('sha1').update(id).digest('hex').slice(0, 16);
  return [path.join(root, `.reviewkd-index-${hash}.json`), path.join(cacheRoot(), 'image-index', `${hash}.json`)];
}

async function readCache(files: string[], signature: string): Promise<Record<string, unknown> | null> {
  for (const f of files) {
    try {
      const j = JSON.parse(await fsp.readFile(f, 'utf8')) as Record<string, unknown>;
      if (j.version === VERSION && j.signature === signature) return j;
    } catch {
      // absent or unreadable: try the next place, else list again
    }
  }
  return null;
}

async function writeCache(files: string[], body: Record<string, unknown>): Promise<void> {
  const text = JSON.stringify(body);
  for (const f of files) {
    try {
      await fsp.mkdir(path.dirname(f), { recursive: true });
      const tmp = `${f}.${process.pid}.tmp`;
      await fsp.writeFile(tmp, text);
      await fsp.rename(tmp, f);
      return;
    } catch {
      // read-only data: the next place
    }
  }
}

/**
 * Lists a stream's samples (folder or shards), from the cache when it is still valid. `useCache: false`
 * lists afresh and writes no cache.
 */
export async function indexImages(source: string | string[], useCache = true): Promise<ImageIndex> {
  const shards = await shardList(source);
  if (shards) {
    if (shards.length === 0) throw new Error('image stream: the list of tar shards is empty');
    const root = path.dirname(shards[0]);
    const signature = await shardSignature(shards);
    const places = cachePaths(root, shards.join('\n'));
    const hit = useCache ? await readCache(places, signature) : null;
    let shardOf: number[], offsets: number[], lengths: number[], labels: number[], members: string[];
    if (hit) {
      ({ shardOf, offsets, lengths, labels, members } = hit as unknown as { shardOf: number[]; offsets: number[]; lengths: number[]; labels: number[]; members: string[] });
    } else {
      shardOf = [];
      offsets = [];
      lengths = [];
      labels = [];
      members = [];
      for (let s = 0; s < shards.length; s++) {
        for (const e of await listShard(shards[s])) {
          shardOf.push(s);
          offsets.push(e.offset);
          lengths.push(e.length);
          labels.push(e.label);
          members.push(e.member);
        }
      }
      if (labels.length === 0) throw new Error(`image stream: the shards (${shards.length}) hold no <key>.jpg|png + <key>.cls samples`);
      if (useCache) await writeCache(places, { version: VERSION, signature, shardOf, offsets, lengths, labels, members });
    }
    let max = 0;
    for (const l of labels) max = Math.max(max, l);
    return {
      kind: 'shards', root, files: shards, shardOf: Int32Array.from(shardOf), offsets: Float64Array.from(offsets), lengths: Int32Array.from(lengths),
      members, labels: Int32Array.from(labels), numClasses: max + 1, cached: hit !== null,
    };
  }
  const root = path.resolve(source as string);
  const { classes, signature } = await folderSignature(root);
  const places = cachePaths(root, root);
  const hit = useCache ? await readCache(places, `${signature}`) : null;
  let files: string[], labels: number[];
  if (hit && Array.isArray(hit.files) && Array.isArray(hit.labels)) {
    files = hit.files as string[];
    labels = hit.labels as number[];
  } else {
    ({ files, labels } = await listFolder(root, classes));
    if (useCache) await writeCache(places, { version: VERSION, signature, files, labels });
  }
  return { kind: 'folder', root, files, labels: Int32Array.from(labels), classNames: classes, numClasses: classes.length, cached: hit !== null };
}
