import type { MethodPlugin } from './plugin';

/** Logit standardization: a modifier of KD and DKD ('kd+ls', 'dkd+ls'). */
export const method: MethodPlugin = {
  name: 'ls',
  paper: 'Sun, Ren, Li, Wang, Cao. Logit Standardization in Knowledge Distillation. CVPR 2024',
  summary: "z-scores each sample's logits (teacher and student separately) before the temperature of KD or DKD",
  term: null,
  reads: 'logits',
  weight: { default: 1, doc: 'unused (ls modifies kd or dkd)' },
  warmup: false,
  params: [],
  modifies: { methods: ['kd', 'dkd'], params: { standardize: true } },
  defaultsSource:
    "the paper's KD recipe uses τ 2, KD weight 9 and CE weight 0.1; here ls changes only the standardization: " +
    "the temperature and weights stay those of kd/dkd (its recipe: --kd-temperature 2 --kd-weight 9 --ce-weight 0.1; DKD's β is not scaled again)",
};
