/**
 * The page's predictions and what its pictures show: one Predictor at a time (the
 * trainer's parameter buffer as it is, or weights of its own: a checkpoint's, a loaded
 * model's), and a queue, since predictions share its input buffer. No DOM here.
 */
import type { Conv2dStageShape } from '../src/model/kinds/conv2d';
import { resolve } from '../src/model/network';
import type { Explanation, Predictor } from '../src/train/inference';

/** A conv layer's weights, [out, in, k, k], to draw. */
export interface Filters {
  layer: string;
  shape: [number, number, number, number];
  weights: Float32Array;
}

export class Predictions {
  private predictor: Promise<Predictor> | null = null;
  /** Predictions share one input buffer: they run one after another. */
  private queue: Promise<unknown> = Promise.resolve();

  /** @param gpu Whether there is a device to predict with, asked at each prediction. */
  constructor(private readonly gpu: () => boolean) {}

  /** Predicts with `p` from now on (null: no model). A failure is told by the next prediction. */
  use(p: Promise<Predictor> | null): Promise<Predictor> | null {
    this.predictor = p;
    p?.catch(() => {});
    return p;
  }

  /** The ten probabilities of each 28x28 digit (bytes, white ink on black). */
  predict(digits: Uint8Array[]): Promise<Float32Array[]> {
    return this.withPredictor((p) => p.predict(digits));
  }

  /**
   * What the pictures show, read back at one sync point: the probabilities of `digit`
   * and the feature maps of the network's conv layers for it (none for null), and, with
   * `filters`, the first conv layer's weights as they are now (mid-run, the trainer's).
   */
  pictures(digit: Uint8Array | null, filters: boolean): Promise<{ explanation: Explanation | null; filters: Filters | null }> {
    return this.withPredictor(async (predictor) => {
      const conv = filters ? resolve(predictor.network).stages.find((s) => s.op === 'conv2d') : undefined;
      const r = await predictor.inspect(digit, conv ? [`${conv.name}.weight`] : []);
      if (!conv || conv.op !== 'conv2d') return { explanation: r.explanation, filters: null };
      const { outChannels, inChannels, kernel } = conv.shape as Conv2dStageShape;
      return { explanation: r.explanation, filters: { layer: conv.name, shape: [outChannels, inChannels, kernel, kernel], weights: r.params[0] } };
    });
  }

  /** Runs `fn` with the predictor once the predictions before it are done. */
  private withPredictor<T>(fn: (p: Predictor) => Promise<T>): Promise<T> {
    const result = this.queue.then(async () => {
      if (!this.gpu()) throw new Error('there is no WebGPU device to predict with');
      if (!this.predictor) throw new Error('there is no model yet: train one or load a .safetensors file');
      return fn(await this.predictor);
    });
    this.queue = result.catch(() => {});
    return result;
  }
}
