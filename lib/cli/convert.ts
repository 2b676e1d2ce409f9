// `reviewkd convert`: a PyTorch checkpoint (.pth/.pt) to safetensors, read by the allow-list reader
// (nothing in the file is run), so the weights can be used and shared without pickles from then on.
import * as fs from 'fs';
import * as path from 'path';

import { isTorchCheckpoint, loadTorchCheckpoint, saveSafetensors } from '../io';
import * as models from '../models';
import type { Tensor } from '../tensor';
import { UsageError, suggest, type CommandSpec, parseOrHelp } from './args';

/** The spec of `reviewkd convert`. */
export const spec: CommandSpec = {
  name: 'convert',
  summary: 'Convert a PyTorch checkpoint (.pth/.pt) to safetensors without running anything from it.',
  usage: 'reviewkd convert <checkpoint.pth> [--out <file.safetensors>] [--key <name>] [--prefix <p>] [--model <name>]',
  description: [
    'The state dict is the file itself when it is a dict of tensors, else --key, else the first of',
    "'state_dict', 'model', 'net', 'student', 'model_state_dict' that holds one. The pickle is read by an",
    'allow-list reader: a file that names any other callable is refused (see docs/pytorch-checkpoints.md).',
    'With --model the weights must fit that zoo model exactly (strict), and its name is recorded so that',
    "'reviewkd eval' and '--teacher' need no --model/--teacher-model.",
  ].join('\n'),
  positionals: [1, 1],
  options: [
    { name: 'out', type: 'string', arg: 'file.safetensors', help: 'output file (default: the input with .safetensors)' },
    { name: 'key', type: 'string', arg: 'name', help: "checkpoint entry that holds the state dict (e.g. 'model', 'ema')" },
    { name: 'prefix', type: 'string', arg: 'p', help: "keep only names starting with p, without it (e.g. 'module.')" },
    { name: 'model', type: 'string', arg: 'name', help: 'zoo model the weights must fit; recorded in the file' },
    { name: 'json', type: 'boolean', help: 'print what was written as JSON' },
  ],
  examples: [
    'reviewkd convert resnet34-b627a593.pth --model resnet34',
    'reviewkd convert ckpt_epoch_240.pth --key model --prefix module. --out resnet56.safetensors --model resnet56',
  ],
};

const EXTENSION = /\.(pth\.tar|pth|pt|ckpt|bin)$/;

/** Checks that `record` fits zoo model `name` exactly; class count and input channels come from the weights. */
function checkFits(name: string, record: Record<string, Tensor>): number {
  try {
    models.info(name);
  } catch {
    throw new UsageError(`option --model: unknown model '${name}'${suggest(name, models.list().map((m) => m.name))}; 'reviewkd models' lists them`);
  }
  const probe = models.create(name);
  const sd = probe.stateDict();
  const keys = Object.keys(sd);
  // The last 2-D weight is the classifier (out_features = classes); the first 4-D weight is the stem.
  const fc = [...keys].reverse().find((k) => sd[k].shape.length === 2 && k.endsWith('weight'));
  const stem = keys.find((k) => sd[k].shape.length === 4);
  const classes = fc && record[fc]?.shape.length === 2 ? record[fc].shape[0] : undefined;
  const inChannels = stem && record[stem]?.shape.length === 4 ? record[stem].shape[1] : undefined;
  probe.dispose();
  const model = models.create(name, { ...(classes ? { numClasses: classes } : {}), ...(inChannels ? { inChannels } : {}) });
  try {
    model.loadStateDict(record);
    return model.numParameters();
  } catch (err) {
    throw new UsageError(`option --model: the weights do not fit model '${name}': ${(err as Error).message.split('\n')[0]}`);
  } finally {
    model.dispose();
  }
}

/** Runs `reviewkd convert`; resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const parsed = parseOrHelp(spec, argv);
  if (!parsed) return 0;
  const v = parsed.values;
  const input = parsed.positionals[0];
  if (!fs.existsSync(input) || !fs.statSync(input).isFile()) throw new UsageError(`argument <checkpoint>: file '${input}' does not exist`);
  if (!isTorchCheckpoint(input)) {
    throw new UsageError(`argument <checkpoint>: '${input}' is not a PyTorch checkpoint (torch.save writes a zip archive or, in the legacy format, a pickle)`);
  }
  const out = path.resolve((v.out as string | undefined) ?? (EXTENSION.test(input) ? input.replace(EXTENSION, '.safetensors') : `${input}.safetensors`));
  if (!out.endsWith('.safetensors')) throw new UsageError(`option --out: '${v.out as string}' must end with .safetensors`);
  if (out === path.resolve(input)) throw new UsageError('option --out: the output would overwrite the checkpoint itself');
  if (v.key === '') throw new UsageError('option --key must not be empty');
  const record = loadTorchCheckpoint(input, { ...(v.key ? { key: v.key as string } : {}), ...(v.prefix ? { prefix: v.prefix as string } : {}) });
  try {
    const name = v.model as string | undefined;
    const params = name ? checkFits(name, record) : undefined;
    fs.mkdirSync(path.dirname(out), { recursive: true });
    saveSafetensors(out, record, { source: path.basename(input), ...(name ? { model: name } : {}) });
    const tensors = Object.keys(record).length;
    const result = { out, from: path.resolve(input), tensors, model: name ?? null, params: params ?? null };
    if (v.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else process.stdout.write(`wrote ${out} (${tensors} tensors${name ? `, fits ${name}: ${params} parameters` : ''}, from ${input})\n`);
    return 0;
  } finally {
    for (const t of Object.values(record)) t.dispose();
  }
}
