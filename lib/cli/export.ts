// `reviewkd export`: the student's weights alone, as a safetensors file with PyTorch state_dict names.
import * as fs from 'fs';
import * as path from 'path';

import { loadWeightsFile } from '../io';
import * as models from '../models';
import { zeros } from '../tensor';
import { UsageError, suggest, type CommandSpec, parseOrHelp } from './args';
import { libraryVersion, preprocessingFromMetadata, preprocessingMetadata } from '../train/preprocessing';
import { loadWeights, readRunJson, resolveWeights, safetensorsMetadata, WHICH_WEIGHTS, type WhichWeights } from './weights';

/** The spec of `reviewkd export`. */
export const spec: CommandSpec = {
  name: 'export',
  summary: "Write a run's student weights (or a checkpoint's) as a standalone safetensors or TorchScript file that records its preprocessing.",
  usage: 'reviewkd export <run folder | checkpoint.safetensors | weights.pth> --out <file.safetensors|file.pt> [--format torchscript] [options]',
  description: [
    'The file loads in PyTorch with load_state_dict(safetensors.torch.load_file(path)) for the same architecture;',
    'its metadata records the input size, channels, mean/std, class names and the library version.',
    'A TorchScript file (--format torchscript) normalises inside by default, so it takes raw images: pixel values',
    '0-255 (--input-scale 255) or 0-1 (--input-scale 1); --no-normalize leaves that to the caller.',
  ].join('\n'),
  positionals: [1, 1],
  options: [
    { name: 'out', type: 'string', arg: 'file.safetensors', help: 'output file (default <run folder>/export-<model>.safetensors)' },
    { name: 'weights', type: 'string', choices: WHICH_WEIGHTS, help: 'which weights of a run folder (default auto: best, final, latest)' },
    { name: 'model', type: 'string', arg: 'name', help: 'model name (default: recorded with the weights)' },
    { name: 'classes', type: 'int', min: 1, help: 'number of classes (default: from the weights)' },
    { name: 'format', type: 'string', choices: ['safetensors', 'torchscript'], help: 'safetensors (default) or torchscript (traced forward, for torch.jit.load)' },
    { name: 'size', type: 'int', min: 1, help: 'input side for the TorchScript trace (default: the training images\' size, else the model\'s input size)' },
    { name: 'no-normalize', type: 'boolean', help: 'TorchScript: leave the normalisation out (the file then takes normalised input)' },
    { name: 'input-scale', type: 'int', min: 1, max: 255, help: 'TorchScript: the raw input range, 255 (pixel values 0-255, default) or 1 (0-1)' },
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
  // The preprocessing recorded with the source weights (best/student.safetensors of a run) travels on.
  const pre = src.file.endsWith('.safetensors') ? preprocessingFromMetadata(safetensorsMetadata(src.file)) : undefined;
  const inputScale = (v.inputScale as number | undefined) ?? 255;
  if (inputScale !== 1 && inputScale !== 255) throw new UsageError(`option --input-scale must be 255 (pixel values 0-255) or 1 (0-1); got ${inputScale}`);
  const meta: Record<string, string> = { ...(pre ? preprocessingMetadata({ ...pre, library: libraryVersion() }) : { library: libraryVersion() }), model: name, source: src.kind };
  if (summary && typeof summary.top1 === 'number') meta.top1 = summary.top1.toFixed(4);
  if (summary && typeof summary.method === 'string') meta.method = summary.method;
  let note = '';
  if (format === 'torchscript') {
    const [h, w] = v.size !== undefined ? [v.size as number, v.size as number] : (pre?.inputSize ?? [models.info(name).inputSize, models.info(name).inputSize]);
    const example = zeros([2, inChannels ?? 3, h, w]);
    const normalize = !v.noNormalize && pre !== undefined;
    if (!v.noNormalize && !pre) note = '\n  note: the weights record no normalisation (an older run or a foreign file): the TorchScript file takes normalised input';
    try {
      model.exportTorchScript(out, {
        exampleInput: example,
        ...(normalize ? { normalize: { mean: pre.mean, std: pre.std, scale: inputScale } } : {}),
        description: { ...(pre ?? {}), library: libraryVersion(), model: name, ...(summary && typeof summary.method === 'string' ? { method: summary.method } : {}), input: normalize ? (inputScale === 255 ? 'raw pixels 0-255' : 'raw pixels 0-1') : 'normalised: (pixel / 255 - mean) / std' },
      });
    } finally {
      example.dispose();
    }
    if (normalize) note = `\n  input: raw ${h}x${w} images with ${pre.channels} channel(s), pixel values 0-${inputScale} (normalisation inside the file)`;
  } else {
    model.save(out, meta);
  }
  const result = { out, model: name, from: src.file, kind: src.kind, params: model.numParameters(), classes: classes ?? null };
  if (v.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else process.stdout.write(`wrote ${out} (${name}, ${result.params} parameters, from ${src.kind} ${src.file})${note}\n`);
  model.dispose();
  return 0;
}
