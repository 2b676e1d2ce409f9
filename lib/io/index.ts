// File formats: safetensors weights.
export { loadSafetensors, loadSafetensorsWithMetadata, saveSafetensors } from './safetensors';
