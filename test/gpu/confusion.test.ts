// The evaluation's tally (shaders/confusion.wgsl) against the reference: the
// confusion counts added to what was there, each image's predicted class and
// probability written at its index in the data set (flip bits ignored) and nowhere
// else, the first of equal maxima taken, on MNIST's ten classes and awkward sizes.
import { Confusion } from '../../src/ops/confusion';
import * as ref from '../../src/reference/ops';
import type { Rng } from '../../src/util/rng';
import { gpuSuite } from '../helpers/gpu';
import { checkOp } from '../helpers/op-harness';

const test = gpuSuite('confusion');

/** `batch` distinct image indices of a data set of `images`, some with the flip bit set. */
const someImages = (images: number) => (rng: Rng, batch: number) => {
  const all = Array.from({ length: images }, (_, i) => i);
  for (let i = all.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [all[i], all[j]] = [all[j], all[i]];
  }
  return all.slice(0, batch).map((i) => (rng.int(2) ? i | 0x80000000 : i) >>> 0);
};

/** Log-probabilities from a few values only, so that equal maxima are common. */
const tied = (rng: Rng, length: number) => Float32Array.from({ length }, () => -0.5 * rng.int(3));

const cases: { name: string; batch: number; classes: number; images: number; logp?: (rng: Rng, length: number) => ArrayLike<number> }[] = [
  { name: 'a batch of 64, ten classes', batch: 64, classes: 10, images: 500 },
  { name: 'one sample', batch: 1, classes: 10, images: 3 },
  { name: 'several workgroups, 17 classes', batch: 300, classes: 17, images: 1000 },
  { name: 'two classes, the whole data set', batch: 65, classes: 2, images: 65 },
  { name: 'equal maxima', batch: 129, classes: 10, images: 200, logp: tied },
];

for (const c of cases) {
  test(`confusion ${c.name}: counts, predictions and probabilities match the reference`, async ({ rt }) => {
    const op = await Confusion.create(rt, c.batch, c.classes);
    await checkOp(rt, {
      inputs: {
        log_probs: c.logp ? { shape: [c.batch, c.classes], values: c.logp } : { shape: [c.batch, c.classes], range: [-6, 0] },
        labels: { shape: [c.batch], type: 'u32', range: [0, c.classes] },
        batch_indices: { shape: [c.batch], type: 'u32', values: someImages(c.images) },
      },
      outputs: {
        // Counts from earlier batches, to add to; poisoned entries for images not in this batch.
        confusion: { shape: [c.classes, c.classes], type: 'u32', range: [0, 1000] },
        predicted: { shape: [c.images], type: 'u32' },
        confidence: { shape: [c.images], range: [2, 3] },
      },
      dispatches: (t) => [op.accumulate(t)],
      reference: (x) => {
        const out = { confusion: x.confusion.slice(), predicted: x.predicted.slice(), confidence: x.confidence.slice() };
        ref.confusionTally(c.batch, c.classes, x.log_probs, x.labels, x.batch_indices, out);
        return out;
      },
    });
  });
}

test.run();
