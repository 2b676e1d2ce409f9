// File formats: safetensors weights, and PyTorch checkpoints read by an allow-list unpickler.
export { loadSafetensors, loadSafetensorsWithMetadata, saveSafetensors } from './safetensors';
export {
  loadTorchCheckpoint,
  inspectTorchCheckpoint,
  isTorchCheckpoint,
  loadWeightsFile,
  ALLOWED_GLOBALS,
  STATE_DICT_KEYS,
  TorchCheckpointError,
  UnsafePickleError,
} from './torch-checkpoint';
export type { TorchCheckpointOptions, TorchCheckpointInfo } from './torch-checkpoint';
