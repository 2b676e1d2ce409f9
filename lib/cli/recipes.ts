// `reviewkd recipes`: the paper's CIFAR-100 recipes, with their hyper-parameters and published numbers.
import * as recipes from '../recipes';
import { type CommandSpec, parseOrHelp } from './args';
import { recipeOrUsage } from './run';

/** The spec of `reviewkd recipes`. */
export const spec: CommandSpec = {
  name: 'recipes',
  summary: "List the named recipes (the paper's CIFAR-100 pairs and their teachers), or show one.",
  usage: 'reviewkd recipes [name] [--kind train|distill] [--json]',
  positionals: [0, 1],
  options: [
    { name: 'kind', type: 'string', choices: ['train', 'distill'], help: 'only teacher/baseline (train) or distillation recipes' },
    { name: 'json', type: 'boolean', help: 'print as JSON' },
  ],
  examples: ['reviewkd recipes', 'reviewkd recipes cifar100/resnet56-resnet20', 'reviewkd recipes --kind distill --json'],
};

/** Runs `reviewkd recipes`; resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const parsed = parseOrHelp(spec, argv);
  if (!parsed) return 0;
  if (parsed.positionals[0]) {
    const r = recipeOrUsage(parsed.positionals[0]);
    if (parsed.values.json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    else {
      const lines = [
        `${r.name}  (${r.kind}${r.teacher ? `: ${r.teacher} -> ${r.student}` : `: ${r.student}`}, ${r.dataset})`,
        `  method ${r.method}, ${r.epochs} epochs, batch ${r.batchSize}, lr ${r.lr}, SGD momentum ${r.momentum}${r.nesterov ? ' nesterov' : ''}, weight decay ${r.weightDecay}`,
        `  step decay x${r.schedule.gamma} after epochs ${r.schedule.milestones.join(', ')}`,
      ];
      if (r.kind === 'distill') {
        lines.push(`  lambda ${r.lambda} (${r.lambdaSource === 'paper' ? 'published' : 'chosen: no published value'}), loss warm-up ${r.lossWarmupEpochs} epochs, teacher BatchNorm '${r.teacherBN}' (as the reference CIFAR code)`);
      }
      if (r.paper) {
        const p = r.paper;
        const cols = (['teacher', 'student', 'kd', 'fitnet', 'at', 'rkd', 'crd', 'ofd', 'reviewkd'] as const).filter((k) => p[k] !== undefined).map((k) => `${k} ${p[k]}`);
        lines.push(`  paper top-1: ${cols.join(', ')}`, `  source: ${p.source}`);
        if (p.peers) {
          lines.push(`  later methods: ${Object.entries(p.peers.numbers).map(([m, v]) => `${m} ${v}`).join(', ')}`, `  source: ${p.peers.source}`);
        }
      } else if (r.paperTop1 !== undefined) lines.push(`  paper top-1: ${r.paperTop1}`);
      if (r.note) lines.push(`  note: ${r.note}`);
      process.stdout.write(`${lines.join('\n')}\n`);
    }
    return 0;
  }
  const list = recipes.list().filter((r) => !parsed.values.kind || r.kind === parsed.values.kind);
  if (parsed.values.json) {
    process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
    return 0;
  }
  const rows = list.map((r) => [r.name, r.kind, r.teacher ? `${r.teacher} -> ${r.student}` : r.student, r.method, String(r.lr), r.lambda !== undefined ? `${r.lambda}${r.lambdaSource === 'chosen' ? '*' : ''}` : '-', r.paperTop1 !== undefined ? r.paperTop1.toFixed(2) : '-']);
  const head = ['recipe', 'kind', 'models', 'method', 'lr', 'lambda', 'paper top-1'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((x) => x[i].length)));
  const line = (x: string[]) => x.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  process.stdout.write(`${[line(head), ...rows.map(line)].join('\n')}\n\nAll: 240 epochs, batch 128, nesterov SGD 0.9, weight decay 5e-4, lr x0.1 after epochs 150/180/210; distill recipes: loss warm-up 20, teacher BatchNorm 'batch'.\n* lambda not published for this pair (the reference branch is not runnable); see 'reviewkd recipes <name>'.\n`);
  return 0;
}
