// Native functions of native/models (the model zoo), typed for lib/models.
import type { NativeModule } from '../native-types';

export interface ModelsBinding {
  /** Placeholder member so the interface is not empty; replaced as model functions are added. */
  readonly __models?: NativeModule;
}
