// `rk.doctor()` / `reviewkd doctor`: what the loader finds on this machine and why, without throwing —
// for bug reports and for setting up CUDA. It runs the same steps as the first native call.
import { jpegDecoder, type JpegDecoderInfo } from './data/jpeg-decoder';
import { type LoadPlan, loadedBinary, native, planLoad } from './native';
import type { Candidate } from './loader/candidates';
import { SETTINGS, setting } from './loader/settings';
import { missingBuildTools, sourceBuildAllowed } from './loader/source-build';

/** Everything the loader saw. `ok` is true when the addon loaded. */
export interface DoctorReport {
  ok: boolean;
  reviewkd: string;
  node: string;
  electron?: string;
  platform: string;
  /** The LibTorch used, and why earlier sources in the resolution order were not. */
  libtorch?: { version: string; variant: 'cpu' | 'cuda'; source: string; path: string; skipped: string[] };
  /** Every binary considered, with the reason it fits or not. */
  binaries: Array<{ kind: string; variant?: string; path?: string; fits: boolean; reason: string }>;
  /** The binary loaded, and which of the kinds above it was. */
  loaded?: { kind: string; path: string; variant?: 'cpu' | 'cuda'; libtorch?: string };
  /** What a source build would lack (empty: a source build is possible). */
  missingBuildTools: string[];
  sourceBuildAllowed: boolean;
  threads?: { intraOp: number; interOp: number };
  /** `reason`: why CUDA cannot be used (absent when it can). */
  cuda?: { available: boolean; devices: number; note: string; reason?: string };
  /** The addon's JPEG decoder for image streams: the libjpeg-turbo it opened, or why JPEGs go to sharp. */
  jpegDecoder?: JpegDecoderInfo;
  /** Every environment setting the loader reads (lib/loader/settings.ts), with its value (undefined: unset). */
  environment: Record<string, string | undefined>;
  cache?: string;
  /** The error, when something failed. */
  error?: string;
}

function cudaNote(variant: string, available: boolean, devices: number, reason: string): string {
  if (variant === 'cpu') return `not available: ${reason || 'this LibTorch is the CPU build'}; CUDA needs a CUDA LibTorch (docs/install.md, "CUDA")`;
  if (!available || devices === 0) return `not available: ${reason || 'no CUDA device is visible'} (training runs on the CPU)`;
  return `${devices} CUDA device(s) visible`;
}

/** Runs the loader's steps and reports each; never throws. */
export function doctor(): DoctorReport {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const pkg = require('../package.json') as { version: string };
  const report: DoctorReport = {
    ok: false,
    reviewkd: pkg.version,
    node: process.version,
    electron: process.versions.electron,
    platform: `${process.platform}-${process.arch}`,
    binaries: [],
    missingBuildTools: [],
    sourceBuildAllowed: true,
    environment: Object.fromEntries(SETTINGS.map((s) => [s.name, setting(s.name)])),
  };
  try {
    report.missingBuildTools = missingBuildTools();
    // A malformed yes/no setting throws here with its name; the report carries it as the problem.
    report.sourceBuildAllowed = sourceBuildAllowed();
    // Loading resolves LibTorch and judges the binaries once; the report reuses that plan.
    const info = native().buildInfo();
    const loaded = loadedBinary();
    describePlan(report, loaded.plan ?? planLoad());
    report.loaded = { kind: loaded.kind ?? 'unknown', path: loaded.path ?? 'unknown', variant: info.variant as 'cpu' | 'cuda', libtorch: info.libtorchVersion };
    report.threads = { intraOp: info.numThreads, interOp: info.numInteropThreads };
    const reason = info.cudaUnavailableReason;
    report.cuda = { available: info.cudaAvailable, devices: info.cudaDeviceCount, note: cudaNote(info.variant, info.cudaAvailable, info.cudaDeviceCount, reason), ...(reason ? { reason } : {}) };
    report.jpegDecoder = jpegDecoder();
    report.ok = true;
  } catch (err) {
    report.error = (err as Error).message;
    // What can still be said when loading failed (resolution may fail too: its message is the error).
    try {
      describePlan(report, planLoad());
    } catch {
      // report.error already says why
    }
  }
  return report;
}

function describePlan(report: DoctorReport, plan: LoadPlan): void {
  const t = plan.libtorch;
  report.cache = plan.cache;
  report.libtorch = { version: t.version, variant: t.variant, source: t.source, path: t.root, skipped: t.skipped };
  report.binaries = plan.candidates.map((c: Candidate) => ({ kind: c.kind, variant: c.variant, path: c.binary, fits: c.fits, reason: c.reason }));
}

/** The report as the lines `reviewkd doctor` prints. */
export function formatDoctorReport(r: DoctorReport): string {
  const lines = [
    `reviewkd ${r.reviewkd}, node ${r.node}${r.electron ? `, electron ${r.electron}` : ''}, ${r.platform}`,
    '',
  ];
  if (r.libtorch) {
    lines.push(`LibTorch   ${r.libtorch.version} (${r.libtorch.variant}) from ${r.libtorch.source}`, `           ${r.libtorch.path}`);
    for (const s of r.libtorch.skipped) lines.push(`  not used: ${s}`);
    lines.push('');
  }
  if (r.binaries.length) {
    lines.push('Binaries');
    for (const b of r.binaries) {
      const mark = r.loaded && b.path && r.loaded.kind === b.kind && b.fits ? '*' : b.fits ? '+' : '-';
      lines.push(`  ${mark} ${b.kind}${b.variant ? ` (${b.variant})` : ''}: ${b.reason}${b.path ? `\n      ${b.path}` : ''}`);
    }
    lines.push('    (* loaded, + fits, - does not fit)', '');
  }
  if (r.loaded) lines.push(`Loaded     ${r.loaded.kind}${r.loaded.variant ? ` (${r.loaded.variant} variant, LibTorch ${r.loaded.libtorch})` : ''}: ${r.loaded.path}`);
  if (r.threads) lines.push(`Threads    ${r.threads.intraOp} intra-op, ${r.threads.interOp} inter-op`);
  if (r.cuda) lines.push(`CUDA       ${r.cuda.note}`);
  if (r.jpegDecoder) lines.push(`JPEG       ${r.jpegDecoder.available ? `image streams decode JPEG crops in the addon with ${r.jpegDecoder.library}` : `image streams decode JPEGs with sharp: ${r.jpegDecoder.reason}`}`);
  lines.push(`Build      ${r.missingBuildTools.length ? `a source build would need: ${r.missingBuildTools.join(', ')}` : 'a source build is possible (cmake, C++ compiler, cmake-js found)'}${r.sourceBuildAllowed ? '' : '; disabled by REVIEWKD_BUILD_FROM_SOURCE=0'}`);
  if (r.cache) lines.push(`Cache      ${r.cache}`);
  lines.push('Settings   (every environment variable reviewkd reads; docs/install.md)');
  const width = Math.max(...SETTINGS.map((s) => s.name.length));
  for (const s of SETTINGS) {
    const value = r.environment[s.name];
    lines.push(`  ${s.name.padEnd(width)}  ${value === undefined ? '-' : value}${value === undefined ? `   (${s.doc})` : ''}`);
  }
  if (r.error) lines.push('', `Problem    ${r.error}`);
  lines.push('', r.ok ? 'OK: the addon loads.' : 'NOT OK: see the problem above.');
  return `${lines.join('\n')}\n`;
}
