/**
 * One op on the GPU against its float64 reference. A case states the op's tensors
 * (shape, element type, how an input is drawn), the dispatches that compute its
 * outputs, and the reference value of each output; checkOp does the rest:
 *
 * - a fresh seed per case, printed with any failure (LENET_SEED=... replays it);
 * - inputs drawn from that seed and rounded to float32 (or u32) before the
 *   reference sees them, so both sides compute on the same numbers;
 * - outputs poisoned before the dispatch (NaN, or 0xffffffff for u32), so an element
 *   the kernel forgets fails the test;
 * - the dispatches recorded into one compute pass and submitted (as often as `repeat` says);
 * - every output read back and compared: f32 with assertClose (no NaN or Inf, and
 *   relative error <= RTOL or, where the case gives the output an atol, every element
 *   within atol + RTOL·|ref|), u32 exactly. An output without a reference is an error,
 *   so nothing the kernels write goes unchecked. A failure names the output and the
 *   seed, and shows the first elements and the worst one (for f32 its
 *   |diff| / (atol + RTOL·|ref|), the multiple of its tolerance).
 */
import * as assert from 'uvu/assert';
import { submit, type Dispatch } from '../../src/gpu/dispatch';
import { numel, type Runtime, type Tensor } from '../../src/gpu/runtime';
import { Rng } from '../../src/util/rng';
import { assertClose, freshSeed, RTOL } from './gpu';

export interface TensorSpec {
  shape: readonly number[];
  /** Element type; f32 by default. */
  type?: 'f32' | 'u32';
  /** Uniform in [lo, hi): reals for f32 (inputs default to [-1, 1)), integers for u32. */
  range?: readonly [number, number];
  /** Contents of the test's own, drawn from the case's generator (instead of `range`). */
  values?: (rng: Rng, length: number) => ArrayLike<number>;
}

/** A shape alone is an f32 tensor: uniform in [-1, 1) as an input, poisoned as an output. */
export type Spec = readonly number[] | TensorSpec;
export type Specs = Record<string, Spec>;

/** What the reference sees of a tensor: float64 for f32 (the float32 values exactly), Uint32Array for u32. */
type Host<S> = S extends { type: 'u32' } ? Uint32Array : Float64Array;
export type Hosts<M extends Specs> = { [K in keyof M]: Host<M[K]> };

export interface OpCase<I extends Specs, O extends Specs> {
  /** The tensors the op reads. */
  inputs: I;
  /**
   * The tensors it writes, poisoned first unless `range` or `values` give them
   * contents (an accumulator, a tensor updated in place). Names differ from the inputs'.
   */
  outputs: O;
  /** The dispatches, given the tensors by name, in the order they are recorded. */
  dispatches(t: Record<keyof I | keyof O, Tensor>): readonly (Dispatch | readonly Dispatch[])[];
  /** Submits them `times` times (default once), calling `before(k)` (1-based) ahead of each. */
  repeat?: { times: number; before?(k: number): void };
  /**
   * The expected value of every output, from what the GPU was given: the inputs and
   * the outputs' contents before the dispatch. `gpu` holds what the GPU wrote, for a
   * backward checked on the GPU's own forward output.
   */
  reference(x: Hosts<I> & Hosts<O>, gpu: Hosts<O>): { [K in keyof O]: ArrayLike<number> };
  /**
   * An f32 output's absolute tolerance, for one that may pass element by element
   * (|gpu - ref| <= atol + RTOL·|ref|) where its relative error does not: one that is
   * zero, or nearly, in exact arithmetic, whose float32 result is rounding only.
   */
  atol?: { [K in keyof O]?: number };
  /**
   * Tensors the op made and binds itself (PackedWeights' packed copies), by name, in
   * place of fresh ones: the harness writes their contents and reads them back as it
   * does its own. Their lengths must be their specs'.
   */
  made?: { [K in keyof I | keyof O]?: Tensor };
}

export interface OpResult<I extends Specs, O extends Specs> {
  seed: number;
  /** Every tensor as the GPU was given it. */
  x: Hosts<I> & Hosts<O>;
  /** Every output as the GPU wrote it. */
  gpu: Hosts<O>;
}

/** Runs a case and checks every output against its reference; the result serves further checks. */
export async function checkOp<I extends Specs, O extends Specs>(rt: Runtime, c: OpCase<I, O>): Promise<OpResult<I, O>> {
  const seed = freshSeed();
  const rng = new Rng(seed);
  const tensors: Record<string, Tensor> = {};
  const x: Record<string, Float64Array | Uint32Array> = {};
  const place = (name: string, spec: TensorSpec, output: boolean) => {
    if (name in tensors) throw new Error(`checkOp: "${name}" is both an input and an output`);
    const data = contents(spec, rng, output, name);
    const made = c.made?.[name as keyof I | keyof O];
    if (made && made.length !== data.length) throw new Error(`checkOp: "${name}" is made with ${made.length} elements, its spec has ${data.length}`);
    tensors[name] = made ?? rt.tensor(name, spec.shape);
    rt.write(tensors[name], data);
    x[name] = data instanceof Uint32Array ? data : Float64Array.from(data);
  };
  for (const [name, spec] of Object.entries(c.inputs)) place(name, full(spec), false);
  for (const [name, spec] of Object.entries(c.outputs)) place(name, full(spec), true);

  const list = c.dispatches(tensors as Record<keyof I | keyof O, Tensor>).flat() as Dispatch[];
  for (let k = 1; k <= (c.repeat?.times ?? 1); k++) {
    c.repeat?.before?.(k);
    submit(rt, list, 'op under test');
  }

  const gpu: Record<string, Float64Array | Uint32Array> = {};
  for (const [name, spec] of Object.entries(c.outputs)) {
    gpu[name] = isU32(spec) ? await rt.readU32(tensors[name]) : Float64Array.from(await rt.read(tensors[name]));
  }
  const result = { seed, x: x as Hosts<I> & Hosts<O>, gpu: gpu as Hosts<O> };
  const expected: Record<string, ArrayLike<number>> = c.reference(result.x, result.gpu);
  for (const name of Object.keys(expected)) {
    if (!(name in c.outputs)) throw new Error(`checkOp: the reference gives "${name}", which is not an output`);
  }
  const atol: Record<string, number | undefined> = c.atol ?? {};
  for (const [name, value] of Object.entries(atol)) {
    if (!(name in c.outputs) || isU32(c.outputs[name])) throw new Error(`checkOp: an atol for "${name}", which is not an f32 output`);
    if (!(value !== undefined && value >= 0)) throw new Error(`checkOp: the atol for "${name}" is ${value}`);
  }
  for (const [name, spec] of Object.entries(c.outputs)) {
    const want = expected[name];
    if (!want) throw new Error(`checkOp: output "${name}" has no reference`);
    if (isU32(spec)) assertEqualU32(name, gpu[name], want, seed);
    else assertClose(name, gpu[name], want, seed, RTOL, atol[name] ?? 0);
  }
  return result;
}

/** A layer with weights' float64 reference, forward and backward, with the parameter names src/reference/ops.ts uses. */
export interface WeightedReference<S> {
  forward(s: S, input: Float64Array, weight: Float64Array, bias: Float64Array): Float64Array;
  backwardInput(s: S, doutput: Float64Array, weight: Float64Array): Float64Array;
  backwardWeight(s: S, doutput: Float64Array, input: Float64Array): Float64Array;
  backwardBias(s: S, doutput: Float64Array): Float64Array;
}

type LayerTensors = Record<'input' | 'weight' | 'bias' | 'output', readonly number[]>;
type LayerNames = 'input' | 'weight' | 'bias' | 'doutput' | 'output' | 'dinput' | 'dweight' | 'dbias';

/**
 * A layer with weights, forward and backward (the input's, the weights' and the
 * bias's gradients) in one submission, against the reference: `dispatches` records
 * the layer's kernels on the tensors by name.
 */
export function checkLayer<S>(
  rt: Runtime,
  s: S,
  shapes: LayerTensors,
  reference: WeightedReference<S>,
  dispatches: (t: Record<LayerNames, Tensor>) => readonly (Dispatch | readonly Dispatch[])[],
) {
  const { input, weight, bias, output } = shapes;
  return checkOp(rt, {
    inputs: { input, weight, bias, doutput: output },
    outputs: { output, dinput: input, dweight: weight, dbias: bias },
    dispatches,
    reference: (x) => ({
      output: reference.forward(s, x.input, x.weight, x.bias),
      dinput: reference.backwardInput(s, x.doutput, x.weight),
      dweight: reference.backwardWeight(s, x.doutput, x.input),
      dbias: reference.backwardBias(s, x.doutput),
    }),
  });
}

/**
 * Values of a ReLU's output: uniform in [lo, hi), the negatives clipped to 0, so
 * exact zeros occur (for kernels that mask a gradient with them).
 */
export function afterRelu(lo: number, hi: number): TensorSpec['values'] {
  return (rng, length) => Float32Array.from({ length }, () => Math.max(rng.uniform(lo, hi), 0));
}

/** Every element equal; a failure shows how many differ, and the first few. */
function assertEqualU32(what: string, gpu: ArrayLike<number>, want: ArrayLike<number>, seed: number): void {
  assert.is(gpu.length, want.length, `${what}: length (seed ${seed})`);
  const differ: number[] = [];
  for (let i = 0; i < want.length; i++) if (gpu[i] !== want[i]) differ.push(i);
  if (differ.length === 0) return;
  const rows = differ.slice(0, 6).map((i) => `\n    [${i}] gpu ${gpu[i]}  ref ${want[i]}`).join('');
  assert.unreachable(`${what}: ${differ.length} of ${want.length} elements differ (seed ${seed}); the first:${rows}`);
}

function full(spec: Spec): TensorSpec {
  return 'shape' in spec ? spec : { shape: spec };
}

function isU32(spec: Spec): boolean {
  return full(spec).type === 'u32';
}

/** A tensor's contents before the dispatch. */
function contents(spec: TensorSpec, rng: Rng, output: boolean, name: string): Float32Array | Uint32Array {
  const length = numel(spec.shape);
  const u32 = spec.type === 'u32';
  const make = (values: ArrayLike<number>) => (u32 ? Uint32Array.from(values) : Float32Array.from(values));
  if (spec.values) {
    const values = spec.values(rng, length);
    if (values.length !== length) throw new Error(`checkOp: "${name}" has ${length} elements, its values function gave ${values.length}`);
    return make(values);
  }
  const data = u32 ? new Uint32Array(length) : new Float32Array(length);
  if (output && !spec.range) return data.fill(u32 ? 0xffffffff : NaN);
  const [lo, hi] = spec.range ?? [-1, 1];
  for (let i = 0; i < length; i++) data[i] = u32 ? lo + rng.int(hi - lo) : rng.uniform(lo, hi);
  return data;
}
