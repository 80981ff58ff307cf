// Shared pieces of the GPU tests: a device per test file (gpuSuite), random inputs
// that the CPU reference sees exactly as the GPU does (rounded to float32),
// NaN-poisoned outputs, and the comparison against the reference. op-harness.ts
// builds an op's whole check on them.
import { suite, type Test } from 'uvu';
import * as assert from 'uvu/assert';
import { requestGpu } from '../../src/gpu/node';
import { Runtime, numel, type Tensor } from '../../src/gpu/runtime';
import { Rng } from '../../src/util/rng';

export const RTOL = 1e-5;

export async function openRuntime(): Promise<Runtime> {
  return new Runtime(await requestGpu());
}

/** A uvu suite whose tests get the file's Runtime as `rt` in their context: `test('...', async ({ rt }) => ...)`. */
export function gpuSuite(name: string): Test<{ rt: Runtime }> {
  const test = suite(name, { rt: undefined as unknown as Runtime });
  test.before(async (context) => {
    context.rt = await openRuntime();
  });
  test.after(({ rt }) => rt.destroy());
  return test;
}

/** A fresh seed each run, printed with any failure so it can be replayed (LENET_SEED). */
export function freshSeed(): number {
  const fixed = process.env.LENET_SEED;
  return fixed ? Number(fixed) : (Date.now() ^ (Math.random() * 0x7fffffff)) >>> 0;
}

export interface Input {
  tensor: Tensor;
  /** The same values in float64, after rounding to float32. */
  values: Float64Array;
}

export function randomInput(rt: Runtime, rng: Rng, label: string, shape: readonly number[], lo = -1, hi = 1): Input {
  const data = new Float32Array(numel(shape));
  for (let i = 0; i < data.length; i++) data[i] = rng.uniform(lo, hi);
  const tensor = rt.tensor(label, shape);
  rt.write(tensor, data);
  return { tensor, values: Float64Array.from(data) };
}

/** An output tensor filled with NaN, so an element the kernel forgets fails the test. */
export function poisoned(rt: Runtime, label: string, shape: readonly number[]): Tensor {
  const tensor = rt.tensor(label, shape);
  rt.write(tensor, new Float32Array(tensor.length).fill(NaN));
  return tensor;
}

export function poisonedU32(rt: Runtime, label: string, shape: readonly number[]): Tensor {
  const tensor = rt.tensor(label, shape);
  rt.write(tensor, new Uint32Array(tensor.length).fill(0xffffffff));
  return tensor;
}

/** ||gpu - ref|| / ||ref||, and where the worst element is. */
function relativeError(gpu: ArrayLike<number>, ref: ArrayLike<number>) {
  let diff = 0;
  let norm = 0;
  let worst = 0;
  let worstAt = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = gpu[i] - ref[i];
    diff += d * d;
    norm += ref[i] * ref[i];
    if (!(Math.abs(d) <= worst)) {
      worst = Math.abs(d);
      worstAt = i;
    }
  }
  return { rel: Math.sqrt(diff) / Math.max(Math.sqrt(norm), 1e-30), worst, worstAt };
}

/** Asserts the GPU result matches the reference within `rtol`, with no NaN or Inf. */
/**
 * gpu against ref: their relative error (||gpu - ref|| / ||ref||) at most rtol, or else
 * every element within atol + rtol·|ref| (a tensor that is zero in exact arithmetic,
 * such as the bias gradient of a layer a batchnorm follows, is only rounding).
 */
export function assertClose(what: string, gpu: ArrayLike<number>, ref: ArrayLike<number>, seed: number, rtol = RTOL, atol = 0): void {
  assert.is(gpu.length, ref.length, `${what}: length (seed ${seed})`);
  const bad = Array.prototype.findIndex.call(gpu, (v: number) => !Number.isFinite(v));
  const head = (a: ArrayLike<number>) => Array.from(a).slice(0, 6).map((v) => v.toPrecision(6)).join(', ');
  if (bad >= 0) {
    assert.unreachable(`${what}: element ${bad} is ${gpu[bad]} (seed ${seed})\n  gpu: ${head(gpu)}\n  ref: ${head(ref)}`);
  }
  const e = relativeError(gpu, ref);
  const within = atol > 0 && Array.prototype.every.call(gpu, (v: number, i: number) => Math.abs(v - ref[i]) <= atol + rtol * Math.abs(ref[i]));
  if (!(e.rel <= rtol) && !within) {
    assert.unreachable(
      `${what}: relative error ${e.rel.toExponential(3)} > ${rtol} (seed ${seed}); worst |diff| ${e.worst.toExponential(3)} at ${e.worstAt}` +
        ` (gpu ${gpu[e.worstAt]}, ref ${ref[e.worstAt]})\n  gpu: ${head(gpu)}\n  ref: ${head(ref)}`,
    );
  }
}
