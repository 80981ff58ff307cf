/**
 * The largest batch an adapter lets a network train with, and a one-line error for
 * anything larger, raised before any GPU work. Everything that grows with the batch
 * is derived from the network's description:
 *
 * - Buffers sized per sample: the model's activations, what its stages keep for
 *   backward and the labels (modelBuffers), the gradients (gradientBuffers), each
 *   stage's per-image scratch (its kind's perImage) and a feed's batch indices. Kernels bind each of them
 *   whole, so each must fit maxStorageBufferBindingSize as well as maxBufferSize.
 *   Parameters, their gradients, Adam's moments and the packed weights do not grow.
 * - Dispatches: no kernel runs more invocations per sample than the largest of those
 *   buffers has elements, and Kernel.grid() must cover them (grid()).
 * - Loops, where the adapter has a loop limit (llvmpipe: an invocation's loops end
 *   after 65,535 iterations in all, silently, and the results are simply wrong): each
 *   kind says how many iterations its longest-looping invocation runs for a batch.
 */
import { grid } from '../gpu/kernel';
import { bytes, type PlanLimits, type Runtime } from '../gpu/runtime';
import { modelBuffers } from '../model/model';
import { resolve, type Network } from '../model/network';
import { NllLoss } from '../ops/nll_loss';
import { gradientBuffers } from './backprop';
import { Feed } from './feed';

export interface BatchBuffer {
  /** The GPU buffer's label, e.g. "conv1" (an activation) or "dconv1" (its gradient). */
  label: string;
  bytesPerSample: number;
}

/** Every buffer that training `network` sizes by the batch, in the order they are made. */
export function trainingBuffers(network: Network): BatchBuffer[] {
  const r = resolve(network);
  const model = modelBuffers(r);
  const grads = gradientBuffers(r);
  return [...model.act, ...model.saved, model.labels, ...grads.grad, ...grads.scratch, ...grads.perImage, Feed.perSample].map((b) => ({
    label: b.label,
    bytesPerSample: 4 * b.shape.reduce((a, n) => a * n, 1),
  }));
}

/** The most loop iterations one invocation runs in a training step of `batch`, and which stage's. */
function longestLoop(network: Network, batch: number): { iterations: number; what: string } {
  const r = resolve(network);
  const loops = [
    ...r.stages.flatMap((s) => (s.kind.loops ? [{ iterations: s.kind.loops(s, batch), what: `${s.name}'s ${s.op} kernels` }] : [])),
    { iterations: NllLoss.batchLoopIterations(batch, r.classes), what: 'nll_loss' },
  ];
  return loops.reduce((a, b) => (b.iterations > a.iterations ? b : a));
}

export interface BatchLimit {
  /** The largest batch that fits (0 where none does). */
  max: number;
  /** Why `batch` (larger than max) does not fit, naming the buffer or the loop that limits it. */
  reason(batch: number): string;
}

/** The largest n in [0, hi] with fits(n), for fits true up to some point and false after. */
function largest(fits: (n: number) => boolean, hi = 2 ** 32): number {
  let lo = 0;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fits(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * The largest batch `network` can train with under `limits`: the least of what each
 * buffer, the dispatches and (with `loopLimit`) the loops allow.
 */
export function batchLimit(network: Network, limits: PlanLimits, options: { loopLimit?: number; workgroupSize?: number; adapter?: string } = {}): BatchLimit {
  const buffers = trainingBuffers(network);
  const constraints: BatchLimit[] = [];
  const fmt = (n: number) => n.toLocaleString('en-US');
  for (const b of buffers) {
    const need = (batch: number) => `buffer "${b.label}" would need ${fmt(batch * b.bytesPerSample)} bytes (${fmt(b.bytesPerSample)} per sample)`;
    const binding = limits.maxStorageBufferBindingSize;
    constraints.push({ max: Math.floor(binding / b.bytesPerSample), reason: (n) => `${need(n)}, over the adapter's maxStorageBufferBindingSize of ${bytes(binding)}` });
    const buffer = Math.floor(limits.maxBufferSize / 16) * 16; // buffers are made in multiples of 16 bytes
    constraints.push({ max: Math.floor(buffer / b.bytesPerSample), reason: (n) => `${need(n)}, over the adapter's maxBufferSize of ${bytes(limits.maxBufferSize)}` });
  }
  const widest = buffers.reduce((a, b) => (b.bytesPerSample > a.bytesPerSample ? b : a));
  const perSample = widest.bytesPerSample / 4;
  const wg = options.workgroupSize ?? 64;
  constraints.push({
    max: largest((n) => grid(n * perSample, wg, limits.maxComputeWorkgroupsPerDimension) !== null),
    reason: (n) => `a kernel over buffer "${widest.label}" would run ${fmt(n * perSample)} invocations, more than one dispatch can index`,
  });
  const loopLimit = options.loopLimit;
  if (loopLimit !== undefined) {
    constraints.push({
      max: largest((n) => longestLoop(network, n).iterations <= loopLimit, loopLimit),
      reason: (n) => {
        const l = longestLoop(network, n);
        return `${l.what} would loop ${fmt(l.iterations)} times in one invocation, and ${options.adapter ?? 'the adapter'} ends an invocation's loops after ${fmt(loopLimit)} iterations in all`;
      },
    });
  }
  return constraints.reduce((a, b) => (b.max < a.max ? b : a));
}

/** Throws a one-line error where `batch` is more than the adapter lets `network` train with. */
export function checkBatchSize(rt: Runtime, network: Network, batch: number): void {
  const limit = batchLimit(network, rt.limits, { loopLimit: rt.adapter.loopLimit, workgroupSize: rt.workgroupSize, adapter: rt.adapter.name });
  if (batch <= limit.max) return;
  const head =
    limit.max === 0
      ? `no batch size fits ${network.name} on ${rt.adapter.name}`
      : `batch size ${batch} is larger than ${limit.max}, the most ${rt.adapter.name} allows for ${network.name}`;
  throw new Error(`${head}: ${limit.reason(batch)}`);
}
