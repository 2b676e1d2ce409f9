import type { MethodPlugin } from './plugin';

/** PKT: matches the probability distributions of cosine similarities among the pooled features. */
export const method: MethodPlugin = {
  name: 'pkt',
  paper: 'Passalis, Tefas. Learning Deep Representations with Probabilistic Knowledge Transfer. ECCV 2018',
  summary: 'KL between the conditional probabilities of cosine similarity in a batch, teacher vs student',
  term: 'pkt',
  reads: 'features',
  weight: { default: 30000, doc: 'weight of the PKT loss' },
  warmup: true,
  params: [],
  defaultsSource: 'weight 30000 (CRD benchmark code / mdistiller)',
};
