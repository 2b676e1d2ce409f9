// The model zoo: CIFAR and ImageNet networks with stage features, and TorchScript import.
export { Model } from './model';
export type { ModelOutput, FeatureOptions } from './model';
export { create, list, info } from './registry';
export type { CreateOptions, ModelInfo } from './registry';
export { loadTorchScript } from './torchscript';
export type { TorchScriptOptions } from './torchscript';
