// adam.wgsl and prepare_input.wgsl against the float64 reference.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MNIST } from '../../src/data/dataset';
import { submit } from '../../src/gpu/dispatch';
import type { Runtime } from '../../src/gpu/runtime';
import { LENET5 } from '../../src/model/network';
import { parameterTable } from '../../src/model/parameters';
import { Adam, ADAM_DEFAULTS } from '../../src/ops/adam';
import { PackedWeights, type PackedConv } from '../../src/ops/pack';
import { FLIP_BIT, PrepareInput, type PrepareShape } from '../../src/ops/prepare_input';
import * as ref from '../../src/reference/ops';
import { Rng } from '../../src/util/rng';
import { assertClose, freshSeed, openRuntime, poisoned, poisonedU32, randomInput } from '../helpers/gpu';

const test = suite('adam + prepare_input');
let rt: Runtime;
test.before(async () => {
  rt = await openRuntime();
});
test.after(() => rt.destroy());

for (const count of [1, parameterTable(LENET5).flatLength, 1000_003]) {
  test(`adam on ${count} parameters: three steps match torch.optim.Adam's algorithm`, async () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const hyper = { ...ADAM_DEFAULTS, lr: 3e-3 };
    const adam = await Adam.create(rt, count, hyper);
    const param = randomInput(rt, rng, 'param', [count]);
    const grad = randomInput(rt, rng, 'grad', [count]);
    const m = randomInput(rt, rng, 'exp_avg', [count], -0.1, 0.1);
    const v = randomInput(rt, rng, 'exp_avg_sq', [count], 0, 0.01);
    const p = param.values.slice();
    const em = m.values.slice();
    const ev = v.values.slice();
    const d = adam.step({ param: param.tensor, grad: grad.tensor, exp_avg: m.tensor, exp_avg_sq: v.tensor });
    for (let t = 1; t <= 3; t++) {
      adam.setStep(t);
      submit(rt, [d]);
      ref.adamStep(p, grad.values, em, ev, t, hyper);
    }
    assertClose('param', await rt.read(param.tensor), p, seed);
    assertClose('exp_avg', await rt.read(m.tensor), em, seed);
    assertClose('exp_avg_sq', await rt.read(v.tensor), ev, seed);
  });
}

test('adam step_and_pack: the same step, and each conv weight written to its packed copies as pack.wgsl packs them', async () => {
  const seed = freshSeed();
  const rng = new Rng(seed);
  const table = parameterTable(LENET5);
  const count = table.flatLength;
  const convs = ['conv1', 'conv2'].map((name) => {
    const stage = table.resolved.stages.find((s) => s.name === name)!;
    return { name, shape: (stage as { shape: PackedConv['shape'] }).shape, offset: table.slot(`${name}.weight`).offset };
  });
  const [byAdam, byPack] = [await PackedWeights.create(rt, convs, count, true), await PackedWeights.create(rt, convs, count, true)];
  const adam = await Adam.create(rt, count);
  const ranges: [number, number][] = [[-1, 1], [-1, 1], [-0.1, 0.1], [0, 0.01]];
  const inputs = ['param', 'grad', 'exp_avg', 'exp_avg_sq'].map((name, i) => randomInput(rt, rng, name, [count], ...ranges[i]));
  const [param, grad, m, v] = inputs.map((x) => x.tensor);
  // The same values again, for step alone.
  const [p2, g2, m2, v2] = inputs.map((x) => {
    const t = rt.tensor('copy', [count]);
    rt.write(t, Float32Array.from(x.values));
    return t;
  });
  adam.setStep(1);
  submit(rt, [
    adam.stepAndPack({ param, grad, exp_avg: m, exp_avg_sq: v, slots: byAdam.slots, packed: byAdam.packed }),
    adam.step({ param: p2, grad: g2, exp_avg: m2, exp_avg_sq: v2 }),
    byPack.pack(p2),
  ]);
  const same = (a: Float32Array, b: Float32Array) => Buffer.compare(Buffer.from(a.buffer), Buffer.from(b.buffer)) === 0;
  assert.ok(same(await rt.read(param), await rt.read(p2)), `the parameters differ from step's (seed ${seed})`);
  const [a, b] = [await rt.read(byAdam.packed), await rt.read(byPack.packed)];
  assert.ok(same(a, b), `the packed copies differ from pack.wgsl's (seed ${seed})`);
  // Every copy written: as many non-zero elements as conv weights, twice.
  const weights = convs.reduce((n, c) => n + c.shape.outChannels * c.shape.inChannels * c.shape.kernel ** 2, 0);
  assert.is(a.filter((x) => x !== 0).length, 2 * weights);
});

// MNIST into LeNet-5 at three batch sizes, then other sizes: up and down, rows and
// columns apart, and the same size.
const CASES: { name: string; shape: PrepareShape }[] = [
  ...[64, 1, 37].map((batch) => ({ name: `28x28 -> 32x32, batch ${batch}`, shape: { batch, srcHeight: 28, srcWidth: 28, dstHeight: 32, dstWidth: 32 } })),
  { name: '20x36 -> 29x17, batch 9', shape: { batch: 9, srcHeight: 20, srcWidth: 36, dstHeight: 29, dstWidth: 17 } },
  { name: '28x28 -> 28x28, batch 5', shape: { batch: 5, srcHeight: 28, srcWidth: 28, dstHeight: 28, dstWidth: 28 } },
];

for (const { name, shape } of CASES) {
  test(`prepare_input, ${name}: gather, resize, normalise and flip match the reference`, async () => {
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

test('prepare_input: sizes must be positive integers', async () => {
  try {
    await PrepareInput.create(rt, { batch: 4, srcHeight: 28, srcWidth: 0, dstHeight: 32, dstWidth: 32 }, MNIST.normalization);
  } catch (err) {
    assert.match((err as Error).message, /^prepare_input: srcWidth must be a positive integer, got 0$/);
    return;
  }
  assert.unreachable('a zero width was taken');
});

test.run();
