// The build record that sits beside every reviewkd.node (reviewkd-build.json): which LibTorch the binary
// was compiled against. LibTorch has no stable C++ ABI, so a binary is only used with that exact version.
// One shape for both kinds of binary: a source build (this machine's LibTorch, linked by absolute
// runpath, with the fingerprint of its inputs) and a prebuilt one (relocatable, `prebuilt: true`).
import * as fs from 'fs';
import * as path from 'path';

/** The file name of the record, beside the binary. */
export const BUILD_RECORD_FILE = 'reviewkd-build.json';

/** What a build record says about one binary. */
export interface BuildRecord {
  libtorch: {
    /** e.g. '2.13.0+cpu' */
    version: string;
    variant: 'cpu' | 'cuda';
    /** The LibTorch folder a source build links by absolute runpath (absent for prebuilt binaries). */
    root?: string;
    libDir?: string;
    /** Where the resolution found it: 'LIBTORCH', 'python3', 'wheel-cache' or 'system'. */
    source?: string;
  };
  /** True for a binary made by `npm run build:prebuilt`: relocatable, it finds LibTorch through $ORIGIN/torch/lib. */
  prebuilt?: boolean;
  /** The Node-API version a prebuilt binary targets. */
  napiVersion?: number;
  /** A source build's inputs (sources, LibTorch, Node, CUDA architectures): equal means up to date. */
  fingerprint?: string;
  builtAt: string;
  buildSeconds?: number;
}

/** The record beside a binary, or undefined when there is none or it cannot be read. */
export function readBuildRecord(binary: string): BuildRecord | undefined {
  try {
    const record = JSON.parse(fs.readFileSync(path.join(path.dirname(binary), BUILD_RECORD_FILE), 'utf8')) as BuildRecord;
    return record && record.libtorch && typeof record.libtorch.version === 'string' ? record : undefined;
  } catch {
    return undefined;
  }
}

/** Writes the record into the binary's folder. */
export function writeBuildRecord(dir: string, record: BuildRecord): void {
  fs.writeFileSync(path.join(dir, BUILD_RECORD_FILE), `${JSON.stringify(record, null, 2)}\n`);
}
