// Native functions of native/io (safetensors), typed for lib/io.
import type { NativeTensor } from '../native-types';

// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface IoBinding {
  /** Placeholder member so the interface is not empty; replaced as io functions are added. */
  readonly __io?: NativeTensor;
}
