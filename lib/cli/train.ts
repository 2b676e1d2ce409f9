// `reviewkd train`: a teacher or a baseline (method vanilla: cross-entropy alone).
import type { CommandSpec } from './args';
import { parseOrHelp } from './args';
import { COMMON_OPTIONS, TRAIN_OPTIONS, runTraining } from './run';

/** The spec of `reviewkd train`. */
export const spec: CommandSpec = {
  name: 'train',
  summary: 'Train a model alone (a teacher or a baseline) with cross-entropy; writes a run folder.',
  usage: 'reviewkd train (--model <name> --epochs <n> | --recipe <name>) --data <path> [options]',
  description: 'The run folder holds config.json, log.jsonl, log.csv, checkpoints, best.safetensors, student.safetensors and summary.json.',
  options: [...TRAIN_OPTIONS, ...COMMON_OPTIONS],
  examples: [
    'reviewkd train --recipe cifar100/resnet56 --data data/cifar-100-binary.tar.gz --out runs/resnet56',
    'reviewkd train --model resnet8 --dataset fashion-mnist --epochs 5 --batch 64',
  ],
};

/** Runs `reviewkd train`; resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const parsed = parseOrHelp(spec, argv);
  if (!parsed) return 0;
  return runTraining('train', parsed);
}
