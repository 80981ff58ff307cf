/**
 * The same training step in TensorFlow.js (tfjs-backend-webgpu), for `npm run bench`
 * to measure side by side with this engine on the very same Dawn adapter. A dev-only
 * comparison: nothing else imports TensorFlow.js.
 *
 * The same network, built from the same description (src/model/network.ts), the same
 * batch, the same Adam, the same data: each step uploads its batch's MNIST bytes,
 * which are scaled, resized bilinearly to the network's input (half-pixel centres)
 * and normalised on the GPU, as this engine's prepare_input does. TensorFlow.js lays
 * tensors out NHWC.
 */
import * as tf from '@tensorflow/tfjs';
import type { MnistSplit } from '../data/mnist';
import type { Stage } from '../model/kind';
import { resolve, type Network } from '../model/network';
import { parameterTable } from '../model/parameters';
import { MNIST } from '../data/dataset';
import { politeWait } from '../gpu/node';
import { Rng } from '../util/rng';

type Twin = (s: Stage, h: tf.Tensor, p: (suffix: string) => tf.Tensor, batch: number) => tf.Tensor;

/**
 * Each kind's twin in TensorFlow.js (NHWC), by op: the layers a benchmark trains. A
 * network with another kind is refused by name. log_softmax is the loss's.
 */
const TWINS: Record<string, Twin> = {
  conv2d: (s, h, p) => {
    const l = s.layer as unknown as { stride: number; padding: number };
    const padded = l.padding ? tf.pad(h, [[0, 0], [l.padding, l.padding], [l.padding, l.padding], [0, 0]]) : h;
    return tf.add(tf.conv2d(padded as tf.Tensor4D, p('weight') as tf.Tensor4D, l.stride, 'valid'), p('bias'));
  },
  maxpool2d: (s, h) => tf.maxPool(h as tf.Tensor4D, s.layer.kernel as number, s.layer.stride as number, 'valid'),
  avgpool2d: (s, h) => tf.avgPool(h as tf.Tensor4D, s.layer.kernel as number, s.layer.stride as number, 'valid'),
  // PyTorch flattens NCHW; the order of the features does not change the work.
  linear: (s, h, p, batch) => tf.add(tf.matMul(tf.reshape(h, [batch, s.inShape[0]]) as tf.Tensor2D, p('weight') as tf.Tensor2D), p('bias')),
  relu: (_s, h) => tf.relu(h),
  tanh: (_s, h) => tf.tanh(h),
  sigmoid: (_s, h) => tf.sigmoid(h),
  dropout: (s, h) => tf.dropout(h, s.layer.p as number),
  batchnorm2d: (s, h, p) => {
    const { mean, variance } = tf.moments(h, [0, 1, 2]);
    return tf.batchNorm(h, mean, variance, p('bias'), p('weight'), s.layer.eps as number);
  },
  batchnorm1d: (s, h, p) => {
    const { mean, variance } = tf.moments(h, [0]);
    return tf.batchNorm(h, mean, variance, p('bias'), p('weight'), s.layer.eps as number);
  },
  log_softmax: (_s, h) => h,
};

export interface TfjsRun {
  setupSeconds: number;
  imagesPerSecond: number;
  steps: number;
  finalLoss: number;
}

/** Points TensorFlow.js's WebGPU backend at a Dawn GPU object, in the feature level the adapter needs. */
export async function useDawn(gpu: GPU, featureLevel: 'core' | 'compatibility'): Promise<void> {
  const shim = {
    requestAdapter: (o: GPURequestAdapterOptions = {}) => gpu.requestAdapter({ ...o, featureLevel } as GPURequestAdapterOptions),
    getPreferredCanvasFormat: () => 'rgba8unorm',
    wgslLanguageFeatures: gpu.wgslLanguageFeatures,
  };
  Object.defineProperty(globalThis, 'navigator', { value: { gpu: shim }, configurable: true });
  // The backend registers itself on import, and only where navigator.gpu exists.
  await import('@tensorflow/tfjs-backend-webgpu');
  await tf.setBackend('webgpu');
  await tf.ready();
}

export async function trainTfjs(network: Network, train: MnistSplit, batch: number, warmUp: number, steps: number, seed = 1): Promise<TfjsRun> {
  const rng = new Rng(seed);
  const { stages, classes } = resolve(network);
  const [, size] = network.input;
  const t0 = performance.now();
  // Weights drawn as the engine draws them (PyTorch's default init), laid out as
  // TensorFlow.js wants them: conv [kh, kw, in, out], dense [in, out].
  const v = new Map<string, tf.Variable>();
  const table = parameterTable(network);
  const initial = table.init(rng); // the engine's own initialisation, drawn in the same order
  for (const s of table.slots) {
    if (s.role !== 'parameter') continue; // the twin keeps no running statistics: it only trains
    const values = table.view(initial, s.name);
    const [out, ...rest] = s.shape;
    const shape = s.shape.length === 4 ? [rest[1], rest[2], rest[0], out] : s.shape.length === 2 ? [rest[0], out] : [out];
    v.set(s.name, tf.variable(tf.tensor(values, shape)));
  }
  const p = (name: string) => v.get(name)! as tf.Tensor;
  const optimizer = tf.train.adam(1e-3, 0.9, 0.999, 1e-8);

  const batchAt = (s: number) => {
    const start = (s * batch) % (train.count - batch);
    const bytes = train.images.subarray(start * 784, (start + batch) * 784);
    const labels = Int32Array.from(train.labels.subarray(start, start + batch));
    return { bytes, labels };
  };
  const step = (s: number) => {
    const { bytes, labels } = batchAt(s);
    const x = tf.tidy(() => {
      const raw = tf.div(tf.cast(tf.tensor4d(Int32Array.from(bytes), [batch, 28, 28, 1], 'int32'), 'float32'), 255) as tf.Tensor4D;
      return tf.div(tf.sub(tf.image.resizeBilinear(raw, [size, size], false, true), MNIST.normalization.mean), MNIST.normalization.std) as tf.Tensor4D;
    });
    const y = tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), classes));
    const loss = optimizer.minimize(() => {
      let h: tf.Tensor = x;
      for (const s of stages) {
        const twin = TWINS[s.op];
        if (!twin) throw new Error(`tfjs: no TensorFlow.js twin of ${s.op} (layer ${s.index + 1})`);
        h = twin(s, h, (suffix) => p(`${s.name}.${suffix}`), batch);
        if (s.relu) h = tf.relu(h);
      }
      return tf.losses.softmaxCrossEntropy(y, h) as tf.Scalar; // the log_softmax stage and the NLL loss, together
    }, true) as tf.Scalar;
    tf.dispose([x, y]);
    return loss;
  };

  // Warm-up: shader compilation happens on first use in TensorFlow.js.
  for (let s = 0; s < warmUp; s++) tf.dispose(step(s));
  // Waits go through politeWait, as the engine's do: no busy polling while the adapter works.
  const warm = step(warmUp);
  await politeWait(() => warm.data());
  warm.dispose();
  const setupSeconds = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  let last: tf.Scalar | null = null;
  for (let s = 0; s < steps; s++) {
    if (last) last.dispose();
    last = step(warmUp + 1 + s);
  }
  const finalLoss = (await politeWait(() => last!.data()))[0];
  const seconds = (performance.now() - t1) / 1000;
  last!.dispose();
  v.forEach((t) => t.dispose());
  optimizer.dispose();
  return { setupSeconds, imagesPerSecond: (steps * batch) / seconds, steps, finalLoss };
}
