// Vega-Lite spec → PNG, the one chart renderer of the package (reports, benchmark and soak plots):
// vega renders to SVG with no canvas dependency, sharp rasterises it.
/** A Vega-Lite specification (https://vega.github.io/vega-lite/docs/spec.html). */
export type VegaLiteSpec = Record<string, unknown>;

/** Renders a Vega-Lite spec to a PNG file at `scale` × 96 dpi. */
export async function renderPng(spec: VegaLiteSpec, file: string, scale = 1): Promise<void> {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const vl = require('vega-lite') as { compile(spec: VegaLiteSpec): { spec: unknown } };
  const vega = require('vega') as {
    parse(spec: unknown): unknown;
    View: new (runtime: unknown, options: { renderer: 'none' }) => { toSVG(scale?: number): Promise<string>; finalize(): void };
  };
  const sharp = require('sharp') as (input: Buffer, options?: { density?: number }) => { flatten(o: { background: string }): { png(): { toFile(f: string): Promise<unknown> } } };
  /* eslint-enable @typescript-eslint/no-require-imports */
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    await sharp(Buffer.from(svg), { density: 96 * scale }).flatten({ background: '#ffffff' }).png().toFile(file);
  } finally {
    view.finalize();
  }
}
