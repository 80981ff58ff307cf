/**
 * A network's parameters as PyTorch names and shapes them (its state_dict), and where
 * each lives in the engine's flat buffers. Parameters, gradients and Adam's two
 * moments are four flat float32 buffers with the same layout, so Adam is one
 * dispatch and a checkpoint is four copies. Every tensor starts on a 256-byte
 * boundary (64 floats), as WebGPU requires of a binding's offset; the padding
 * between tensors stays zero in all four buffers, and Adam leaves zeros unchanged.
 */
import type { Tensor } from '../gpu/runtime';
import type { Rng } from '../util/rng';
import type { ParamSpec } from './kind';
import { resolve, type Network, type Resolved } from './network';

export interface Slot {
  /** The state_dict name, e.g. "conv1.weight". */
  name: string;
  shape: readonly number[];
  /** How PyTorch initialises it (ParamSpec's init). */
  init: ParamSpec['init'];
  /** A parameter (trained), a buffer (batchnorm's running statistics) or a counter (num_batches_tracked). */
  role: ParamSpec['role'];
  /** The stage it belongs to. */
  stage: string;
  /** In elements; a multiple of 64. */
  offset: number;
  length: number;
}

const ALIGN = 64;

export class ParameterTable {
  readonly slots: readonly Slot[];
  /** Elements in a flat buffer, padding included. */
  readonly flatLength: number;
  /** Parameters proper, as PyTorch's model.parameters() counts them (61,706 for LeNet-5). */
  readonly count: number;
  readonly names: ReadonlySet<string>;

  constructor(readonly resolved: Resolved) {
    const slots: Slot[] = [];
    let offset = 0;
    // In state_dict order: the stages', each in its kind's order.
    for (const stage of resolved.stages) {
      for (const p of stage.kind.params?.(stage) ?? []) {
        const length = p.shape.reduce((a, b) => a * b, 1);
        slots.push({ name: `${stage.name}.${p.suffix}`, shape: p.shape, init: p.init, role: p.role, stage: stage.name, offset, length });
        offset += Math.ceil(length / ALIGN) * ALIGN;
      }
    }
    this.slots = slots;
    this.flatLength = offset;
    this.count = slots.reduce((n, s) => n + (s.role === 'parameter' ? s.length : 0), 0);
    this.names = new Set(slots.map((s) => s.name));
  }

  get network(): Network {
    return this.resolved.network;
  }

  slot(name: string): Slot {
    const s = this.slots.find((x) => x.name === name);
    if (!s) throw new Error(`network ${this.network.name} has no parameter "${name}"`);
    return s;
  }

  /** A parameter's values within a flat buffer (a view, not a copy). */
  view(flat: Float32Array, name: string): Float32Array {
    const s = this.slot(name);
    return flat.subarray(s.offset, s.offset + s.length);
  }

  /**
   * PyTorch's default initialisation: for Conv2d and Linear, weights by
   * kaiming_uniform_(a=sqrt(5)) and biases alike, which both come to
   * uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)), drawn in state_dict order; constants
   * (batchnorm's ones and zeros) draw nothing.
   */
  init(rng: Rng): Float32Array {
    const flat = new Float32Array(this.flatLength);
    for (const s of this.slots) {
      if ('fill' in s.init) {
        flat.fill(s.init.fill, s.offset, s.offset + s.length);
        continue;
      }
      const bound = 1 / Math.sqrt(s.init.fanIn);
      for (let j = 0; j < s.length; j++) flat[s.offset + j] = rng.uniform(-bound, bound);
    }
    return flat;
  }

  /** The slots of one stage, by suffix. */
  of(stage: string): Map<string, Slot> {
    return new Map(this.slots.filter((s) => s.stage === stage).map((s) => [s.name.slice(stage.length + 1), s]));
  }

  /** A tensor for each parameter within a buffer of this layout (parameters, gradients, moments). */
  viewsOf(buffer: GPUBuffer): Record<string, Tensor> {
    return Object.fromEntries(this.slots.map((s) => [s.name, { buffer, offset: s.offset * 4, shape: s.shape, length: s.length }]));
  }

  /** The whole flat buffer as one tensor (Adam updates it in one dispatch). */
  whole(buffer: GPUBuffer): Tensor {
    return { buffer, offset: 0, shape: [this.flatLength], length: this.flatLength };
  }

  /** Throws unless `flat` has this layout's length. */
  check(flat: Float32Array, what = 'parameters'): void {
    if (flat.length !== this.flatLength) {
      throw new Error(`${what}: ${flat.length} values, but network ${this.network.name} has ${this.flatLength} in its flat layout`);
    }
  }
}

const tables = new WeakMap<Network, ParameterTable>();

/** The parameter table of a network, made once. */
export function parameterTable(net: Network): ParameterTable {
  let t = tables.get(net);
  if (!t) {
    t = new ParameterTable(resolve(net));
    tables.set(net, t);
  }
  return t;
}
