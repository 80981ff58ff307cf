/**
 * The same LeNet-5 training step in TensorFlow.js (tfjs-backend-webgpu), for
 * `npm run bench` to measure side by side with this engine on the very same Dawn
 * adapter. A dev-only comparison: nothing else imports TensorFlow.js.
 *
 * Same network (conv 1->6 5x5, ReLU, pool, conv 6->16 5x5, pool, fc 400-120-84-10),
 * same batch, same Adam, same data: each step uploads its batch's MNIST bytes, which
 * are scaled, resized 28 -> 32 bilinearly (half-pixel centres) and normalised on the
 * GPU, as this engine's prepare_mnist does. TensorFlow.js lays tensors out NHWC.
 */
import * as tf from '@tensorflow/tfjs';
import type { MnistSplit } from '../data/mnist';
import { MNIST_MEAN, MNIST_STD } from '../ops/prepare_mnist';
import { politeWait } from '../gpu/node';
import { Rng } from '../util/rng';

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

export async function trainTfjs(train: MnistSplit, batch: number, warmUp: number, steps: number, seed = 1): Promise<TfjsRun> {
  const rng = new Rng(seed);
  const uniform = (shape: number[], fanIn: number) => {
    const b = 1 / Math.sqrt(fanIn);
    return tf.variable(tf.tensor(Float32Array.from({ length: shape.reduce((a, c) => a * c, 1) }, () => rng.uniform(-b, b)), shape));
  };
  const t0 = performance.now();
  const v = {
    c1w: uniform([5, 5, 1, 6], 25),
    c1b: uniform([6], 25),
    c2w: uniform([5, 5, 6, 16], 150),
    c2b: uniform([16], 150),
    f1w: uniform([400, 120], 400),
    f1b: uniform([120], 400),
    f2w: uniform([120, 84], 120),
    f2b: uniform([84], 120),
    f3w: uniform([84, 10], 84),
    f3b: uniform([10], 84),
  };
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
      return tf.div(tf.sub(tf.image.resizeBilinear(raw, [32, 32], false, true), MNIST_MEAN), MNIST_STD) as tf.Tensor4D;
    });
    const y = tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), 10));
    const loss = optimizer.minimize(() => {
      const conv = (h: tf.Tensor4D, w: tf.Variable, b: tf.Variable) => tf.add(tf.conv2d(h, w as tf.Tensor4D, 1, 'valid'), b) as tf.Tensor4D;
      let h = tf.maxPool(tf.relu(conv(x, v.c1w, v.c1b)), 2, 2, 'valid');
      h = tf.maxPool(conv(h, v.c2w, v.c2b), 2, 2, 'valid'); // no ReLU here, as the tutorial
      // PyTorch flattens NCHW; the order of the 400 features does not change the work.
      const dense = (f: tf.Tensor, w: tf.Variable, b: tf.Variable) => tf.add(tf.matMul(f as tf.Tensor2D, w as tf.Tensor2D), b);
      let f = tf.relu(dense(tf.reshape(h, [batch, 400]), v.f1w, v.f1b));
      f = tf.relu(dense(f, v.f2w, v.f2b));
      const logits = dense(f, v.f3w, v.f3b);
      return tf.losses.softmaxCrossEntropy(y, logits) as tf.Scalar;
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
  Object.values(v).forEach((t) => t.dispose());
  optimizer.dispose();
  return { setupSeconds, imagesPerSecond: (steps * batch) / seconds, steps, finalLoss };
}
