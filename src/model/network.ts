/**
 * A network as data: its input's shape and an ordered list of layers, each a kind
 * from the registry (./registry.ts) with its fields. Everything else is derived from
 * this one value through the registry: the parameter table (./parameters.ts), the GPU
 * buffers and dispatch lists (./model.ts, ../train/backprop.ts), the float64
 * reference (../reference/network.ts), the summary (./summary.ts), the limits
 * (../train/limits.ts) and the files (a model file stores the description).
 *
 * resolve() checks a description and turns it into stages, once per network: each
 * layer is a stage but for a ReLU that folds into the conv2d or linear before it
 * (forward, and backward into whatever consumes its output) and flatten, a view that
 * costs nothing. A network file is read by parseNetwork(), which checks every field
 * against its kind's and fills in the defaults.
 */
import type { Field, Layer, Shape, Stage } from './kind';
import { kindOf, REGISTRY } from './registry';

export type { Layer, Stage } from './kind';

export interface Network {
  /** What --arch and the model file's metadata call it. */
  name: string;
  /** One line for --help and the page. */
  description?: string;
  /** Per sample: [channels, height, width]. */
  input: readonly [number, number, number];
  layers: readonly Layer[];
  /** The class name print(model) shows (the tutorial's LeNet); Net by default. */
  className?: string;
  /** Printed under the summary (e.g. what differs from the obvious reading). */
  note?: string;
}

// ------------------------------------------------------------------ layers in code

const layer = (op: string, fields: Record<string, unknown>): Layer => ({ op, ...fields });
export const conv2d = (name: string, inChannels: number, outChannels: number, kernel: number, o: { stride?: number; padding?: number } = {}): Layer =>
  layer('conv2d', { name, inChannels, outChannels, kernel, ...o });
export const linear = (name: string, inFeatures: number, outFeatures: number): Layer => layer('linear', { name, inFeatures, outFeatures });
export const maxpool2d = (kernel = 2, stride?: number): Layer => layer('maxpool2d', { kernel, ...(stride === undefined ? {} : { stride }) });
export const avgpool2d = (kernel = 2, stride?: number): Layer => layer('avgpool2d', { kernel, ...(stride === undefined ? {} : { stride }) });
export const relu = (): Layer => ({ op: 'relu' });
export const tanh = (): Layer => ({ op: 'tanh' });
export const sigmoid = (): Layer => ({ op: 'sigmoid' });
export const dropout = (p: number): Layer => layer('dropout', { p });
export const batchnorm2d = (name: string, channels: number): Layer => layer('batchnorm2d', { name, channels });
export const batchnorm1d = (name: string, features: number): Layer => layer('batchnorm1d', { name, features });
export const flatten = (): Layer => ({ op: 'flatten' });
export const logSoftmax = (): Layer => ({ op: 'log_softmax' });

// ------------------------------------------------------------------ presets

/** The PyTorch tutorial's LeNet-5, as it is: no ReLU after conv2. */
export const LENET5: Network = {
  name: 'lenet5',
  description: "the PyTorch tutorial's LeNet-5 as it is (no ReLU after conv2)",
  className: 'LeNet',
  input: [1, 32, 32],
  layers: [
    conv2d('conv1', 1, 6, 5), relu(), maxpool2d(2),
    conv2d('conv2', 6, 16, 5), maxpool2d(2), // the tutorial has no ReLU here
    flatten(), linear('fc1', 16 * 5 * 5, 120), relu(), linear('fc2', 120, 84), relu(), linear('fc3', 84, 10),
    logSoftmax(),
  ],
  note: 'no ReLU after conv2: the tutorial has none, and lenet5 keeps its network as it is (lenet5-relu adds one)',
};

/** Layers with `extra` inserted after the layer named `name`. */
export function insertAfter(layers: readonly Layer[], name: string, ...extra: Layer[]): Layer[] {
  const at = layers.findIndex((l) => l.name === name);
  if (at < 0) throw new Error(`no layer named "${name}"`);
  return [...layers.slice(0, at + 1), ...extra, ...layers.slice(at + 1)];
}

/** Layers with a ReLU inserted after the layer named `name`. */
export function withReluAfter(layers: readonly Layer[], name: string): Layer[] {
  return insertAfter(layers, name, relu());
}

/** The same with the ReLU after conv2 that the classic LeNet-5 has: same parameters. */
export const LENET5_RELU: Network = {
  name: 'lenet5-relu',
  description: 'LeNet-5 with a ReLU after conv2 too (same parameter names and shapes)',
  className: 'LeNet',
  input: LENET5.input,
  layers: withReluAfter(LENET5.layers, 'conv2'),
};

/** LeCun et al. 1998's shape: tanh and average pooling (subsampling), on the 32x32 input. */
export const LENET5_CLASSIC: Network = {
  name: 'lenet5-classic',
  description: "LeCun 1998's LeNet-5 shape: tanh activations and 2x2 average pooling",
  className: 'LeNet',
  input: [1, 32, 32],
  layers: [
    conv2d('conv1', 1, 6, 5), tanh(), avgpool2d(2),
    conv2d('conv2', 6, 16, 5), tanh(), avgpool2d(2),
    flatten(), linear('fc1', 400, 120), tanh(), linear('fc2', 120, 84), tanh(), linear('fc3', 84, 10),
    logSoftmax(),
  ],
};

/** The most common PyTorch LeNet-5 for MNIST: the raw 28x28 images, conv1 padded by 2. */
export const LENET5_PAD: Network = {
  name: 'lenet5-pad',
  description: 'LeNet-5 on the raw 28x28 images, conv1 padded by 2 (no resize)',
  className: 'LeNet',
  input: [1, 28, 28],
  layers: [conv2d('conv1', 1, 6, 5, { padding: 2 }), ...LENET5.layers.slice(1)],
};

/** Batch normalisation after each conv, dropout before the last linear layer. */
export const LENET5_BN: Network = {
  name: 'lenet5-bn',
  description: 'LeNet-5 with batchnorm after each conv and dropout (p=0.5) before fc3',
  className: 'LeNet',
  input: [1, 32, 32],
  layers: [
    conv2d('conv1', 1, 6, 5), batchnorm2d('bn1', 6), relu(), maxpool2d(2),
    conv2d('conv2', 6, 16, 5), batchnorm2d('bn2', 16), relu(), maxpool2d(2),
    flatten(), linear('fc1', 400, 120), relu(), linear('fc2', 120, 84), relu(), dropout(0.5), linear('fc3', 84, 10),
    logSoftmax(),
  ],
};

/** The networks --arch can name; the first is the default. */
export const NETWORKS: readonly Network[] = [LENET5, LENET5_RELU, LENET5_CLASSIC, LENET5_PAD, LENET5_BN];

export const DEFAULT_ARCH = NETWORKS[0].name;

export function networkNamed(name: string, source = '--arch'): Network {
  const net = NETWORKS.find((n) => n.name === name);
  if (!net) throw new Error(`${source}: no network named "${name}" (known: ${NETWORKS.map((n) => n.name).join(', ')}, or a network file ending in .json)`);
  return net;
}

// ------------------------------------------------------------------ descriptions

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const RESERVED = new Set(['input', 'log_probs']);
const NETWORK_FIELDS = new Set(['name', 'description', 'input', 'layers', 'className', 'note']);

function layerLabel(l: unknown): string {
  if (typeof l !== 'object' || l === null) return 'not an object';
  const { op, name } = l as Layer;
  return typeof name === 'string' ? `${String(op)} "${name}"` : String(op);
}

/** Where a description's error points: the network, and the layer (1-based) with its op and name. */
function failer(net: { name?: unknown }, layers: readonly unknown[]) {
  return (i: number | null, what: string): never => {
    const where = i === null ? '' : ` layer ${i + 1} (${i < layers.length ? layerLabel(layers[i]) : 'end'}):`;
    throw new Error(`network ${String(net.name ?? '?')}:${where} ${what}`);
  };
}

function checkField(key: string, f: Field, v: unknown, fail: (what: string) => never): void {
  if (f.type === 'name') {
    if (typeof v !== 'string' || !NAME.test(v)) fail(`${key} ${JSON.stringify(v)} is not a valid name (letters, digits and _, not starting with a digit)`);
    return;
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(`${key} must be a number, got ${JSON.stringify(v)}`);
  const n = v as number;
  if (f.type === 'int' && !Number.isInteger(n)) fail(`${key} must be an integer, got ${n}`);
  if (f.min !== undefined && (f.above ? n <= f.min : n < f.min)) fail(`${key} must be ${f.above ? 'more than' : 'at least'} ${f.min}, got ${n}`);
  if (f.below !== undefined && n >= f.below) fail(`${key} must be less than ${f.below}, got ${n}`);
}

/**
 * A layer with its kind's checks passed and every default filled in: an unknown op
 * or field, a missing or mistyped one, is an error naming the field.
 */
export function normalizeLayer(l: unknown, fail: (what: string) => never): Layer {
  if (typeof l !== 'object' || l === null || Array.isArray(l)) fail('is not an object');
  const given = l as Layer;
  if (typeof given.op !== 'string') fail('has no "op"');
  const kind = kindOf(given.op);
  if (!kind) fail(`unknown op "${given.op}" (known: ${[...REGISTRY.keys()].join(', ')})`);
  const k = kind!;
  const known = new Set(['op', 'name', ...Object.keys(k.fields)]);
  if (k.named && given.name === undefined) fail('needs "name" (its parameters are named after it)');
  for (const key of Object.keys(given)) if (!known.has(key)) fail(`unknown field "${key}" for ${given.op} (its fields: ${[...known].filter((x) => x !== 'op').join(', ')})`);
  const out: Layer = { op: given.op };
  if (given.name !== undefined || k.named) {
    checkField('name', { type: 'name' }, given.name, fail);
    out.name = given.name;
  }
  for (const [key, f] of Object.entries(k.fields)) {
    let v = given[key];
    if (v === undefined) {
      if (f.default === undefined) fail(`needs "${key}"`);
      v = typeof f.default === 'function' ? f.default(given) : f.default;
    }
    checkField(key, f, v, fail);
    out[key] = v;
  }
  return out;
}

/**
 * A network from a network file's JSON text (or the value parsed from it), checked
 * whole and with every default filled in; `source` (the file's name) starts every
 * error. Nothing about shapes is left for later: resolve() runs on it here.
 */
export function parseNetwork(text: string | unknown, source: string): Network {
  let value: unknown = text;
  if (typeof text === 'string') {
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new Error(`${source}: not JSON (${(err as Error).message})`);
    }
  }
  try {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('a network is a JSON object with "name", "input" and "layers"');
    const v = value as Record<string, unknown>;
    for (const key of Object.keys(v)) if (!NETWORK_FIELDS.has(key)) throw new Error(`unknown field "${key}" (a network has ${[...NETWORK_FIELDS].join(', ')})`);
    if (typeof v.name !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(v.name)) throw new Error(`"name" must be a name (letters, digits, _ . -), got ${JSON.stringify(v.name)}`);
    for (const key of ['description', 'className', 'note'] as const) if (v[key] !== undefined && typeof v[key] !== 'string') throw new Error(`"${key}" must be a string`);
    if (v.className !== undefined && !NAME.test(v.className as string)) throw new Error(`"className" must be a Python identifier, got ${JSON.stringify(v.className)}`);
    const input = v.input;
    if (!Array.isArray(input) || input.length !== 3 || !input.every((d) => Number.isInteger(d) && d >= 1)) {
      throw new Error(`"input" must be [channels, height, width], three positive integers, got ${JSON.stringify(input)}`);
    }
    if (input[0] !== 1) throw new Error(`"input" has ${input[0]} channels, but the data sets are greyscale (1 channel)`);
    if (!Array.isArray(v.layers) || v.layers.length === 0) throw new Error('"layers" must be a non-empty list');
    const fail = failer(v, v.layers);
    const layers = v.layers.map((l, i) => normalizeLayer(l, (what) => fail(i, what)));
    const net: Network = {
      name: v.name,
      ...(v.description !== undefined ? { description: v.description as string } : {}),
      ...(v.className !== undefined ? { className: v.className as string } : {}),
      input: input as [number, number, number],
      layers,
      ...(v.note !== undefined ? { note: v.note as string } : {}),
    };
    resolve(net);
    return net;
  } catch (err) {
    const message = (err as Error).message.replace(/^network [^:]*: ?/, '');
    throw new Error(`${source}: ${message}`);
  }
}

/** The description as a network file holds it: what parseNetwork reads back to the same network. */
export function describeNetwork(net: Network): Record<string, unknown> {
  const r = resolve(net);
  return {
    name: net.name,
    ...(net.description !== undefined ? { description: net.description } : {}),
    ...(net.className !== undefined ? { className: net.className } : {}),
    input: [...net.input],
    layers: r.layers,
    ...(net.note !== undefined ? { note: net.note } : {}),
  };
}

/** A network file's text: the description, one layer a line. */
export function networkJson(net: Network): string {
  const d = describeNetwork(net);
  const { layers, ...rest } = d as { layers: Layer[] };
  const head = JSON.stringify(rest).slice(0, -1);
  return `${head}, "layers": [\n${layers.map((l) => `  ${JSON.stringify(l)}`).join(',\n')}\n]}\n`;
}

/** Whether two networks are the same description (defaults filled in on both). */
export function sameNetwork(a: Network, b: Network): boolean {
  return a === b || JSON.stringify(describeNetwork(a)) === JSON.stringify(describeNetwork(b));
}

// ------------------------------------------------------------------ stages

export interface Resolved {
  network: Network;
  /** The layers with every default filled in. */
  layers: readonly Layer[];
  stages: readonly Stage[];
  /** Every activation's shape per sample, by name: "input", then each stage's output. */
  activations: ReadonlyMap<string, Shape>;
  classes: number;
}

const resolvedNetworks = new WeakMap<Network, Resolved>();

/**
 * Checks a description and derives its stages, once per network; every error names
 * the layer (by its position and name) and what does not fit.
 */
export function resolve(net: Network): Resolved {
  const known = resolvedNetworks.get(net);
  if (known) return known;
  const fail = failer(net, net.layers);
  const [c, h, w] = net.input;
  if (![c, h, w].every((d) => Number.isInteger(d) && d >= 1)) fail(null, `input shape [${net.input.join(', ')}] is not three positive integers`);
  const layers = net.layers.map((l, i) => normalizeLayer(l, (what) => fail(i, what)));
  const stages: Stage[] = [];
  const activations = new Map<string, Shape>([['input', [c, h, w]]]);
  const names = new Set<string>(RESERVED);
  const counts = new Map<string, number>();
  let shape: Shape = [c, h, w];
  let current = 'input';
  const claim = (i: number, name: string) => {
    if (names.has(name)) fail(i, RESERVED.has(name) ? `the name "${name}" is reserved` : `the name "${name}" is used twice`);
    names.add(name);
  };
  // Names given in the file first, so that a made-up one never takes a given one.
  layers.forEach((l, i) => {
    if (typeof l.name === 'string') claim(i, l.name);
  });

  layers.forEach((l, i) => {
    const kind = kindOf(l.op)!;
    const here = (what: string) => fail(i, what);
    if (stages.at(-1)?.op === 'log_softmax') here('nothing may follow log_softmax');
    if (kind.view) {
      shape = kind.view(shape, here);
      return;
    }
    const previous = stages.at(-1);
    // A fused activation needs its stage's output as it is: not where log_softmax reads it.
    const readsPrevious = previous !== undefined && current === previous.name && shape === previous.outShape;
    if (kind.fuse && readsPrevious && layers[i + 1]?.op !== 'log_softmax' && kind.fuse(previous, l)) return;
    const { outShape, shape: opShape } = kind.resolve(l, shape, here);
    let name = l.name;
    if (name === undefined) {
      if (l.op === 'log_softmax') name = 'log_probs';
      else {
        const prefix = kind.autoName ?? l.op;
        let n = counts.get(prefix) ?? 0;
        do n++;
        while (names.has(`${prefix}${n}`));
        counts.set(prefix, n);
        name = `${prefix}${n}`;
        names.add(name);
      }
    }
    const stage: Stage = { op: l.op, kind, layer: l, index: i, name, input: current, inShape: shape, outShape, relu: false, shape: opShape };
    stages.push(stage);
    activations.set(name, outShape);
    current = name;
    shape = outShape;
  });
  const last = stages.at(-1);
  if (!last || last.op !== 'log_softmax') fail(null, 'the last layer must be log_softmax (the loss is the NLL of its output)');
  if (stages.length < 2) fail(null, 'log_softmax needs a layer before it (the class scores)');
  if (!stages.some((s) => (s.kind.params?.(s) ?? []).some((p) => p.role === 'parameter'))) fail(null, 'has no layer with parameters');
  const r: Resolved = { network: net, layers, stages, activations, classes: (last!.shape as { classes: number }).classes };
  resolvedNetworks.set(net, r);
  return r;
}

/** Elements per sample of an activation. */
export function perSample(r: Resolved, name: string): number {
  const shape = r.activations.get(name);
  if (!shape) throw new Error(`network ${r.network.name} has no activation "${name}"`);
  return shape.reduce((a, b) => a * b, 1);
}

/** Whether the stage writes max(., 0) of what it computes. */
export function hasRelu(s: Stage | null | undefined): boolean {
  return !!s && s.relu;
}

/** Whether a stage has parameters (trained ones). */
export function hasParameters(s: Stage): boolean {
  return (s.kind.params?.(s) ?? []).some((p) => p.role === 'parameter');
}

/** The first stage with parameters: before it, nothing has a gradient to take. */
export function firstParameterStage(r: Resolved): number {
  return r.stages.findIndex(hasParameters);
}

/**
 * The stage whose output is `s`'s input, where that output needs a gradient: it
 * comes at or after the first stage with parameters (before it, nothing has a
 * gradient to take). Null for the network's input and everything before.
 */
export function inputNeedsGrad(r: Resolved, s: Stage): Stage | null {
  const first = firstParameterStage(r);
  const i = r.stages.findIndex((x) => x.name === s.input);
  return first >= 0 && i >= first ? r.stages[i] : null;
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

const FOLLOWERS = new Set(['batchnorm2d', 'relu', 'tanh', 'sigmoid', 'dropout']);
const POOLS = new Set(['maxpool2d', 'avgpool2d']);

/**
 * What each conv layer sees, for pictures: its output after what follows it
 * elementwise (its ReLU, a batchnorm, an activation), or, where a pool reads that,
 * the pool's.
 */
export function featureMaps(r: Resolved): FeatureMapSource[] {
  return r.stages.flatMap((s) => {
    if (s.op !== 'conv2d') return [];
    const label = [s.name, ...(s.relu ? ['ReLU'] : [])];
    let out = s;
    for (;;) {
      const next = r.stages.find((p) => p.input === out.name);
      if (!next || next.outShape.length !== 3) break;
      if (FOLLOWERS.has(next.op)) {
        label.push(next.op === 'relu' ? 'ReLU' : next.name);
        out = next;
        continue;
      }
      if (POOLS.has(next.op)) {
        label.push(next.name);
        out = next;
      }
      break;
    }
    const [c, h, w] = out.outShape;
    return [{ name: out.name, label: label.join(', '), shape: [c, h, w] as const }];
  });
}
