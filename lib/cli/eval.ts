// `reviewkd eval`: top-1/top-5 of trained weights on a dataset's test (or train) split.
import * as models from '../models';
import { setNumThreads } from '../runtime';
import { Trainer } from '../train/trainer';
import type { Device } from '../dtype';
import { UsageError, suggest, type CommandSpec, parseOrHelp, THREADS_OPTION } from './args';
import { DATASETS, loadData } from './data';
import { checkDevice } from './device';
import { explainMismatch } from './mismatch';
import { loadWeights, readRunJson, resolveWeights, WHICH_WEIGHTS, type WhichWeights } from './weights';

/** The spec of `reviewkd eval`. */
export const spec: CommandSpec = {
  name: 'eval',
  summary: 'Evaluate weights (a run folder, a .safetensors file or a PyTorch .pth/.pt checkpoint) on a dataset: top-1, top-5, loss.',
  usage: 'reviewkd eval <run folder | weights.safetensors | weights.pth> [--data <path>] [--model <name>] [options]',
  description: 'Without --data/--dataset the data recorded in the run folder is used.',
  positionals: [1, 1],
  options: [
    { name: 'model', type: 'string', arg: 'name', help: 'model name (default: recorded with the weights)' },
    { name: 'weights', type: 'string', choices: WHICH_WEIGHTS, help: 'which weights of a run folder (default auto: best, final, latest)' },
    { name: 'data', type: 'string', arg: 'path', help: 'dataset folder or archive', exists: 'any' },
    { name: 'dataset', type: 'string', choices: DATASETS, help: 'force the format (fashion-mnist needs no --data when installed)' },
    { name: 'split', type: 'string', choices: ['test', 'train'], help: 'which split (default test)' },
    { name: 'image-size', type: 'int', min: 4, max: 4096, help: 'image folders: resize images to n x n' },
    { name: 'limit', type: 'int', min: 2, help: 'use only the first n images' },
    { name: 'batch', type: 'int', min: 1, max: 1 << 20, help: 'batch size (default 256)' },
    { name: 'device', type: 'string', arg: 'cpu|cuda|cuda:N', help: 'device (default cpu)' },
    THREADS_OPTION,
    { name: 'per-class', type: 'boolean', help: 'also print per-class accuracy' },
    { name: 'json', type: 'boolean', help: 'print the result as JSON on stdout' },
  ],
  examples: ['reviewkd eval runs/r20 --json', 'reviewkd eval student.safetensors --model resnet20 --data data/cifar-100-binary.tar.gz'],
};

/** Runs `reviewkd eval`; resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const parsed = parseOrHelp(spec, argv);
  if (!parsed) return 0;
  const v = parsed.values;
  if (typeof v.threads === 'number') setNumThreads(v.threads);
  const device = (v.device as string | undefined) ?? 'cpu';
  checkDevice(device);
  const src = resolveWeights(parsed.positionals[0], 'argument <weights>', (v.weights as WhichWeights | undefined) ?? 'auto');
  const modelName = (v.model as string | undefined) ?? src.model;
  if (!modelName) throw new UsageError(`option --model is required: '${src.file}' does not record which model it holds`);
  try {
    models.info(modelName);
  } catch {
    throw new UsageError(`option --model: unknown model '${modelName}'${suggest(modelName, models.list().map((m) => m.name))}; 'reviewkd models' lists them`);
  }
  let data = v.data as string | undefined;
  let dataset = v.dataset as string | undefined;
  let holdout: number | undefined;
  let seed: number | undefined;
  if (!data && !dataset && src.runDir) {
    const opts = (readRunJson(src.runDir, 'config.json')?.options ?? {}) as Record<string, unknown>;
    data = opts.data as string | undefined;
    dataset = opts.dataset as string | undefined;
    // The same images as the run: image size, held-out split (seeded) and test limit.
    if (!v.imageSize && typeof opts.imageSize === 'number') v.imageSize = opts.imageSize;
    if (typeof opts.holdout === 'number') holdout = opts.holdout;
    if (typeof opts.seed === 'number') seed = opts.seed;
    if (v.limit === undefined && typeof opts.testLimit === 'number') v.limit = opts.testLimit;
  }
  const split = (v.split as 'test' | 'train' | undefined) ?? 'test';
  const loaded = await loadData({ data, dataset, imageSize: v.imageSize as number | undefined, holdout, seed, limit: v.limit as number | undefined, testLimit: v.limit as number | undefined, trainTransform: 'eval' }, split);
  const ds = split === 'test' ? loaded.test : loaded.train;
  if (!ds) throw new UsageError(`option --data: no ${split} split found in '${loaded.path}'`);
  const model = models.create(modelName, { numClasses: ds.numClasses, inChannels: ds.channels });
  const mismatch = explainMismatch(model, src, { classes: ds.numClasses, channels: ds.channels, height: ds.height, width: ds.width }, 'the model', 'evaluate on data like the one it was trained on (--data / --dataset)');
  if (mismatch.error) throw new UsageError(`argument <weights>: ${mismatch.error}`);
  for (const note of mismatch.notes) process.stderr.write(`reviewkd: note: ${note}\n`);
  loadWeights(model, src, 'argument <weights>');
  const trainer = await Trainer.create({ student: model, train: ds, device: device as Device, augment: false });
  const r = await trainer.evaluate(ds, { batchSize: (v.batch as number | undefined) ?? 256 });
  trainer.dispose();
  const result = {
    model: modelName,
    weights: src.file,
    dataset: loaded.format,
    data: loaded.path,
    split,
    count: r.count,
    top1: r.top1,
    // Top-5 of 5 classes or fewer is always 100 %.
    top5: ds.numClasses > 5 ? r.top5 : null,
    loss: r.loss,
    params: model.numParameters(),
    ...(v.perClass ? { perClass: r.perClass, classNames: ds.classNames ?? null } : {}),
  };
  if (v.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else {
    process.stdout.write(`${modelName} (${src.file}) on ${loaded.format} ${split} (${r.count} images): top-1 ${r.top1.toFixed(2)}%${ds.numClasses > 5 ? `  top-5 ${r.top5.toFixed(2)}%` : ''}  loss ${r.loss.toFixed(4)}\n`);
    if (v.perClass) r.perClass.forEach((a, i) => process.stdout.write(`  ${String(ds.classNames?.[i] ?? i).padEnd(20)} ${Number.isNaN(a) ? '-' : `${a.toFixed(2)}%`}\n`));
  }
  return 0;
}
