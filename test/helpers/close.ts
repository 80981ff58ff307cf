// The comparison of a GPU result with its float64 reference (the GPU tests' assertClose),
// apart from the GPU helpers so that CPU tests can check it too.
import * as assert from 'uvu/assert';

export const RTOL = 1e-5;

/**
 * How far gpu is from ref: ||gpu - ref|| / ||ref||, and element by element
 * |gpu - ref| / (atol + rtol·|ref|) (its tolerance's multiple: above 1 is past it), the
 * worst of them and the first few elements past their tolerance.
 */
export function closeness(gpu: ArrayLike<number>, ref: ArrayLike<number>, rtol: number, atol: number) {
  let diff = 0;
  let norm = 0;
  let worst = 0;
  let worstAt = 0;
  let past = 0;
  const firstPast: number[] = [];
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(gpu[i] - ref[i]);
    diff += d * d;
    norm += ref[i] * ref[i];
    const tolerance = atol + rtol * Math.abs(ref[i]);
    const ratio = d === 0 ? 0 : tolerance > 0 ? d / tolerance : Infinity;
    if (!(ratio <= worst)) {
      worst = ratio;
      worstAt = i;
    }
    if (!(d <= tolerance)) {
      past++;
      if (firstPast.length < 4) firstPast.push(i);
    }
  }
  return { rel: Math.sqrt(diff) / Math.max(Math.sqrt(norm), 1e-30), worst, worstAt, past, firstPast };
}

const show = (v: number) => (Number.isFinite(v) ? v.toPrecision(7) : String(v));

/** The first few elements of both, and the ones given, one per line: index, gpu, ref, |diff|. */
function elements(gpu: ArrayLike<number>, ref: ArrayLike<number>, also: readonly number[] = []): string {
  const first = Array.from({ length: Math.min(ref.length, 6) }, (_, i) => i);
  const rows = [...new Set([...first, ...also])].sort((a, b) => a - b);
  return rows.map((i) => `\n    [${i}] gpu ${show(gpu[i])}  ref ${show(ref[i])}  |diff| ${Math.abs(gpu[i] - ref[i]).toExponential(2)}`).join('');
}

/**
 * gpu against ref, with no NaN or Inf: their relative error (||gpu - ref|| / ||ref||)
 * at most rtol, or else, with an atol, every element within atol + rtol·|ref| (a tensor
 * that is zero in exact arithmetic, such as the bias gradient of a layer a batchnorm
 * follows, is only rounding). A failure names the seed, shows the first few elements
 * and the worst element's |diff| / (atol + rtol·|ref|).
 */
export function assertClose(what: string, gpu: ArrayLike<number>, ref: ArrayLike<number>, seed: number, rtol = RTOL, atol = 0): void {
  assert.is(gpu.length, ref.length, `${what}: length (seed ${seed})`);
  const bad = Array.prototype.findIndex.call(gpu, (v: number) => !Number.isFinite(v));
  if (bad >= 0) {
    assert.unreachable(`${what}: element ${bad} is ${gpu[bad]} (seed ${seed})${elements(gpu, ref, [bad])}`);
  }
  const e = closeness(gpu, ref, rtol, atol);
  if (!(e.rel <= rtol) && !(atol > 0 && e.past === 0)) {
    const tolerance = atol > 0 ? `${atol} + ${rtol}·|ref|` : `${rtol}·|ref|`;
    assert.unreachable(
      `${what}: relative error ${e.rel.toExponential(3)} > ${rtol} (seed ${seed})` +
        `\n  worst element: [${e.worstAt}] |diff| ${Math.abs(gpu[e.worstAt] - ref[e.worstAt]).toExponential(3)} is ${e.worst.toPrecision(3)} x its ${tolerance}` +
        ` (gpu ${show(gpu[e.worstAt])}, ref ${show(ref[e.worstAt])}); ${e.past} of ${ref.length} elements past it` +
        `\n  the first elements, the first past their tolerance and the worst:${elements(gpu, ref, [...e.firstPast, e.worstAt])}`,
    );
  }
}
