/**
 * "What the network learned" as SVG strings: the confusion matrix, a gallery of
 * mistakes, the conv filters, the feature maps of one sample, and two compositions of
 * them (an evaluation's summary, one prediction explained). Pure TypeScript with no DOM
 * or Node imports, like ./chart.ts: the Node programs write the strings to .svg files,
 * the page sets them as innerHTML, and both show the same drawing.
 *
 * Pixel tiles are drawn as one <image> each, a greyscale PNG (./png.ts) scaled up
 * without smoothing: a few elements for a browser to lay out and paint, where a rect per
 * pixel run made thousands. Grey levels follow one rule, greyLevel() below. The markup uses no ids, so several pictures can live on one page;
 * groups carry classes and data-* attributes for the page's hover and click handlers,
 * and <title>s that browsers show on hover. Text is escaped; non-finite data is drawn as
 * 0, so "NaN" never reaches the SVG. Each part is laid out in its own coordinates and
 * placed with a <g transform>, so the compositions reuse the single renderers' code.
 */
import { escapeXml, FRAME, GRID, INK, MUTED } from './chart';
import { greyPngUri } from './png';

/** A grey image, row-major. */
export interface Image {
  width: number;
  height: number;
  values: ArrayLike<number>;
  /** The value drawn white. Default: 255 for bytes (Uint8Array), else the colour rule's (the largest |value|). */
  max?: number;
}

/** One layer's activations for one sample, [channels, height, width] row-major. */
export interface FeatureMap {
  name: string;
  label: string;
  channels: number;
  height: number;
  width: number;
  values: ArrayLike<number>;
}

export interface Mistake {
  index: number;
  label: number;
  predicted: number;
  probability: number;
  /** 0..255, white ink on black, rows x cols */
  pixels: ArrayLike<number>;
  rows: number;
  cols: number;
}

export interface EvalSummary {
  title?: string;
  /** 0..1 */
  accuracy: number;
  /** Mean loss over the images. */
  loss: number;
  /** How many images were evaluated. */
  count: number;
  /** 0..1 per class: the fraction of that class's images classified correctly. */
  perClass: number[];
  /** confusion[true][predicted] = how many images. */
  confusion: number[][];
  /** Drawn in the order given (the caller sorts, most confident first). */
  mistakes: Mistake[];
}

/** Confusion cells: the diagonal (correct) in blue, the rest (mistakes) in red. */
const CORRECT = '#2c7bb6';
const WRONG = '#d62728';
/** Bars: per-class accuracy, probabilities; the one that stands out (worst class, predicted class) in WRONG / CORRECT. */
const BAR = '#9ecae1';
const TRACK = '#f0f0f0';

/** Gap between image tiles. */
const GAP = 6;
/** Default tiles are at least this wide, so a 5x5 map is not a speck. */
const MIN_TILE = 40;
/** Feature-map and filter rows wrap beyond this many tiles. */
const MAX_PER_ROW = 8;
/** Average glyph width of sans-serif as a fraction of its size, for layout without a DOM. */
const GLYPH = 0.58;

// ---------------------------------------------------------------- the colour rule

/** How values become grey levels: see greyLevel. */
export interface Tone {
  /** The data has negative values: 0 is mid-grey. */
  signed: boolean;
  /** The |value| drawn white (and, when signed, -max black); 0 when all the data is 0. */
  max: number;
}

/**
 * The tone of a set of values drawn on one scale (a whole filter set, one layer's
 * channels): signed when any finite value is negative (or `signed` says so), the scale
 * the largest finite |value| (or `max`). Non-finite values count as 0.
 */
export function toneFor(values: ArrayLike<number>, o: { signed?: boolean; max?: number } = {}): Tone {
  let signed = false;
  let max = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) continue;
    if (v < 0) signed = true;
    if (Math.abs(v) > max) max = Math.abs(v);
  }
  if (o.max !== undefined && Number.isFinite(o.max) && o.max > 0) max = o.max;
  return { signed: o.signed ?? signed, max };
}

/**
 * The colour rule, 0..255. Data that is all >= 0 (digits, activations after a ReLU):
 * 0 is black and tone.max white, as MNIST stores its digits (white ink on black) and
 * as the page shows what the model sees. Signed data (filters, a layer without ReLU):
 * 0 is grey 128, +max white, -max black, so the sign reads at a glance. Values beyond
 * the scale clamp; non-finite ones count as 0; an all-zero scale (max 0) draws every
 * value as 0 instead of dividing by zero.
 */
export function greyLevel(value: number, tone: Tone): number {
  const v = Number.isFinite(value) ? value : 0;
  const t = tone.max > 0 ? Math.max(-1, Math.min(1, v / tone.max)) : 0;
  if (!tone.signed) return Math.round(255 * Math.max(0, t));
  return t >= 0 ? 128 + Math.round(127 * t) : 128 - Math.round(128 * -t);
}

/** A grey level 0..255 as #rrggbb. */
export function greyHex(level: number): string {
  const h = hex2(level);
  return `#${h}${h}${h}`;
}

function hex2(v: number): string {
  const b = Number.isFinite(v) ? Math.max(0, Math.min(255, Math.round(v))) : 0;
  return b.toString(16).padStart(2, '0');
}

/** `colour` (#rrggbb) faded towards white: t = 0 is white, 1 the colour itself. */
function tint(colour: string, t: number): string {
  const k = Number.isFinite(t) ? Math.max(0, Math.min(1, t)) : 0;
  const channel = (i: number) => hex2(255 + (parseInt(colour.slice(1 + 2 * i, 3 + 2 * i), 16) - 255) * k);
  return `#${channel(0)}${channel(1)}${channel(2)}`;
}

// ---------------------------------------------------------------- helpers

/** A coordinate rounded to 0.1 px; a non-finite one (which the layout never makes) becomes 0. */
function px(v: number): string {
  if (!Number.isFinite(v)) return '0';
  const r = Math.round(v * 10) / 10;
  return String(r === 0 ? 0 : r);
}

/** A fraction as a percentage with `digits` decimals; "n/a" for a non-finite one. */
function percent(v: number, digits: number): string {
  return Number.isFinite(v) ? `${(v * 100).toFixed(digits)}%` : 'n/a';
}

/** A count or class number for text; "?" for a non-finite one. */
function whole(v: number): string {
  return Number.isFinite(v) ? String(v) : '?';
}

/** Three significant digits, for a scale's maximum. */
function short(v: number): string {
  return Number.isFinite(v) ? String(Number(v.toPrecision(3))) : '?';
}

function textWidth(s: string, size: number): number {
  return s.length * size * GLYPH;
}

/** An option that must be a number of at least `least`; anything else means the default. */
function option(v: number | undefined, fallback: number, least: number): number {
  return v !== undefined && Number.isFinite(v) ? Math.max(least, v) : fallback;
}

function checkSize(fn: string, what: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new Error(`${fn}: ${what} must be a whole number >= 1, got ${v}`);
}

function checkLength(fn: string, what: string, actual: number, expected: number, why: string): void {
  if (actual !== expected) throw new Error(`${fn}: ${what} has ${actual} values, ${why} needs ${expected}`);
}

/** A laid-out piece of a picture, in its own coordinates from (0, 0). */
interface Part {
  width: number;
  height: number;
  body: string;
}

function place(p: Part, x: number, y: number): string {
  return `<g transform="translate(${px(x)} ${px(y)})">${p.body}</g>`;
}

/** A part as one standalone SVG document, with a margin and a white background. */
function standalone(p: Part, margin = 10): string {
  const width = Math.ceil(p.width + 2 * margin);
  const height = Math.ceil(p.height + 2 * margin);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    place(p, margin, margin),
    '</svg>',
  ].join('\n');
}

function heading(text: string, y = 13): string {
  return `<text x="0" y="${y}" font-size="13" font-weight="bold" fill="${INK}">${escapeXml(text)}</text>`;
}

function rect(x: number, y: number, w: number, h: number, fill: string): string {
  return `<rect x="${px(x)}" y="${px(y)}" width="${px(w)}" height="${px(h)}" fill="${fill}"/>`;
}

/**
 * `width` x `height` values from `offset` as pixels `scale` px square, top left at (x, y):
 * one <image> of a greyscale PNG, drawn without smoothing so each value stays a square.
 */
function pixelTile(values: ArrayLike<number>, offset: number, width: number, height: number, tone: Tone, x: number, y: number, scale: number): string {
  const levels = new Uint8Array(width * height);
  for (let i = 0; i < levels.length; i++) levels[i] = greyLevel(values[offset + i], tone);
  return (
    `<image x="${px(x)}" y="${px(y)}" width="${px(width * scale)}" height="${px(height * scale)}" preserveAspectRatio="none"` +
    ` image-rendering="optimizeSpeed" style="image-rendering:pixelated" href="${greyPngUri(levels, width, height)}"/>`
  );
}

/** A frame just outside a tile, so a tile whose edge pixels are white (or light grey) still reads as a tile on the white page. */
function tileFrame(x: number, y: number, w: number, h: number): string {
  return `<rect x="${px(x - 0.5)}" y="${px(y - 0.5)}" width="${px(w + 1)}" height="${px(h + 1)}" fill="none" stroke="${FRAME}" stroke-width="1"/>`;
}

// ---------------------------------------------------------------- confusion

interface ConfusionPart extends Part {
  /** Where the matrix's first row starts, and its cell size: the per-class column lines up with it. */
  matrixTop: number;
  cell: number;
}

function checkSquare(fn: string, confusion: number[][]): void {
  if (!Array.isArray(confusion) || confusion.length === 0) throw new Error(`${fn}: the confusion matrix is empty`);
  const n = confusion.length;
  confusion.forEach((row, i) => {
    if (!Array.isArray(row) || row.length !== n) {
      throw new Error(`${fn}: the confusion matrix must be square: row ${i} has ${Array.isArray(row) ? row.length : 'no'} entries for ${n} rows`);
    }
  });
}

/**
 * The heat map. Correct cells (the diagonal) fade from white to blue with their count
 * over the largest diagonal count; mistakes from white to red with their count over the
 * largest off-diagonal count, so the worst confusion is full red even though it is tiny
 * beside the diagonal. Counts that are non-finite or negative are drawn as 0.
 */
function confusionPart(confusion: number[][], o: { cell?: number; title?: string }): ConfusionPart {
  checkSquare('renderConfusion', confusion);
  const n = confusion.length;
  const counts = confusion.map((row) => row.map((v) => (Number.isFinite(v) && v > 0 ? v : 0)));
  let maxDiagonal = 0;
  let maxOff = 0;
  let longest = 1;
  counts.forEach((row, t) =>
    row.forEach((c, p) => {
      if (t === p) maxDiagonal = Math.max(maxDiagonal, c);
      else maxOff = Math.max(maxOff, c);
      longest = Math.max(longest, String(c).length);
    }),
  );
  // The cell grows to fit its longest count at 11 px.
  const cell = Math.round(Math.max(option(o.cell, 34, 12), textWidth('0'.repeat(longest), 11) + 8));
  const titleH = o.title ? 22 : 0;
  const labelW = textWidth(String(n - 1), 11);
  const left = 22 + labelW + 6;
  const top = titleH + 4;
  const side = n * cell;
  const out: string[] = ['<g class="confusion">'];
  if (o.title) out.push(heading(o.title));

  for (let t = 0; t < n; t++) {
    for (let p = 0; p < n; p++) {
      const c = counts[t][p];
      const strength = t === p ? (maxDiagonal > 0 ? c / maxDiagonal : 0) : maxOff > 0 ? c / maxOff : 0;
      const fill = tint(t === p ? CORRECT : WRONG, strength);
      const x = left + p * cell;
      const y = top + t * cell;
      const images = c === 1 ? 'image' : 'images';
      out.push(`<g class="cell" data-true="${t}" data-predicted="${p}" data-count="${c}">`);
      out.push(`<title>true ${t}, predicted ${p}: ${c} ${images}</title>`);
      out.push(`<rect x="${px(x)}" y="${px(y)}" width="${cell}" height="${cell}" fill="${fill}" stroke="${GRID}" stroke-width="1"/>`);
      if (c !== 0) {
        const colour = strength > 0.55 ? '#fff' : INK;
        out.push(`<text x="${px(x + cell / 2)}" y="${px(y + cell / 2 + 4)}" text-anchor="middle" font-size="11" fill="${colour}">${c}</text>`);
      }
      out.push('</g>');
    }
  }
  out.push(`<rect x="${px(left)}" y="${px(top)}" width="${side}" height="${side}" fill="none" stroke="${FRAME}" stroke-width="1"/>`);

  const labels: string[] = [];
  for (let i = 0; i < n; i++) {
    labels.push(`<text x="${px(left - 5)}" y="${px(top + i * cell + cell / 2 + 4)}" text-anchor="end">${i}</text>`);
    labels.push(`<text x="${px(left + i * cell + cell / 2)}" y="${px(top + side + 14)}" text-anchor="middle">${i}</text>`);
  }
  out.push(`<g fill="${MUTED}" font-size="11">${labels.join('')}</g>`);
  const midY = top + side / 2;
  out.push(`<text x="10" y="${px(midY)}" text-anchor="middle" fill="${INK}" transform="rotate(-90 10 ${px(midY)})">true</text>`);
  out.push(`<text x="${px(left + side / 2)}" y="${px(top + side + 32)}" text-anchor="middle" fill="${INK}">predicted</text>`);
  out.push('</g>');
  const width = Math.max(left + side, o.title ? textWidth(o.title, 13) : 0);
  return { width, height: top + side + 38, body: out.join(''), matrixTop: top, cell };
}

/**
 * The confusion matrix as a heat map: rows are the true class, columns the predicted
 * one. Each cell is a <g class="cell" data-true data-predicted data-count> with a
 * <title>; the diagonal is blue (correct), the rest red (see confusionPart).
 * Throws for an empty or non-square matrix.
 */
export function renderConfusion(confusion: number[][], o: { cell?: number; title?: string } = {}): string {
  return standalone(confusionPart(confusion, o));
}

// ---------------------------------------------------------------- mistakes

function checkMistakes(fn: string, mistakes: Mistake[]): void {
  if (!Array.isArray(mistakes)) throw new Error(`${fn}: mistakes must be an array`);
  mistakes.forEach((m, i) => {
    for (const key of ['index', 'label', 'predicted'] as const) {
      if (!Number.isInteger(m[key]) || m[key] < 0) throw new Error(`${fn}: mistake ${i} has ${key} ${m[key]}, not a whole number >= 0`);
    }
    checkSize(fn, `mistake ${i}'s rows`, m.rows);
    checkSize(fn, `mistake ${i}'s cols`, m.cols);
    checkLength(fn, `mistake ${i}'s pixels`, m.pixels.length, m.rows * m.cols, `${m.rows} x ${m.cols}`);
  });
}

/** Mistake digits are bytes: 255 is white, whatever the brightest pixel of one digit. */
const BYTES: Tone = { signed: false, max: 255 };

function mistakesPart(mistakes: Mistake[], o: { columns?: number; scale?: number; title?: string; limit?: number }): Part {
  checkMistakes('renderMistakes', mistakes);
  const columns = Math.floor(option(o.columns, 8, 1));
  const scale = option(o.scale, 2, 0.5);
  const limit = Math.floor(option(o.limit, 24, 1));
  const shown = mistakes.slice(0, limit);
  const out: string[] = ['<g class="mistakes">'];
  let headerW = 0;
  if (o.title || shown.length < mistakes.length) {
    const title = o.title ? `<tspan font-weight="bold">${escapeXml(o.title)}</tspan> ` : '';
    const note = shown.length < mistakes.length ? `<tspan fill="${MUTED}" font-size="12">(the first ${shown.length} of ${mistakes.length})</tspan>` : '';
    out.push(`<text x="0" y="13" font-size="13" fill="${INK}">${title}${note}</text>`);
    headerW = textWidth(o.title ?? '', 13) + textWidth(`(the first ${shown.length} of ${mistakes.length})`, 12) + 6;
  }
  const top = o.title || shown.length < mistakes.length ? 22 : 0;
  if (shown.length === 0) {
    out.push(`<text x="0" y="${top + 14}" fill="${MUTED}">no mistakes</text>`, '</g>');
    return { width: Math.max(100, headerW), height: top + 20, body: out.join('') };
  }

  const rows = Math.max(...shown.map((m) => m.rows));
  const cols = Math.max(...shown.map((m) => m.cols));
  const tileW = Math.max(cols * scale, 64);
  const pitchX = tileW + 8;
  const pitchY = rows * scale + 26;
  shown.forEach((m, i) => {
    const x = (i % columns) * pitchX;
    const y = top + Math.floor(i / columns) * pitchY;
    const dx = Math.round((tileW - m.cols * scale) / 2);
    const p = m.probability;
    const caption = `${m.label} → ${m.predicted} ${Number.isFinite(p) ? `${Math.round(p * 100)}%` : '?'}`;
    const confidence = Number.isFinite(p) ? ` (${(p * 100).toFixed(1)}%)` : '';
    out.push(`<g class="mistake" data-index="${m.index}">`);
    out.push(`<title>test image ${m.index}: a ${m.label} taken for a ${m.predicted}${confidence}</title>`);
    out.push(pixelTile(m.pixels, 0, m.cols, m.rows, BYTES, x + dx, y, scale));
    out.push(`<text x="${px(x + tileW / 2)}" y="${px(y + m.rows * scale + 14)}" text-anchor="middle" font-size="11" fill="${INK}">${caption}</text>`);
    out.push('</g>');
  });
  out.push('</g>');
  const width = Math.max(Math.min(columns, shown.length) * pitchX - 8, headerW);
  return { width, height: top + Math.ceil(shown.length / columns) * pitchY - 6, body: out.join('') };
}

/**
 * A gallery of misclassified digits in the order given (default: the first 24, 8 to a
 * row), each a <g class="mistake" data-index> with the digit, a caption "3 → 5 97%"
 * (true → predicted, probability) and a <title>. No mistakes: a small "no mistakes".
 */
export function renderMistakes(mistakes: Mistake[], o: { columns?: number; scale?: number; title?: string; limit?: number } = {}): string {
  return standalone(mistakesPart(mistakes, o));
}

// ---------------------------------------------------------------- filters

function checkShape(fn: string, weights: ArrayLike<number>, shape: readonly [number, number, number, number]): void {
  if (!Array.isArray(shape) || shape.length !== 4) throw new Error(`${fn}: shape must be [out, in, kernel height, kernel width]`);
  shape.forEach((v, i) => checkSize(fn, `shape[${i}]`, v));
  checkLength(fn, 'weights', weights.length, shape[0] * shape[1] * shape[2] * shape[3], `shape [${shape.join(', ')}]`);
}

function filtersPart(weights: ArrayLike<number>, shape: readonly [number, number, number, number], o: { scale?: number; title?: string }): Part {
  checkShape('renderFilters', weights, shape);
  const [outC, inC, kh, kw] = shape;
  const scale = option(o.scale, Math.ceil(MIN_TILE / Math.max(kh, kw)), 0.5);
  // Weights are signed by nature: 0 is mid-grey even in a set that happens to be all positive,
  // and one scale for the whole layer, so filters compare.
  const tone = toneFor(weights, { signed: true });
  const tileW = kw * scale;
  const tileH = kh * scale;
  const titleH = o.title ? 22 : 0;
  const out: string[] = ['<g class="filters">'];
  if (o.title) out.push(heading(o.title));
  const scaleNote = tone.max > 0 ? `white +${short(tone.max)}, grey 0, black -${short(tone.max)}` : 'all zero';

  // One input channel (conv1): a row of tiles labelled with their output channel.
  // Otherwise a grid: a row per output channel, a column per input channel.
  const single = inC === 1;
  const left = single ? 0 : 52;
  const top = titleH + (single ? 0 : 30);
  const labels: string[] = [];
  for (let oc = 0; oc < outC; oc++) {
    for (let ic = 0; ic < inC; ic++) {
      const x = left + (single ? oc : ic) * (tileW + GAP);
      const y = top + (single ? 0 : oc) * (tileH + GAP);
      out.push(`<g class="filter" data-out="${oc}" data-in="${ic}">`);
      out.push(`<title>filter: output channel ${oc}, input channel ${ic}</title>`);
      out.push(pixelTile(weights, (oc * inC + ic) * kh * kw, kw, kh, tone, x, y, scale), tileFrame(x, y, tileW, tileH));
      if (single) out.push(`<text x="${px(x + tileW / 2)}" y="${px(y + tileH + 14)}" text-anchor="middle" font-size="11" fill="${MUTED}">${oc}</text>`);
      out.push('</g>');
    }
  }
  if (!single) {
    for (let oc = 0; oc < outC; oc++) labels.push(`<text x="${left - 6}" y="${px(top + oc * (tileH + GAP) + tileH / 2 + 4)}" text-anchor="end">${oc}</text>`);
    for (let ic = 0; ic < inC; ic++) labels.push(`<text x="${px(left + ic * (tileW + GAP) + tileW / 2)}" y="${top - 6}" text-anchor="middle">${ic}</text>`);
    out.push(`<g fill="${MUTED}" font-size="11">${labels.join('')}</g>`);
    out.push(`<text x="0" y="${top - 20}" font-size="11" fill="${INK}">output channel ↓, input channel →</text>`);
  }
  const gridW = (single ? outC : inC) * (tileW + GAP) - GAP;
  const gridH = (single ? 1 : outC) * (tileH + GAP) - GAP;
  const noteY = top + gridH + (single ? 34 : 18);
  out.push(`<text x="0" y="${px(noteY)}" font-size="11" fill="${MUTED}">${scaleNote}</text>`, '</g>');
  const width = Math.max(left + gridW, textWidth(scaleNote, 11), o.title ? textWidth(o.title, 13) : 0, single ? 0 : 200);
  return { width, height: noteY + 4, body: out.join('') };
}

/**
 * Conv filters of shape [out, in, kh, kw] as grey tiles on one signed scale for the whole
 * set (0 grey, +max|w| white, -max|w| black). One input channel (conv1's 6x1x5x5): a row
 * of tiles labelled with their output channel; otherwise out rows x in columns. Each tile
 * is a <g class="filter" data-out data-in>.
 */
export function renderFilters(weights: ArrayLike<number>, shape: readonly [number, number, number, number], o: { scale?: number; title?: string } = {}): string {
  return standalone(filtersPart(weights, shape, o));
}

// ---------------------------------------------------------------- feature maps

function checkMap(fn: string, m: FeatureMap, i: number): void {
  checkSize(fn, `map ${i}'s channels`, m.channels);
  checkSize(fn, `map ${i}'s height`, m.height);
  checkSize(fn, `map ${i}'s width`, m.width);
  checkLength(fn, `map ${i} (${m.name})`, m.values.length, m.channels * m.height * m.width, `${m.channels} x ${m.height} x ${m.width}`);
}

/** The scale note after a map's label, so layers can be compared by number too. */
function toneNote(tone: Tone): string {
  if (tone.max === 0) return 'all zero';
  return tone.signed ? `white +${short(tone.max)}, grey 0, black -${short(tone.max)}` : `black 0, white ${short(tone.max)}`;
}

function featureMapsPart(maps: FeatureMap[], o: { scale?: number; title?: string }): Part {
  if (!Array.isArray(maps)) throw new Error('renderFeatureMaps: maps must be an array');
  maps.forEach((m, i) => checkMap('renderFeatureMaps', m, i));
  const out: string[] = ['<g class="feature-maps">'];
  let y = 0;
  let width = 0;
  if (o.title) {
    out.push(heading(o.title));
    y = 24;
    width = textWidth(o.title, 13);
  }
  if (maps.length === 0) {
    out.push(`<text x="0" y="${y + 14}" fill="${MUTED}">no feature maps</text>`, '</g>');
    return { width: Math.max(width, 110), height: y + 20, body: out.join('') };
  }
  for (const m of maps) {
    // One scale for all channels of a layer, so channels compare; data decides signed or not.
    const tone = toneFor(m.values);
    const scale = option(o.scale, Math.ceil(MIN_TILE / Math.max(m.width, m.height)), 0.5);
    const tileW = m.width * scale;
    const tileH = m.height * scale;
    // Rows of at most 8, as even as they can be: 16 channels make two rows of 8, 12 two of 6.
    const rowCount = Math.ceil(m.channels / MAX_PER_ROW);
    const perRow = Math.ceil(m.channels / rowCount);
    const label = m.label || m.name;
    const note = toneNote(tone);
    out.push(`<g class="feature-map" data-name="${escapeXml(m.name)}">`);
    out.push(`<text x="0" y="${px(y + 12)}" fill="${INK}">${escapeXml(label)}<tspan dx="8" fill="${MUTED}" font-size="11">${note}</tspan></text>`);
    const top = y + 20;
    for (let c = 0; c < m.channels; c++) {
      const x = (c % perRow) * (tileW + GAP);
      const ty = top + Math.floor(c / perRow) * (tileH + GAP);
      out.push(`<g class="channel" data-channel="${c}">`);
      out.push(`<title>${escapeXml(m.name)}, channel ${c}</title>`);
      out.push(pixelTile(m.values, c * m.height * m.width, m.width, m.height, tone, x, ty, scale), tileFrame(x, ty, tileW, tileH));
      out.push('</g>');
    }
    out.push('</g>');
    width = Math.max(width, perRow * (tileW + GAP) - GAP, textWidth(label, 12) + 8 + textWidth(note, 11));
    y = top + rowCount * (tileH + GAP) - GAP + 14;
  }
  out.push('</g>');
  return { width, height: y - 14, body: out.join('') };
}

/**
 * Feature maps of one sample: per map a labelled row of channel tiles (wrapping after 8),
 * drawn on one scale per map so its channels compare: black 0 to white max for data
 * that is all >= 0 (after a ReLU), grey 0 between black and white for signed data.
 * Groups: <g class="feature-map" data-name>, and in it <g class="channel" data-channel>.
 */
export function renderFeatureMaps(maps: FeatureMap[], o: { scale?: number; title?: string } = {}): string {
  return standalone(featureMapsPart(maps, o));
}

// ---------------------------------------------------------------- bar lists

interface BarRow {
  label: string;
  value: number;
  text: string;
  title: string;
  /** The row to mark, and how: a class added to its group, and its bar colour. */
  mark?: { name: string; colour: string };
}

/**
 * Rows of "label  bar  value", bars from 0 to 1 (clamped; non-finite draws none), `pitch`
 * apart from `top`, each a <g class="`kind`" data-class="i">.
 */
function barRows(kind: string, rows: BarRow[], top: number, pitch: number, barW: number): { body: string; width: number } {
  const labelW = Math.max(...rows.map((r) => textWidth(r.label, 11)));
  const barX = labelW + 6;
  const out: string[] = [];
  rows.forEach((r, i) => {
    const y = top + i * pitch;
    const h = Math.min(pitch - 4, 14);
    const barY = y + (pitch - h) / 2;
    const v = Number.isFinite(r.value) ? Math.max(0, Math.min(1, r.value)) : 0;
    const cls = r.mark ? `${kind} ${r.mark.name}` : kind;
    const weight = r.mark ? ' font-weight="bold"' : '';
    out.push(`<g class="${cls}" data-class="${i}">`);
    out.push(`<title>${escapeXml(r.title)}</title>`);
    out.push(`<text x="${px(labelW)}" y="${px(y + pitch / 2 + 4)}" text-anchor="end" font-size="11" fill="${MUTED}"${weight}>${escapeXml(r.label)}</text>`);
    out.push(rect(barX, barY, barW, h, TRACK));
    if (v > 0) out.push(rect(barX, barY, barW * v, h, r.mark ? r.mark.colour : BAR));
    out.push(`<text x="${px(barX + barW + 5)}" y="${px(y + pitch / 2 + 4)}" font-size="11" fill="${INK}"${weight}>${escapeXml(r.text)}</text>`);
    out.push('</g>');
  });
  return { body: out.join(''), width: barX + barW + 5 + Math.max(...rows.map((r) => textWidth(r.text, 11))) };
}

/** The index of the largest finite value (the first of equals), or -1 when there is none. */
function argmax(values: ArrayLike<number>): number {
  let best = -1;
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i]) && (best < 0 || values[i] > values[best])) best = i;
  return best;
}

// ---------------------------------------------------------------- evaluation

/** Per-class accuracy, one bar per class on the confusion matrix's rows; the worst class in red. */
function perClassPart(perClass: number[], matrixTop: number, cell: number): Part {
  // Marked only when classes differ: with every class at 100% there is no worst.
  const finite = perClass.filter((v) => Number.isFinite(v));
  const differ = finite.length > 0 && Math.min(...finite) < Math.max(...finite);
  const worst = differ ? argmax(perClass.map((v) => (Number.isFinite(v) ? -v : NaN))) : -1;
  const title = 'correct per class';
  const bars = barRows(
    'class-accuracy',
    perClass.map((v, c) => ({
      label: String(c),
      value: v,
      text: percent(v, 2),
      title: `class ${c}: ${percent(v, 2)} correct`,
      mark: c === worst ? { name: 'worst', colour: WRONG } : undefined,
    })),
    matrixTop,
    cell,
    100,
  );
  const body = `<g class="per-class">${heading(title)}${bars.body}</g>`;
  return { width: Math.max(bars.width, textWidth(title, 13)), height: matrixTop + perClass.length * cell, body };
}

/**
 * One picture of an evaluation (MODEL.eval.svg): a heading (title, accuracy, count, mean
 * loss), the confusion heat map with the per-class accuracy beside it, row by row, and
 * the gallery of mistakes under them.
 */
export function renderEvaluation(e: EvalSummary): string {
  checkSquare('renderEvaluation', e.confusion);
  if (!Array.isArray(e.perClass) || e.perClass.length !== e.confusion.length) {
    throw new Error(`renderEvaluation: perClass has ${Array.isArray(e.perClass) ? e.perClass.length : 'no'} values for ${e.confusion.length} classes`);
  }
  const loss = Number.isFinite(e.loss) ? e.loss.toFixed(4) : 'n/a';
  const summary = `accuracy ${percent(e.accuracy, 2)} on ${whole(e.count)} images, mean loss ${loss}`;
  const title = e.title ? `<tspan font-weight="bold">${escapeXml(e.title)}</tspan><tspan dx="10">${summary}</tspan>` : summary;
  const headW = (e.title ? textWidth(e.title, 13) + 10 : 0) + textWidth(summary, 13);

  const confusion = confusionPart(e.confusion, { title: 'Confusion matrix' });
  const perClass = perClassPart(e.perClass, confusion.matrixTop, confusion.cell);
  const gallery = mistakesPart(e.mistakes, { title: 'Mistakes' });
  const top = 30;
  const besideX = confusion.width + 28;
  const galleryY = top + Math.max(confusion.height, perClass.height) + 20;
  const body = [
    `<text x="0" y="14" font-size="13" fill="${INK}">${title}</text>`,
    place(confusion, 0, top),
    place(perClass, besideX, top),
    place(gallery, 0, galleryY),
  ].join('');
  const width = Math.max(headW, besideX + perClass.width, gallery.width);
  return standalone({ width, height: galleryY + gallery.height, body });
}

// ---------------------------------------------------------------- explanation

/**
 * One prediction explained (predict --explain): the input digit scaled up, a bar per
 * class with its probability (the predicted class marked), and under them the feature
 * maps of each layer given.
 */
export function renderExplanation(x: { title?: string; digit: Image; maps: FeatureMap[]; probabilities: ArrayLike<number> }): string {
  const fn = 'renderExplanation';
  const { digit, probabilities } = x;
  checkSize(fn, 'the digit width', digit.width);
  checkSize(fn, 'the digit height', digit.height);
  checkLength(fn, 'the digit', digit.values.length, digit.width * digit.height, `${digit.width} x ${digit.height}`);
  if (probabilities.length === 0) throw new Error(`${fn}: probabilities is empty`);
  const maps = featureMapsPart(x.maps, {});

  const best = argmax(probabilities);
  const verdict = best >= 0 ? `predicted ${best} (${percent(probabilities[best], 1)})` : 'no prediction (no finite probability)';
  const head = x.title ? `<tspan font-weight="bold">${escapeXml(x.title)}</tspan><tspan dx="10">${verdict}</tspan>` : verdict;
  const headW = (x.title ? textWidth(x.title, 13) + 10 : 0) + textWidth(verdict, 13);

  const bytes = digit.values instanceof Uint8Array || digit.values instanceof Uint8ClampedArray;
  const tone = toneFor(digit.values, { max: digit.max ?? (bytes ? 255 : undefined) });
  const scale = Math.max(1, Math.round(112 / Math.max(digit.width, digit.height)));
  const top = 30;
  const digitW = digit.width * scale;
  const digitH = digit.height * scale;
  const input = [
    '<g class="input">',
    `<text x="0" y="${top + 12}" fill="${INK}">input ${digit.width} × ${digit.height}</text>`,
    pixelTile(digit.values, 0, digit.width, digit.height, tone, 0, top + 20, scale),
    tileFrame(0, top + 20, digitW, digitH),
    '</g>',
  ].join('');

  const rows: BarRow[] = [];
  for (let c = 0; c < probabilities.length; c++) {
    const p = probabilities[c];
    const text = Number.isFinite(p) && p > 0 && p < 0.001 ? '<0.1%' : percent(p, 1);
    rows.push({ label: String(c), value: p, text, title: `class ${c}: ${percent(p, 2)}`, mark: c === best ? { name: 'best', colour: CORRECT } : undefined });
  }
  const pitch = 16;
  const bars = barRows('probability', rows, top + 20, pitch, 160);
  const barsX = digitW + 36;
  const probs = `<g class="probabilities" transform="translate(${px(barsX)} 0)"><text x="0" y="${top + 12}" fill="${INK}">probabilities</text>${bars.body}</g>`;

  const mapsY = top + Math.max(20 + digitH, 20 + rows.length * pitch) + 24;
  const body = [`<text x="0" y="14" font-size="13" fill="${INK}">${head}</text>`, input, probs, place(maps, 0, mapsY)].join('');
  const width = Math.max(headW, barsX + bars.width, maps.width);
  return standalone({ width, height: mapsY + maps.height, body });
}
