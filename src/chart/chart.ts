/**
 * Training curves as one SVG string: loss on the left, accuracy on the right, both
 * against epochs. Pure TypeScript with no DOM or Node imports, so the Node trainer
 * writes the string to a .svg file and the page sets it as innerHTML after every
 * metrics read: one drawing for both.
 *
 * Train values are drawn per logged step as a solid line; test values per completed
 * epoch as markers joined by a dashed line. Non-finite values are skipped (and counted
 * in a note under the panel), so "NaN" never reaches the SVG. The SVG uses no ids
 * (clip paths, gradients), so several charts can live on one page without clashing.
 */

export interface StepPoint {
  /** Global optimisation step. */
  step: number;
  /** Fractional epoch, e.g. 1.25. */
  epoch: number;
  loss: number;
  /** 0..1, running train accuracy since the previous point. */
  accuracy: number;
}

export interface EpochPoint {
  /** 1-based, completed. */
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  testLoss?: number;
  testAccuracy?: number;
}

export interface History {
  steps: StepPoint[];
  epochs: EpochPoint[];
}

export interface ChartOptions {
  /** Default 900, at least 600. */
  width?: number;
  /** Default 360, at least 240. */
  height?: number;
  title?: string;
}

const TRAIN = '#1f77b4';
const TEST = '#d62728';
/** The palette's greys, which ./pictures.ts draws with too. */
export const INK = '#222';
export const MUTED = '#666';
export const GRID = '#e6e6e6';
export const FRAME = '#888';

/** Average glyph width of 12 px sans-serif, for laying out the legend without a DOM. */
const CHAR_W = 6.7;

// ---------------------------------------------------------------- ticks

/**
 * Round ticks covering [min, max]: the step is the smallest of 1, 2, 5 x 10^k that
 * makes at most `count` intervals, and the first and last ticks are the multiples of
 * the step at or just outside min and max. (0, 0.93, 5) -> 0, 0.2, ..., 1.
 * A zero-width range is widened by 10% (or by 1 around zero); non-finite input gives [].
 */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (min > max) [min, max] = [max, min];
  if (min === max) {
    const pad = min === 0 ? 1 : Math.abs(min) * 0.1;
    min -= pad;
    max += pad;
  }
  const n = Number.isFinite(count) ? Math.max(1, Math.floor(count)) : 5;
  const range = max - min;
  if (!Number.isFinite(range)) return [min, max];
  const { mantissa, exponent } = niceStep(range / n);
  const step = mantissa * 10 ** exponent;
  // The small slack keeps 0.6 / 0.2 = 2.9999999999999996 from adding a tick below.
  const lo = Math.floor(min / step + 1e-9);
  const hi = Math.ceil(max / step - 1e-9);
  const ticks: number[] = [];
  for (let i = lo; i <= hi; i++) ticks.push(tickValue(i, mantissa, exponent));
  return ticks;
}

/** i x mantissa x 10^exponent, computed so that 3 x 0.2 comes out as 0.6 exactly. */
function tickValue(i: number, mantissa: number, exponent: number): number {
  const v = exponent >= 0 ? i * mantissa * 10 ** exponent : (i * mantissa) / 10 ** -exponent;
  return v === 0 ? 0 : v; // no -0
}

function niceStep(rough: number): { mantissa: number; exponent: number } {
  let exponent = Math.floor(Math.log10(rough));
  const f = rough / 10 ** exponent;
  const eps = 1e-9; // 0.2 / 0.1 is 2.0000000000000004
  let mantissa = f <= 1 + eps ? 1 : f <= 2 + eps ? 2 : f <= 5 + eps ? 5 : 10;
  if (mantissa === 10) {
    mantissa = 1;
    exponent += 1;
  }
  return { mantissa, exponent };
}

/**
 * A tick label with as many decimals as the step needs (step 0.2 -> "0.6", step 5 ->
 * "15"); steps of 1e5 and up or below 1e-4 use short exponent notation ("1.5e6").
 */
export function formatTick(value: number, step: number): string {
  if (!Number.isFinite(value)) return '';
  if (value === 0) return '0';
  const exponent = Number.isFinite(step) && step > 0 ? Math.floor(Math.log10(step) + 1e-9) : 0;
  if (exponent >= 5 || exponent < -4) {
    const digits = Math.max(0, Math.min(20, Math.floor(Math.log10(Math.abs(value)) + 1e-9) - exponent));
    return value.toExponential(digits).replace('e+', 'e');
  }
  const s = value.toFixed(Math.max(0, -exponent));
  return /^-0(\.0*)?$/.test(s) ? s.slice(1) : s;
}

// ---------------------------------------------------------------- helpers

/** Escapes text for XML content and attribute values. */
export function escapeXml(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** A coordinate rounded to 0.1 px; a non-finite one (which the layout never makes) becomes 0. */
function px(v: number): string {
  if (!Number.isFinite(v)) return '0';
  const r = Math.round(v * 10) / 10;
  return String(r === 0 ? 0 : r);
}

interface Pt {
  x: number;
  y: number;
}

interface Box {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

interface Scale {
  x: (v: number) => number;
  y: (v: number) => number;
}

/** The finite (x, y) pairs of a series, and how many were dropped for being non-finite. */
function finitePoints<T>(items: T[], x: (t: T) => number, y: (t: T) => number | undefined): { points: Pt[]; skipped: number } {
  const points: Pt[] = [];
  let skipped = 0;
  for (const item of items) {
    const xv = x(item);
    const yv = y(item);
    if (yv === undefined) continue; // absent (no test run that epoch), not broken
    if (Number.isFinite(xv) && Number.isFinite(yv)) points.push({ x: xv, y: yv });
    else skipped++;
  }
  return { points, skipped };
}

/**
 * Keeps a long line to a few points per pixel column: for each run of consecutive points
 * in one column, the first, lowest, highest and last, in their original order. The shape
 * (spikes included) survives; 100k steps stop costing megabytes of SVG on every redraw.
 */
function thin(points: Pt[]): Pt[] {
  const out: Pt[] = [];
  let start = 0;
  while (start < points.length) {
    const column = Math.round(points[start].x);
    let end = start + 1;
    while (end < points.length && Math.round(points[end].x) === column) end++;
    let lo = start;
    let hi = start;
    for (let i = start; i < end; i++) {
      if (points[i].y < points[lo].y) lo = i;
      if (points[i].y > points[hi].y) hi = i;
    }
    const keep = [...new Set([start, lo, hi, end - 1])].sort((a, b) => a - b);
    for (const i of keep) out.push(points[i]);
    start = end;
  }
  return out;
}

function pointList(points: Pt[]): string {
  return points.map((p) => `${px(p.x)},${px(p.y)}`).join(' ');
}

// ---------------------------------------------------------------- panels

interface PanelSpec {
  name: string; // class of the panel's group
  title: string;
  yLabel: string;
  train: Pt[];
  test: Pt[];
  skipped: number;
  yTicks: number[];
}

/** Frame, grid, ticks and labels of one panel. */
function drawAxes(box: Box, s: Scale, xTicks: number[], yTicks: number[], yLabel: string, skipped: number): string[] {
  const out: string[] = [];
  const xStep = xTicks.length > 1 ? xTicks[1] - xTicks[0] : 1;
  const yStep = yTicks.length > 1 ? yTicks[1] - yTicks[0] : 1;
  const grid: string[] = [];
  const marks: string[] = [];
  const labels: string[] = [];
  for (const t of xTicks) {
    const x = px(s.x(t));
    grid.push(`M${x} ${px(box.top)}V${px(box.bottom)}`);
    marks.push(`M${x} ${px(box.bottom)}v4`);
    labels.push(`<text x="${x}" y="${px(box.bottom + 17)}" text-anchor="middle">${formatTick(t, xStep)}</text>`);
  }
  for (const t of yTicks) {
    const y = px(s.y(t));
    grid.push(`M${px(box.left)} ${y}H${px(box.right)}`);
    marks.push(`M${px(box.left)} ${y}h-4`);
    labels.push(`<text x="${px(box.left - 7)}" y="${px(s.y(t) + 4)}" text-anchor="end">${formatTick(t, yStep)}</text>`);
  }
  out.push(`<path d="${grid.join('')}" stroke="${GRID}" stroke-width="1" fill="none"/>`);
  out.push(
    `<rect x="${px(box.left)}" y="${px(box.top)}" width="${px(box.right - box.left)}" height="${px(box.bottom - box.top)}" fill="none" stroke="${FRAME}" stroke-width="1"/>`,
  );
  out.push(`<path d="${marks.join('')}" stroke="${FRAME}" stroke-width="1" fill="none"/>`);
  out.push(`<g fill="${MUTED}" font-size="11">${labels.join('')}</g>`);
  const midX = (box.left + box.right) / 2;
  const midY = (box.top + box.bottom) / 2;
  // Skipped values are noted on the x label's line, where the note cannot hide data.
  const what = skipped === 1 ? 'value' : 'values';
  const note = skipped > 0 ? `<tspan dx="8" fill="${MUTED}" font-size="10">(${skipped} non-finite ${what} skipped)</tspan>` : '';
  out.push(`<text x="${px(midX)}" y="${px(box.bottom + 35)}" text-anchor="middle" fill="${INK}">epoch${note}</text>`);
  const labelX = box.left - 46;
  out.push(
    `<text x="${px(labelX)}" y="${px(midY)}" text-anchor="middle" fill="${INK}" transform="rotate(-90 ${px(labelX)} ${px(midY)})">${escapeXml(yLabel)}</text>`,
  );
  return out;
}

/** Panel title on the left of the header row, legend for the series present on the right. */
function drawHeader(box: Box, spec: PanelSpec): string[] {
  const y = box.top - 10;
  const out = [`<text x="${px(box.left)}" y="${px(y)}" font-size="13" font-weight="bold" fill="${INK}">${escapeXml(spec.title)}</text>`];
  const entries: { label: string; colour: string; dashed: boolean }[] = [];
  if (spec.train.length > 0) entries.push({ label: 'train', colour: TRAIN, dashed: false });
  if (spec.test.length > 0) entries.push({ label: 'test', colour: TEST, dashed: true });
  let x = box.right;
  const items: string[] = [];
  for (const e of entries.reverse()) {
    const textW = e.label.length * CHAR_W;
    x -= textW;
    items.push(`<text x="${px(x)}" y="${px(y)}" fill="${INK}">${e.label}</text>`);
    x -= 26;
    const ly = y - 4;
    const dash = e.dashed ? ' stroke-dasharray="4 3"' : '';
    items.push(`<path d="M${px(x)} ${px(ly)}h20" stroke="${e.colour}" stroke-width="1.8"${dash}/>`);
    if (e.dashed) items.push(`<circle cx="${px(x + 10)}" cy="${px(ly)}" r="3.5" fill="${e.colour}" stroke="#fff" stroke-width="1"/>`);
    x -= 14;
  }
  if (items.length > 0) out.push(`<g class="legend">${items.join('')}</g>`);
  return out;
}

/** Train line (thinned when it has more points than the plot has pixels to show them). */
function drawTrain(box: Box, s: Scale, train: Pt[]): string[] {
  if (train.length === 0) return [];
  let pts = train.map((p) => ({ x: s.x(p.x), y: s.y(p.y) }));
  if (pts.length > 4 * (box.right - box.left)) pts = thin(pts);
  const out = [
    `<polyline class="train" points="${pointList(pts)}" fill="none" stroke="${TRAIN}" stroke-width="1.5" stroke-linejoin="round" stroke-linecap="round"/>`,
  ];
  // A one-point polyline draws nothing; show the lone value as a dot.
  if (pts.length === 1) out.push(`<circle class="train-dot" cx="${px(pts[0].x)}" cy="${px(pts[0].y)}" r="2.5" fill="${TRAIN}"/>`);
  return out;
}

/** Test values: a dashed line through markers, one marker per epoch that has a value. */
function drawTest(s: Scale, test: Pt[]): string[] {
  if (test.length === 0) return [];
  const pts = test.map((p) => ({ x: s.x(p.x), y: s.y(p.y) }));
  const out: string[] = [];
  if (pts.length > 1) {
    out.push(
      `<polyline class="test" points="${pointList(pts)}" fill="none" stroke="${TEST}" stroke-width="1.5" stroke-dasharray="5 4" stroke-linejoin="round"/>`,
    );
  }
  for (const p of pts) out.push(`<circle class="test-marker" cx="${px(p.x)}" cy="${px(p.y)}" r="3.5" fill="${TEST}" stroke="#fff" stroke-width="1"/>`);
  return out;
}

function drawPanel(box: Box, xTicks: number[], spec: PanelSpec): string {
  const [x0, x1] = [xTicks[0], xTicks[xTicks.length - 1]];
  const [y0, y1] = [spec.yTicks[0], spec.yTicks[spec.yTicks.length - 1]];
  const s: Scale = {
    x: (v) => box.left + ((v - x0) / (x1 - x0)) * (box.right - box.left),
    y: (v) => box.bottom - ((v - y0) / (y1 - y0)) * (box.bottom - box.top),
  };
  const out = [`<g class="panel-${spec.name}">`];
  out.push(...drawAxes(box, s, xTicks, spec.yTicks, spec.yLabel, spec.skipped));
  out.push(...drawHeader(box, spec));
  if (spec.train.length === 0 && spec.test.length === 0) {
    out.push(`<text x="${px((box.left + box.right) / 2)}" y="${px((box.top + box.bottom) / 2 + 4)}" text-anchor="middle" fill="${MUTED}">no data yet</text>`);
  }
  out.push(...drawTrain(box, s, spec.train));
  out.push(...drawTest(s, spec.test));
  out.push('</g>');
  return out.join('');
}

// ---------------------------------------------------------------- chart

function size(v: number | undefined, fallback: number, least: number): number {
  return v !== undefined && Number.isFinite(v) ? Math.max(least, Math.round(v)) : fallback;
}

function extent(values: number[]): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

/** Loss axis: from 0 (or below, if a loss is negative) to the largest loss. */
function lossTicks(values: number[], count: number): number[] {
  if (values.length === 0) return niceTicks(0, 1, count);
  const [lo, hi] = extent(values);
  const bottom = Math.min(0, lo);
  return niceTicks(bottom, hi > bottom ? hi : bottom + 1, count);
}

/** Accuracy axis in %: the data's range, at least one percentage point wide, inside 0..100. */
function accuracyTicks(values: number[], count: number): number[] {
  if (values.length === 0) return niceTicks(0, 100, count);
  let [lo, hi] = extent(values);
  if (hi - lo < 1) {
    const mid = (lo + hi) / 2;
    lo = Math.max(0, Math.min(99, mid - 0.5));
    hi = lo + 1;
  }
  return niceTicks(lo, hi, count);
}

/**
 * Draws `h` as a two-panel SVG (loss, accuracy in %) and returns the markup, starting
 * with "<svg" and ending with "</svg>". Train curves come from `h.steps`; when no step
 * has been logged yet, the per-epoch train values stand in for them.
 */
export function renderChart(h: History, o: ChartOptions = {}): string {
  // Below 600 x 240 the panel title and legend collide; scale a smaller chart with CSS
  // instead (the viewBox makes it scalable).
  const width = size(o.width, 900, 600);
  const height = size(o.height, 360, 240);
  const titleH = o.title ? 30 : 4;

  const steps = h.steps ?? [];
  const epochs = h.epochs ?? [];
  const fromSteps = steps.length > 0;
  const trainLoss = fromSteps
    ? finitePoints(steps, (p) => p.epoch, (p) => p.loss)
    : finitePoints(epochs, (p) => p.epoch, (p) => p.trainLoss);
  const trainAcc = fromSteps
    ? finitePoints(steps, (p) => p.epoch, (p) => p.accuracy * 100)
    : finitePoints(epochs, (p) => p.epoch, (p) => p.trainAccuracy * 100);
  const testLoss = finitePoints(epochs, (p) => p.epoch, (p) => p.testLoss);
  const testAcc = finitePoints(
    epochs,
    (p) => p.epoch,
    (p) => (p.testAccuracy === undefined ? undefined : p.testAccuracy * 100),
  );

  const panelW = width / 2;
  const top = titleH + 30;
  const bottom = height - 46;
  const boxes: Box[] = [0, 1].map((i) => ({ left: i * panelW + 64, top, right: (i + 1) * panelW - 18, bottom }));
  const plotW = boxes[0].right - boxes[0].left;
  const xCount = Math.max(2, Math.round(plotW / 75));
  const yCount = Math.max(2, Math.round((bottom - top) / 45));

  // One x axis for both panels, from epoch 0 (or earlier) to the last epoch seen, and at
  // least one epoch wide: while the first epoch runs, the line grows across a still axis
  // instead of the axis rescaling under it on every redraw.
  const xs = [trainLoss, trainAcc, testLoss, testAcc].flatMap((s) => s.points.map((p) => p.x));
  const [xLo, xHi] = xs.length > 0 ? extent(xs) : [0, 1];
  const xMin = Math.min(0, xLo);
  const xTicks = niceTicks(xMin, Math.max(xHi, xMin + 1), xCount);

  const panels: PanelSpec[] = [
    {
      name: 'loss',
      title: 'Loss',
      yLabel: 'loss',
      train: trainLoss.points,
      test: testLoss.points,
      skipped: trainLoss.skipped + testLoss.skipped,
      yTicks: lossTicks([...trainLoss.points, ...testLoss.points].map((p) => p.y), yCount),
    },
    {
      name: 'accuracy',
      title: 'Accuracy (%)',
      yLabel: 'accuracy (%)',
      train: trainAcc.points,
      test: testAcc.points,
      skipped: trainAcc.skipped + testAcc.skipped,
      yTicks: accuracyTicks([...trainAcc.points, ...testAcc.points].map((p) => p.y), yCount),
    },
  ];

  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
  ];
  if (o.title) {
    out.push(`<text x="${px(width / 2)}" y="21" text-anchor="middle" font-size="15" font-weight="bold" fill="${INK}">${escapeXml(o.title)}</text>`);
  }
  panels.forEach((spec, i) => out.push(drawPanel(boxes[i], xTicks, spec)));
  out.push('</svg>');
  return out.join('\n');
}
