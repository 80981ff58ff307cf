/**
 * The float64 references of tanh, sigmoid and dropout (src/reference/elementwise.ts):
 * exact values, large inputs, and every backward against central finite differences;
 * and dropout's keep mask (src/util/dropout-mask.ts) pinned to its formula by an
 * independent BigInt implementation and by literal values, so that the generator the
 * shader, the reference and the PyTorch twin share cannot change silently.
 * A fresh seed each run (override with SEED=...); every failure message names it.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { dropoutBackward, dropoutForward, sigmoidBackward, sigmoidForward, tanhBackward, tanhForward } from '../src/reference/elementwise';
import { dropoutBits, dropoutScale, dropoutThreshold, keepMask, mix } from '../src/util/dropout-mask';
import type { Runtime } from '../src/gpu/runtime';
import { Dropout } from '../src/ops/dropout';
import { Rng } from '../src/util/rng';
import { checkGrad, dot } from './helpers/finite-difference';

const SEED = process.env.SEED !== undefined ? Number(process.env.SEED) >>> 0 : Date.now() >>> 0;
const rngFor = (k: number) => new Rng((SEED + k * 0x9e3779b9) >>> 0);
const where = (what: string) => `${what} (seed ${SEED})`;

const normals = (rng: Rng, n: number) => Float64Array.from({ length: n }, () => rng.normal());


// ---------------------------------------------------------------- tanh, sigmoid

test('tanh forward: exact values, odd, and ±1 for large inputs', () => {
  assert.equal(Array.from(tanhForward(Float64Array.from([0, 1e30, -1e30, 100, -100]))), [0, 1, -1, 1, -1]);
  const y = tanhForward(Float64Array.from([Math.log(3) / 2, -Math.log(3) / 2]));
  assert.ok(Math.abs(y[0] - 0.5) < 1e-15 && Math.abs(y[1] + 0.5) < 1e-15, where(`tanh(ln(3)/2) = ${y[0]}, expected 0.5`));
});

test('sigmoid forward: exact values, 1 - sigmoid(-x), and finite for large inputs', () => {
  assert.equal(Array.from(sigmoidForward(Float64Array.from([0, 1e30, -1e30, 1000, -1000]))), [0.5, 1, 0, 1, 0]);
  const x = Float64Array.from([Math.log(3), -Math.log(3), 0.7, -0.7, 30, -30]);
  const y = sigmoidForward(x);
  assert.ok(Math.abs(y[0] - 0.75) < 1e-15 && Math.abs(y[1] - 0.25) < 1e-15, where(`sigmoid(ln 3) = ${y[0]}, sigmoid(-ln 3) = ${y[1]}`));
  for (let i = 0; i < x.length; i += 2) assert.ok(Math.abs(y[i] + y[i + 1] - 1) < 1e-15, where(`sigmoid(${x[i]}) + sigmoid(${x[i + 1]})`));
  assert.ok(Math.abs(y[5] / Math.exp(-30) - 1) < 1e-12, where(`sigmoid(-30) = ${y[5]}: the tail keeps its relative precision`));
});

test('tanh and sigmoid backward from the output: exact values and finite differences', () => {
  const g = Float64Array.from([2, 3, 4]);
  const y = Float64Array.from([0, 0.5, -1]);
  assert.equal(Array.from(tanhBackward(g, y)), [2, 3 * 0.75, 0], where('tanh backward exact'));
  assert.equal(Array.from(sigmoidBackward(g, Float64Array.from([0.5, 0.25, 1]))), [0.5, 3 * 0.75 * 0.25, 0], where('sigmoid backward exact'));
  const rng = rngFor(1);
  for (const [name, forward, backward] of [
    ['tanh', tanhForward, tanhBackward],
    ['sigmoid', sigmoidForward, sigmoidBackward],
  ] as const) {
    const input = Float64Array.from({ length: 41 }, () => rng.uniform(-4, 4));
    const doutput = normals(rng, input.length);
    checkGrad(`${name} dinput`, input, backward(doutput, forward(input)), () => dot(doutput, forward(input)), where);
  }
});

// ---------------------------------------------------------------- dropout

test('dropout forward/backward: exact values and finite differences', () => {
  const mask = Uint8Array.from([1, 0, 1, 1, 0]);
  const x = Float64Array.from([1, 2, -3, 0.5, 7]);
  assert.equal(Array.from(dropoutForward(x, mask, 0.5)), [2, 0, -6, 1, 0]);
  assert.equal(Array.from(dropoutBackward(x, mask, 0.75)), [4, 0, -12, 2, 0]);
  assert.equal(Array.from(dropoutForward(x, new Uint8Array(5).fill(1), 0)), Array.from(x), 'p = 0 is the identity');
  assert.throws(() => dropoutForward(x, mask.subarray(1), 0.5), /5 elements, a mask of 4/);
  const rng = rngFor(2);
  const m = keepMask(rng.nextU32(), 3, 1, 29, 0.3);
  const input = normals(rng, m.length);
  const doutput = normals(rng, m.length);
  checkGrad('dropout dinput', input, dropoutBackward(doutput, m, 0.3), () => dot(doutput, dropoutForward(input, m, 0.3)), where);
});

// The generator written again, from the formula, in BigInt arithmetic (no Math.imul, no >>> 0).
const M32 = (1n << 32n) - 1n;
function mixBig(x: bigint): bigint {
  x ^= x >> 16n;
  x = (x * 0x7feb352dn) & M32;
  x ^= x >> 15n;
  x = (x * 0x846ca68bn) & M32;
  return x ^ (x >> 16n);
}
const bitsBig = (seed: number, step: number, layer: number, i: number) =>
  Number(mixBig(mixBig(mixBig(mixBig(BigInt(seed)) ^ BigInt(step)) ^ BigInt(layer)) ^ BigInt(i)));

test('dropout mask: mix and bits as the formula says (an independent BigInt implementation)', () => {
  const rng = rngFor(3);
  for (const x of [0, 1, 0x7fffffff, 0x80000000, 0xffffffff]) assert.is(mix(x), Number(mixBig(BigInt(x))), `mix(${x})`);
  for (let k = 0; k < 2000; k++) {
    const [seed, step, layer, i] = [rng.nextU32(), 1 + rng.int(100_000), rng.int(16), rng.int(2 ** 24)];
    assert.is(dropoutBits(seed, step, layer, i), bitsBig(seed, step, layer, i), where(`bits(${seed}, ${step}, ${layer}, ${i})`));
  }
});

test('dropout mask: pinned values (what the shader and the PyTorch twin must give)', () => {
  // Worked out from the formula (in BigInt, and again in Python); a change here changes every run with dropout.
  assert.is(mix(0), 0);
  assert.is(mix(1), 0x688990c0);
  assert.is(dropoutBits(0, 1, 0, 0), 0x24009c6d);
  assert.is(dropoutBits(5, 1, 0, 0), 0xb59e15df);
  assert.is(dropoutBits(5, 1, 0, 1), 0x0ab2661a);
  assert.is(dropoutBits(5, 2, 0, 0), 0x41d5df70);
  assert.is(dropoutBits(5, 1, 3, 0), 0xc80b4ca9);
  assert.is(dropoutBits(0xdeadbeef, 12345, 7, 4096), 0xf0fbc001);
  assert.is(Array.from(keepMask(5, 1, 0, 16, 0.5)).join(''), '1001000101010010');
});

test('dropout mask: threshold, scale, p = 0 keeps all, bad p refused', () => {
  assert.is(dropoutThreshold(0), 0);
  assert.is(dropoutThreshold(0.25), 2 ** 30);
  assert.is(dropoutThreshold(0.5), 2 ** 31);
  assert.is(dropoutThreshold(0.9), 3865470566); // floor(3865470566.4)
  assert.is(dropoutThreshold(1 - 2 ** -53), 2 ** 32 - 1);
  assert.is(dropoutScale(0.5), 2);
  assert.is(dropoutScale(0.9), 1 / (1 - 0.9));
  assert.ok(keepMask(123, 4, 5, 1000, 0).every((k) => k === 1), 'p = 0 keeps every element');
  for (const p of [1, -0.1, NaN, 1.5]) assert.throws(() => dropoutThreshold(p), /p must be in \[0, 1\)/, `p = ${p}`);
});

test('dropout mask: kept fraction near 1 - p, and steps and layers give other masks', () => {
  const rng = rngFor(4);
  const seed = rng.nextU32();
  const n = 100_000;
  for (const p of [0.1, 0.25, 0.5, 0.9]) {
    const kept = keepMask(seed, 1, 0, n, p).reduce((s, k) => s + k, 0) / n;
    const sigma = Math.sqrt((p * (1 - p)) / n);
    assert.ok(Math.abs(kept - (1 - p)) < 6 * sigma, where(`p = ${p}: kept ${kept}`));
  }
  const same = (a: Uint8Array, b: Uint8Array) => a.reduce((s, v, i) => s + (v === b[i] ? 1 : 0), 0) / a.length;
  const base = keepMask(seed, 1, 0, n, 0.5);
  assert.equal(keepMask(seed, 1, 0, n, 0.5), base, 'the same step, the same mask');
  for (const [what, other] of [
    ['step 2', keepMask(seed, 2, 0, n, 0.5)],
    ['layer 1', keepMask(seed, 1, 1, n, 0.5)],
    ['seed + 1', keepMask((seed + 1) >>> 0, 1, 0, n, 0.5)],
  ] as const) {
    assert.ok(Math.abs(same(base, other) - 0.5) < 0.01, where(`${what}: ${same(base, other)} of the mask agrees with step 1's (independent: 0.5)`));
  }
});

test('Dropout.create refuses p outside [0, 1) and a layer that is not a u32, before any GPU work', async () => {
  const noGpu = {} as Runtime;
  const refused = async (options: { p: number; layer: number }) => {
    try {
      await Dropout.create(noGpu, 10, options);
    } catch (e) {
      return (e as Error).message;
    }
    return 'accepted';
  };
  assert.match(await refused({ p: 1, layer: 0 }), /dropout: p must be in \[0, 1\), got 1/);
  assert.match(await refused({ p: -0.5, layer: 0 }), /p must be in \[0, 1\)/);
  assert.match(await refused({ p: 0.5, layer: -1 }), /dropout: layer must be an integer in \[0, 4294967295\], got -1/);
  assert.match(await refused({ p: 0.5, layer: 1.5 }), /layer must be an integer/);
});

test.run();
