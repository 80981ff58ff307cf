/**
 * What a kind of layer is, in one place: the contract each entry of the registry
 * (./kinds/*.ts, listed in ./registry.ts) fills. A network's description names kinds
 * by their `op`; everything the engine does with a layer goes through its entry:
 *
 * - the fields a network file may give it, with their defaults and checks (./network.ts
 *   reads files with them);
 * - what it makes of its input (resolve: checks and the output's shape), and whether it
 *   folds into the stage before it instead of being a stage (ReLU into conv2d/linear);
 * - its parameters and buffers, as PyTorch's state_dict names, shapes and initialises
 *   them (./parameters.ts lays them out);
 * - the buffers it keeps per sample (the batch-size limits count them), the loops its
 *   kernels run for a batch (llvmpipe's cap);
 * - its GPU op for a batch size and the dispatches of its forward (per mode) and
 *   backward (./model.ts and ../train/backprop.ts walk the stages);
 * - its float64 reference (../reference/network.ts walks the stages the same way);
 * - its line in PyTorch's print(model) (./summary.ts).
 */
import type { Dispatch } from '../gpu/dispatch';
import type { Runtime, Tensor } from '../gpu/runtime';

export type Shape = readonly number[];

/** Training runs train mode; evaluation, predict and the page's pad run eval mode. */
export type Mode = 'train' | 'eval';

/** A layer as a network describes it: its kind and that kind's fields. */
export interface Layer {
  op: string;
  /** Layers with parameters must have one: their state_dict prefix. */
  name?: string;
  [field: string]: unknown;
}

/** One field of a layer in a network file. */
export interface Field {
  type: 'int' | 'number' | 'name';
  /** Given when the file leaves the field out; a field without one is required. */
  default?: number | ((layer: Layer) => number);
  /** The least value an int or number may take (inclusive unless `above`). */
  min?: number;
  above?: boolean;
  /** The largest, exclusive. */
  below?: number;
  /** What the field means, for the README and errors. */
  doc?: string;
}

/** A parameter or buffer of a layer, as PyTorch's state_dict has it. */
export interface ParamSpec {
  /** After the layer's name and a dot: weight, bias, running_mean ... */
  suffix: string;
  shape: number[];
  /**
   * How PyTorch initialises it: uniform(-1/sqrt(fanIn), 1/sqrt(fanIn)) (Conv2d's and
   * Linear's kaiming_uniform_(a=sqrt(5)) and their biases' alike), or a constant.
   */
  init: { fanIn: number } | { fill: number };
  /**
   * A parameter is trained by Adam. A buffer is state the forward pass keeps
   * (batchnorm's running statistics): Adam leaves it exactly as it is, its gradient
   * being zero. A counter is a buffer PyTorch keeps as an int64 (num_batches_tracked).
   */
  role: 'parameter' | 'buffer' | 'counter';
}

/** A buffer sized by the batch: its GPU label and its shape per sample. */
export interface PerSample {
  /** The name it goes by in its owner. */
  name: string;
  label: string;
  shape: Shape;
  /** u32 elements (argmax); f32 otherwise. Both are 4 bytes. */
  type?: 'f32' | 'u32';
}

/** A stage: a layer that has an output activation of its own (flatten and fused layers are none). */
export interface Stage<S = unknown, L extends Layer = Layer> {
  op: string;
  kind: LayerKind<S, L>;
  /** The layer as described, every default filled in. */
  layer: L;
  /** Its position in the network's list of layers (0-based): errors name it, dropout keys its masks by it. */
  index: number;
  /** The layer's name (conv1, fc1) or a made-up one (pool1, log_probs); also its output activation's. */
  name: string;
  /** The activation it reads: "input" or an earlier stage's name. */
  input: string;
  /** Its input's shape per sample as it reads it (after a flatten). */
  inShape: Shape;
  /** Its output's shape per sample. */
  outShape: Shape;
  /** Whether a ReLU is fused into its output (conv2d and linear): max(., 0) of what it computes. */
  relu: boolean;
  /** The fused ReLU's layer (its name, if the description gives it one, is its module's in print(model)). */
  reluLayer?: Layer;
  /** The op's own shape per sample (a Conv2dShape without its batch, ...). */
  shape: S;
}

/** The tensors of one stage for one batch, as its forward pass binds them. */
export interface ForwardIO {
  batch: number;
  mode: Mode;
  input: Tensor;
  output: Tensor;
  /** A parameter or buffer of the layer, by suffix ("weight"), in the parameter buffer. */
  param(suffix: string): Tensor;
  /** What it keeps per sample for backward (PerSample names from `saved`). */
  saved(name: string): Tensor;
  /** The conv weights' packed copies (src/ops/pack.ts). */
  packed(): { by_tap: Tensor; by_tap_in: Tensor | null };
}

export interface BackwardIO extends ForwardIO {
  /** dL/d(output), before the stage's own fused ReLU is undone: the stage's kernels undo it or were made to. */
  doutput: Tensor;
  /** Where a parameter's gradient goes, by suffix. */
  grad(suffix: string): Tensor;
  /**
   * Where dL/d(input) goes, or null where the input needs none. With `inputRelu`, the
   * input is a ReLU's output, and dinput must pass only where that output is > 0:
   * kinds with `fusesInputRelu` do it in their kernel; for the others dinput is a
   * scratch buffer and Backprop applies the mask after.
   */
  dinput: Tensor | null;
  inputRelu: boolean;
}

/** What a stage's kernels do for one batch size, made once. */
export interface StageOp {
  forward(io: ForwardIO): Dispatch[];
  /** Training only: the parameters' gradients (written, not accumulated) and the input's. */
  backward?(io: BackwardIO): Dispatch[];
  /** Queues what changes from step to step (dropout's masks); before the step's submit. */
  setStep?(seed: number, step: number): void;
}

export interface CreateContext<S, L extends Layer = Layer> {
  rt: Runtime;
  stage: Stage<S, L>;
  batch: number;
  /** Compile backward kernels (a training model). */
  training: boolean;
  /** What backward must give for the input: nothing, its gradient, or its gradient through the ReLU that made it. */
  inputGrad: 'none' | 'plain' | 'relu';
}

/** The float64 reference's context for one pass. */
export interface ReferenceContext {
  mode: Mode;
  batch: number;
  /** Dropout's masks: the run's seed and the Adam step being taken (1-based). */
  seed: number;
  step: number;
}

export type RefParams = (suffix: string) => Float64Array;

export interface ReferenceKind<S, L extends Layer = Layer> {
  /**
   * The output of the stage (before its fused ReLU, which the walk applies), what
   * backward needs of this pass (`saved`), and new values of buffers (running
   * statistics) after a training pass.
   */
  forward(s: Stage<S, L>, x: Float64Array, p: RefParams, ctx: ReferenceContext): { y: Float64Array; saved?: unknown; updates?: Record<string, Float64Array> };
  /** The gradients of its parameters, and its input's where `needInput`. */
  backward(s: Stage<S, L>, dy: Float64Array, f: { x: Float64Array; y: Float64Array; saved?: unknown }, p: RefParams, ctx: ReferenceContext, needInput: boolean): { dx?: Float64Array; grads?: Record<string, Float64Array> };
  /**
   * How far this pass is from a point where float32 and float64 may branch apart (a
   * ReLU's input near 0, two near-equal maxima): a comparison at 1e-5 is only
   * meaningful away from them. `reluBefore`: the stage's input is a ReLU's output.
   */
  margin?(s: Stage<S, L>, x: Float64Array, y: Float64Array, ctx: ReferenceContext, reluBefore: boolean): number;
}

export interface LayerKind<S = unknown, L extends Layer = Layer> {
  op: string;
  /** The fields a network file gives it (besides `op`, and `name` where `named`). */
  fields: Record<string, Field>;
  /** Whether it has a state_dict (so a name is required). */
  named: boolean;
  /**
   * The stage it makes of an input of `input` per sample, or `fail` with what does not
   * fit. `previous` is the stage whose output it reads, if any.
   */
  resolve(layer: L, input: Shape, fail: (what: string) => never): { outShape: Shape; shape: S };
  /**
   * Instead of a stage of its own, folds into the stage it reads (a ReLU into the
   * conv2d or linear before it, whose kernels apply it): true where it did.
   */
  fuse?(previous: Stage | undefined, layer: L): boolean;
  /** A view of its input that costs nothing (flatten): no stage, just another shape. */
  view?(input: Shape, fail: (what: string) => never): Shape;
  /** An unnamed stage's name is this and a count of the stages before it with the same (pool1, pool2). */
  autoName?: string;
  params?(s: Stage<S, L>): ParamSpec[];
  /** Per-sample buffers its forward keeps for backward (a pool's argmax). */
  saved?(s: Stage<S, L>): PerSample[];
  /** Per-sample scratch its backward kernels keep (per-image partial gradients). */
  perImage?(s: Stage<S, L>): PerSample[];
  /** The most loop iterations one invocation of its training kernels runs for a batch. */
  loops?(s: Stage<S, L>, batch: number): number;
  /** Why a training batch of `batch` samples cannot go through it, or null (batchnorm: one value per channel). */
  trainBatch?(s: Stage<S, L>, batch: number): string | null;
  /** Whether its backward kernels take the input's gradient through a ReLU before it themselves. */
  fusesInputRelu?: boolean;
  create(ctx: CreateContext<S, L>): Promise<StageOp>;
  reference: ReferenceKind<S, L>;
  /** Its module in PyTorch's print(model), e.g. "Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1))"; none for functional ones. */
  module?(s: Stage<S, L>): string;
  /** What its module is called in print(model) when it has no name of its own (maxpool1, relu). */
  moduleName?(count: number): string;
  /** Shared by every layer of the kind with the same module text (the tutorial's one `relu`). */
  sharedModule?: boolean;
}
