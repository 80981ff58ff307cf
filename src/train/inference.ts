/**
 * Using a trained model: test-set evaluation, and predicting digits given as 28x28
 * MNIST-style bytes (a user's photo after src/data/digit.ts, or the page's canvas).
 * Both run a forward-only Model: no gradients, no Adam moments, no backward or Adam
 * kernels compiled. Inputs go through the same prepare_input kernel as training, so
 * they are resized as the training images were; the normalisation is the one the
 * model was trained with (its file's, or MNIST's for a file without one).
 */
import type { FeatureMap } from '../chart/pictures';
import { MNIST } from '../data/dataset';
import { GpuDataset } from '../data/gpu-dataset';
import type { MnistSplit } from '../data/idx';
import { submit } from '../gpu/dispatch';
import type { Runtime } from '../gpu/runtime';
import { Model } from '../model/model';
import { featureMaps, type FeatureMapSource, type Network } from '../model/network';
import type { Normalization } from '../ops/shapes';
import { Evaluator, type Evaluation } from './evaluation';
import { batchSizes, Feed } from './feed';

const MAX_BATCH = 64;

export async function evaluateModel(rt: Runtime, network: Network, params: Float32Array, split: MnistSplit, normalization: Normalization): Promise<Evaluation> {
  const model = await Model.create(rt, network, MAX_BATCH);
  model.setParameters(params);
  const feed = new Feed(rt, GpuDataset.upload(rt, 'test', split), model, normalization);
  return new Evaluator(rt, model, feed).run(batchSizes(split.count, MAX_BATCH, false));
}

/** A digit's probabilities and the feature maps the network made of it ([channels, height, width] each). */
export interface Explanation {
  probabilities: Float32Array;
  maps: (FeatureMapSource & { values: Float32Array })[];
}

/** A map of an explanation as the pictures draw it (src/chart/pictures.ts), under `label`. */
export function featureMapPicture(m: Explanation['maps'][number], label = m.label): FeatureMap {
  const [channels, height, width] = m.shape;
  return { name: m.name, label, channels, height, width, values: m.values };
}

/** Digits are MNIST's size, as src/data/digit.ts makes them. */
const { rows: ROWS, cols: COLS } = MNIST.image;
const PIXELS = ROWS * COLS;

export class Predictor {
  private constructor(
    private readonly rt: Runtime,
    private readonly model: Model,
    private readonly feed: Feed,
  ) {}

  /**
   * A predictor of its own weights (`params`, or setParameters() later), or one that
   * reads another model's parameter buffer as it is (`shared`: the page's trainer's,
   * so predictions follow training with no copy through the CPU). `normalization`
   * is the one the weights were trained with.
   */
  static async create(rt: Runtime, network: Network, normalization: Normalization, weights: { params?: Float32Array; shared?: GPUBuffer } = {}): Promise<Predictor> {
    const model = await Model.create(rt, network, MAX_BATCH, { param: weights.shared });
    if (weights.params) model.setParameters(weights.params);
    // A small dataset of its own that each call overwrites: buffers and bind groups
    // stay the same from call to call.
    const blank = { images: new Uint8Array(MAX_BATCH * PIXELS), labels: new Uint8Array(MAX_BATCH), count: MAX_BATCH, rows: ROWS, cols: COLS };
    const feed = new Feed(rt, GpuDataset.upload(rt, 'digits', blank), model, normalization);
    const predictor = new Predictor(rt, model, feed);
    await predictor.predict([new Uint8Array(PIXELS)]);
    return predictor;
  }

  get network(): Network {
    return this.model.network;
  }

  /** Replaces the weights (a predictor with its own parameter buffer). */
  setParameters(params: Float32Array): void {
    this.model.setParameters(params);
  }

  /** Replaces the normalisation (with weights trained on other data). */
  setNormalization(n: Normalization): void {
    this.feed.setNormalization(n);
  }

  /**
   * The class probabilities of one digit, and what each conv layer saw of it
   * (featureMaps(): after its ReLU and pool), read from the forward pass's own buffers.
   */
  async explain(digit: Uint8Array): Promise<Explanation> {
    return (await this.inspect(digit)).explanation!;
  }

  /**
   * What the pictures of a model show, read back at one sync point: explain()'s for a
   * digit (none for null), and the named parameters as they are now (for a shared
   * predictor, the trainer's, mid-run).
   */
  async inspect(digit: Uint8Array | null, params: readonly string[] = []): Promise<{ explanation: Explanation | null; params: Float32Array[] }> {
    const views = params.map((name) => {
      const t = this.model.params[name];
      if (!t) throw new Error(`network ${this.network.name} has no parameter "${name}"`);
      return t;
    });
    if (!digit) return { explanation: null, params: await this.rt.readTensors(views) };
    await this.run([digit], 0);
    const sources = featureMaps(this.model.resolved);
    const [logp, ...rest] = await this.rt.readTensors([this.model.view('log_probs', 1), ...sources.map((m) => this.model.view(m.name, 1)), ...views]);
    const maps = sources.map((m, i) => ({ ...m, values: rest[i] }));
    return { explanation: { probabilities: logp.map(Math.exp), maps }, params: rest.slice(sources.length) };
  }

  /** The class probabilities of each 28x28 digit (bytes, white ink on black). */
  async predict(digits: Uint8Array[]): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    const classes = this.model.classes;
    for (let start = 0; start < digits.length; start += MAX_BATCH) {
      const chunk = digits.slice(start, start + MAX_BATCH);
      await this.run(chunk, start);
      const logp = await this.rt.read(this.model.view('log_probs', chunk.length));
      for (let i = 0; i < chunk.length; i++) out.push(logp.slice(i * classes, (i + 1) * classes).map(Math.exp));
    }
    return out;
  }

  /** Submits the forward pass of up to MAX_BATCH digits (the `first`th of the caller's on, for messages). */
  private async run(chunk: Uint8Array[], first: number): Promise<void> {
    const bytes = new Uint8Array(Math.ceil((chunk.length * PIXELS) / 4) * 4);
    chunk.forEach((d, i) => {
      if (d.length !== PIXELS) throw new Error(`predict: digit ${first + i} has ${d.length} pixels, expected ${ROWS}x${COLS} = ${PIXELS}`);
      bytes.set(d, i * PIXELS);
    });
    this.rt.device.queue.writeBuffer(this.feed.data.images.buffer, 0, bytes);
    this.feed.write(Uint32Array.from(chunk, (_, i) => i));
    const plan = await this.model.forward(chunk.length);
    submit(this.rt, [await this.feed.prepare(chunk.length), ...plan.forward], 'predict');
  }
}
