// The GPU tests' comparison with the float64 reference (test/helpers/close.ts): a
// relative error within rtol passes; with an atol, so does every element within
// atol + rtol·|ref|, and nothing looser; a failure names the seed, the worst element's
// multiple of its tolerance and the first elements.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assertClose, closeness } from './helpers/close';

/** The message assertClose fails with, or null where it passes. */
function failure(gpu: number[], ref: number[], rtol?: number, atol?: number): string | null {
  try {
    assertClose('t', gpu, ref, 42, rtol, atol);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

test('a relative error within rtol passes, even where one element is far off in its own terms', () => {
  assert.is(failure([1, 1e-3 + 1e-6], [1, 1e-3], 1e-5), null);
  assert.ok(failure([1, 1e-3 + 1e-4], [1, 1e-3], 1e-5));
});

test('with an atol, every element within atol + rtol·|ref| passes; one element past it fails', () => {
  // A tensor that is zero in exact arithmetic: its relative error is huge, its elements are rounding.
  assert.ok(failure([1e-9, -2e-9], [0, 0], 1e-5));
  assert.is(failure([1e-9, -2e-9], [0, 0], 1e-5, 2e-9), null);
  assert.ok(failure([1e-9, -2.1e-9], [0, 0], 1e-5, 2e-9));
  // The bound is atol + rtol·|ref| per element, at its edge included.
  assert.is(failure([0, 1 + 2e-5], [1e-30, 1], 1e-5, 1e-5), null);
  assert.ok(failure([0, 1 + 2.001e-5], [1e-30, 1], 1e-5, 1e-5));
});

test('NaN, Inf and a length that differs always fail', () => {
  assert.match(failure([NaN, 1], [0, 1], 1e-5, 1)!, /t: element 0 is NaN \(seed 42\)/);
  assert.match(failure([1, -Infinity], [1, 1], 1e-5, 1)!, /element 1 is -Infinity/);
  assert.ok(failure([1], [1, 1], 1e-5, 1));
});

test('a failure shows the worst element as a multiple of its tolerance, how many are past it, and the first elements', () => {
  const ref = Array.from({ length: 20 }, (_, i) => i + 1);
  const gpu = ref.slice();
  gpu[9] += 0.5; // |diff| 0.5 against 1e-3 + 1e-5·10: 455 times its tolerance
  gpu[15] += 0.01;
  const m = failure(gpu, ref, 1e-5, 1e-3)!;
  assert.match(m, /^t: relative error \S+ > 0\.00001 \(seed 42\)/);
  assert.match(m, /worst element: \[9\] \|diff\| 5\.000e-1 is 455 x its 0\.001 \+ 0\.00001·\|ref\| \(gpu 10\.50000, ref 10\.00000\); 2 of 20 elements past it/);
  for (const i of [0, 5, 9, 15]) assert.match(m, new RegExp(`\\n    \\[${i}\\] gpu `), `element ${i} shown`);
  assert.not.match(m, /\[6\] gpu/);
  const c = closeness(gpu, ref, 1e-5, 1e-3);
  assert.equal([c.worstAt, c.past, c.firstPast], [9, 2, [9, 15]]);
});

test.run();
