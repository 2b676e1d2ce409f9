// The build record that sits beside every reviewkd.node (reviewkd-build.json): which LibTorch the binary
// was compiled against. LibTorch has no stable C++ ABI, so a binary is only used with that exact version.
import * as fs from 'fs';
import * as path from 'path';

/** What a build record says about one binary. */
export interface BuildRecord {
  libtorch: {
    /** e.g. '2.13.0+cpu' */
    version: string;
    variant: 'cpu' | 'cuda';
    /** The LibTorch folder a source build links by absolute runpath (absent for prebuilt binaries). */
    root?: string;
    libDir?: string;
    source?: string;
  };
  /** True for a binary made by `npm run prebuild`: relocatable, it finds LibTorch through $ORIGIN/torch/lib. */
  prebuilt?: boolean;
  builtAt: string;
  buildSeconds?: number;
}

/** The record beside a binary, or undefined when there is none or it cannot be read. */
export function readBuildRecord(binary: string): BuildRecord | undefined {
  try {
    const record = JSON.parse(fs.readFileSync(path.join(path.dirname(binary), 'reviewkd-build.json'), 'utf8')) as BuildRecord;
    return record && record.libtorch && typeof record.libtorch.version === 'string' ? record : undefined;
  } catch {
    return undefined;
  }
}
