// Gradients of the float64 references against central finite differences: the check
// each reference's backward gets in the CPU pass.
import * as assert from 'uvu/assert';

/** Finite-difference step, and the tolerance relative to max(1, |numeric|). */
export const H = 1e-6;
export const TOL = 1e-6;

export function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/**
 * analytic[i] against the central difference of f along x[i], for every i; f must read
 * x each call. `where` adds the case's seed (or whatever replays it) to each message.
 */
export function checkGrad(what: string, x: Float64Array, analytic: Float64Array, f: () => number, where: (message: string) => string = (m) => m): void {
  assert.is(analytic.length, x.length, where(`${what}: gradient length`));
  assert.ok(analytic.some((g) => Math.abs(g) > 1e-4), where(`${what}: gradient is all ~zero`));
  for (let i = 0; i < x.length; i++) {
    const old = x[i];
    x[i] = old + H;
    const fp = f();
    x[i] = old - H;
    const fm = f();
    x[i] = old;
    const numeric = (fp - fm) / (2 * H);
    assert.ok(Math.abs(analytic[i] - numeric) <= TOL * Math.max(1, Math.abs(numeric)), where(`${what}[${i}]: got ${analytic[i]}, expected ${numeric}`));
  }
}
