// torchrun's error file: when TORCHELASTIC_ERROR_FILE is set, a failing rank writes its error there as
// JSON ({"message": {"message", "extraInfo": {"py_callstack", "timestamp"}}}, the shape torch's
// elastic agent reads), so the agent reports the first failure instead of a bare exit code.
import * as fs from 'fs';

import { errorFilePath } from './env';

/** Writes `err` to TORCHELASTIC_ERROR_FILE when that is set; returns the path written, or undefined. */
export function recordError(err: unknown): string | undefined {
  const file = errorFilePath();
  if (!file) return undefined;
  const e = err instanceof Error ? err : new Error(String(err));
  const body = {
    message: {
      message: `${e.name}: ${e.message}`,
      extraInfo: { py_callstack: e.stack ?? `${e.name}: ${e.message}`, timestamp: String(Math.floor(Date.now() / 1000)) },
    },
  };
  try {
    fs.writeFileSync(file, JSON.stringify(body));
    return file;
  } catch {
    return undefined; // the error itself is what the caller reports; a missing folder must not hide it
  }
}
