// The batch-size limits (src/train/limits.ts) at their boundary, on the adapter under
// test: what they count is every buffer a trainer sizes by the batch; the largest
// batch trains and its test line agrees with eval; one more is refused in one line
// before any GPU work; a data set or a binding beyond the limits is refused; and the
// kernels that loop over the batch are right at the largest batch their loops allow
// (llvmpipe silently ends an invocation's loops after 65,535 iterations in all).
//
// The run at the largest batch goes through the programs at the adapter's own limits
// where that batch is small enough to train quickly (llvmpipe: 7,133). Elsewhere
// (SwiftShader: 57,065, a GPU: more) it runs in-process at a lowered limit
// (Runtime.lowerLimits): the same computation and checks at a boundary of 256.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { defaultMnistDir, loadMnist, type MnistSplit } from '../../src/data/mnist';
import { submit } from '../../src/gpu/dispatch';
import type { Runtime, Tensor } from '../../src/gpu/runtime';
import { LENET5, NETWORKS } from '../../src/model/network';
import { Conv2d } from '../../src/ops/conv2d';
import { Linear } from '../../src/ops/linear';
import { NllLoss } from '../../src/ops/nll_loss';
import { evaluateModel } from '../../src/train/inference';
import { batchLimit, trainingBuffers } from '../../src/train/limits';
import { DEFAULT_CONFIG, type TrainConfig } from '../../src/train/options';
import { Trainer } from '../../src/train/trainer';
import { openRuntime } from '../helpers/gpu';
import { smallMnist } from '../helpers/mnist';
import { program } from '../helpers/programs';

const test = suite('batch size limits');
let rt: Runtime;
let dir: string;
let train: MnistSplit;
let testSet: MnistSplit;
test.before(async () => {
  rt = await openRuntime();
  dir = mkdtempSync(join(tmpdir(), 'lenet-limits-'));
  train = loadMnist(defaultMnistDir(), 'train');
  testSet = loadMnist(defaultMnistDir(), 'test');
});
test.after(() => {
  rt.destroy();
  rmSync(dir, { recursive: true, force: true });
});

/** A run at the adapter's own largest batch goes through the programs up to this size. */
const QUICK_BATCH = 8192;

function limitOf(r: Runtime) {
  return batchLimit(LENET5, r.limits, { loopLimit: r.adapter.loopLimit, workgroupSize: r.workgroupSize, adapter: r.adapter.name });
}

function cli(name: string, args: string[]) {
  const r = spawnSync(...program(name, args), { encoding: 'utf8', env: process.env, timeout: 300_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** Dawn's notices about the llvmpipe adapter's limits, which the programs cannot silence (see src/gpu/node.ts). */
const DAWN_NOTICE = /^Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced/;

function first(split: MnistSplit, count: number): MnistSplit {
  return { ...split, count, images: split.images.subarray(0, count * split.rows * split.cols), labels: split.labels.subarray(0, count) };
}

/** The label and size of every buffer made through rt.buffer() while `make` runs. */
async function buffersMade(make: () => Promise<unknown>): Promise<{ label: string; size: number }[]> {
  const made: { label: string; size: number }[] = [];
  const own = rt.buffer.bind(rt);
  rt.buffer = (label, size, usage) => {
    made.push({ label, size });
    return own(label, size, usage);
  };
  try {
    await make();
  } finally {
    delete (rt as { buffer?: unknown }).buffer;
  }
  return made;
}

for (const net of NETWORKS) {
  test(`${net.name}: the limits count every buffer a trainer sizes by the batch, at its size per sample`, async () => {
    const config = (batchSize: number): TrainConfig => ({ ...DEFAULT_CONFIG, arch: net.name, batchSize, limit: 64, testLimit: 64 });
    const a = await buffersMade(() => Trainer.create(rt, config(8), train, testSet));
    const b = await buffersMade(() => Trainer.create(rt, config(16), train, testSet));
    // Ops are made concurrently: pair the buffers by label (each stage labels its own).
    const byLabel = (list: { label: string; size: number }[]) => [...list].sort((x, y) => x.label.localeCompare(y.label) || x.size - y.size);
    const [sa, sb] = [byLabel(a), byLabel(b)];
    assert.equal(sb.map((x) => x.label), sa.map((x) => x.label), 'the same buffers');
    const perSample = sa.map((x, i) => [x.label, (sb[i].size - x.size) / 8] as const).filter(([, n]) => n > 0);
    // Two feeds (training and test) each have their batch indices; the limits count one.
    const counted = [...trainingBuffers(net).map((x) => [x.label, x.bytesPerSample] as const), ['batch indices', 4] as const];
    const sizes = (list: readonly (readonly [string, number])[]) => list.map(([, n]) => n).sort((x, y) => x - y);
    assert.equal(sizes(perSample), sizes(counted), `made ${JSON.stringify(perSample)}\ncounted ${JSON.stringify(counted)}`);
  });
}

test('the largest batch the adapter allows trains, and its test line agrees with eval', async () => {
  const { max } = limitOf(rt);
  if (max > QUICK_BATCH) {
    console.log(`  (${rt.adapter.name} allows batches up to ${max}: too long a run here; the next test runs the boundary at a lowered limit)`);
    return;
  }
  const data = smallMnist(join(dir, 'max'), max, max);
  const out = join(dir, 'max.safetensors');
  const r = cli('train', ['--data', data, '--batch-size', String(max), '--epochs', '1', '--out', out]);
  assert.is(r.code, 0, r.err);
  const e = cli('eval', [out, '--data', data]);
  assert.is(e.code, 0, e.err);
  const line = (text: string) => /Test set: Average loss: (\d+\.\d+), Accuracy: (\d+\/\d+)/.exec(text);
  const [trained, evaluated] = [line(r.out), line(e.out)];
  assert.ok(trained && evaluated, `${r.out}\n${e.out}`);
  // The sums run in other orders (batches of max, and of 64): the 4th decimal may round apart.
  assert.ok(Math.abs(Number(trained![1]) - Number(evaluated![1])) <= 1e-4, `train: ${trained![0]}\neval:  ${evaluated![0]}`);
  assert.is(trained![2], evaluated![2], `train: ${trained![0]}\neval:  ${evaluated![0]}`);
});

test('at a lowered limit, the largest batch trains and agrees with eval; one more is refused', async () => {
  const M = 256;
  const widest = Math.max(...trainingBuffers(LENET5).map((b) => b.bytesPerSample));
  rt.lowerLimits({ maxStorageBufferBindingSize: M * widest + widest - 1 });
  try {
    assert.is(limitOf(rt).max, M);
    const config: TrainConfig = { ...DEFAULT_CONFIG, batchSize: M, epochs: 1, limit: M, testLimit: M };
    const trainer = await Trainer.create(rt, config, train, testSet);
    await trainer.trainEpoch();
    const trained = await trainer.evaluate();
    const evaluated = await evaluateModel(rt, LENET5, await trainer.model.readParameters(), first(testSet, M), config.normalization);
    assert.is(trained.correct, evaluated.correct);
    assert.ok(Math.abs(trained.loss - evaluated.loss) <= 1e-5 * evaluated.loss, `train ${trained.loss}, eval ${evaluated.loss}`);
    try {
      await Trainer.create(rt, { ...config, batchSize: M + 1, limit: M + 1 }, train, testSet);
      assert.unreachable('batch M + 1 was accepted');
    } catch (e) {
      assert.match((e as Error).message, `batch size ${M + 1} is larger than ${M}, the most ${rt.adapter.name} allows for lenet5: buffer "conv1" would need`);
    }
  } finally {
    rt.lowerLimits({ maxStorageBufferBindingSize: Infinity });
  }
});

test('train refuses one more than the largest batch before any GPU work, in one line', () => {
  const { max } = limitOf(rt);
  const out = join(dir, 'refused', 'model.safetensors');
  const r = cli('train', ['--batch-size', String(max + 1), '--epochs', '1', '--out', out]);
  assert.is(r.code, 1, r.err);
  const lines = r.err.split('\n').filter((l) => l !== '' && !DAWN_NOTICE.test(l));
  assert.is(lines.length, 1, r.err);
  assert.match(lines[0], `error: batch size ${max + 1} is larger than ${max}, the most ${rt.adapter.name} allows for lenet5: `);
  assert.not.match(r.out, /set-up|Epoch/);
  assert.ok(!existsSync(join(dir, 'refused')) || readdirSync(join(dir, 'refused')).length === 0, 'nothing written');
});

test('a data set larger than one storage binding is refused, saying how many images fit', async () => {
  rt.lowerLimits({ maxStorageBufferBindingSize: 2 ** 20 });
  try {
    await Trainer.create(rt, { ...DEFAULT_CONFIG, batchSize: 8, limit: 2000, testLimit: 100 }, train, testSet);
    assert.unreachable('the data set was accepted');
  } catch (e) {
    assert.match((e as Error).message, /^the train set's 2000 images of 28x28 take 1,568,000 bytes .*maxStorageBufferBindingSize of 1,048,576 bytes \(1 MiB\): at most 1337 of them fit$/);
  } finally {
    rt.lowerLimits({ maxStorageBufferBindingSize: Infinity });
  }
});

test('a kernel refuses a binding larger than the device allows', async () => {
  const { maxStorageBufferBindingSize: binding, maxBufferSize } = rt.device.limits;
  if (maxBufferSize <= binding) return; // no buffer can be bound past the limit
  const k = await rt.kernel('relu', 'forward');
  const big = rt.buffer('big', binding + 256);
  try {
    const small = rt.buffer('small', 16);
    assert.throws(
      () => k.bind({ params: k.uniformBuffer({ count: 4 }), input: { buffer: big, size: binding + 4 }, output: small }),
      /kernel relu\.forward: binding "input": .* bytes of buffer "big" are more than the device's maxStorageBufferBindingSize/,
    );
  } finally {
    big.destroy();
  }
});

/** The largest batch for which `iterations(batch)` stays within llvmpipe's loop limit. */
function loopMax(iterations: (batch: number) => number): number {
  const limit = rt.adapter.loopLimit ?? 65535;
  let n = limit;
  while (iterations(n) > limit) n--;
  return n;
}

function filled(label: string, shape: number[], value: number): Tensor {
  const t = rt.tensor(label, shape);
  rt.write(t, new Float32Array(t.length).fill(value));
  return t;
}

test('the kernels that loop over the batch are right at the largest batch their loops allow', async () => {
  const n = loopMax(Conv2d.batchLoopIterations);
  const conv = await Conv2d.create(rt, { batch: n, inChannels: 1, outChannels: 1, height: 1, width: 1, kernel: 1 }, { inputGrad: false });
  const ones = filled('ones', [n, 1, 1, 1], 1);
  const dweight = filled('dweight', [1, 1, 1, 1], NaN);
  const dbias = filled('dbias', [1], NaN);
  submit(rt, conv.backward({ doutput: ones, input: ones, dweight, dbias }));
  assert.equal([...(await rt.read(dweight)), ...(await rt.read(dbias))], [n, n], `conv2d at batch ${n}`);

  const m = loopMax(Linear.batchLoopIterations);
  const linear = await Linear.create(rt, { batch: m, inFeatures: 1, outFeatures: 1 }, { inputGrad: 'none' });
  const column = filled('ones', [m, 1], 1);
  const lw = filled('dweight', [1, 1], NaN);
  const lb = filled('dbias', [1], NaN);
  submit(rt, [linear.backward({ doutput: column, input: column, dweight: lw, dbias: lb })]);
  assert.equal([...(await rt.read(lw)), ...(await rt.read(lb))], [m, m], `linear at batch ${m}`);

  // Every sample's log-probabilities are -2 but -1 at class n % 10, and even samples are
  // labelled with that class: the loss sums 1 per even sample and 2 per odd one.
  const classes = 10;
  const b = loopMax((k) => NllLoss.batchLoopIterations(k, classes));
  const nll = await NllLoss.create(rt, b, classes);
  const logp = new Float32Array(b * classes).fill(-2);
  const labelValues = new Uint32Array(b);
  for (let i = 0; i < b; i++) {
    logp[i * classes + (i % classes)] = -1;
    labelValues[i] = (i + (i % 2)) % classes;
  }
  const logProbs = rt.tensor('log_probs', [b, classes]);
  rt.write(logProbs, logp);
  const labels = rt.tensor('labels', [b]);
  rt.write(labels, labelValues);
  const loss = filled('loss', [1], NaN);
  const metrics = filled('metrics', [3], 0);
  submit(rt, [nll.forward({ log_probs: logProbs, labels, loss }), nll.accumulate({ log_probs: logProbs, labels, metrics })]);
  const [even, odd] = [Math.ceil(b / 2), Math.floor(b / 2)];
  assert.equal([...(await rt.read(metrics))], [even + 2 * odd, even, b], `nll_loss.accumulate at batch ${b}`);
  const mean = (even + 2 * odd) / b;
  const got = (await rt.read(loss))[0];
  assert.ok(Math.abs(got - mean) <= 1e-6 * mean, `nll_loss.forward at batch ${b}: ${got}, expected ${mean}`); // WGSL's f32 division: 2.5 ulp

  // A training step's fused log-softmax, loss, metrics and gradient at the same batch,
  // from those log-probabilities taken as logits: the last sample's gradient is written too.
  const [loss2, metrics2, logp2, dlogits] = [filled('loss', [1], NaN), filled('metrics', [3], 0), filled('log_probs', [b, classes], NaN), filled('dlogits', [b, classes], NaN)];
  submit(rt, [nll.lossBackward({ logits: logProbs, log_probs: logp2, labels, loss: loss2, dlogits, metrics: metrics2 })]);
  const lse = Math.log(Math.exp(-1) + (classes - 1) * Math.exp(-2)); // log-softmax subtracts this from each logit
  const lossSum = even * (1 + lse) + odd * (2 + lse);
  const [sum2, correct2, samples2] = await rt.read(metrics2);
  assert.equal([correct2, samples2], [even, b], `nll_loss.loss_backward's metrics at batch ${b}`);
  assert.ok(Math.abs(sum2 - lossSum) <= 1e-5 * lossSum, `nll_loss.loss_backward's loss sum at batch ${b}: ${sum2}, expected ${lossSum}`);
  const got2 = (await rt.read(loss2))[0];
  assert.ok(Math.abs(got2 - lossSum / b) <= 1e-5 * (lossSum / b), `nll_loss.loss_backward at batch ${b}: ${got2}, expected ${lossSum / b}`);
  const grad = await rt.read(dlogits);
  const last = b - 1;
  const want = (c: number) => (Math.exp(logp[last * classes + c] - lse) - (c === labelValues[last] ? 1 : 0)) / b;
  for (let c = 0; c < classes; c++) {
    const g = grad[last * classes + c];
    assert.ok(Math.abs(g - want(c)) <= 1e-5 * Math.abs(want(c)), `dlogits[${last}, ${c}] at batch ${b}: ${g}, expected ${want(c)}`);
  }
});

test.run();
