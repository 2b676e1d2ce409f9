// Why given weights do not fit a run, in the user's terms, before any training starts: the teacher's
// classes against the data's, 1- against 3-channel input, the image size the weights were trained on, or
// weights of another architecture. The loader's own error ("mis-shaped keys: fc.bias (file [3], module
// [10])") is exact but speaks in tensor names; this says which fact about the data or the model differs.
import * as fs from 'fs';
import * as path from 'path';

import { inspectTorchCheckpoint, isTorchCheckpoint } from '../io';
import type { Model } from '../models';
import { safetensorsHeader, safetensorsMetadata, type WeightsSource } from './weights';

/** What the run's data looks like. */
export interface DataShape {
  classes: number;
  channels: number;
  height: number;
  width: number;
  /** e.g. 'fashion-mnist'. */
  format?: string;
}

/** What a mismatch check found: an error (the run cannot work) and notes (it can, but probably not as meant). */
export interface Mismatch {
  error?: string;
  notes: string[];
}

/** Tensor name -> shape of a weights file, read from its header (safetensors) or its pickle (PyTorch); prefix selected and stripped. */
export function weightShapes(src: WeightsSource): Record<string, number[]> {
  let entries: [string, number[]][];
  if (isTorchCheckpoint(src.file)) entries = inspectTorchCheckpoint(src.file).tensors.map((t) => [t.name, t.shape]);
  else entries = Object.entries(safetensorsHeader(src.file)).filter(([k]) => k !== '__metadata__').map(([k, v]) => [k, (v as { shape: number[] }).shape]);
  const prefix = src.prefix ?? '';
  return Object.fromEntries(entries.filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
}

const channelWord = (c: number) => (c === 1 ? '1-channel (grayscale)' : c === 3 ? '3-channel (colour)' : `${c}-channel`);

/** The dataset a run folder recorded (summary.json or config.json), for "it was trained on ..." hints. */
function trainedOn(src: WeightsSource): string | undefined {
  const dir = src.runDir ?? path.dirname(src.file);
  for (const f of ['summary.json', 'config.json']) {
    try {
      const j = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as { dataset?: unknown; options?: { dataset?: unknown } };
      const d = j.dataset ?? j.options?.dataset;
      if (typeof d === 'string') return d;
    } catch {
      // no such file: nothing recorded
    }
  }
  return undefined;
}

/**
 * Compares the weights in `src` with `model` (built for the run's data) and explains a mismatch in terms
 * of the data: classes, input channels, image size, or another architecture. `who` names the weights in
 * messages ("the teacher"). Returns no error when the shapes fit (the loader may still refuse the file
 * for other reasons, with its own message).
 */
export function explainMismatch(model: Model, src: WeightsSource, data: DataShape, who: string, fix?: string): Mismatch {
  const notes: string[] = [];
  const file = weightShapes(src);
  const mine = Object.fromEntries(Object.entries(model.stateDict()).map(([k, t]) => [k, t.shape]));
  const keys = Object.keys(mine);
  const on = trainedOn(src);
  const onData = on ? ` (it was trained on ${on})` : '';
  const saved = src.model && src.model !== model.name ? src.model : undefined;
  const missing = keys.filter((k) => !(k in file));
  // Another architecture: most of the model's tensors are not in the file at all.
  if (Object.keys(file).length > 0 && missing.length > 0 && (missing.length >= keys.length / 4 || Object.keys(file).length !== keys.length)) {
    const flag = who === 'the teacher' ? '--teacher-model' : '--model';
    const hint = saved ? `they were saved from '${saved}': pass ${flag} ${saved} or weights of a '${model.name}'` : `pass ${flag} <the model they were trained as> ('reviewkd models' lists them)`;
    return {
      error: `${who} weights in '${src.file}' are not a '${model.name}': ${missing.length} of its ${keys.length} tensors are not in the file (e.g. ${missing.slice(0, 2).join(', ')}) and the file has ${Object.keys(file).length}; ${hint}`,
      notes,
    };
  }
  const problems: string[] = [];
  // The classifier is the last 2-D weight (out_features = classes), the stem the first 4-D one (in_channels).
  const fc = [...keys].reverse().find((k) => mine[k].length === 2 && k.endsWith('weight'));
  const stem = keys.find((k) => mine[k].length === 4);
  if (fc && file[fc] && file[fc][0] !== data.classes) {
    problems.push(`${who} has ${file[fc][0]} classes, the data has ${data.classes}`);
  }
  if (stem && file[stem] && file[stem][1] !== data.channels) {
    problems.push(`${who} takes ${channelWord(file[stem][1])} images, the data has ${channelWord(data.channels)} images`);
  }
  if (problems.length > 0) {
    const remedy = fix ?? `distil on data like the teacher's, or train a teacher on this data first (reviewkd train --model ${model.name} ...)`;
    return { error: `${problems.join('; ')}${onData}: ${remedy}`, notes };
  }
  const otherShapes = keys.filter((k) => file[k] && file[k].join('x') !== mine[k].join('x'));
  if (otherShapes.length > 0) {
    const k = otherShapes[0];
    return {
      error: `${who} weights in '${src.file}' have other layer widths than a '${model.name}' (${k}: file [${file[k].join(', ')}], model [${mine[k].join(', ')}]${otherShapes.length > 1 ? `, and ${otherShapes.length - 1} more` : ''})${saved ? `; they were saved from '${saved}'` : ''}`,
      notes,
    };
  }
  // The image size is not in the tensors' shapes (the pooling adapts), so it comes from the metadata that exports record.
  const meta = isTorchCheckpoint(src.file) ? {} : safetensorsMetadata(src.file);
  const size = meta.inputSize ? meta.inputSize.split('x').map(Number) : undefined;
  if (size && size.length >= 2 && (size[size.length - 2] !== data.height || size[size.length - 1] !== data.width)) {
    notes.push(`${who} was trained on ${size[size.length - 2]}x${size[size.length - 1]} images, the data has ${data.height}x${data.width}: its features will differ from what it learnt (image folders: --image-size ${size[size.length - 1]})`);
  }
  return { notes };
}
