// `reviewkd distill`: a student from a trained teacher, with any method.
import type { CommandSpec } from './args';
import { parseOrHelp } from './args';
import { COMMON_OPTIONS, DISTILL_OPTIONS, runTraining } from './run';

/** The spec of `reviewkd distill`. */
export const spec: CommandSpec = {
  name: 'distill',
  summary: "Distil a student from a trained teacher with any method or '+' combination (docs/methods.md; vanilla for a baseline); writes a run folder.",
  usage: 'reviewkd distill (--student <name> --teacher <path> --epochs <n> | --recipe <name> --teacher <path>) --data <path> [options]',
  description: [
    'The teacher is a run folder (its best.safetensors, else student.safetensors, else the newest checkpoint)',
    'or a .safetensors file or a PyTorch .pth/.pt checkpoint; its model name is read from the weights or the run folder, or given with --teacher-model.',
  ].join('\n'),
  options: [...DISTILL_OPTIONS, ...COMMON_OPTIONS],
  examples: [
    'reviewkd distill --recipe cifar100/resnet56-resnet20 --data data/cifar-100-binary.tar.gz --teacher runs/resnet56',
    'reviewkd distill --student resnet8 --teacher runs/t/best.safetensors --teacher-model resnet20 --dataset fashion-mnist --epochs 5 --method kd',
    'reviewkd distill --config distill.yaml --epochs 1',
  ],
};

/** Runs `reviewkd distill`; resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const parsed = parseOrHelp(spec, argv);
  if (!parsed) return 0;
  return runTraining('distill', parsed);
}
