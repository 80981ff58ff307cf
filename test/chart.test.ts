/**
 * Tests of the training chart (src/chart): the markup is well formed for every awkward
 * history (empty, one point, NaN/Infinity, 200k steps), each series draws exactly its
 * finite values, the title is escaped, and the tick helper gives round, exact ticks.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { escapeXml, formatTick, niceTicks, renderChart, type EpochPoint, type History, type StepPoint } from '../src/chart/chart';
import { assertBalanced, assertWellFormed } from './helpers/svg';

// ---------------------------------------------------------------- helpers


/** The markup of one panel's group ("loss" or "accuracy"). */
function panel(svg: string, name: string): string {
  const start = svg.indexOf(`<g class="panel-${name}">`);
  assert.ok(start >= 0, `panel ${name} present`);
  let depth = 0;
  const tag = /<(\/?)g\b[^>]*?(\/?)>/g;
  tag.lastIndex = start;
  for (const m of svg.matchAll(tag)) {
    if (m.index! < start || m[2]) continue;
    depth += m[1] ? -1 : 1;
    if (depth === 0) return svg.slice(start, m.index! + m[0].length);
  }
  throw new Error(`panel ${name} not closed`);
}

/** Point counts of the polylines with this class, in order. */
function polylinePoints(svg: string, cls: string): number[] {
  const re = new RegExp(`<polyline class="${cls}" points="([^"]*)"`, 'g');
  return [...svg.matchAll(re)].map((m) => m[1].trim().split(/\s+/).filter(Boolean).length);
}

function count(svg: string, needle: string): number {
  return svg.split(needle).length - 1;
}

/** A seeded, plausible run: loss falls, accuracy rises, a test point per epoch. */
function history(epochs: number, perEpoch: number): History {
  let seed = 1;
  const noise = () => ((seed = (seed * 48271) % 2147483647) / 2147483647 - 0.5);
  const steps: StepPoint[] = [];
  const eps: EpochPoint[] = [];
  for (let e = 0; e < epochs; e++) {
    for (let i = 1; i <= perEpoch; i++) {
      const epoch = e + i / perEpoch;
      steps.push({
        step: Math.round(epoch * 469),
        epoch,
        loss: 0.05 + 2.25 * Math.exp(-3 * epoch) + 0.05 * noise(),
        accuracy: 0.99 - 0.89 * Math.exp(-3.5 * epoch) + 0.005 * noise(),
      });
    }
    eps.push({ epoch: e + 1, trainLoss: 0.1, trainAccuracy: 0.97, testLoss: 0.08 - 0.01 * e, testAccuracy: 0.975 + 0.003 * e });
  }
  return { steps, epochs: eps };
}

test('the balance checker itself catches broken markup', () => {
  assertBalanced('<svg><g><rect/></g><text>a &lt; b</text></svg>');
  // Not assert.throws: uvu rethrows its own assertion errors from inside it.
  const fails = (svg: string) => {
    try {
      assertBalanced(svg);
    } catch {
      return true;
    }
    return false;
  };
  assert.ok(fails('<svg><g></svg>'), 'wrong closing tag');
  assert.ok(fails('<svg><g></g>'), 'unclosed tag');
  assert.ok(fails('<svg><text>a < b</text></svg>'), 'stray <');
});

// ---------------------------------------------------------------- niceTicks

test('niceTicks: round steps covering the range', () => {
  assert.equal(niceTicks(0, 0.93, 5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.equal(niceTicks(0, 5, 5), [0, 1, 2, 3, 4, 5]);
  assert.equal(niceTicks(0, 2.3, 5), [0, 0.5, 1, 1.5, 2, 2.5]);
  assert.equal(niceTicks(10, 99, 5), [0, 20, 40, 60, 80, 100]);
  assert.equal(niceTicks(97.5, 98.9, 5), [97.5, 98, 98.5, 99]);
  assert.equal(niceTicks(0, 1.25, 5), [0, 0.5, 1, 1.5]);
  assert.equal(niceTicks(-3, 7, 5), [-4, -2, 0, 2, 4, 6, 8]);
  assert.equal(niceTicks(0, 123456, 5), [0, 50000, 100000, 150000]);
  assert.equal(niceTicks(0, 0.00093, 5), [0, 0.0002, 0.0004, 0.0006, 0.0008, 0.001]);
});

test('niceTicks: values are the exact decimals, not 0.6000000000000001', () => {
  for (const [lo, hi, n] of [[0, 0.93, 5], [0.1, 0.7, 6], [0, 0.0031, 7], [1.1, 1.37, 4]] as const) {
    for (const t of niceTicks(lo, hi, n)) assert.is(t, Number(t.toPrecision(12)), `tick ${t} of (${lo}, ${hi})`);
  }
});

test('niceTicks: ticks bracket [min, max] with at most count + 2 of them', () => {
  for (const [lo, hi, n] of [[0.013, 0.97, 5], [3, 1e6, 4], [-0.5, 0.5, 3], [97.51, 98.93, 5], [0, 4.9999, 6], [1e-7, 3e-7, 5]]) {
    const t = niceTicks(lo, hi, n);
    assert.ok(t[0] <= lo && t[t.length - 1] >= hi, `(${lo}, ${hi}) -> ${t}`);
    assert.ok(t.length >= 2 && t.length <= n + 2, `(${lo}, ${hi}, ${n}) -> ${t.length} ticks`);
    const step = t[1] - t[0];
    const mantissa = step / 10 ** Math.floor(Math.log10(step) + 1e-9);
    assert.ok([1, 2, 5].some((m) => Math.abs(mantissa - m) < 1e-6), `step ${step} is 1, 2 or 5 x 10^k`);
  }
});

test('niceTicks: degenerate input', () => {
  assert.equal(niceTicks(0, 0, 5), [-1, -0.5, 0, 0.5, 1]);
  assert.equal(niceTicks(2, 2, 4), [1.8, 1.9, 2, 2.1, 2.2]);
  assert.equal(niceTicks(1, 0, 5), niceTicks(0, 1, 5), 'reversed');
  assert.equal(niceTicks(NaN, 1, 5), []);
  assert.equal(niceTicks(0, Infinity, 5), []);
  assert.equal(niceTicks(0, 1, 0), [0, 1], 'count below 1 means one interval');
});

test('formatTick: decimals follow the step', () => {
  assert.is(formatTick(0.6, 0.2), '0.6');
  assert.is(formatTick(1, 0.2), '1.0');
  assert.is(formatTick(0, 0.2), '0');
  assert.is(formatTick(15, 5), '15');
  assert.is(formatTick(0.05, 0.05), '0.05');
  assert.is(formatTick(-0.00001, 0.5), '0.0', 'no "-0.0"');
  assert.is(formatTick(1.5e6, 5e5), '1.5e6');
  assert.is(formatTick(0.00015, 0.00005), '1.5e-4');
  assert.is(formatTick(NaN, 1), '');
});

test('escapeXml', () => {
  assert.is(escapeXml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
});

// ---------------------------------------------------------------- renderChart

test('a realistic run: well formed, one train line per panel, a marker per test value', () => {
  const h = history(5, 20);
  const svg = renderChart(h, { title: 'LeNet-5' });
  assertWellFormed(svg);
  assert.match(svg, /<rect width="900" height="360" fill="#fff"\/>/);
  assert.match(svg, /font-family="sans-serif"/);
  assert.match(svg, />LeNet-5<\/text>/);
  for (const name of ['loss', 'accuracy']) {
    const p = panel(svg, name);
    assert.equal(polylinePoints(p, 'train'), [100], `${name}: one train line through every step`);
    assert.equal(polylinePoints(p, 'test'), [5], `${name}: one dashed test line`);
    assert.is(count(p, 'class="test-marker"'), 5, `${name}: test markers`);
    assert.match(p, /stroke-dasharray="5 4"/);
  }
  assert.match(svg, />Loss</);
  assert.match(svg, />Accuracy \(%\)</);
  assert.match(svg, />epoch</);
  assert.not.match(svg, /no data yet/);
});

test('NaN and Infinity are skipped, counted, and never printed', () => {
  const h = history(3, 10);
  h.steps[0].loss = NaN;
  h.steps[4].loss = Infinity;
  h.steps[7].loss = -Infinity;
  h.steps[5].accuracy = NaN;
  h.steps[9].epoch = NaN; // drops the step from both panels
  h.epochs[1].testLoss = NaN;
  h.epochs[2].testAccuracy = Infinity;
  const svg = renderChart(h);
  assertWellFormed(svg);
  const loss = panel(svg, 'loss');
  const acc = panel(svg, 'accuracy');
  assert.equal(polylinePoints(loss, 'train'), [30 - 4]);
  assert.equal(polylinePoints(acc, 'train'), [30 - 2]);
  assert.is(count(loss, 'class="test-marker"'), 2);
  assert.is(count(acc, 'class="test-marker"'), 2);
  assert.match(loss, /5 non-finite values skipped/);
  assert.match(acc, /3 non-finite values skipped/);
});

test('test markers only for epochs that have test values', () => {
  const h = history(4, 5);
  delete h.epochs[0].testLoss;
  delete h.epochs[0].testAccuracy;
  delete h.epochs[3].testAccuracy;
  const svg = renderChart(h);
  assertWellFormed(svg);
  assert.is(count(panel(svg, 'loss'), 'class="test-marker"'), 3);
  assert.is(count(panel(svg, 'accuracy'), 'class="test-marker"'), 2);
  assert.not.match(svg, /skipped/, 'an absent test value is not a skipped one');
});

test('no test values: no test line, markers or legend entry', () => {
  const h = history(2, 5);
  h.epochs = [];
  const svg = renderChart(h);
  assertWellFormed(svg);
  assert.not.match(svg, /class="test/);
  assert.not.match(svg, />test</);
  assert.match(svg, />train</);
});

test('the title is escaped', () => {
  const svg = renderChart(history(1, 3), { title: '<script>alert("x")</script> & co' });
  assertWellFormed(svg);
  assert.not.match(svg, /<script/);
  assert.ok(svg.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co'));
});

test('empty history: empty axes saying "no data yet"', () => {
  const svg = renderChart({ steps: [], epochs: [] });
  assertWellFormed(svg);
  assert.is(count(svg, 'no data yet'), 2);
  assert.not.match(svg, /<polyline|<circle/);
  assert.match(svg, />0\.2</, 'x ticks over one epoch');
  assert.match(svg, />1\.0</);
  assert.match(svg, />100</, 'accuracy ticks up to 100%');
});

test('only non-finite values: like empty, plus the note', () => {
  const svg = renderChart({ steps: [{ step: 1, epoch: 0.01, loss: NaN, accuracy: NaN }], epochs: [] });
  assertWellFormed(svg);
  assert.is(count(svg, 'no data yet'), 2);
  assert.match(svg, /1 non-finite value skipped/);
});

test('a single point draws a dot on sane axes', () => {
  const svg = renderChart({ steps: [{ step: 1, epoch: 0.002, loss: 2.31, accuracy: 0.11 }], epochs: [] });
  assertWellFormed(svg);
  assert.equal(polylinePoints(svg, 'train'), [1, 1]);
  assert.is(count(svg, 'class="train-dot"'), 2);
  const single = renderChart({ steps: [], epochs: [{ epoch: 1, trainLoss: 0, trainAccuracy: 1, testLoss: 0, testAccuracy: 1 }] });
  assertWellFormed(single);
  assert.is(count(single, 'class="test-marker"'), 2);
});

test('before any step is logged, per-epoch train values make the train line', () => {
  const h = history(3, 4);
  const svg = renderChart({ steps: [], epochs: h.epochs });
  assertWellFormed(svg);
  assert.equal(polylinePoints(svg, 'train'), [3, 3]);
});

test('200k steps: thinned to a few points per pixel, still well formed', () => {
  const h = history(50, 4000);
  h.steps[123456].loss = 40; // a spike must survive thinning
  const svg = renderChart(h);
  assertWellFormed(svg);
  const [lossPoints, accPoints] = polylinePoints(svg, 'train');
  assert.ok(lossPoints <= 4 * 400 && accPoints <= 4 * 400, `${lossPoints}, ${accPoints} points`);
  assert.ok(svg.length < 100_000, `${svg.length} characters`);
  assert.match(panel(svg, 'loss'), />40</, 'the spike sets the loss axis');
  const ys = /<polyline class="train" points="([^"]*)"/.exec(panel(svg, 'loss'))![1].split(' ').map((p) => Number(p.split(',')[1]));
  const top = /<rect x="[\d.]+" y="([\d.]+)"/.exec(panel(svg, 'loss'))![1];
  assert.is(Math.min(...ys), Number(top), 'the spike reaches the top of the plot');
});

test('coordinates are rounded to 0.1 px', () => {
  const svg = renderChart(history(3, 37), { width: 777, height: 333 });
  const numbers = [...svg.matchAll(/(?:points|cx|cy|x|y|d)="([^"]*)"/g)].flatMap((m) => m[1].match(/-?\d+(\.\d+)?/g) ?? []);
  assert.ok(numbers.length > 100);
  for (const n of numbers) assert.ok(!/\.\d\d/.test(n), `${n} has more than one decimal`);
});

test('size options, with a floor and defaults for nonsense', () => {
  assert.match(renderChart(history(1, 2), { width: 1200, height: 500 }), /^<svg[^>]* width="1200" height="500" viewBox="0 0 1200 500"/);
  assert.match(renderChart(history(1, 2), { width: 100, height: 50 }), /^<svg[^>]* width="600" height="240"/);
  assert.match(renderChart(history(1, 2), { width: NaN, height: Infinity }), /^<svg[^>]* width="900" height="360"/);
});

test.run();
