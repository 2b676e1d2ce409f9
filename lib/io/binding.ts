// Native functions of native/io (safetensors), typed for lib/io.
import type { NativeTensor } from '../native-types';

export interface IoBinding {
  /** Reads and validates a whole safetensors file into CPU tensors. Throws Error naming the path and problem. */
  safetensorsRead(path: string): { tensors: Record<string, NativeTensor>; metadata: Record<string, string> };
  /** Writes `record` atomically (temp file, fsync, rename); tensors are copied to contiguous CPU memory. */
  safetensorsWrite(path: string, record: Record<string, NativeTensor>, metadata?: Record<string, string> | null): void;
}
