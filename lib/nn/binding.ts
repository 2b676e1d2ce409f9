// Native functions of native/review (ABF, review head, HCL and the classic losses), typed for lib/nn.
import type { NativeModule } from '../native-types';

export interface ReviewBinding {
  /** Placeholder member so the interface is not empty; replaced as review functions are added. */
  readonly __review?: NativeModule;
}
