import type { MethodPlugin } from './plugin';

/** CRD: contrastive loss between embeddings of the pooled features, negatives from a memory bank. */
export const method: MethodPlugin = {
  name: 'crd',
  paper: 'Tian, Krishnan, Isola. Contrastive Representation Distillation. ICLR 2020',
  summary: 'NCE between student and teacher embeddings, negatives drawn from memory banks over the training set',
  term: 'crd',
  reads: 'features',
  weight: { default: 0.8, doc: 'weight of the CRD loss' },
  warmup: true,
  params: [
    { key: 'featureDim', type: 'int', default: 128, min: 1, max: 65536, doc: 'CRD embedding size' },
    { key: 'negatives', type: 'int', default: 16384, min: 1, max: 1 << 24, doc: 'CRD negatives per sample (at most the training-set size - 1)' },
    { key: 'temperature', type: 'number', default: 0.07, min: 1e-4, max: 100, doc: 'CRD temperature of the contrast' },
    { key: 'momentum', type: 'number', default: 0.5, min: 0, max: 1, doc: 'CRD memory-bank momentum' },
  ],
  defaultsSource: 'the CRD paper and code: weight 0.8, 128-d embeddings, 16384 negatives, T 0.07, momentum 0.5',
  validate: (ctx) => {
    if (!ctx.datasetIndices) throw new RangeError("CRD needs each sample's dataset index (its memory bank has a row per sample); this data source does not provide them");
  },
};
