// `reviewkd export`: the student's weights alone, as a safetensors file with PyTorch state_dict names.
import * as fs from 'fs';
import * as path from 'path';

import { loadWeightsFile } from '../io';
import * as models from '../models';
import { zeros } from '../tensor';
import { UsageError, suggest, type CommandSpec, parseOrHelp } from './args';
import { loadWeights, readRunJson, resolveWeights, WHICH_WEIGHTS, type WhichWeights } from './weights';

/** The spec of `reviewkd export`. */
export const spec: CommandSpec = {
  name: 'export',
  summary: "Write a run's student weights (or a checkpoint's) as a standalone safetensors file.",
  usage: 'reviewkd export <run folder | checkpoint.safetensors | weights.pth> --out <file.safetensors|file.pt> [--format torchscript] [options]',
  description: 'The file loads in PyTorch with load_state_dict(safetensors.torch.load_file(path)) for the same architecture.',
  positionals: [1, 1],
  options: [
    { name: 'out', type: 'string', arg: 'file.safetensors', help: 'output file (default <run folder>/export-<model>.safetensors)' },
    { name: 'weights', type: 'string', choices: WHICH_WEIGHTS, help: 'which weights of a run folder (default auto: best, final, latest)' },
    { name: 'model', type: 'string', arg: 'name', help: 'model name (default: recorded with the weights)' },
    { name: 'classes', type: 'int', min: 1, help: 'number of classes (default: from the weights)' },
    { name: 'format', type: 'string', choices: ['safetensors', 'torchscript'], help: 'safetensors (default) or torchscript (traced forward, for torch.jit.load)' },
    { name: 'size', type: 'int', min: 1, help: 'input side for the TorchScript trace (default: the model\'s input size)' },
    { name: 'json', type: 'boolean', help: 'print what was written as JSON' },
  ],
  examples: ['reviewkd export runs/r20 --out resnet20.safetensors', 'reviewkd export runs/r20/epoch-0240.safetensors --out r20-final.safetensors'],
};

/** Runs `reviewkd export`; resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const parsed = parseOrHelp(spec, argv);
  if (!parsed) return 0;
  const v = parsed.values;
  const src = resolveWeights(parsed.positionals[0], 'argument <weights>', (v.weights as WhichWeights | undefined) ?? 'auto');
  const name = (v.model as string | undefined) ?? src.model;
  if (!name) throw new UsageError(`option --model is required: '${src.file}' does not record which model it holds`);
  try {
    models.info(name);
  } catch {
    throw new UsageError(`option --model: unknown model '${name}'${suggest(name, models.list().map((m) => m.name))}`);
  }
  // The class count and input channels come from the classifier and stem shapes in the file itself.
  const record = loadWeightsFile(src.file, src.prefix ? { prefix: src.prefix } : {});
  const shapes = Object.fromEntries(Object.entries(record).map(([k, t]) => [k, t.shape]));
  Object.values(record).forEach((t) => t.dispose());
  const probe = models.create(name);
  const sd = probe.stateDict();
  const keys = Object.keys(sd);
  let classes = v.classes as number | undefined;
  let inChannels: number | undefined;
  // The last 2-D weight is the classifier (out_features = classes); the first 4-D weight is the stem.
  const fc = [...keys].reverse().find((k) => sd[k].shape.length === 2 && k.endsWith('weight'));
  const stem = keys.find((k) => sd[k].shape.length === 4);
  if (classes === undefined && fc && shapes[fc]) classes = shapes[fc][0];
  if (stem && shapes[stem]) inChannels = shapes[stem][1];
  probe.dispose();
  const model = models.create(name, { ...(classes ? { numClasses: classes } : {}), ...(inChannels ? { inChannels } : {}) });
  loadWeights(model, src, 'argument <weights>');
  const format = (v.format as string | undefined) ?? 'safetensors';
  const defaultOut = path.join(src.runDir ?? path.dirname(src.file), `export-${name}.${format === 'torchscript' ? 'pt' : 'safetensors'}`);
  const out = path.resolve((v.out as string | undefined) ?? defaultOut);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const summary = src.runDir ? readRunJson(src.runDir, 'summary.json') : undefined;
  const meta: Record<string, string> = { model: name, source: src.kind };
  if (summary && typeof summary.top1 === 'number') meta.top1 = summary.top1.toFixed(4);
  if (summary && typeof summary.method === 'string') meta.method = summary.method;
  if (format === 'torchscript') {
    const side = (v.size as number | undefined) ?? models.info(name).inputSize;
    const example = zeros([2, inChannels ?? 3, side, side]);
    try {
      model.exportTorchScript(out, { exampleInput: example });
    } finally {
      example.dispose();
    }
  } else {
    model.save(out, meta);
  }
  const result = { out, model: name, from: src.file, kind: src.kind, params: model.numParameters(), classes: classes ?? null };
  if (v.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else process.stdout.write(`wrote ${out} (${name}, ${result.params} parameters, from ${src.kind} ${src.file})\n`);
  model.dispose();
  return 0;
}
