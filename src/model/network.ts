/**
 * A network as data: its input's shape and an ordered list of layers, each with its
 * sizes. Everything else is derived from this one value: the parameter table
 * (./parameters.ts), the GPU buffers and dispatch lists (./model.ts,
 * ../train/gradients.ts), the float64 reference (../reference/network.ts), the
 * summary (./summary.ts) and the TensorFlow.js twin (../bench/tfjs-net.ts).
 *
 * resolve() checks a description and turns it into stages: each conv2d, linear,
 * maxpool2d or log_softmax layer is a stage, a ReLU folds into the conv2d or linear
 * before it (forward, and backward into whatever consumes its output), and flatten
 * is a view that costs nothing.
 */
import type { Conv2dShape, LinearShape, Pool2dShape } from '../ops/shapes';

export type Layer =
  | { op: 'conv2d'; name: string; inChannels: number; outChannels: number; kernel: number }
  | { op: 'linear'; name: string; inFeatures: number; outFeatures: number }
  | { op: 'maxpool2d'; kernel: number }
  | { op: 'relu' }
  | { op: 'flatten' }
  | { op: 'log_softmax' };

export interface Network {
  /** What --arch and the model file's metadata call it. */
  name: string;
  /** One line for --help and the page. */
  description: string;
  /** Per sample: [channels, height, width]. */
  input: readonly [number, number, number];
  layers: readonly Layer[];
  /** Printed under the summary (e.g. what differs from the obvious reading). */
  note?: string;
}

export const conv2d = (name: string, inChannels: number, outChannels: number, kernel: number): Layer => ({ op: 'conv2d', name, inChannels, outChannels, kernel });
export const linear = (name: string, inFeatures: number, outFeatures: number): Layer => ({ op: 'linear', name, inFeatures, outFeatures });
export const maxpool2d = (kernel = 2): Layer => ({ op: 'maxpool2d', kernel });
export const relu = (): Layer => ({ op: 'relu' });
export const flatten = (): Layer => ({ op: 'flatten' });
export const logSoftmax = (): Layer => ({ op: 'log_softmax' });

/** The PyTorch tutorial's LeNet-5, as it is: no ReLU after conv2. */
export const LENET5: Network = {
  name: 'lenet5',
  description: "the PyTorch tutorial's LeNet-5 as it is (no ReLU after conv2)",
  input: [1, 32, 32],
  layers: [
    conv2d('conv1', 1, 6, 5), relu(), maxpool2d(2),
    conv2d('conv2', 6, 16, 5), maxpool2d(2), // the tutorial has no ReLU here
    flatten(), linear('fc1', 16 * 5 * 5, 120), relu(), linear('fc2', 120, 84), relu(), linear('fc3', 84, 10),
    logSoftmax(),
  ],
  note: 'no ReLU after conv2: the tutorial has none, and lenet5 keeps its network as it is (lenet5-relu adds one)',
};

/** Layers with a ReLU inserted after the named layer. */
export function withReluAfter(layers: readonly Layer[], name: string): Layer[] {
  const at = layers.findIndex((l) => 'name' in l && l.name === name);
  if (at < 0) throw new Error(`no layer named "${name}"`);
  return [...layers.slice(0, at + 1), relu(), ...layers.slice(at + 1)];
}

/** The same with the ReLU after conv2 that the classic LeNet-5 has: same parameters. */
export const LENET5_RELU: Network = {
  name: 'lenet5-relu',
  description: 'LeNet-5 with a ReLU after conv2 too (same parameter names and shapes)',
  input: LENET5.input,
  layers: withReluAfter(LENET5.layers, 'conv2'),
};

/** The networks --arch can name; the first is the default. */
export const NETWORKS: readonly Network[] = [LENET5, LENET5_RELU];

export const DEFAULT_ARCH = NETWORKS[0].name;

export function networkNamed(name: string, source = '--arch'): Network {
  const net = NETWORKS.find((n) => n.name === name);
  if (!net) throw new Error(`${source}: no network named "${name}" (known: ${NETWORKS.map((n) => n.name).join(', ')})`);
  return net;
}

// ------------------------------------------------------------------ stages

/** Shapes per sample: Conv2dShape and the others without their batch. */
type PerSample<T> = Omit<T, 'batch'>;

interface StageBase {
  /** The layer's name (conv1, fc1) or a made-up one (pool1, log_probs); also its output activation's. */
  name: string;
  /** The activation it reads: "input" or an earlier stage's name. */
  input: string;
  /** Its output's shape per sample. */
  outShape: readonly number[];
}

export type Stage =
  | (StageBase & { op: 'conv2d'; shape: PerSample<Conv2dShape>; relu: boolean })
  | (StageBase & { op: 'linear'; shape: PerSample<LinearShape>; relu: boolean })
  | (StageBase & { op: 'maxpool2d'; shape: PerSample<Pool2dShape> })
  | (StageBase & { op: 'log_softmax'; classes: number });

export interface Resolved {
  network: Network;
  stages: readonly Stage[];
  /** Every activation's shape per sample, by name: "input", then each stage's output. */
  activations: ReadonlyMap<string, readonly number[]>;
  classes: number;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const RESERVED = new Set(['input', 'log_probs']);

/**
 * Checks a description and derives its stages; every error names the layer (by its
 * position and name) and what does not fit.
 */
export function resolve(net: Network): Resolved {
  const fail = (i: number, what: string): never => {
    const l = net.layers[i];
    const label = l && 'name' in l ? `${l.op} "${l.name}"` : l?.op ?? 'end';
    throw new Error(`network ${net.name}: layer ${i + 1} (${label}): ${what}`);
  };
  const [c, h, w] = net.input;
  if (![c, h, w].every((d) => Number.isInteger(d) && d >= 1)) throw new Error(`network ${net.name}: input shape [${net.input.join(', ')}] is not three positive integers`);
  const stages: Stage[] = [];
  const activations = new Map<string, readonly number[]>([['input', [c, h, w]]]);
  const names = new Set<string>();
  let shape: readonly number[] = [c, h, w];
  let current = 'input';
  let pools = 0;
  const dims = (s: readonly number[]) => s.join('x');
  const add = (stage: Stage) => {
    stages.push(stage);
    activations.set(stage.name, stage.outShape);
    current = stage.name;
    shape = stage.outShape;
  };
  const positive = (i: number, values: Record<string, number>) => {
    for (const [k, v] of Object.entries(values)) if (!(Number.isInteger(v) && v >= 1)) fail(i, `${k} must be a positive integer, got ${v}`);
  };
  const named = (i: number, name: string) => {
    if (!NAME.test(name)) fail(i, `"${name}" is not a valid name (letters, digits, _)`);
    if (names.has(name)) fail(i, `the name "${name}" is used twice`);
    if (RESERVED.has(name) || /^pool\d+$/.test(name)) fail(i, `the name "${name}" is reserved`);
    names.add(name);
  };

  net.layers.forEach((layer, i) => {
    if (stages.at(-1)?.op === 'log_softmax') fail(i, 'nothing may follow log_softmax');
    switch (layer.op) {
      case 'conv2d': {
        named(i, layer.name);
        positive(i, { inChannels: layer.inChannels, outChannels: layer.outChannels, kernel: layer.kernel });
        if (shape.length !== 3) fail(i, `needs a [channels, height, width] input, gets [${shape.join(', ')}]`);
        const [ci, hi, wi] = shape;
        if (ci !== layer.inChannels) fail(i, `expects ${layer.inChannels} input channels, gets ${ci} (${dims(shape)})`);
        if (layer.kernel > hi || layer.kernel > wi) fail(i, `kernel ${layer.kernel} is larger than its ${hi}x${wi} input`);
        const s = { inChannels: ci, outChannels: layer.outChannels, height: hi, width: wi, kernel: layer.kernel };
        add({ op: 'conv2d', name: layer.name, input: current, shape: s, relu: false, outShape: [layer.outChannels, hi - layer.kernel + 1, wi - layer.kernel + 1] });
        break;
      }
      case 'linear': {
        named(i, layer.name);
        positive(i, { inFeatures: layer.inFeatures, outFeatures: layer.outFeatures });
        if (shape.length !== 1) fail(i, `needs a flat input, gets ${dims(shape)}: put a flatten() before it`);
        if (shape[0] !== layer.inFeatures) fail(i, `expects ${layer.inFeatures} input features, gets ${shape[0]}`);
        add({ op: 'linear', name: layer.name, input: current, shape: { inFeatures: layer.inFeatures, outFeatures: layer.outFeatures }, relu: false, outShape: [layer.outFeatures] });
        break;
      }
      case 'maxpool2d': {
        if (layer.kernel !== 2) fail(i, `only 2x2 max-pooling (stride 2) is implemented, got kernel ${layer.kernel}`);
        if (shape.length !== 3) fail(i, `needs a [channels, height, width] input, gets [${shape.join(', ')}]`);
        const [ch, hi, wi] = shape;
        if (hi < 2 || wi < 2) fail(i, `its ${hi}x${wi} input is smaller than the 2x2 window`);
        add({ op: 'maxpool2d', name: `pool${++pools}`, input: current, shape: { channels: ch, height: hi, width: wi }, outShape: [ch, Math.floor(hi / 2), Math.floor(wi / 2)] });
        break;
      }
      case 'relu': {
        const last = stages.at(-1);
        if (!last || (last.op !== 'conv2d' && last.op !== 'linear') || current !== last.name) {
          fail(i, 'a ReLU must come right after a conv2d or linear layer (it is fused into that layer)');
        }
        const fused = last as Extract<Stage, { op: 'conv2d' | 'linear' }>;
        if (fused.relu) fail(i, 'two ReLUs in a row');
        fused.relu = true;
        break;
      }
      case 'flatten': {
        if (shape.length === 1) fail(i, 'its input is flat already');
        shape = [shape.reduce((a, b) => a * b, 1)]; // a view of the same activation
        break;
      }
      case 'log_softmax': {
        if (shape.length !== 1) fail(i, `needs a flat input, gets ${dims(shape)}`);
        add({ op: 'log_softmax', name: 'log_probs', input: current, classes: shape[0], outShape: [shape[0]] });
        break;
      }
      default:
        fail(i, `unknown op "${(layer as { op: string }).op}"`);
    }
  });
  const last = stages.at(-1);
  if (!last || last.op !== 'log_softmax') throw new Error(`network ${net.name}: the last layer must be log_softmax (the loss is the NLL of its output)`);
  const logits = stages.at(-2);
  if (!logits || logits.op !== 'linear' || logits.relu) throw new Error(`network ${net.name}: log_softmax must follow a linear layer without a ReLU (the class scores)`);
  if (!stages.some((s) => s.op === 'conv2d' || s.op === 'linear')) throw new Error(`network ${net.name}: has no layer with parameters`);
  return { network: net, stages, activations, classes: last.classes };
}

/** Elements per sample of an activation. */
export function perSample(r: Resolved, name: string): number {
  const shape = r.activations.get(name);
  if (!shape) throw new Error(`network ${r.network.name} has no activation "${name}"`);
  return shape.reduce((a, b) => a * b, 1);
}

/** Whether the stage writes max(., 0) of what it computes. */
export function hasRelu(s: Stage | null | undefined): boolean {
  return !!s && (s.op === 'conv2d' || s.op === 'linear') && s.relu;
}

/**
 * The stage whose output is `s`'s input, where that output needs a gradient: it
 * comes at or after the first stage with parameters (before it, nothing has a
 * gradient to take). Null for the network's input and everything before.
 */
export function inputNeedsGrad(r: Resolved, s: Stage): Stage | null {
  const firstParam = r.stages.findIndex((x) => x.op === 'conv2d' || x.op === 'linear');
  const i = r.stages.findIndex((x) => x.name === s.input);
  return firstParam >= 0 && i >= firstParam ? r.stages[i] : null;
}

/** An activation to draw as feature maps: the stage that writes it, in words, and its shape per sample. */
export interface FeatureMapSource {
  /** The activation's name (a stage's output). */
  name: string;
  /** What made it, e.g. "conv1, ReLU, pool1". */
  label: string;
  /** [channels, height, width]. */
  shape: readonly [number, number, number];
}

/**
 * What each conv layer sees, for pictures: its output after its ReLU, or, where a
 * pool reads that output, the pool's.
 */
export function featureMaps(r: Resolved): FeatureMapSource[] {
  return r.stages.flatMap((s) => {
    if (s.op !== 'conv2d') return [];
    const pool = r.stages.find((p) => p.op === 'maxpool2d' && p.input === s.name);
    const out = pool ?? s;
    const [c, h, w] = out.outShape;
    return [{ name: out.name, label: [s.name, ...(s.relu ? ['ReLU'] : []), ...(pool ? [pool.name] : [])].join(', '), shape: [c, h, w] as const }];
  });
}
