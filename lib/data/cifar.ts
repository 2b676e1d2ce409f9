// CIFAR-10 and CIFAR-100 from the authors' *binary* version (cifar-10-binary.tar.gz,
// cifar-100-binary.tar.gz), read from the extracted folder or straight from the archive (gunzipped in
// memory and read with the strict tar reader in tar.ts; nothing is extracted to disk).
//   CIFAR-10 record:  1 label byte, then 3072 pixel bytes (1024 R, 1024 G, 1024 B; rows top to bottom)
//   CIFAR-100 record: 1 coarse label byte, 1 fine label byte, then the same 3072 pixel bytes
import { promises as fsp } from 'fs';
import * as path from 'path';

import { optionsOf, rejectUnknown, requireChoice, requirePath } from './checks';
import { CIFAR_MEAN, CIFAR_STD, type ImageDataset } from './dataset';
import { DataFormatError } from './errors';
import { readMaybeGzip, statKind } from './files';
import { readTar, type TarEntry } from './tar';

const PIXELS = 3 * 32 * 32;

interface Layout {
  /** Folder name inside the archive / after extraction. */
  folder: string;
  /** Archive file name as published. */
  archive: string;
  /** The member files, for telling the folder that holds them. */
  members: string[];
}

const CIFAR10: Layout = {
  folder: 'cifar-10-batches-bin',
  archive: 'cifar-10-binary.tar.gz',
  members: ['batches.meta.txt', 'data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin', 'test_batch.bin'],
};
const CIFAR100: Layout = {
  folder: 'cifar-100-binary',
  archive: 'cifar-100-binary.tar.gz',
  members: ['train.bin', 'test.bin', 'fine_label_names.txt', 'coarse_label_names.txt'],
};

/** A named file's bytes, with the name to use in errors. */
interface Member {
  label: string;
  data: Uint8Array;
}

/** Where the CIFAR files are: a folder, or the members of an archive read into memory. */
interface Source {
  describe: string;
  /** The member's bytes, or null when it is not there. */
  get(name: string): Promise<Member | null>;
}

function folderSource(dir: string): Source {
  return {
    describe: dir,
    async get(name) {
      const file = path.join(dir, name);
      if ((await statKind(file)) !== 'file') return null;
      return { label: file, data: await fsp.readFile(file) };
    },
  };
}

async function archiveSource(file: string): Promise<Source> {
  const entries = readTar(await readMaybeGzip(file), file);
  const byBase = new Map<string, TarEntry[]>();
  for (const e of entries) {
    const base = e.name.split('/').pop()!;
    byBase.set(base, [...(byBase.get(base) ?? []), e]);
  }
  return {
    describe: file,
    async get(name) {
      const found = byBase.get(name) ?? [];
      if (found.length > 1) throw new DataFormatError(file, found[1].offset, `the archive holds ${name} more than once (${found.map((e) => e.name).join(', ')})`);
      return found.length ? { label: `${file}:${found[0].name}`, data: found[0].data } : null;
    },
  };
}

/** Accepts the extracted folder, its parent (with the folder or the archive in it) or the archive. */
async function resolveSource(fn: string, where: string, layout: Layout): Promise<Source> {
  const kind = await statKind(where);
  if (kind === 'file') return archiveSource(where);
  if (kind !== 'dir') throw new Error(`${fn}: ${where} does not exist (pass the ${layout.folder} folder, its parent, or ${layout.archive})`);
  const has = async (dir: string) => (await Promise.all(layout.members.map((m) => statKind(path.join(dir, m))))).some((k) => k === 'file');
  if (await has(where)) return folderSource(where);
  const inner = path.join(where, layout.folder);
  if ((await statKind(inner)) === 'dir') return folderSource(inner);
  const archive = path.join(where, layout.archive);
  if ((await statKind(archive)) === 'file') return archiveSource(archive);
  throw new Error(`${fn}: ${where} holds none of ${layout.members.join(', ')}, no ${layout.folder}/ folder and no ${layout.archive}`);
}

async function required(fn: string, source: Source, name: string): Promise<Member> {
  const m = await source.get(name);
  if (!m) throw new Error(`${fn}: ${source.describe} has no ${name}`);
  return m;
}

/** Class names: one per line, blank lines ignored; there must be exactly `count`. */
async function classNames(source: Source, name: string, count: number): Promise<string[] | undefined> {
  const m = await source.get(name);
  if (!m) return undefined; // the names are a convenience: data without them still loads
  const names = Buffer.from(m.data.buffer, m.data.byteOffset, m.data.length).toString('utf8').split(/\r?\n/).map((s) => s.trim()).filter((s) => s.length > 0);
  if (names.length !== count) throw new DataFormatError(m.label, null, `lists ${names.length} class names, expected ${count}`);
  return names;
}

/**
 * Validates one batch file: its length must be a positive multiple of the record size and label byte
 * `b` of every record must be below `limits[b]`. Returns the number of records.
 */
function checkRecords(m: Member, labelBytes: number, limits: number[]): number {
  const record = labelBytes + PIXELS;
  if (m.data.length === 0 || m.data.length % record !== 0) {
    throw new DataFormatError(m.label, m.data.length - (m.data.length % record), `file is ${m.data.length} bytes, not a positive multiple of the ${record}-byte record (${labelBytes} label byte${labelBytes > 1 ? 's' : ''} + ${PIXELS} pixels): truncated or not a CIFAR binary file`);
  }
  const n = m.data.length / record;
  const names = labelBytes === 1 ? ['label'] : ['coarse label', 'fine label'];
  for (let i = 0; i < n; i++) {
    for (let b = 0; b < labelBytes; b++) {
      const v = m.data[i * record + b];
      if (v >= limits[b]) throw new DataFormatError(m.label, i * record + b, `${names[b]} ${v} of record ${i} is out of range [0, ${limits[b]})`);
    }
  }
  return n;
}

/** Validates the batch files and concatenates their images and the labels at label byte `pick`. */
function gather(members: Member[], labelBytes: number, pick: number, limits: number[]): { images: Uint8Array; labels: Int32Array; count: number } {
  const counts = members.map((m) => checkRecords(m, labelBytes, limits));
  const count = counts.reduce((a, b) => a + b, 0);
  const images = new Uint8Array(count * PIXELS);
  const labels = new Int32Array(count);
  const record = labelBytes + PIXELS;
  let k = 0;
  members.forEach((m, j) => {
    for (let i = 0; i < counts[j]; i++, k++) {
      const at = i * record;
      labels[k] = m.data[at + pick];
      images.set(m.data.subarray(at + labelBytes, at + record), k * PIXELS);
    }
  });
  return { images, labels, count };
}

/** Options of {@link loadCifar10}. */
export interface LoadCifar10Options {
  /** 'train' (data_batch_1..5.bin, 50000 images officially) or 'test' (test_batch.bin, 10000); default 'train'. */
  split?: 'train' | 'test';
}

/**
 * Loads CIFAR-10 (binary version) from the extracted `cifar-10-batches-bin` folder, its parent, or
 * `cifar-10-binary.tar.gz` itself. Images are 3x32x32 uint8; class names come from batches.meta.txt.
 * Files whose length is not a multiple of 3073 bytes, and labels >= 10, throw a {@link DataFormatError}
 * naming the file (`archive:member` inside an archive) and the byte offset.
 *
 * @example const test = await rk.data.loadCifar10('data/cifar-10-binary.tar.gz', { split: 'test' });
 */
export async function loadCifar10(pathOrArchive: string, options?: LoadCifar10Options): Promise<ImageDataset> {
  const fn = 'loadCifar10';
  requirePath(fn, 'pathOrArchive', pathOrArchive);
  const opts = optionsOf(fn, options);
  rejectUnknown(fn, opts, ['split']);
  const split = requireChoice(fn, 'split', opts.split, ['train', 'test'] as const, 'train');
  const source = await resolveSource(fn, pathOrArchive, CIFAR10);
  const files = split === 'train' ? [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`) : ['test_batch.bin'];
  const members: Member[] = [];
  for (const f of files) members.push(await required(fn, source, f));
  const { images, labels, count } = gather(members, 1, 0, [10]);
  const names = await classNames(source, 'batches.meta.txt', 10);
  return {
    name: `cifar10-${split}`, images, labels, count, channels: 3, height: 32, width: 32, numClasses: 10,
    ...(names ? { classNames: names } : {}),
    mean: [...CIFAR_MEAN], std: [...CIFAR_STD],
  };
}

/** Options of {@link loadCifar100}. */
export interface LoadCifar100Options {
  /** 'train' (train.bin, 50000 images officially) or 'test' (test.bin, 10000); default 'train'. */
  split?: 'train' | 'test';
  /** 'fine' (100 classes, the usual benchmark; default) or 'coarse' (20 superclasses). */
  labels?: 'fine' | 'coarse';
}

/**
 * Loads CIFAR-100 (binary version) from the extracted `cifar-100-binary` folder, its parent, or
 * `cifar-100-binary.tar.gz`. Both label bytes are validated (coarse < 20, fine < 100) whichever is
 * kept; class names come from fine_label_names.txt or coarse_label_names.txt.
 *
 * @example const train = await rk.data.loadCifar100('data', { split: 'train', labels: 'fine' });
 */
export async function loadCifar100(pathOrArchive: string, options?: LoadCifar100Options): Promise<ImageDataset> {
  const fn = 'loadCifar100';
  requirePath(fn, 'pathOrArchive', pathOrArchive);
  const opts = optionsOf(fn, options);
  rejectUnknown(fn, opts, ['split', 'labels']);
  const split = requireChoice(fn, 'split', opts.split, ['train', 'test'] as const, 'train');
  const which = requireChoice(fn, 'labels', opts.labels, ['fine', 'coarse'] as const, 'fine');
  const source = await resolveSource(fn, pathOrArchive, CIFAR100);
  const member = await required(fn, source, split === 'train' ? 'train.bin' : 'test.bin');
  const { images, labels, count } = gather([member], 2, which === 'coarse' ? 0 : 1, [20, 100]);
  const numClasses = which === 'coarse' ? 20 : 100;
  const names = await classNames(source, which === 'coarse' ? 'coarse_label_names.txt' : 'fine_label_names.txt', numClasses);
  return {
    name: `cifar100-${split}${which === 'coarse' ? '-coarse' : ''}`, images, labels, count, channels: 3, height: 32, width: 32, numClasses,
    ...(names ? { classNames: names } : {}),
    mean: [...CIFAR_MEAN], std: [...CIFAR_STD],
  };
}
