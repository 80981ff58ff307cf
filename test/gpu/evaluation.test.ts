// What the pictures show, against independent computations: the fixture model's
// confusion matrix (tallied on the GPU during evaluation) against one counted from
// per-image predictions, and the feature maps a Predictor reads from its forward
// pass against the float64 reference's activations for the same digit.
import * as assert from 'uvu/assert';
import { defaultMnistDir, loadMnist } from '../../src/data/mnist';
import { loadModel } from '../../src/model/safetensors';
import { featureMaps, resolve } from '../../src/model/network';
import { referenceForward } from '../../src/reference/network';
import { prepareInput } from '../../src/reference/ops';
import { misclassified } from '../../src/train/evaluation';
import { evaluateModel, Predictor } from '../../src/train/inference';
import { Rng } from '../../src/util/rng';
import { assertClose, freshSeed, gpuSuite } from '../helpers/gpu';
import { toReference } from '../helpers/network';

const test = gpuSuite('evaluation');
const FIXTURE = 'test/fixtures/lenet5-mnist.safetensors';

test("the fixture model's confusion matrix is the one its per-image predictions give", async ({ rt }) => {
  const model = await loadModel(FIXTURE);
  const split = loadMnist(defaultMnistDir(), 'test');
  const e = await evaluateModel(rt, model.network, model.params, split, model.normalization);
  const classes = 10;
  assert.is(e.count, split.count);

  // Independently: each image through a Predictor (its own feed, batches and buffers), then counted here.
  const predictor = await Predictor.create(rt, model.network, model.normalization, { params: model.params });
  const digits = Array.from({ length: split.count }, (_, i) => split.images.subarray(i * 784, (i + 1) * 784));
  const probabilities = await predictor.predict(digits);
  const counted = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  const classCounts = new Array<number>(classes).fill(0);
  probabilities.forEach((p, i) => {
    const best = p.indexOf(Math.max(...p));
    counted[split.labels[i]][best]++;
    classCounts[split.labels[i]]++;
    assert.is(e.predicted[i], best, `image ${i}: predicted class`);
    assert.ok(Math.abs(e.confidence[i] - p[best]) <= 1e-6, `image ${i}: probability ${e.confidence[i]} against ${p[best]}`);
  });
  assert.equal(e.confusion, counted);
  assert.equal(e.confusion.map((row) => row.reduce((a, b) => a + b, 0)), classCounts, 'rows sum to the class counts');
  const trace = e.confusion.reduce((sum, row, c) => sum + row[c], 0);
  assert.is(trace, e.correct, 'the trace is the number of correct answers');
  assert.ok(e.correct >= 9800, `accuracy ${e.accuracy}`);
  e.perClass.forEach((a, c) => assert.is(a, e.confusion[c][c] / classCounts[c], `class ${c}'s accuracy`));

  const misses = misclassified(e, split.labels);
  assert.is(misses.length, e.count - e.correct);
  for (let i = 1; i < misses.length; i++) assert.ok(misses[i - 1].probability >= misses[i].probability, 'the most confident mistakes first');
  for (const m of misses.slice(0, 20)) {
    assert.is(m.label, split.labels[m.index]);
    assert.is.not(m.predicted, m.label);
  }
});

test('the feature maps shown for a digit are the float64 reference activations', async ({ rt }) => {
  const model = await loadModel(FIXTURE);
  const split = loadMnist(defaultMnistDir(), 'test');
  const seed = freshSeed();
  const rng = new Rng(seed);
  const predictor = await Predictor.create(rt, model.network, model.normalization, { params: model.params });
  const params = toReference(model.network, model.params);
  const [, height, width] = model.network.input;
  const sources = featureMaps(resolve(model.network));
  assert.equal(
    sources.map((s) => s.label),
    ['conv1, ReLU, pool1', 'conv2, pool2'],
  );
  for (let k = 0; k < 3; k++) {
    const index = rng.int(split.count);
    const digit = split.images.slice(index * 784, (index + 1) * 784);
    const explained = await predictor.explain(digit);
    const input = prepareInput({ batch: 1, srcHeight: 28, srcWidth: 28, dstHeight: height, dstWidth: width }, digit, new Uint32Array(1), new Uint8Array(1), model.normalization);
    const ref = referenceForward(model.network, params, input, 1);
    assert.equal(
      explained.maps.map((m) => m.name),
      sources.map((s) => s.name),
    );
    for (const m of explained.maps) {
      assert.is(m.values.length, m.shape[0] * m.shape[1] * m.shape[2]);
      assertClose(`image ${index}: ${m.label}`, m.values, ref.act[m.name], seed, 1e-5);
    }
    assertClose(`image ${index}: probabilities`, explained.probabilities, Array.from(ref.logp, Math.exp), seed, 1e-5);
  }
});

test.run();
