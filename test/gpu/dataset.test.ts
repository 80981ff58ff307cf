// A data set the user brings, end to end through the programs: a synthetic 28x28,
// 10-class IDX set (not MNIST) made here trains with `train --data DIR`, which
// computes its normalisation and stores it in the model; `eval` and `predict` then
// use the stored values, not MNIST's. (Data sets of the wrong image size or with
// labels out of range are refused before any GPU work: test/cli-refused.test.ts.)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MNIST } from '../../src/data/dataset';
import { readDigit, writePng } from '../../src/data/image-file';
import type { Runtime } from '../../src/gpu/runtime';
import { loadModel } from '../../src/model/safetensors';
import { loadCheckpoint } from '../../src/train/checkpoint-file';
import { Predictor } from '../../src/train/inference';
import { Rng } from '../../src/util/rng';
import { SIDE, synthetic, writeSet, type Synthetic } from '../helpers/dataset';
import { openRuntime } from '../helpers/gpu';
import { program } from '../helpers/programs';

const test = suite('data sets the user brings');
let dir: string;
let data: string;
let set: { train: Synthetic; test: Synthetic };
let rt: Runtime;

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lenet-dataset-'));
  const rng = new Rng(2024);
  set = { train: synthetic(rng, 600), test: synthetic(rng, 200) };
  data = join(dir, 'bars');
  writeSet(data, set, { gzipTest: true });
  rt = await openRuntime();
});
test.after(() => {
  rt.destroy();
  rmSync(dir, { recursive: true, force: true });
});

function cli(name: string, args: string[]) {
  const r = spawnSync(...program(name, args), { encoding: 'utf8', env: process.env });
  const err = r.stderr.split('\n').filter((l) => l && !l.startsWith('Warning:'));
  return { code: r.status, out: r.stdout, err: err.join('\n') };
}

/** Mean and population std of pixel/255 over every training pixel, as a plain loop. */
function statistics(images: Uint8Array): { mean: number; std: number } {
  let sum = 0;
  for (const b of images) sum += b / 255;
  const mean = sum / images.length;
  let squares = 0;
  for (const b of images) squares += (b / 255 - mean) ** 2;
  return { mean, std: Math.sqrt(squares / images.length) };
}

const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-12 * Math.abs(b), `${what}: ${a} vs ${b}`);

test('train --data computes the normalisation, stores it; eval and predict use it', async () => {
  const out = join(dir, 'bars.safetensors');
  // A short run: the model learns something but is not yet sure, so a different normalisation shows.
  const r = cli('train', ['--data', data, '--epochs', '1', '--batch-size', '32', '--out', out]);
  assert.is(r.code, 0, r.err);

  // The printed figures are the data's.
  const expected = statistics(set.train.images);
  const printed = /normalisation computed from the 600 training images: --mean (\S+) --std (\S+)/.exec(r.out);
  assert.ok(printed, r.out);
  const [, mean, std] = printed!;
  close(Number(mean), expected.mean, 'printed mean');
  close(Number(std), expected.std, 'printed std');
  assert.ok(Math.abs(expected.mean - 0.1307) > 0.01, `the set is not MNIST-like in its statistics (mean ${expected.mean})`);
  assert.match(r.out, `data: 600 training and 200 test images of bars from ${data}, normalised with mean ${mean}, std ${std}`);

  // The model file and the checkpoint hold them exactly.
  const model = await loadModel(out);
  assert.equal([model.dataset, model.metadata.mean, model.metadata.std], ['bars', mean, std]);
  assert.equal(model.normalization, { mean: Number(mean), std: Number(std) });
  assert.equal((await loadCheckpoint(join(dir, 'bars.ckpt.safetensors'))).config.normalization, model.normalization);

  // eval uses the stored normalisation: the very figures training's last test pass printed.
  const lastTest = [...r.out.matchAll(/Test set: (Average loss: .*)/g)].at(-1)![1];
  const e = cli('eval', [out, '--data', data]);
  assert.is(e.code, 0, e.err);
  assert.ok(e.out.includes(`Test set: ${lastTest}`), `eval: ${e.out}\ntrain: ${lastTest}`);
  assert.ok(e.out.includes(`trained on bars, inputs normalised with mean ${mean}, std ${std}`), e.out);
  assert.ok(Number(/Accuracy: (\d+)\/200/.exec(lastTest)![1]) >= 100, `the bars are learnt: ${lastTest}`);

  // predict normalises a photo of a test image as the model's training did.
  const photo = join(dir, 'bar.png');
  const upscaled = Uint8Array.from({ length: 112 * 112 }, (_, i) => set.test.images[Math.floor(i / 448) * SIDE + ((i % 112) >> 2)]);
  writePng(photo, 112, 112, upscaled);
  const p = cli('predict', ['--model', out, '--json', photo]);
  assert.is(p.code, 0, p.err);
  const probabilities: number[] = JSON.parse(p.out).probabilities;
  const digit = readDigit(photo);
  const stored = (await (await Predictor.create(rt, model.network, model.normalization, { params: model.params })).predict([digit]))[0];
  const predictor = await Predictor.create(rt, model.network, MNIST.normalization, { params: model.params });
  const mnist = (await predictor.predict([digit]))[0];
  const worst = (q: ArrayLike<number>) => Math.max(...probabilities.map((x, i) => Math.abs(x - q[i])));
  assert.ok(worst(stored) <= 2e-6, `predict vs a Predictor with the stored normalisation: ${probabilities} vs ${Array.from(stored)}`);
  assert.ok(worst(mnist) > 1e-2, `MNIST's normalisation gives other probabilities: ${probabilities} vs ${Array.from(mnist)}`);
  // A predictor told the stored normalisation later (the page, loading a model) agrees too.
  predictor.setNormalization(model.normalization);
  assert.equal(Array.from((await predictor.predict([digit]))[0]), Array.from(stored));
});

test('--mean and --std set the normalisation, and nothing is computed', async () => {
  const out = join(dir, 'given.safetensors');
  const r = cli('train', ['--data', data, '--mean', '0.25', '--std', '0.5', '--epochs', '1', '--limit', '64', '--test-limit', '32', '--out', out]);
  assert.is(r.code, 0, r.err);
  assert.not.match(r.out, /normalisation computed/);
  assert.match(r.out, /normalised with mean 0\.25, std 0\.5\n/);
  const model = await loadModel(out);
  assert.equal([model.dataset, model.normalization], ['bars', { mean: 0.25, std: 0.5 }]);
});

test.run();
