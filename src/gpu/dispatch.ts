/**
 * A dispatch is a kernel with its bind group and grid, made once at set-up and
 * encoded as often as needed. A training step is a list of them in one compute pass.
 */
import type { Kernel } from './kernel';
import { range, type Runtime, type Tensor } from './runtime';

export interface Dispatch {
  kernel: Kernel;
  bindGroup: GPUBindGroup;
  grid: [number, number, number];
  /** Which layer this is, for profiles (e.g. "conv1"). */
  label?: string;
  /** What the dispatch must do at the least, for profiles (npm run bench:kernels). */
  cost: Cost;
}

/**
 * The useful work of a dispatch: floating-point operations of the math it computes
 * (a multiply-add is two; padding and recomputation not counted), and the bytes of
 * the tensors it binds, each counted once (what it must read or write at the least).
 */
export interface Cost {
  flops: number;
  bytes: number;
}

/**
 * Binds the named tensors, and the op's `params` uniform where the entry point reads
 * it, to a kernel, for `invocations` threads. `cost` gives the dispatch's FLOPs (none
 * by default) and, where it reads only part of a tensor, its bytes (by default the
 * bound tensors' sizes).
 */
export function dispatch(
  kernel: Kernel,
  params: GPUBuffer,
  tensors: Record<string, Tensor>,
  invocations: number,
  cost: Partial<Cost> = {},
): Dispatch {
  const resources: Record<string, GPUBuffer | ReturnType<typeof range>> = kernel.bindingNames.includes('params') ? { params } : {};
  let bytes = 0;
  for (const [name, t] of Object.entries(tensors)) {
    resources[name] = range(t);
    bytes += t.length * 4;
  }
  return { kernel, bindGroup: kernel.bind(resources), grid: kernel.grid(invocations), cost: { flops: cost.flops ?? 0, bytes: cost.bytes ?? bytes } };
}

/**
 * Elements per invocation of the kernels that do little for each one (activations,
 * dropout, max-pooling, input preparation, Adam: their PER override, consecutive
 * elements).
 * llvmpipe pays for every invocation besides its work: ReLU over 200,704 values took
 * 755 us with one element per invocation and 292 us with 16, lenet5's pool1 forward
 * 481 and 319 us (Mesa 25.0.7). The same results whatever the number.
 */
export const PER_INVOCATION = 16;

/**
 * Invocations rounded up to whole workgroups of `kernel`: where the next part of a
 * dispatch that holds several starts (the shaders' aligned()).
 */
export function wholeWorkgroups(invocations: number, kernel: Kernel): number {
  const wg = kernel.workgroupSize[0];
  return Math.ceil(invocations / wg) * wg;
}

export function encode(pass: GPUComputePassEncoder, list: readonly Dispatch[]): void {
  for (const d of list) {
    pass.setPipeline(d.kernel.pipeline);
    pass.setBindGroup(0, d.bindGroup);
    pass.dispatchWorkgroups(d.grid[0], d.grid[1], d.grid[2]);
  }
}

/** Records the dispatches into one compute pass and submits them; does not wait. */
export function submit(rt: Runtime, list: readonly Dispatch[], label = 'dispatches'): void {
  const encoder = rt.device.createCommandEncoder({ label });
  const pass = encoder.beginComputePass({ label });
  encode(pass, list);
  pass.end();
  rt.device.queue.submit([encoder.finish()]);
}

/** Checks that a tensor has the number of elements an op expects. */
export function expectLength(op: string, name: string, t: Tensor, length: number): void {
  if (t.length !== length) {
    throw new Error(`${op}: ${name} has ${t.length} elements [${t.shape.join(', ')}], expected ${length}`);
  }
}
