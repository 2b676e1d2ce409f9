// Where a model's weights come from on the command line: a run folder (best.safetensors, the final
// student.safetensors, or the newest checkpoint's `student.*` tensors), a safetensors file, or a PyTorch
// checkpoint (.pth/.pt, read by the allow-list reader of lib/io/torch-checkpoint).
import * as fs from 'fs';
import * as path from 'path';

import { inspectTorchCheckpoint, isTorchCheckpoint, TorchCheckpointError } from '../io';
import type { Model } from '../models';
import { listCheckpoints } from '../train/checkpoint';
import { UsageError } from './args';

/** Which weights of a run folder to use. 'auto': best, else final, else the newest checkpoint. */
export type WhichWeights = 'auto' | 'best' | 'final' | 'latest';
export const WHICH_WEIGHTS: readonly WhichWeights[] = ['auto', 'best', 'final', 'latest'];

/** A resolved weights file. */
export interface WeightsSource {
  file: string;
  /** Key prefix to select and strip ('student.' inside training checkpoints, 'module.' of DataParallel). */
  prefix?: string;
  /** The zoo name recorded with the weights, when known. */
  model?: string;
  /** What was picked, for messages and summaries. */
  kind: 'best' | 'final' | 'checkpoint' | 'file';
  /** The run folder, when the weights come from one. */
  runDir?: string;
}

/**
 * The JSON header of a safetensors file (names, dtypes, shapes, `__metadata__`), read without loading
 * tensors; `{}` when it cannot be read (the loader itself reports that, with its precise message).
 */
export function safetensorsHeader(file: string): Record<string, unknown> {
  const fd = fs.openSync(file, 'r');
  try {
    const head = Buffer.alloc(8);
    if (fs.readSync(fd, head, 0, 8, 0) !== 8) return {};
    const len = Number(head.readBigUInt64LE(0));
    if (len <= 0 || len > 100 * 1024 * 1024) return {};
    const json = Buffer.alloc(len);
    fs.readSync(fd, json, 0, len, 8);
    return JSON.parse(json.toString('utf8')) as Record<string, unknown>;
  } catch {
    return {};
  } finally {
    fs.closeSync(fd);
  }
}

/** The `__metadata__` of a safetensors file, read from its header only (no tensors loaded). */
export function safetensorsMetadata(file: string): Record<string, string> {
  return (safetensorsHeader(file).__metadata__ as Record<string, string> | undefined) ?? {};
}

/** summary.json or config.json of a run folder, when present. */
export function readRunJson(dir: string, name: 'summary.json' | 'config.json'): Record<string, unknown> | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

function runModel(dir: string): string | undefined {
  for (const f of ['summary.json', 'config.json'] as const) {
    const j = readRunJson(dir, f);
    const s = j?.student ?? j?.model;
    if (typeof s === 'string') return s;
  }
  return undefined;
}

/** File names taken for PyTorch checkpoints (the content decides: see isTorchCheckpoint). */
export const TORCH_EXTENSIONS: readonly string[] = ['.pth', '.pt', '.pth.tar', '.ckpt'];

/**
 * A PyTorch checkpoint records no zoo name. Its state dict is found by the reader (bare, or under
 * 'state_dict', 'model', 'net', 'student'); when every name starts with 'module.' (a DataParallel
 * checkpoint) that prefix is stripped. Refused or malformed files throw here, before a model is built.
 */
function fromTorchFile(file: string): WeightsSource {
  const info = inspectTorchCheckpoint(file);
  const dataParallel = info.tensors.length > 0 && info.tensors.every((t) => t.name.startsWith('module.'));
  const model = runModel(path.dirname(file));
  return { file, ...(dataParallel ? { prefix: 'module.' } : {}), ...(model ? { model } : {}), kind: 'file' };
}

function fromFile(file: string, runDir?: string, kind: WeightsSource['kind'] = 'file'): WeightsSource {
  if (isTorchCheckpoint(file)) return fromTorchFile(file);
  const meta = safetensorsMetadata(file);
  if (meta.format === 'reviewkd-checkpoint') {
    // A training checkpoint: the sidecar names the student.
    let model: string | undefined;
    try {
      const side = JSON.parse(fs.readFileSync(file.replace(/\.safetensors$/, '.json'), 'utf8')) as { student?: string };
      model = side.student;
    } catch {
      model = undefined;
    }
    return { file, prefix: 'student.', model: model ?? runModel(path.dirname(file)), kind: 'checkpoint', runDir: runDir ?? path.dirname(file) };
  }
  const model = meta.model && meta.model !== 'torchscript' ? meta.model : runDir ? runModel(runDir) : runModel(path.dirname(file));
  return { file, ...(model ? { model } : {}), kind, ...(runDir ? { runDir } : {}) };
}

/**
 * Resolves `p` (a run folder, a .safetensors file or a PyTorch .pth/.pt checkpoint) to the weights to
 * load. `option` names the flag in errors (e.g. '--teacher').
 */
export function resolveWeights(p: string, option: string, which: WhichWeights = 'auto'): WeightsSource {
  if (!fs.existsSync(p)) throw new UsageError(`${option}: '${p}' does not exist (pass a run folder, a .safetensors file or a .pth/.pt checkpoint)`);
  if (fs.statSync(p).isFile()) {
    if (!p.endsWith('.safetensors') && !TORCH_EXTENSIONS.some((e) => p.endsWith(e))) {
      throw new UsageError(`${option}: '${p}' is not a .safetensors file, a PyTorch checkpoint (${TORCH_EXTENSIONS.join(', ')}) or a run folder`);
    }
    return fromFile(p);
  }
  const best = path.join(p, 'best.safetensors');
  const final = path.join(p, 'student.safetensors');
  const tryBest = () => (fs.existsSync(best) ? fromFile(best, p, 'best') : undefined);
  const tryFinal = () => (fs.existsSync(final) ? fromFile(final, p, 'final') : undefined);
  const tryLatest = () => {
    const newest = listCheckpoints(p)[0];
    if (!newest) return undefined;
    const src = fromFile(path.join(p, path.basename(newest.meta.tensors)), p);
    return { ...src, model: (newest.meta.student as string | undefined) ?? src.model };
  };
  const order = { auto: [tryBest, tryFinal, tryLatest], best: [tryBest], final: [tryFinal], latest: [tryLatest] }[which];
  for (const f of order) {
    const found = f();
    if (found) return found;
  }
  const wanted = { auto: 'best.safetensors, student.safetensors or a checkpoint', best: 'best.safetensors', final: 'student.safetensors', latest: 'a checkpoint' }[which];
  throw new UsageError(`${option}: run folder '${p}' has no ${wanted}`);
}

/** Loads `src` into `model` (strict: every parameter must be there with the right shape). */
export function loadWeights(model: Model, src: WeightsSource, option: string): void {
  try {
    model.load(src.file, src.prefix ? { prefix: src.prefix } : {});
  } catch (err) {
    // A damaged or refused checkpoint is not a usage error: its own message says what is wrong.
    if (err instanceof TorchCheckpointError) throw err;
    // The whole cause (which keys are missing or mis-shaped); the API's {strict: false} hint means nothing on the command line.
    const cause = (err as Error).message.split('\n').filter((l) => !l.startsWith('Pass {strict: false}')).join('\n  ');
    throw new UsageError(`${option}: the weights in '${src.file}' do not fit model '${model.name}'${src.model && src.model !== model.name ? ` (they were saved from '${src.model}')` : ''}: ${cause}`);
  }
}
