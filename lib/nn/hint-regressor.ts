// The FitNet hint regressor: a 1×1 conv (with bias) from student to teacher channels.
import { Module } from '../module';
import { native } from '../native';

/**
 * @example
 * const reg = new rk.nn.HintRegressor({ inChannels: 32, outChannels: 64 });
 * const loss = rk.losses.fitnet(reg, studentFeature, teacherFeature);
 */
export class HintRegressor extends Module {
  constructor(options: { inChannels: number; outChannels: number }) {
    if (typeof options !== 'object' || options === null) throw new TypeError("HintRegressor: argument 'options' must be {inChannels, outChannels}");
    super(native().hintRegressorCreate(options.inChannels, options.outChannels));
  }
}
