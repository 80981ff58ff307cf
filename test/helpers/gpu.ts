// Shared pieces of the GPU tests: a device per test file (gpuSuite), random inputs
// that the CPU reference sees exactly as the GPU does (rounded to float32),
// NaN-poisoned outputs, and the comparison against the reference (close.ts). op-harness.ts
// builds an op's whole check on them.
import { suite, type Test } from 'uvu';
import * as assert from 'uvu/assert';
import { WgslReflect } from 'wgsl_reflect/wgsl_reflect.module.js';
import { requestGpu } from '../../src/gpu/node';
import { Runtime, numel, type Tensor } from '../../src/gpu/runtime';
import { SHADERS } from '../../src/shaders';
import { Rng } from '../../src/util/rng';

export { assertClose, closeness, RTOL } from './close';

export async function openRuntime(): Promise<Runtime> {
  return new Runtime(await requestGpu());
}

/**
 * A uvu suite whose tests get the file's Runtime as `rt` in their context: `test('...', async ({ rt }) => ...)`.
 * A suite named for a shader (test/gpu/<shader>.test.ts) ends with a test that its
 * tests compiled every entry point of shaders/<shader>.wgsl.
 */
export function gpuSuite(name: string): Test<{ rt: Runtime }> {
  const test = suite(name, { rt: undefined as unknown as Runtime });
  test.before(async (context) => {
    context.rt = await openRuntime();
  });
  test.after(({ rt }) => rt.destroy());
  const source = SHADERS[name];
  if (source !== undefined) {
    const run = test.run;
    test.run = () => {
      test(`every entry point of shaders/${name}.wgsl was compiled by these tests`, ({ rt }) => {
        const entries = new WgslReflect(source).entry.compute.map((f) => f.name);
        const missing = entries.filter((e) => !rt.compiled.includes(`${name}.${e}`));
        assert.equal(missing, [], `not compiled: ${missing.join(', ')} (compiled: ${rt.compiled.join(', ')})`);
      });
      run();
    };
  }
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
