// Checkpoint files: tensors in safetensors (written atomically by rk.io) plus a JSON sidecar written
// last, atomically (temp file, fsync, rename). The sidecar is the commit marker: a checkpoint without a
// complete sidecar never existed, so an interrupted write can never be mistaken for a good one.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';

import { loadSafetensors, saveSafetensors } from '../io';
import type { Tensor } from '../tensor';

export const CHECKPOINT_FORMAT = 1;

/** Names of the tensors files the trainer writes (epoch-0003.safetensors, interrupted-0001.safetensors, ...). */
const CHECKPOINT_TENSORS = /^(epoch|interrupted|step)-\d+\.safetensors$/;

/** What a sidecar holds besides the tensors. */
export interface CheckpointMeta {
  format: number;
  /** Name of the safetensors file beside the sidecar. */
  tensors: string;
  /** SHA-256 of that file, checked on load. */
  sha256: string;
  /** Steps taken so far in the whole run; orders checkpoints. */
  globalStep: number;
  [key: string]: unknown;
}

function writeFileAtomic(file: string, data: string): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
  try {
    const fd = fs.openSync(tmp, 'w');
    try {
      fs.writeSync(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  try {
    const dirFd = fs.openSync(path.dirname(file), 'r');
    fs.fsyncSync(dirFd);
    fs.closeSync(dirFd);
  } catch {
    // Directory fsync is best effort (not supported on every filesystem).
  }
}

function sha256(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** Writes `<name>.safetensors` then `<name>.json` in `dir`. */
export function saveCheckpoint(dir: string, name: string, tensors: Record<string, Tensor>, meta: { globalStep: number; [key: string]: unknown }): void {
  fs.mkdirSync(dir, { recursive: true });
  const tensorsFile = `${name}.safetensors`;
  saveSafetensors(path.join(dir, tensorsFile), tensors, { format: 'reviewkd-checkpoint', globalStep: String(meta.globalStep) });
  const sidecar: CheckpointMeta = { ...meta, format: CHECKPOINT_FORMAT, tensors: tensorsFile, sha256: sha256(path.join(dir, tensorsFile)) };
  writeFileAtomic(path.join(dir, `${name}.json`), JSON.stringify(sidecar, null, 2));
}

/** A checkpoint found on disk. */
export interface FoundCheckpoint {
  name: string;
  meta: CheckpointMeta;
}

/** Intact checkpoints in `dir` (sidecar parses, tensors file present with the recorded hash), newest first. */
export function listCheckpoints(dir: string, options: { verifyHash?: boolean } = {}): FoundCheckpoint[] {
  if (!fs.existsSync(dir)) return [];
  const found: FoundCheckpoint[] = [];
  for (const file of fs.readdirSync(dir)) {
    if (!file.endsWith('.json') || file.startsWith('.')) continue;
    let meta: CheckpointMeta;
    try {
      meta = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as CheckpointMeta;
    } catch {
      continue;
    }
    if (meta.format !== CHECKPOINT_FORMAT || typeof meta.tensors !== 'string' || typeof meta.globalStep !== 'number') continue;
    const tensorsPath = path.join(dir, path.basename(meta.tensors));
    if (!fs.existsSync(tensorsPath)) continue;
    if (options.verifyHash && sha256(tensorsPath) !== meta.sha256) continue;
    found.push({ name: file.slice(0, -'.json'.length), meta });
  }
  return found.sort((a, b) => b.meta.globalStep - a.meta.globalStep);
}

/** Loads the tensors of a checkpoint, checking the recorded SHA-256 first. */
export function loadCheckpointTensors(dir: string, found: FoundCheckpoint): Record<string, Tensor> {
  const file = path.join(dir, path.basename(found.meta.tensors));
  const actual = sha256(file);
  if (actual !== found.meta.sha256) {
    throw new Error(`checkpoint ${file} is corrupt: its SHA-256 is ${actual} but the sidecar recorded ${found.meta.sha256}`);
  }
  return loadSafetensors(file);
}

/** Removes temp files left by interrupted writes and tensors files whose sidecar never got written. */
export function removeOrphans(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const removed: string[] = [];
  const files = fs.readdirSync(dir);
  const sidecars = new Set(files.filter((f) => f.endsWith('.json') && !f.startsWith('.')).map((f) => f.slice(0, -5)));
  for (const f of files) {
    const orphanTemp = f.startsWith('.') && f.includes('.tmp-');
    // Only the trainer's own checkpoint names: best.safetensors and users' weights in runDir have no sidecar.
    const orphanTensors = CHECKPOINT_TENSORS.test(f) && !sidecars.has(f.slice(0, -'.safetensors'.length));
    if (orphanTemp || orphanTensors) {
      fs.rmSync(path.join(dir, f), { force: true });
      removed.push(f);
    }
  }
  return removed;
}

/** Deletes all but the newest `keep` checkpoints whose name starts with `prefix` (sidecar first, so a crash leaves an orphan, never a dangling sidecar). */
export function pruneCheckpoints(dir: string, prefix: string, keep: number): void {
  const ours = listCheckpoints(dir).filter((c) => c.name.startsWith(prefix));
  for (const old of ours.slice(keep)) {
    fs.rmSync(path.join(dir, `${old.name}.json`), { force: true });
    fs.rmSync(path.join(dir, path.basename(old.meta.tensors)), { force: true });
  }
}
