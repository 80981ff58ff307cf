// The trainer end to end on real MNIST: loss falls, K steps agree with the float64
// reference trainer, a resumed run ends bitwise where an uninterrupted one does,
// and the same seed gives the same weights.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { splitRecord } from '../../src/data/dataset';
import { defaultMnistDir, loadMnist, type MnistSplit } from '../../src/data/mnist';
import type { Runtime } from '../../src/gpu/runtime';
import { LENET5, LENET5_BN, LENET5_CLASSIC, LENET5_PAD, LENET5_RELU, networkNamed, type Network } from '../../src/model/network';
import { parameterTable } from '../../src/model/parameters';
import { resolve } from '../../src/model/network';
import { newAdamState, referenceTrainStep } from '../../src/reference/network';
import { prepareInput } from '../../src/reference/ops';
import type { Checkpoint } from '../../src/train/checkpoint';
import { loadCheckpoint, saveCheckpoint } from '../../src/train/checkpoint-file';
import { prepareShape } from '../../src/train/feed';
import { DEFAULT_CONFIG, type TrainConfig } from '../../src/train/options';
import { runTraining } from '../../src/train/run';
import { Trainer } from '../../src/train/trainer';
import { assertClose, openRuntime } from '../helpers/gpu';
import { toReference } from '../helpers/network';

const test = suite('trainer');
let rt: Runtime;
let train: MnistSplit;
test.before(async () => {
  rt = await openRuntime();
  train = loadMnist(defaultMnistDir(), 'train');
});
test.after(() => rt.destroy());

const small: TrainConfig = { ...DEFAULT_CONFIG, limit: 200, batchSize: 32, epochs: 2, logEvery: 2, hflip: true, seed: 7 };
const smallRun = small;

async function runToEnd(t: Trainer): Promise<void> {
  while (t.where.epoch < t.config.epochs) await t.trainEpoch();
}

function bitwiseEqual(a: Float32Array, b: Float32Array): boolean {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
}

test('a short run on 512 images: the loss falls', async () => {
  const t = await Trainer.create(rt, { ...DEFAULT_CONFIG, limit: 512, epochs: 3, logEvery: 4 }, train, null);
  const losses: number[] = [];
  const epochs = [];
  for (let e = 0; e < 3; e++) epochs.push(await t.trainEpoch({ onLog: (p) => void losses.push(p.loss) }));
  assert.ok(losses[0] > 2.0, `first logged loss ${losses[0]} should be near ln(10)`);
  assert.ok(epochs[2]!.trainLoss < 0.75 * epochs[0]!.trainLoss, `train loss ${epochs.map((e) => e!.trainLoss.toFixed(3)).join(' -> ')}`);
  assert.ok(losses.at(-1)! < losses[0], `losses ${losses.map((l) => l.toFixed(3)).join(' ')}`);
});

for (const net of [LENET5, LENET5_RELU, LENET5_CLASSIC, LENET5_PAD, LENET5_BN]) {
  test(`${net.name}: K steps without shuffling agree with the float64 reference trainer (every parameter and buffer, 1e-4)`, async () => {
    const K = 10;
    const batch = 16;
    const config = { ...DEFAULT_CONFIG, arch: net.name, limit: K * batch, batchSize: batch, epochs: 1, shuffle: false, seed: 3 };
    const t = await Trainer.create(rt, config, train, null, { network: net });
    const initial = await t.readParameters();
    await t.trainEpoch();
    const gpu = await t.readParameters();

    const params = toReference(net, initial);
    const state = newAdamState(params);
    for (let k = 0; k < K; k++) {
      const indices = Uint32Array.from({ length: batch }, (_, i) => k * batch + i);
      const input = prepareInput(prepareShape(batch, train, net), train.images, indices, new Uint8Array(batch), config.normalization);
      const labels = Uint32Array.from(indices, (i) => train.labels[i]);
      referenceTrainStep(net, params, state, input, labels, batch, undefined, config.seed);
    }
    const table = parameterTable(net);
    for (const s of table.slots) {
      // A bias a batchnorm follows has no gradient in exact arithmetic: float32 (PyTorch's
      // too) steps it by its rounding, which the batchnorm's running mean then carries.
      // bench/pytorch_steps.py marks both; test/gpu/pytorch.test.ts compares the rest with PyTorch's float32.
      const biasBeforeNorm = s.name.endsWith('.bias') && table.slots.some((b) => b.role === 'buffer' && resolveInput(net, b.stage) === s.stage);
      const itsMean = s.name.endsWith('.running_mean') && table.slots.some((b) => b.name === `${resolveInput(net, s.stage)}.bias`);
      if (biasBeforeNorm || itsMean) continue;
      assertClose(`${s.name} after ${K} steps`, table.view(gpu, s.name), params[s.name], 0, 1e-4);
    }
  });
}

test('the same seed gives bitwise the same weights', async () => {
  const a = await Trainer.create(rt, small, train, null);
  await runToEnd(a);
  const b = await Trainer.create(rt, small, train, null);
  await runToEnd(b);
  assert.ok(bitwiseEqual(await a.model.readParameters(), await b.model.readParameters()));
  const c = await Trainer.create(rt, { ...small, seed: 8 }, train, null);
  await runToEnd(c);
  assert.not.ok(bitwiseEqual(await a.model.readParameters(), await c.model.readParameters()), 'another seed, other weights');
});

/** The stage whose output a stage reads. */
function resolveInput(net: Network, stage: string): string {
  return resolve(net).stages.find((s) => s.name === stage)!.input;
}

for (const net of [LENET5, LENET5_BN]) {
test(`${net.name}: a run interrupted mid-epoch and resumed from its checkpoint file ends bitwise as an uninterrupted one`, async () => {
  const small = { ...smallRun, arch: net.name };
  const whole = await Trainer.create(rt, small, train, null, { network: net });
  await runToEnd(whole);
  const expected = await whole.readState();

  const dir = mkdtempSync(join(tmpdir(), 'lenet-resume-'));
  try {
    const first = await Trainer.create(rt, small, train, null, { network: net });
    await first.trainEpoch(); // epoch 1 whole
    let steps = 0;
    assert.is(await first.trainEpoch({ shouldStop: () => steps++ === 3 }), null); // Ctrl-C 3 steps into epoch 2
    const w = first.where;
    assert.equal([w.epoch, w.stepInEpoch], [1, 3]);
    const path = join(dir, 'run.ckpt.safetensors');
    await saveCheckpoint(path, { network: first.network, ...(await first.readState()), config: small, data: first.data, history: { steps: [], epochs: [] } });

    const c = await loadCheckpoint(path);
    assert.equal(c.position, w);
    const resumed = await Trainer.create(rt, c.config, train, null, c);
    await runToEnd(resumed);
    const got = await resumed.readState();
    assert.is(resumed.where.step, whole.where.step);
    assert.ok(bitwiseEqual(got.params, expected.params), 'weights');
    assert.ok(bitwiseEqual(got.adam.expAvg, expected.adam.expAvg), 'exp_avg');
    assert.ok(bitwiseEqual(got.adam.expAvgSq, expected.adam.expAvgSq), 'exp_avg_sq');
    if (net === LENET5_BN) assert.is(parameterTable(net).view(got.params, 'bn1.num_batches_tracked')[0], whole.where.step, 'num_batches_tracked');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
}

test('a checkpoint records its data, and a resume on other data (one byte apart) is refused naming both; an old checkpoint (no data) resumes', async () => {
  const first = await Trainer.create(rt, smallRun, train, null);
  let steps = 0;
  assert.is(await first.trainEpoch({ shouldStop: () => steps++ === 3 }), null);
  const c: Checkpoint = { network: first.network, ...(await first.readState()), config: smallRun, data: first.data, history: { steps: [], epochs: [] } };
  assert.equal(c.data, { dataset: 'mnist', train: splitRecord(train), test: null });
  const other = { ...train, images: train.images.slice() };
  other.images[other.images.length - 1] ^= 1; // past the run's limit, even: the files are the data
  const digest = (s: MnistSplit) => splitRecord(s).digest;
  try {
    await Trainer.create(rt, c.config, other, null, c);
    assert.unreachable('a resume on other data must be refused');
  } catch (err) {
    assert.is(
      (err as Error).message,
      `the checkpoint's run trained on mnist (60000 training images, digest ${digest(train)}), but the data given is mnist (60000 training images, digest ${digest(other)}): resume with the data it trained on`,
    );
  }
  const old = await Trainer.create(rt, c.config, other, null, { ...c, data: null });
  assert.is(old.where.step, 3);
});

test('a loss that grows by orders of magnitude stops the run, finite or not', async () => {
  const t = await Trainer.create(rt, { ...DEFAULT_CONFIG, lr: 1, limit: 640, epochs: 1, logEvery: 5 }, train, null);
  try {
    await t.trainEpoch();
    assert.unreachable('lr 1 must diverge');
  } catch (err) {
    assert.match((err as Error).message, /^training diverged: loss is \S+ at step 5, (over 100 times ln\(10\) = 230\.3, the loss of a uniform guess|not a finite number); try a smaller learning rate \(--lr\)$/);
  }
});

test('the last partial batch is trained on, or dropped with dropLast', async () => {
  const keep = await Trainer.create(rt, { ...small, epochs: 1 }, train, null);
  const r = await keep.trainEpoch();
  assert.is(r!.samples, 200);
  assert.is(keep.stepsPerEpoch, 7);
  const drop = await Trainer.create(rt, { ...small, epochs: 1, dropLast: true }, train, null);
  assert.is((await drop.trainEpoch())!.samples, 192);
  assert.is(drop.stepsPerEpoch, 6);
});

test('the run loop: history, a checkpoint per epoch and on stop, and a stopped run resumed from one ends as an uninterrupted one', async () => {
  const whole = await Trainer.create(rt, small, train, null);
  const wholeHistory = { steps: [], epochs: [] };
  const checkpoints: number[] = [];
  assert.is(await runTraining(whole, wholeHistory, { onCheckpoint: (c) => void checkpoints.push(c.position.step) }), 'done');
  assert.equal(checkpoints, [7, 14]);
  assert.is(wholeHistory.epochs.length, 2);

  let steps = 0;
  let saved: Checkpoint | null = null;
  const first = await Trainer.create(rt, small, train, null);
  const history = { steps: [], epochs: [] };
  const end = await runTraining(first, history, { shouldStop: () => steps++ === 10, onCheckpoint: (c) => void (saved = c) });
  assert.is(end, 'stopped');
  const c = saved!;
  assert.equal([c.position.epoch, c.position.stepInEpoch, c.position.step], [1, 3, 10]);
  const resumed = await Trainer.create(rt, c.config, train, null, c);
  assert.equal(c.history.epochs, wholeHistory.epochs.slice(0, 1), 'the epochs done in the checkpoint\'s history');
  assert.is(await runTraining(resumed, c.history), 'done');
  assert.ok(bitwiseEqual(await resumed.model.readParameters(), await whole.model.readParameters()), 'weights');
  assert.is(c.history.epochs.length, 2, 'and the resumed one added to it');
  assert.ok(networkNamed(c.config.arch) === LENET5);
});

test.run();
