// A run's data and normalisation before any GPU work (so in the CPU pass): --resume
// with other data (another directory, or the same name with other contents) or
// other normalisation is refused naming both; an all-black data set asks for
// --mean/--std. Each is one line and exit 1, with nothing written. The program is
// run with an adapter that does not exist, so a run that passes every check ends
// at the GPU's opening ("no adapter") instead of training.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MNIST, pixelStatistics, splitRecord } from '../src/data/dataset';
import { loadMnist } from '../src/data/mnist';
import { LENET5 } from '../src/model/network';
import { parameterTable } from '../src/model/parameters';
import { encodeCheckpoint } from '../src/train/checkpoint';
import { DEFAULT_CONFIG } from '../src/train/options';
import { checkResumeData } from '../src/train/trainer';
import { Rng } from '../src/util/rng';
import { program } from './helpers/programs';

const test = suite('runs');
let dir: string;
test.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'lenet-runs-'));
});
test.after(() => rmSync(dir, { recursive: true, force: true }));

function cli(args: string[]) {
  const r = spawnSync(...program('train', args), { encoding: 'utf8', env: { ...process.env, LENET_ADAPTER: 'none-such' } });
  return { code: r.status, out: r.stdout, err: r.stderr.trim() };
}

/** An IDX file: the magic, the dimensions, the bytes. */
function idx(magic: number, dims: number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, magic);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

/** A data set in MNIST's format under `path`: `train` and `test` images of 28x28 from `pixel(i)`, labels i % 10. */
function dataSet(path: string, train: number, test: number, pixel: (i: number) => number): string {
  mkdirSync(path, { recursive: true });
  for (const [split, count] of [['train', train], ['test', test]] as const) {
    const names = MNIST.files[split];
    writeFileSync(join(path, names.images), idx(0x803, [count, 28, 28], Uint8Array.from({ length: count * 784 }, (_, i) => pixel(i))));
    writeFileSync(join(path, names.labels), idx(0x801, [count], Uint8Array.from({ length: count }, (_, i) => i % 10)));
  }
  return path;
}

/** A checkpoint at the start of a run on the data in `data`, as train would write it, at `path`. */
function checkpointOn(data: string, path: string): string {
  const train = loadMnist(data, 'train');
  const testSplit = loadMnist(data, 'test');
  const table = parameterTable(LENET5);
  const zeros = () => new Float32Array(table.flatLength);
  const name = 'a';
  writeFileSync(
    path,
    encodeCheckpoint({
      network: LENET5,
      params: table.init(new Rng(1)),
      adam: { expAvg: zeros(), expAvgSq: zeros(), step: 0 },
      position: { step: 0, epoch: 0, stepInEpoch: 0, rngState: new Rng(1).state },
      config: { ...DEFAULT_CONFIG, epochs: 1, dataset: name, normalization: pixelStatistics(train.images) },
      data: { dataset: name, train: splitRecord(train), test: splitRecord(testSplit) },
      history: { steps: [], epochs: [] },
    }),
  );
  return path;
}

const NO_ADAPTER = /no adapter|none-such/i;

test('--resume refuses other data, naming both, and takes the same data in another directory', () => {
  const a = dataSet(join(dir, 'one', 'a'), 128, 20, (i) => (i * 7) % 256);
  const ckpt = checkpointOn(a, join(dir, 'a.ckpt.safetensors'));
  const out = join(dir, 'out.safetensors');
  const digests = (d: string) => {
    const [train, testSplit] = [splitRecord(loadMnist(d, 'train')), splitRecord(loadMnist(d, 'test'))];
    return `(${train.count} training images, digest ${train.digest}; ${testSplit.count} test images, digest ${testSplit.digest})`;
  };
  // The same name with other contents: one pixel differs.
  const other = dataSet(join(dir, 'two', 'a'), 128, 20, (i) => (i === 5000 ? 1 : (i * 7) % 256));
  for (const [given, name] of [
    [other, 'a'],
    [dataSet(join(dir, 'b'), 128, 20, (i) => (i * 11) % 256), 'b'],
    [dataSet(join(dir, 'c'), 256, 20, (i) => (i * 7) % 256), 'c'],
  ] as const) {
    const r = cli(['--resume', ckpt, '--data', given, '--out', out]);
    assert.is(r.code, 1, r.err);
    assert.is(r.err, `error: ${ckpt}: the checkpoint's run trained on a ${digests(a)}, but --data ${given} is ${name} ${digests(given)}: resume with the data it trained on`);
  }
  // The default data (MNIST) is not the checkpoint's either.
  const mnist = cli(['--resume', ckpt, '--out', out]);
  assert.is(mnist.code, 1);
  assert.match(mnist.err, /^error: .*a\.ckpt\.safetensors: the checkpoint's run trained on a \(128 training images, .*\), but the default data \(.*\) is mnist \(60000 training images, digest [0-9a-f]{16}; 10000 test images, digest [0-9a-f]{16}\): resume with the data it trained on$/);
  // The same bytes elsewhere are the same data: the run gets as far as the GPU.
  const copy = dataSet(join(dir, 'three', 'elsewhere'), 128, 20, (i) => (i * 7) % 256);
  for (const given of [a, copy]) {
    const r = cli(['--resume', ckpt, '--data', given, '--out', out]);
    assert.is(r.code, 1);
    assert.match(r.err, NO_ADAPTER, r.err);
    assert.not.match(r.err, /trained on/);
  }
  assert.not.ok(existsSync(out));
});

test('--resume refuses other normalisation naming both, and takes the same', () => {
  const a = dataSet(join(dir, 'n', 'a'), 64, 10, (i) => (i * 3) % 256);
  const ckpt = checkpointOn(a, join(dir, 'n.ckpt.safetensors'));
  const { mean, std } = pixelStatistics(loadMnist(a, 'train').images);
  const r = cli(['--resume', ckpt, '--data', a, '--mean', '0.5', '--std', '0.25', '--out', join(dir, 'n.safetensors')]);
  assert.is(r.code, 1);
  assert.is(r.err, `error: --mean 0.5 --std 0.25: ${ckpt} was trained with --mean ${mean} --std ${std}; a resumed run keeps its normalisation`);
  const same = cli(['--resume', ckpt, '--data', a, '--mean', String(mean), '--std', String(std), '--out', join(dir, 'n.safetensors')]);
  assert.match(same.err, NO_ADAPTER, same.err);
});

test('an all-black data set: its std is 0, and the error says to give --mean and --std', () => {
  const black = dataSet(join(dir, 'black'), 64, 10, () => 0);
  const out = join(dir, 'black.safetensors');
  const r = cli(['--data', black, '--out', out]);
  assert.is(r.code, 1);
  assert.is(r.err, `error: ${black}: the training images all have the same value (0 of 255), so their std is 0: give --mean and --std`);
  const given = cli(['--data', black, '--mean', '0', '--std', '1', '--out', out]);
  assert.match(given.err, NO_ADAPTER, given.err);
  assert.not.ok(existsSync(out));
  assert.equal(readdirSync(dir).filter((f) => f.startsWith('black.')), []);
});

test('checkResumeData: counts and digests compared, the name not; a missing test split is not compared', () => {
  const rec = (count: number, digest: string) => ({ count, digest });
  const d = { dataset: 'a', train: rec(10, '0000000000000001'), test: rec(5, '0000000000000002') };
  checkResumeData(d, { ...d, dataset: 'b' });
  checkResumeData(d, { ...d, test: null });
  checkResumeData({ ...d, test: null }, d);
  assert.throws(() => checkResumeData(d, { ...d, test: rec(5, '0000000000000003') }), /but the data given is a \(10 training images, digest 0000000000000001; 5 test images, digest 0000000000000003\)/);
  assert.throws(() => checkResumeData(d, { ...d, train: rec(11, '0000000000000001') }), /trained on a \(10 training images.*, but the data given is a \(11 training images/);
});

test.run();
