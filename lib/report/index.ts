// rk.report: an HTML page and PNG plots comparing training runs (their log.jsonl and summary.json).
// Charts are Vega-Lite specs compiled and rendered to SVG by vega in Node (pure JS, headless, no canvas
// or browser needed; a well-kept, declarative plotting library), then rasterised to PNG by sharp
// (libvips + librsvg, already a dependency for image folders).
import * as fs from 'fs';
import * as path from 'path';

import type { EpochLog } from '../train/log';
import { renderPng, type VegaLiteSpec } from './render-png';

/** One run as the report sees it. */
export interface ReportRun {
  /** Display name (unique within a report). */
  name: string;
  dir: string;
  history: EpochLog[];
  /** summary.json, when the run finished writing it. */
  summary?: Record<string, unknown>;
  method: string;
  student: string;
  teacher: string | null;
  /** Best test top-1 (%), else null. */
  top1: number | null;
  top5: number | null;
  /** The recipe's published top-1, when a recipe is attached. */
  paperTop1: number | null;
  recipe: string | null;
  params: number | null;
  imagesPerSecond: number | null;
  seconds: number | null;
  epochs: number;
}

/** What {@link writeReport} wrote. */
export interface ReportResult {
  /** The HTML page. */
  html: string;
  /** The PNG plots, absolute paths. */
  images: string[];
  /** The legend entries of each plot that has data, by PNG file name (e.g. {'loss.png': ['train total', ...]}). */
  series: Record<string, string[]>;
  runs: ReportRun[];
}

/** Options of {@link writeReport}. */
export interface ReportOptions {
  /** Page title (default 'reviewkd report'). */
  title?: string;
  /** Pixel density of the PNGs relative to the 96-dpi SVG (default 2). */
  scale?: number;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** Reads a run folder (log.jsonl required; summary.json optional, e.g. for a run still going). */
export function readRun(dir: string): ReportRun {
  if (typeof dir !== 'string' || dir.length === 0) throw new TypeError(`report.readRun: argument 'dir' must be a run folder path; got ${typeof dir}`);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new Error(`report: run folder '${dir}' does not exist`);
  const logFile = path.join(dir, 'log.jsonl');
  if (!fs.existsSync(logFile)) throw new Error(`report: '${dir}' is not a run folder (no log.jsonl)`);
  const history: EpochLog[] = [];
  fs.readFileSync(logFile, 'utf8').split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    try {
      history.push(JSON.parse(line) as EpochLog);
    } catch {
      throw new Error(`report: ${logFile} line ${i + 1} is not valid JSON`);
    }
  });
  let summary: Record<string, unknown> | undefined;
  const summaryFile = path.join(dir, 'summary.json');
  if (fs.existsSync(summaryFile)) {
    try {
      summary = JSON.parse(fs.readFileSync(summaryFile, 'utf8')) as Record<string, unknown>;
    } catch {
      throw new Error(`report: ${summaryFile} is not valid JSON`);
    }
  }
  // Logs written before epochs were numbered from 1 start at 0: shift them so every run reads alike.
  if (history.length > 0 && history[0].epoch === 0) history.forEach((h) => (h.epoch += 1));
  const tested = history.filter((h) => typeof h.testTop1 === 'number');
  const best = tested.reduce<EpochLog | undefined>((b, h) => (!b || (h.testTop1 as number) > (b.testTop1 as number) ? h : b), undefined);
  const recipe = summary?.recipe as { name?: string; paperTop1?: number } | undefined;
  const rates = history.map((h) => h.imagesPerSecond).filter((x) => Number.isFinite(x));
  return {
    name: typeof summary?.name === 'string' ? summary.name : path.basename(path.resolve(dir)),
    dir: path.resolve(dir),
    history,
    ...(summary ? { summary } : {}),
    method: typeof summary?.method === 'string' ? summary.method : 'unknown',
    student: typeof summary?.student === 'string' ? summary.student : 'unknown',
    teacher: typeof summary?.teacher === 'string' ? summary.teacher : null,
    top1: num(summary?.top1) ?? best?.testTop1 ?? null,
    top5: num(summary?.top5) ?? best?.testTop5 ?? null,
    paperTop1: num(recipe?.paperTop1),
    recipe: typeof recipe?.name === 'string' ? recipe.name : null,
    params: num(summary?.params),
    imagesPerSecond: num(summary?.imagesPerSecond) ?? (rates.length ? rates.reduce((a, b) => a + b, 0) / rates.length : null),
    seconds: num(summary?.seconds) ?? history[history.length - 1]?.elapsed ?? null,
    epochs: history.length,
  };
}

/** Plot labels of loss terms whose log name is terse. */
const LOSS_LABELS: Record<string, string> = { hcl: 'feature loss (hcl)' };

/** The loss names besides cross-entropy that any run logged, in first-seen order. */
function lossTerms(runs: ReportRun[]): string[] {
  const names = new Set<string>();
  for (const r of runs) for (const h of r.history) for (const k of Object.keys(h.losses ?? {})) if (k !== 'ce') names.add(k);
  return [...names];
}

const BASE = {
  $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
  width: 520,
  height: 300,
  background: 'white',
  config: { font: 'sans-serif', legend: { labelLimit: 260 } },
};

function curves(runs: ReportRun[], title: string, yTitle: string, series: [string, (h: EpochLog) => number | undefined][], dashTitle: string): VegaLiteSpec {
  const values: Record<string, unknown>[] = [];
  for (const r of runs) {
    for (const h of r.history) {
      for (const [label, get] of series) {
        const y = get(h);
        if (typeof y === 'number' && Number.isFinite(y)) values.push({ run: r.name, epoch: h.epoch, series: label, value: y });
      }
    }
  }
  const maxEpoch = Math.max(1, ...values.map((v) => v.epoch as number));
  return {
    ...BASE,
    title,
    data: { values },
    // Points only when a run has a single epoch (a line needs two); they would hide the dash legend.
    mark: { type: 'line', point: maxEpoch <= 1, strokeWidth: 2 },
    encoding: {
      x: { field: 'epoch', type: 'quantitative', title: 'epoch', axis: maxEpoch <= 20 ? { values: Array.from({ length: maxEpoch }, (_, i) => i + 1), format: 'd' } : { format: 'd' } },
      y: { field: 'value', type: 'quantitative', title: yTitle, scale: { zero: false } },
      color: { field: 'run', type: 'nominal', title: 'run' },
      strokeDash: { field: 'series', type: 'nominal', title: dashTitle },
    },
  };
}

function bars(runs: ReportRun[]): VegaLiteSpec {
  const values: Record<string, unknown>[] = [];
  for (const r of runs) {
    if (r.top1 !== null) values.push({ run: r.name, source: 'this run', top1: r.top1 });
    if (r.paperTop1 !== null) values.push({ run: r.name, source: 'paper', top1: r.paperTop1 });
  }
  // Only the sources that have bars get a legend entry (no 'paper' entry without paper numbers).
  const sources = (['this run', 'paper'] as const).filter((src) => values.some((v) => v.source === src));
  const colours: Record<string, string> = { 'this run': '#4c78a8', paper: '#f58518' };
  return {
    ...BASE,
    title: 'Best test top-1 (%)',
    data: { values },
    mark: { type: 'bar' },
    encoding: {
      x: { field: 'run', type: 'nominal', title: null, axis: { labelAngle: -30, labelLimit: 200 } },
      xOffset: { field: 'source', type: 'nominal' },
      y: { field: 'top1', type: 'quantitative', title: 'top-1 (%)', scale: { domain: [0, 100] } },
      color: { field: 'source', type: 'nominal', title: null, scale: { domain: sources, range: sources.map((src) => colours[src]) } },
      tooltip: [{ field: 'run' }, { field: 'source' }, { field: 'top1', format: '.2f' }],
    },
  };
}

function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

const fmt = (v: number | null, digits = 2) => (v === null ? '–' : v.toFixed(digits));

/** One time unit for the whole table (chosen by its longest run), so the column compares at a glance. */
function timeUnit(runs: ReportRun[]): { name: string; seconds: number; digits: number } {
  const longest = Math.max(0, ...runs.map((r) => r.seconds ?? 0));
  if (longest < 120) return { name: 's', seconds: 1, digits: 1 };
  if (longest < 7200) return { name: 'min', seconds: 60, digits: 1 };
  return { name: 'h', seconds: 3600, digits: 2 };
}

function page(title: string, runs: ReportRun[], images: { file: string; alt: string }[]): string {
  const unit = timeUnit(runs);
  const rows = runs.map((r) => {
    const delta = r.top1 !== null && r.paperTop1 !== null ? r.top1 - r.paperTop1 : null;
    return `<tr><td>${esc(r.name)}</td><td>${esc(r.method)}</td><td>${esc(r.student)}</td><td>${esc(r.teacher ?? '–')}</td>` +
      `<td class="n">${fmt(r.top1)}</td><td class="n">${fmt(r.top5)}</td><td class="n">${fmt(r.paperTop1)}</td>` +
      `<td class="n">${delta === null ? '–' : `${delta >= 0 ? '+' : ''}${delta.toFixed(2)}`}</td>` +
      `<td class="n">${r.params === null ? '–' : r.params.toLocaleString('en-US')}</td><td class="n">${fmt(r.imagesPerSecond, 0)}</td>` +
      `<td class="n">${r.seconds === null ? '–' : (r.seconds / unit.seconds).toFixed(unit.digits)}</td><td class="n">${r.epochs}${r.summary && typeof r.summary.epochs === 'number' && r.summary.epochs !== r.epochs ? ` / ${r.summary.epochs}` : ''}</td>` +
      `<td>${esc(r.recipe ?? '–')}</td></tr>`;
  }).join('\n');
  const figures = images.map((i) => `<figure><img src="${esc(i.file)}" alt="${esc(i.alt)}"><figcaption>${esc(i.alt)}</figcaption></figure>`).join('\n');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${esc(title)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; }
table { border-collapse: collapse; width: 100%; font-size: 0.9em; }
th, td { border-bottom: 1px solid #ddd; padding: 0.35em 0.6em; text-align: left; }
th { background: #f4f4f4; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
figure { display: inline-block; margin: 1em 1em 0 0; }
figure img { max-width: 100%; width: 540px; border: 1px solid #eee; }
figcaption { font-size: 0.85em; color: #666; }
.note { color: #666; font-size: 0.85em; }
</style>
</head>
<body>
<h1>${esc(title)}</h1>
<table>
<thead><tr><th>run</th><th>method</th><th>student</th><th>teacher</th><th>top-1 %</th><th>top-5 %</th><th>paper top-1 %</th><th>Δ vs paper</th><th>params</th><th>img/s</th><th>time (${unit.name})</th><th>epochs</th><th>recipe</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
<p class="note">top-1/top-5: best test accuracy over epochs (the metric the paper reports). Paper numbers come from the recipe attached to a run. Generated ${esc(new Date().toISOString())}.</p>
${figures}
</body>
</html>
`;
}

/**
 * Writes `index.html` and PNG plots (accuracy and loss curves per epoch for every run, and a bar chart
 * of best top-1 with the paper's number beside each run that has a recipe) into `outDir`. Each run
 * folder needs a log.jsonl (as the Trainer writes it); its summary.json (as `reviewkd train|distill`
 * write it) adds method, params, throughput and the recipe. The HTML has inline CSS and refers to the
 * PNGs by relative path, so the folder can be moved or zipped as is.
 *
 * @example
 * const { html, images } = await rk.report.writeReport('report', ['runs/r56', 'runs/r20-reviewkd']);
 */
export async function writeReport(outDir: string, runDirs: string[], options: ReportOptions = {}): Promise<ReportResult> {
  if (typeof outDir !== 'string' || outDir.length === 0) throw new TypeError("report.writeReport: argument 'outDir' must be a folder path");
  if (!Array.isArray(runDirs) || runDirs.length === 0 || runDirs.some((d) => typeof d !== 'string')) {
    throw new TypeError("report.writeReport: argument 'runDirs' must be a non-empty array of run folder paths");
  }
  const scale = options.scale ?? 2;
  if (!(typeof scale === 'number' && scale > 0 && scale <= 8)) throw new RangeError(`report.writeReport: option 'scale' must be in (0, 8]; got ${String(scale)}`);
  const runs = runDirs.map(readRun);
  // Unique display names.
  const seen = new Map<string, number>();
  for (const r of runs) {
    const n = (seen.get(r.name) ?? 0) + 1;
    seen.set(r.name, n);
    if (n > 1) r.name = `${r.name} (${n})`;
  }
  fs.mkdirSync(outDir, { recursive: true });
  const hasTest = runs.some((r) => r.history.some((h) => typeof h.testTop1 === 'number'));
  const plots: { file: string; alt: string; spec: VegaLiteSpec }[] = [
    {
      file: 'accuracy.png',
      alt: 'Top-1 accuracy per epoch',
      spec: curves(runs, 'Top-1 accuracy per epoch', 'top-1 (%)', [
        ['train', (h) => h.trainTop1],
        ...(hasTest ? [['test', (h: EpochLog) => h.testTop1] as [string, (h: EpochLog) => number | undefined]] : []),
      ], 'split'),
    },
    {
      file: 'loss.png',
      alt: 'Loss per epoch',
      spec: curves(runs, 'Loss per epoch', 'loss', [
        ['train total', (h) => h.loss],
        // Logs written before per-term losses had a top-level 'ce'.
        ['train cross-entropy', (h) => h.losses?.ce ?? (h as { ce?: number }).ce],
        // Every other named loss of every run (ReviewKD's feature loss 'hcl', DKD's 'tckd'/'nckd', ...), unweighted.
        ...lossTerms(runs).map((name) => [`train ${LOSS_LABELS[name] ?? name}`, (h: EpochLog) => h.losses?.[name]] as [string, (h: EpochLog) => number | undefined]),
        ...(hasTest ? [['test cross-entropy', (h: EpochLog) => h.testLoss] as [string, (h: EpochLog) => number | undefined]] : []),
      ], 'term'),
    },
    { file: 'top1.png', alt: runs.some((r) => r.paperTop1 !== null) ? 'Best test top-1 per run (orange: paper)' : 'Best test top-1 per run', spec: bars(runs) },
  ];
  const images: string[] = [];
  const series: Record<string, string[]> = {};
  for (const p of plots) {
    const file = path.resolve(outDir, p.file);
    await renderPng(p.spec, file, scale);
    images.push(file);
    const values = (p.spec.data as { values: Record<string, unknown>[] }).values;
    series[p.file] = [...new Set(values.map((v) => String(v.series ?? v.source)))];
  }
  const html = path.resolve(outDir, 'index.html');
  fs.writeFileSync(html, page(options.title ?? 'reviewkd report', runs, plots.map((p) => ({ file: p.file, alt: p.alt }))));
  return { html, images, series, runs };
}
