/**
 * Tests of the pictures of what the network learned (src/chart/pictures.ts): every
 * renderer's markup is well formed, escaped and free of NaN; the colour rule gives the
 * documented greys; pixel tiles are PNGs (decoded here by pngjs) with a level per value; the groups the page hooks onto carry the
 * right data attributes; and wrong sizes throw.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PNG } from 'pngjs';
import {
  greyHex,
  greyLevel,
  renderConfusion,
  renderEvaluation,
  renderExplanation,
  renderFeatureMaps,
  renderFilters,
  renderMistakes,
  toneFor,
  type EvalSummary,
  type FeatureMap,
  type Mistake,
} from '../src/chart/pictures';
import { assertWellFormed } from './helpers/svg';

// ---------------------------------------------------------------- helpers

/** Well formed, standalone (namespace and size), and without ids. */
function assertPicture(svg: string): void {
  assertWellFormed(svg);
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" width="\d+" height="\d+" viewBox="0 0 \d+ \d+"/);
  assert.not.match(svg, /\bid=/, 'no ids: several pictures share a page');
}

function count(svg: string, needle: string): number {
  return svg.split(needle).length - 1;
}

/** The markup of every group whose opening tag starts with `opening`, nested <g>s included. */
function groups(svg: string, opening: string): string[] {
  const out: string[] = [];
  let from = 0;
  for (;;) {
    const start = svg.indexOf(opening, from);
    if (start < 0) return out;
    let depth = 0;
    const tag = /<(\/?)g\b[^>]*?(\/?)>/g;
    tag.lastIndex = start;
    let m: RegExpExecArray | null;
    while ((m = tag.exec(svg))) {
      if (m[2]) continue;
      depth += m[1] ? -1 : 1;
      if (depth === 0) break;
    }
    if (!m) throw new Error(`${opening} not closed`);
    out.push(svg.slice(start, m.index + m[0].length));
    from = start + 1;
  }
}

/** The fills of the rects in `svg`, in order, frames (fill="none") left out. */
function fills(svg: string): string[] {
  return [...svg.matchAll(/<rect [^>]*fill="([^"]*)"/g)].map((m) => m[1]).filter((f) => f !== 'none');
}

interface Tile {
  x: number;
  y: number;
  width: number;
  height: number;
  /** The PNG's own size, and its grey levels, decoded by pngjs. */
  w: number;
  h: number;
  levels: Uint8Array;
}

/** The pixel tiles in `svg`: each <image>'s place and its PNG decoded. */
function tiles(svg: string): Tile[] {
  return [...svg.matchAll(/<image x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)"[^>]* href="data:image\/png;base64,([^"]+)"\/>/g)].map((m) => {
    const png = PNG.sync.read(Buffer.from(m[5], 'base64'));
    const levels = Uint8Array.from({ length: png.width * png.height }, (_, i) => png.data[4 * i]);
    return { x: Number(m[1]), y: Number(m[2]), width: Number(m[3]), height: Number(m[4]), w: png.width, h: png.height, levels };
  });
}

/** The grey levels of the one tile in `svg`. */
function levels(svg: string): number[] {
  const t = tiles(svg);
  assert.is(t.length, 1, 'one pixel tile');
  return Array.from(t[0].levels);
}

/** The commonest level of a tile (its background). */
function commonest(ls: number[]): number {
  const n = new Array<number>(256).fill(0);
  for (const l of ls) n[l]++;
  return n.indexOf(Math.max(...n));
}

function throwsWith(fn: () => unknown, pattern: RegExp): void {
  try {
    fn();
  } catch (e) {
    assert.match((e as Error).message, pattern);
    assert.not.match((e as Error).message, /\n/, 'one-line message');
    return;
  }
  assert.unreachable(`expected an Error matching ${pattern}`);
}

/** A seeded stand-in for a handwritten digit: a ring of anti-aliased ink on black. */
function digit(seed = 1): Uint8Array {
  const px = new Uint8Array(28 * 28);
  let s = seed;
  const noise = () => ((s = (s * 48271) % 2147483647) / 2147483647);
  for (let r = 0; r < 28; r++) {
    for (let c = 0; c < 28; c++) {
      const d = Math.hypot(r - 14, c - 14);
      if (d > 5 && d < 9) px[r * 28 + c] = d > 6 && d < 8 ? 255 : Math.round(80 + 120 * noise());
    }
  }
  return px;
}

function mistake(index: number, label = 3, predicted = 5, probability = 0.973): Mistake {
  return { index, label, predicted, probability, pixels: digit(index + 1), rows: 28, cols: 28 };
}

/** A 10-class confusion matrix of a good model: big diagonal, a few mistakes. */
function confusion10(): number[][] {
  const m = Array.from({ length: 10 }, (_, t) => Array.from({ length: 10 }, (_, p) => (t === p ? 970 + t : 0)));
  m[3][5] = 12;
  m[4][9] = 7;
  m[7][2] = 1;
  return m;
}

function featureMap(name: string, channels: number, size: number, f: (i: number) => number, label = `${name}: ${channels} × ${size} × ${size}`): FeatureMap {
  return { name, label, channels, height: size, width: size, values: Float32Array.from({ length: channels * size * size }, (_, i) => f(i)) };
}

// ---------------------------------------------------------------- the colour rule

test('colour rule: non-negative data, 0 black and the maximum white', () => {
  const tone = toneFor([0, 1, 2, 4]);
  assert.equal(tone, { signed: false, max: 4 });
  assert.is(greyHex(greyLevel(4, tone)), '#ffffff');
  assert.is(greyHex(greyLevel(0, tone)), '#000000');
  assert.is(greyHex(greyLevel(2, tone)), '#808080');
  assert.is(greyLevel(9, tone), 255, 'beyond the scale clamps');
  assert.is(greyLevel(NaN, tone), 0, 'non-finite is 0');
  assert.is(greyLevel(Infinity, tone), 0);
});

test('colour rule: signed data, 0 grey, +max white, -max black', () => {
  const tone = toneFor([-0.5, 0, 0.25, NaN, -Infinity]);
  assert.equal(tone, { signed: true, max: 0.5 });
  assert.is(greyHex(greyLevel(0, tone)), '#808080');
  assert.is(greyHex(greyLevel(0.5, tone)), '#ffffff');
  assert.is(greyHex(greyLevel(-0.5, tone)), '#000000');
  assert.is(greyLevel(NaN, tone), 128);
  assert.ok(greyLevel(0.25, tone) > 128 && greyLevel(-0.25, tone) < 128);
});

test('colour rule: all-zero data divides by nothing', () => {
  const tone = toneFor(new Float32Array(25));
  assert.equal(tone, { signed: false, max: 0 });
  assert.is(greyLevel(0, tone), 0);
  assert.is(greyLevel(0, { signed: true, max: 0 }), 128);
  const svg = renderFilters(new Float32Array(6 * 25), [6, 1, 5, 5]);
  assertPicture(svg);
  for (const tile of groups(svg, '<g class="filter"')) assert.ok(levels(tile).every((l) => l === 128), 'all-zero filters are grey');
  const maps = renderFeatureMaps([featureMap('conv1', 6, 14, () => 0)]);
  assertPicture(maps);
  assert.match(maps, /all zero/);
});

// ---------------------------------------------------------------- pixels

test('pixel tiles: one PNG each, a pixel per value, scaled without smoothing', () => {
  const blank = renderMistakes([{ ...mistake(0), pixels: new Uint8Array(784) }]);
  assertPicture(blank);
  const [tile] = groups(blank, '<g class="mistake"');
  const [t] = tiles(tile);
  assert.equal([t.w, t.h, t.width, t.height], [28, 28, 56, 56], '28x28 pixels at scale 2');
  assert.ok(t.levels.every((l) => l === 0), 'blank is black');
  assert.match(tile, /preserveAspectRatio="none" image-rendering="optimizeSpeed" style="image-rendering:pixelated"/);

  const row = new Uint8Array(784);
  row.fill(255, 10 * 28, 11 * 28);
  const [solid] = groups(renderMistakes([{ ...mistake(0), pixels: row }]), '<g class="mistake"');
  assert.equal(levels(solid), Array.from(row));
});

test("pixel tiles: a digit's bytes are its grey levels exactly", () => {
  const [tile] = groups(renderMistakes([mistake(0)]), '<g class="mistake"');
  assert.equal(levels(tile), Array.from(digit(1)));
});

// ---------------------------------------------------------------- confusion

test('confusion: one cell group per cell with its count and title', () => {
  const m = confusion10();
  const svg = renderConfusion(m, { title: 'LeNet-5' });
  assertPicture(svg);
  const cells = groups(svg, '<g class="cell"');
  assert.is(cells.length, 100);
  for (let t = 0; t < 10; t++) {
    for (let p = 0; p < 10; p++) {
      const cell = cells[t * 10 + p];
      const c = m[t][p];
      assert.ok(cell.startsWith(`<g class="cell" data-true="${t}" data-predicted="${p}" data-count="${c}">`), cell.slice(0, 80));
      assert.ok(cell.includes(`<title>true ${t}, predicted ${p}: ${c} ${c === 1 ? 'image' : 'images'}</title>`));
      assert.is(count(cell, '<text'), c === 0 ? 0 : 1, 'a count written only where non-zero');
      if (c !== 0) assert.ok(cell.includes(`>${c}</text>`));
    }
  }
  assert.match(svg, /<title>true 7, predicted 2: 1 image<\/title>/);
  assert.match(svg, /<title>true 3, predicted 5: 12 images<\/title>/);
  assert.match(svg, />true</);
  assert.match(svg, />predicted</);
  assert.match(svg, />LeNet-5</);
});

test('confusion: diagonal in one hue, mistakes in another, zero white', () => {
  const cells = groups(renderConfusion(confusion10()), '<g class="cell"');
  const fill = (t: number, p: number) => fills(cells[t * 10 + p])[0];
  assert.is(fill(9, 9), '#2c7bb6', 'largest diagonal: full blue');
  assert.is(fill(3, 5), '#d62728', 'largest mistake: full red');
  assert.is(fill(0, 1), '#ffffff', 'zero: white');
  assert.is.not(fill(7, 2), '#ffffff', 'one mistake is tinted');
  assert.is.not(fill(7, 2), fill(3, 5), 'fewer mistakes, lighter');
});

test('confusion: any size from 1, NaN counts drawn as 0', () => {
  const one = renderConfusion([[5]]);
  assertPicture(one);
  assert.is(count(one, 'class="cell"'), 1);
  const three = renderConfusion([
    [1, NaN, 0],
    [Infinity, 2, 0],
    [0, 0, 123456],
  ]);
  assertPicture(three);
  assert.is(count(three, 'class="cell"'), 9);
  assert.match(three, /data-true="0" data-predicted="1" data-count="0"/);
});

test('confusion: empty or non-square matrices throw', () => {
  throwsWith(() => renderConfusion([]), /renderConfusion: the confusion matrix is empty/);
  throwsWith(() => renderConfusion([[1, 2], [3]]), /must be square: row 1 has 1 entries for 2 rows/);
  throwsWith(() => renderConfusion([[1, 2, 3], [4, 5, 6]]), /must be square/);
});

// ---------------------------------------------------------------- mistakes

test('mistakes: order, limit, data-index, captions and titles', () => {
  const list = Array.from({ length: 30 }, (_, i) => mistake(1000 + i, i % 10, (i + 1) % 10, 0.99 - i * 0.01));
  const svg = renderMistakes(list);
  assertPicture(svg);
  const tiles = groups(svg, '<g class="mistake"');
  assert.is(tiles.length, 24, 'default limit');
  assert.equal(
    tiles.map((t) => Number(/data-index="(\d+)"/.exec(t)![1])),
    list.slice(0, 24).map((m) => m.index),
    'in the order given',
  );
  assert.ok(tiles[0].includes('>0 → 1 99%</text>'), tiles[0].slice(-80));
  assert.ok(tiles[0].includes('<title>test image 1000: a 0 taken for a 1 (99.0%)</title>'));
  assert.match(svg, /the first 24 of 30/);

  const five = renderMistakes(list, { limit: 5, columns: 2 });
  assertPicture(five);
  assert.is(count(five, 'class="mistake"'), 5);
  const xs = [...five.matchAll(/<g class="mistake"[^>]*>.*?<text x="([\d.]+)"/g)].map((m) => Number(m[1]));
  assert.is(new Set(xs).size, 2, 'two columns');
});

test('mistakes: the brief example, 97.3% and a 3 taken for a 5', () => {
  const svg = renderMistakes([mistake(1234)]);
  assert.ok(svg.includes('>3 → 5 97%</text>'));
  assert.ok(svg.includes('<title>test image 1234: a 3 taken for a 5 (97.3%)</title>'));
  assert.not.match(svg, /the first/);
});

test('mistakes: none is a small picture saying so', () => {
  const svg = renderMistakes([]);
  assertPicture(svg);
  assert.match(svg, /no mistakes/);
  assert.is(count(svg, 'class="mistake"'), 0);
  const width = Number(/width="(\d+)"/.exec(svg)![1]);
  assert.ok(width < 300, `${width} px wide`);
});

test('mistakes: escaped title, a NaN probability, wrong sizes throw', () => {
  const svg = renderMistakes([mistake(7, 1, 7, NaN)], { title: '<script>alert("x")</script>' });
  assertPicture(svg);
  assert.not.match(svg, /<script/);
  assert.ok(svg.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;'));
  assert.ok(svg.includes('>1 → 7 ?</text>'));
  throwsWith(() => renderMistakes([{ ...mistake(0), pixels: new Uint8Array(783) }]), /renderMistakes: mistake 0's pixels has 783 values, 28 x 28 needs 784/);
  throwsWith(() => renderMistakes([{ ...mistake(0), rows: 0 }]), /rows must be a whole number >= 1/);
  throwsWith(() => renderMistakes([{ ...mistake(0), label: NaN }]), /mistake 0 has label NaN/);
});

// ---------------------------------------------------------------- filters

test('filters: conv1 is one labelled row of 6 tiles', () => {
  const w = Float32Array.from({ length: 150 }, (_, i) => Math.sin(i * 1.7) * 0.3);
  w[7] = 0.6; // the largest |w| of the set: white
  w[8] = 0;
  const svg = renderFilters(w, [6, 1, 5, 5], { title: 'conv1' });
  assertPicture(svg);
  const tiles = groups(svg, '<g class="filter"');
  assert.is(tiles.length, 6);
  tiles.forEach((t, i) => {
    assert.ok(t.startsWith(`<g class="filter" data-out="${i}" data-in="0">`));
    assert.ok(t.includes(`>${i}</text>`), 'labelled with its output channel');
  });
  assert.ok(levels(tiles[0]).includes(255), 'max |w| is white');
  const ys = new Set(tiles.map((t) => t.match(/<image x="[\d.]+" y="([\d.]+)"/)![1]));
  assert.is(ys.size, 1, 'one row');
  assert.match(svg, /white \+0\.6, grey 0, black -0\.6/);
});

test('filters: conv2 is out x in tiles on one scale', () => {
  const w = Float32Array.from({ length: 16 * 6 * 25 }, (_, i) => Math.cos(i * 0.37));
  const svg = renderFilters(w, [16, 6, 5, 5]);
  assertPicture(svg);
  assert.is(count(svg, 'class="filter"'), 96);
  assert.match(svg, /data-out="15" data-in="5"/);
  assert.is(count(svg, '<image'), 96);
});

test('filters: wrong lengths and shapes throw', () => {
  throwsWith(() => renderFilters(new Float32Array(149), [6, 1, 5, 5]), /renderFilters: weights has 149 values, shape \[6, 1, 5, 5\] needs 150/);
  throwsWith(() => renderFilters(new Float32Array(0), [0, 1, 5, 5]), /shape\[0\] must be a whole number >= 1, got 0/);
});

// ---------------------------------------------------------------- feature maps

test('feature maps: a labelled group per map, a tile per channel, 16 channels wrap', () => {
  const pool1 = featureMap('pool1', 6, 14, (i) => (i % 7) / 3, 'conv1 → ReLU → pool1: 6 × 14 × 14');
  const pool2 = featureMap('pool2', 16, 5, (i) => Math.sin(i) * 2, 'conv2 → pool2: 16 × 5 × 5');
  const svg = renderFeatureMaps([pool1, pool2], { title: 'what <the> layers see' });
  assertPicture(svg);
  assert.ok(svg.includes('what &lt;the&gt; layers see'));
  const [g1, g2] = groups(svg, '<g class="feature-map"');
  assert.ok(g1.startsWith('<g class="feature-map" data-name="pool1">'));
  assert.ok(g2.startsWith('<g class="feature-map" data-name="pool2">'));
  assert.ok(g1.includes('conv1 → ReLU → pool1: 6 × 14 × 14'));
  assert.is(count(g1, 'class="channel"'), 6);
  assert.is(count(g2, 'class="channel"'), 16);
  assert.match(g2, /data-channel="15"/);

  const tileY = (g: string) => [...g.matchAll(/<g class="channel"[^>]*><title>[^<]*<\/title><image x="([\d.]+)" y="([\d.]+)" width="([\d.]+)"/g)];
  assert.is(new Set(tileY(g1).map((m) => m[2])).size, 1, '6 channels: one row');
  const t2 = tileY(g2);
  assert.is(new Set(t2.map((m) => m[2])).size, 2, '16 channels: two rows');
  assert.is(new Set(t2.map((m) => m[1])).size, 8, 'of 8');
  assert.ok(Number(t2[0][3]) >= 40, `a 5x5 tile is ${t2[0][3]} px wide`);
  // Signed data (no ReLU): 0 is grey; after a ReLU, 0 is black.
  assert.match(g2, /white \+2, grey 0, black -2/);
  assert.match(g1, /black 0, white 2/);
});

test('feature maps: one scale per layer, NaN drawn as 0, names escaped', () => {
  const values = new Float32Array(2 * 4 * 4);
  values.fill(1, 0, 16); // channel 0 all 1
  values.fill(2, 16, 32); // channel 1 all 2: white, so channel 0 is mid-grey
  values[3] = NaN;
  const svg = renderFeatureMaps([{ name: 'a"b', label: '<x>', channels: 2, height: 4, width: 4, values }]);
  assertPicture(svg);
  assert.ok(svg.includes('data-name="a&quot;b"'));
  assert.ok(svg.includes('>&lt;x&gt;<'));
  const [c0, c1] = groups(svg, '<g class="channel"');
  assert.is(commonest(levels(c0)), 128, 'half the layer maximum');
  assert.is(levels(c0)[3], 0, 'NaN as 0');
  assert.ok(levels(c1).every((l) => l === 255));
});

test('feature maps: wrong lengths throw, none draws a note', () => {
  throwsWith(() => renderFeatureMaps([{ ...featureMap('c', 6, 14, () => 1), channels: 5 }]), /renderFeatureMaps: map 0 \(c\) has 1176 values, 5 x 14 x 14 needs 980/);
  throwsWith(() => renderFeatureMaps([{ ...featureMap('c', 1, 2, () => 1), width: 1.5 }]), /map 0's width must be a whole number/);
  const none = renderFeatureMaps([]);
  assertPicture(none);
  assert.match(none, /no feature maps/);
});

// ---------------------------------------------------------------- compositions

function summary(): EvalSummary {
  const confusion = confusion10();
  const perClass = confusion.map((row, t) => row[t] / row.reduce((a, b) => a + b, 0));
  const mistakes = [mistake(1234), mistake(99, 4, 9, 0.9), mistake(5, 7, 2, 0.51)];
  return { title: 'lenet5 <test>', accuracy: 0.9893, loss: 0.034567, count: 10000, perClass, confusion, mistakes };
}

test('evaluation: heading, confusion, per-class bars and the gallery in one picture', () => {
  const svg = renderEvaluation(summary());
  assertPicture(svg);
  assert.is(count(svg, '<svg'), 1, 'one standalone document');
  assert.ok(svg.includes('lenet5 &lt;test&gt;'));
  assert.match(svg, /accuracy 98\.93% on 10000 images, mean loss 0\.0346/);
  assert.is(count(svg, 'class="confusion"'), 1);
  assert.is(count(svg, 'class="cell"'), 100);
  assert.is(groups(svg, '<g class="per-class"').length, 1);
  const bars = groups(svg, '<g class="class-accuracy');
  assert.is(bars.length, 10);
  assert.match(bars[3], /98\.78%/);
  assert.is(count(svg, 'class="class-accuracy worst"'), 1);
  assert.match(svg, /class="class-accuracy worst" data-class="3"/);
  assert.is(groups(svg, '<g class="mistakes"').length, 1);
  assert.equal(
    [...svg.matchAll(/class="mistake" data-index="(\d+)"/g)].map((m) => m[1]),
    ['1234', '99', '5'],
  );
});

test('evaluation: no mistakes, NaN metrics, mismatched per-class', () => {
  const e = { ...summary(), title: undefined, mistakes: [], loss: NaN, accuracy: Infinity };
  const svg = renderEvaluation(e);
  assertPicture(svg);
  assert.match(svg, /no mistakes/);
  assert.match(svg, /accuracy n\/a/);
  throwsWith(() => renderEvaluation({ ...summary(), perClass: [1, 1] }), /renderEvaluation: perClass has 2 values for 10 classes/);
  throwsWith(() => renderEvaluation({ ...summary(), confusion: [[1, 2]] }), /renderEvaluation: the confusion matrix must be square/);
});

test('explanation: the digit, ten bars with the highest marked, the feature maps', () => {
  const probabilities = new Float32Array(10).fill(0.001);
  probabilities[7] = 0.991;
  probabilities[1] = 0.0000001;
  const maps = [featureMap('pool1', 6, 14, (i) => i % 3), featureMap('pool2', 16, 5, (i) => Math.sin(i))];
  const svg = renderExplanation({ title: 'my <digit>', digit: { width: 28, height: 28, values: digit() }, maps, probabilities });
  assertPicture(svg);
  assert.is(count(svg, '<svg'), 1);
  assert.ok(svg.includes('my &lt;digit&gt;'));
  assert.match(svg, /predicted 7 \(99\.1%\)/);
  const bars = groups(svg, '<g class="probability');
  assert.is(bars.length, 10);
  assert.is(count(svg, 'class="probability best"'), 1);
  assert.ok(bars[7].startsWith('<g class="probability best" data-class="7">'));
  assert.match(bars[7], /font-weight="bold"/);
  assert.match(bars[1], /&lt;0\.1%/, 'tiny probabilities say so');
  assert.is(count(svg, 'class="feature-map"'), 2);
  assert.is(count(svg, 'class="channel"'), 22);
  // Bytes: 255 is white.
  const [input] = groups(svg, '<g class="input"');
  assert.ok(levels(input).includes(255));
  assert.is(commonest(levels(input)), 0, 'black background');
});

test('explanation: float digits scale by their maximum, bad sizes throw', () => {
  const values = Float32Array.from(digit(), (v) => v / 510); // 0..0.5
  const svg = renderExplanation({ digit: { width: 28, height: 28, values }, maps: [], probabilities: [0.5, 0.5] });
  assertPicture(svg);
  const [input] = groups(svg, '<g class="input"');
  assert.ok(levels(input).includes(255), 'the brightest pixel is white');
  assert.is(count(svg, 'class="probability best"'), 1, 'a tie marks the first');
  const allNaN = renderExplanation({ digit: { width: 2, height: 2, values: [NaN, 1, 2, 3] }, maps: [], probabilities: [NaN, NaN] });
  assertPicture(allNaN);
  assert.is(count(allNaN, 'class="probability best"'), 0);
  throwsWith(
    () => renderExplanation({ digit: { width: 28, height: 28, values: new Uint8Array(783) }, maps: [], probabilities: [1] }),
    /renderExplanation: the digit has 783 values, 28 x 28 needs 784/,
  );
  throwsWith(() => renderExplanation({ digit: { width: 1, height: 1, values: [0] }, maps: [], probabilities: [] }), /probabilities is empty/);
});

test.run();
