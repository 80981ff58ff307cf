// adam.wgsl against the float64 reference: step (torch.optim.Adam's algorithm) on
// one parameter, lenet5's and a million, and step_and_pack, which also writes each
// conv weight's packed copies, against step and pack.wgsl.
import * as assert from 'uvu/assert';
import { submit } from '../../src/gpu/dispatch';
import { LENET5 } from '../../src/model/network';
import { parameterTable } from '../../src/model/parameters';
import { Adam, ADAM_DEFAULTS } from '../../src/ops/adam';
import { PackedWeights, type PackedConv } from '../../src/ops/pack';
import * as ref from '../../src/reference/ops';
import { Rng } from '../../src/util/rng';
import { assertClose, freshSeed, gpuSuite, randomInput } from '../helpers/gpu';

const test = gpuSuite('adam');

for (const count of [1, parameterTable(LENET5).flatLength, 1000_003]) {
  test(`adam on ${count} parameters: three steps match torch.optim.Adam's algorithm`, async ({ rt }) => {
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

test('adam step_and_pack: the same step, and each conv weight written to its packed copies as pack.wgsl packs them', async ({ rt }) => {
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

test.run();
