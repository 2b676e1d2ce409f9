// Import of users' own networks as TorchScript files (torch.jit.save output).
import { statSync } from 'fs';

import { native } from '../native';
import type { Device } from '../dtype';
import { Model } from './model';

/** Options of {@link loadTorchScript}. */
export interface TorchScriptOptions {
  /**
   * Must be `true`. A TorchScript file carries code, which runs when the model is called: load only
   * files you trust (as you would only run scripts you trust).
   */
  trustCode: boolean;
  /** Where to load the weights. Default 'cpu'. */
  device?: Device;
}

/**
 * Loads a TorchScript module as a trainable {@link Model}: its parameters require grad, train()/eval()
 * reach the scripted module, and stateDict()/save() use the scripted names.
 *
 * Contract (see docs/models.md for the export snippet): `forward(x)` returns
 * `(logits, [stage features..., pooled N×C×1×1])`; a module returning only logits works for
 * `forward()` but not for the feature calls. If the module also defines `forward_preact(x)` with the
 * same return type, `{preact: true}` uses it; otherwise preact has no effect.
 *
 * @example
 * const teacher = rk.models.loadTorchScript('teacher.pt', { trustCode: true });
 * const { logits, features } = await teacher.forwardWithFeatures(images);
 */
export function loadTorchScript(path: string, options: TorchScriptOptions): Model {
  if (typeof path !== 'string' || path.length === 0) throw new TypeError(`models.loadTorchScript: argument 'path' must be a non-empty string; got ${typeof path}`);
  if (typeof options !== 'object' || options === null || options.trustCode !== true) {
    throw new TypeError(
      'models.loadTorchScript: a TorchScript file contains code that runs when the model is loaded and called. ' +
        'Load only files you trust, and say so with {trustCode: true}.',
    );
  }
  // Only regular files: opening a FIFO would block the thread, a device would never end.
  let isFile = false;
  try {
    isFile = statSync(path).isFile();
  } catch {
    // missing: the native loader reports it with its own message
    isFile = true;
  }
  if (!isFile) throw new Error(`models.loadTorchScript: '${path}' is not a regular file`);
  return new Model(native().torchScriptLoad(path, true, options.device ?? null));
}
