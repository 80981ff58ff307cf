// prepare_input.wgsl against the float64 reference: a batch gathered from the data
// set's bytes, resized, normalised and flipped, with its labels.
import * as assert from 'uvu/assert';
import { MNIST } from '../../src/data/dataset';
import { submit } from '../../src/gpu/dispatch';
import { FLIP_BIT, PrepareInput, type PrepareShape } from '../../src/ops/prepare_input';
import * as ref from '../../src/reference/ops';
import { Rng } from '../../src/util/rng';
import { assertClose, freshSeed, gpuSuite, poisoned, poisonedU32 } from '../helpers/gpu';

const test = gpuSuite('prepare_input');

// MNIST into LeNet-5 at three batch sizes, then other sizes: up and down, rows and
// columns apart, and the same size.
const CASES: { name: string; shape: PrepareShape }[] = [
  ...[64, 1, 37].map((batch) => ({ name: `28x28 -> 32x32, batch ${batch}`, shape: { batch, srcHeight: 28, srcWidth: 28, dstHeight: 32, dstWidth: 32 } })),
  { name: '20x36 -> 29x17, batch 9', shape: { batch: 9, srcHeight: 20, srcWidth: 36, dstHeight: 29, dstWidth: 17 } },
  { name: '28x28 -> 28x28, batch 5', shape: { batch: 5, srcHeight: 28, srcWidth: 28, dstHeight: 28, dstWidth: 28 } },
];

for (const { name, shape } of CASES) {
  test(`prepare_input, ${name}: gather, resize, normalise and flip match the reference`, async ({ rt }) => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const { batch, srcHeight, srcWidth, dstHeight, dstWidth } = shape;
    const images = 101; // an odd count, so the last image may end inside a u32 word
    const bytes = Uint8Array.from({ length: images * srcHeight * srcWidth }, () => rng.int(256));
    const labelBytes = Uint8Array.from({ length: images }, () => rng.int(10));
    const indices = Uint32Array.from({ length: batch }, () => rng.int(images));
    const flip = Uint8Array.from({ length: batch }, () => rng.int(2));
    const normalization = { mean: rng.uniform(-0.5, 0.5), std: rng.uniform(0.1, 2) };
    const prepare = await PrepareInput.create(rt, shape, normalization);
    const packed = (b: Uint8Array) => {
      const words = new Uint32Array(Math.ceil(b.length / 4));
      new Uint8Array(words.buffer).set(b);
      return words;
    };
    const t = (label: string, data: Uint32Array) => {
      const tensor = rt.tensor(label, [data.length]);
      rt.write(tensor, data);
      return tensor;
    };
    const output = poisoned(rt, 'output', [batch, 1, dstHeight, dstWidth]);
    const labels = poisonedU32(rt, 'labels', [batch]);
    const d = prepare.forward({
      images: t('images', packed(bytes)),
      all_labels: t('all_labels', packed(labelBytes)),
      batch_indices: t('batch_indices', indices.map((i, n) => (flip[n] ? (i | FLIP_BIT) >>> 0 : i))),
      output,
      labels,
    });
    submit(rt, [d]);
    assertClose('output', await rt.read(output), ref.prepareInput(shape, bytes, indices, flip, normalization), seed);
    assert.equal(Array.from(await rt.readU32(labels)), Array.from(indices, (i) => labelBytes[i]), `labels (seed ${seed})`);
    // Another normalisation in place: the same dispatch, the same bind group.
    prepare.setNormalization(MNIST.normalization);
    submit(rt, [d]);
    assertClose('output, renormalised', await rt.read(output), ref.prepareInput(shape, bytes, indices, flip, MNIST.normalization), seed);
  });
}

test('prepare_input: sizes must be positive integers', async ({ rt }) => {
  try {
    await PrepareInput.create(rt, { batch: 4, srcHeight: 28, srcWidth: 0, dstHeight: 32, dstWidth: 32 }, MNIST.normalization);
  } catch (err) {
    assert.match((err as Error).message, /^prepare_input: srcWidth must be a positive integer, got 0$/);
    return;
  }
  assert.unreachable('a zero width was taken');
});

test.run();
