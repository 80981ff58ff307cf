/**
 * safetensors files: bitwise round trips, PyTorch's names and shapes in a saved
 * model, a file laid out as Python's writer lays it out, one bad file per check,
 * atomic writes, and training checkpoints.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeNetwork, LENET5, LENET5_RELU } from '../src/model/network';
import { parameterTable } from '../src/model/parameters';
import { decodeSafetensors, encodeSafetensors, loadModel, saveModel, type NamedTensor } from '../src/model/safetensors';
import type { Checkpoint } from '../src/train/checkpoint';
import { loadCheckpoint, saveCheckpoint } from '../src/train/checkpoint-file';
import { DEFAULT_CONFIG } from '../src/train/options';
import { checkResumePosition } from '../src/train/trainer';
import { Rng } from '../src/util/rng';

/** What PyTorch itself says of the tutorial's module (test/fixtures/pytorch-state-dict.py). */
const PYTORCH_SHAPES: Record<string, number[]> = Object.fromEntries(
  (JSON.parse(readFileSync('test/fixtures/pytorch-state-dict.json', 'utf8')) as { state_dict: [string, number[]][] }).state_dict,
);

const rng = new Rng(20240601);

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'lenet-st-'));
}

const TABLE = parameterTable(LENET5);

/** Random values in the parameter slots, zeros in the padding between them. */
function randomFlat(): Float32Array {
  const flat = new Float32Array(TABLE.flatLength);
  for (const s of TABLE.slots) for (let i = 0; i < s.length; i++) flat[s.offset + i] = rng.normal();
  return flat;
}

function randomTensor(shape: number[]): NamedTensor {
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = rng.normal() * 1e3;
  return { shape, data };
}

function bitwiseEqual(a: Float32Array, b: Float32Array, what: string): void {
  assert.is(a.length, b.length, `${what}: length`);
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  const i = x.findIndex((v, k) => v !== y[k]);
  assert.is(i, -1, `${what}: first difference at ${i}`);
}

/** A file as safetensors' Python writer might lay it out, from a header object and raw data. */
function rawFile(header: unknown, data: Uint8Array, headerLength?: number): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength ?? json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function headerOf(bytes: Uint8Array): Record<string, { dtype: string; shape: number[]; data_offsets: number[] }> {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
}

async function rejects(promise: Promise<unknown>, ...patterns: RegExp[]): Promise<void> {
  try {
    await promise;
  } catch (err) {
    for (const p of patterns) assert.match((err as Error).message, p);
    return;
  }
  assert.unreachable(`expected an error matching ${patterns.join(' and ')}`);
}

function throwsMatching(fn: () => unknown, ...patterns: RegExp[]): void {
  try {
    fn();
  } catch (err) {
    for (const p of patterns) assert.match((err as Error).message, p);
    return;
  }
  assert.unreachable(`expected an error matching ${patterns.join(' and ')}`);
}

const escape = (s: string) => new RegExp(s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));

/** The tensors of a saved model, changed by `edit`, written to a fresh file. */
async function editedModel(edit: (t: Map<string, NamedTensor>) => void): Promise<string> {
  const dir = tempDir();
  await saveModel(join(dir, 'm.safetensors'), LENET5, randomFlat());
  const { tensors } = decodeSafetensors(readFileSync(join(dir, 'm.safetensors')), 'm');
  edit(tensors);
  writeFileSync(join(dir, 'bad.safetensors'), encodeSafetensors(tensors));
  return join(dir, 'bad.safetensors');
}

test('encode/decode round trip is bitwise, in order, with metadata', () => {
  const tensors: [string, NamedTensor][] = [
    ['b', randomTensor([3, 7])],
    ['a', randomTensor([5])],
    ['scalar', randomTensor([])],
    ['empty', randomTensor([0, 4])],
    ['odd', randomTensor([1, 1, 3])],
  ];
  tensors[0][1].data[2] = NaN;
  tensors[0][1].data[3] = -0;
  const bytes = encodeSafetensors(tensors, { note: 'hi', format: 'pt' });
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.is(n % 8, 0, 'header padded to 8 bytes');
  const { tensors: back, metadata } = decodeSafetensors(bytes, 'mem');
  assert.equal(metadata, { note: 'hi', format: 'pt' });
  assert.equal([...back.keys()], tensors.map(([name]) => name));
  for (const [name, t] of tensors) {
    assert.equal(back.get(name)!.shape, t.shape);
    bitwiseEqual(back.get(name)!.data, t.data, name);
  }
});

test('saveModel/loadModel round trip is bitwise; padding stays zero', async () => {
  const path = join(tempDir(), 'sub', 'model.safetensors');
  const flat = randomFlat();
  const first = TABLE.slots[0];
  flat[first.offset + first.length] = 99; // padding is not saved
  await saveModel(path, LENET5, flat, { epochs: '3' });
  const { params: back, metadata, network } = await loadModel(path);
  assert.equal(metadata, { format: 'pt', epochs: '3', arch: 'lenet5', network: JSON.stringify(describeNetwork(LENET5)), dataset: 'mnist', mean: '0.1307', std: '0.3081' });
  assert.is(network, LENET5);
  for (const s of TABLE.slots) bitwiseEqual(TABLE.view(back, s.name), TABLE.view(flat, s.name), s.name);
  const inSlot = new Uint8Array(TABLE.flatLength);
  for (const s of TABLE.slots) inSlot.fill(1, s.offset, s.offset + s.length);
  assert.ok(back.every((v, i) => inSlot[i] === 1 || Object.is(v, 0)), 'padding is zero');
});

test('a saved model has exactly PyTorch state_dict names, order, shapes and F32', async () => {
  const path = join(tempDir(), 'model.safetensors');
  await saveModel(path, LENET5, randomFlat());
  const header = headerOf(readFileSync(path));
  assert.equal(Object.keys(header).filter((k) => k !== '__metadata__'), Object.keys(PYTORCH_SHAPES));
  let end = 0;
  for (const [name, shape] of Object.entries(PYTORCH_SHAPES)) {
    assert.is(header[name].dtype, 'F32');
    assert.equal(header[name].shape, shape);
    assert.equal(header[name].data_offsets, [end, end + 4 * shape.reduce((a, b) => a * b, 1)], name);
    end = header[name].data_offsets[1];
  }
});

test('a Python-style file (unpadded header, other order, unaligned data) decodes', () => {
  const a = new Float32Array([1.5, -2, 3.25]);
  const b = new Float32Array([0.1, 0.2]);
  const data = new Uint8Array(20);
  data.set(new Uint8Array(b.buffer), 0);
  data.set(new Uint8Array(a.buffer), 8);
  const header = {
    __metadata__: { format: 'pt' },
    a: { dtype: 'F32', shape: [3], data_offsets: [8, 20] },
    b: { dtype: 'F32', shape: [2, 1], data_offsets: [0, 8] },
  };
  const bytes = rawFile(header, data);
  assert.ok((8 + JSON.stringify(header).length) % 4 !== 0, 'the test wants unaligned data');
  const { tensors, metadata } = decodeSafetensors(bytes, 'py.safetensors');
  assert.equal(metadata, { format: 'pt' });
  assert.equal([...tensors.get('a')!.data], [...a]);
  assert.equal(tensors.get('b')!.shape, [2, 1]);
  bitwiseEqual(tensors.get('b')!.data, b, 'b');
});

test('bad files: short, truncated, header length, JSON, entries, offsets, dtype', async () => {
  const good = encodeSafetensors([['w', randomTensor([4, 4])]]);
  const entry = (extra: object) => ({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 8], ...extra } });
  const cases: [Uint8Array, RegExp][] = [
    [new Uint8Array(5), /shorter than the 8-byte header length/],
    [good.subarray(0, good.length - 10), /truncated file.*10 bytes missing/],
    [rawFile('{}', new Uint8Array(0), 1000), /header length 1000 is larger than the 2 bytes/],
    [rawFile('{"w": ', new Uint8Array(0)), /header is not valid UTF-8 JSON/],
    [rawFile('[1, 2]', new Uint8Array(0)), /header is not a JSON object/],
    [rawFile({ w: { shape: [2], data_offsets: [0, 8] } }, new Uint8Array(8)), /tensor "w": entry has no dtype/],
    [rawFile({ w: { dtype: 'F32', data_offsets: [0, 8] } }, new Uint8Array(8)), /tensor "w": entry has no shape/],
    [rawFile({ w: { dtype: 'F32', shape: [2] } }, new Uint8Array(8)), /tensor "w": entry has no data_offsets/],
    [rawFile(entry({ data_offsets: [0, 12] }), new Uint8Array(12)), /"w": data_offsets \[0, 12\] span 12 bytes, but F32 shape \[2\] needs 8/],
    [rawFile(entry({ data_offsets: [8, 0] }), new Uint8Array(8)), /"w": data_offsets \[8,0\] is not a pair/],
    [rawFile(entry({ data_offsets: [8, 16] }), new Uint8Array(8)), /"w" starts at byte 8, leaving a hole/],
    [rawFile({ ...entry({}), v: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, new Uint8Array(8)), /overlaps/],
    [rawFile(entry({}), new Uint8Array(12)), /4 trailing bytes/],
    [rawFile(entry({ dtype: 'F16', data_offsets: [0, 4] }), new Uint8Array(4)), /tensor "w" has dtype "F16"; only F32 \(and I64 for counters\) is supported/],
  ];
  for (const [bytes, pattern] of cases) throwsMatching(() => decodeSafetensors(bytes, 'bad.st'), /^bad\.st: /, pattern);
  // Through loadModel too: the path of a real file leads the message.
  const path = join(tempDir(), 'cut.safetensors');
  await saveModel(path, LENET5, randomFlat());
  const whole = readFileSync(path);
  writeFileSync(path, whole.subarray(0, 8 + Number(whole.readBigUInt64LE(0)) + 100)); // the header whole, then 100 bytes of data
  await rejects(loadModel(path), escape(path), /truncated file/);
});

test('loadModel: wrong shape, missing and extra tensors are named', async () => {
  const shape = TABLE.slot('conv1.weight').shape;
  const smaller = [...shape.slice(0, 2), shape[2] - 2, shape[3] - 2];
  const wrong = await editedModel((t) => t.set('conv1.weight', randomTensor(smaller)));
  await rejects(loadModel(wrong), escape(wrong), escape(`tensor "conv1.weight" has shape [${smaller.join(', ')}], expected [${shape.join(', ')}]`));
  const missing = await editedModel((t) => t.delete('fc3.bias'));
  await rejects(loadModel(missing), escape(missing), /missing tensor "fc3\.bias"/);
  const extra = await editedModel((t) => t.set('fc4.weight', randomTensor([2])));
  await rejects(loadModel(extra), escape(extra), /unexpected tensor "fc4\.weight"/);
});

function randomCheckpoint(): Checkpoint {
  const state = new Rng(99);
  for (let i = 0; i < 10; i++) state.nextU32();
  return {
    network: LENET5,
    params: randomFlat(),
    adam: { expAvg: randomFlat(), expAvgSq: randomFlat().map(Math.abs), step: 9380 },
    position: { step: 9380, epoch: 10, stepInEpoch: 0, rngState: state.state },
    config: { ...DEFAULT_CONFIG, epochs: 12, seed: 1234, testLimit: 500 },
    data: { dataset: 'mnist', train: { count: 60000, digest: '0123456789abcdef' }, test: { count: 10000, digest: 'fedcba9876543210' } },
    history: { steps: [{ step: 50, epoch: 0.05, loss: 2.1, accuracy: 0.3 }], epochs: [{ epoch: 1, trainLoss: 0.5, trainAccuracy: 0.9, testLoss: 0.1, testAccuracy: 0.97 }] },
  };
}

test('checkpoint round trip keeps every field', async () => {
  const path = join(tempDir(), 'ckpt', 'last.safetensors');
  const c = randomCheckpoint();
  await saveCheckpoint(path, c);
  const back = await loadCheckpoint(path);
  bitwiseEqual(back.params, c.params, 'params');
  bitwiseEqual(back.adam.expAvg, c.adam.expAvg, 'expAvg');
  bitwiseEqual(back.adam.expAvgSq, c.adam.expAvgSq, 'expAvgSq');
  assert.is(back.network, LENET5);
  assert.equal({ ...back, params: 0, adam: back.adam.step }, { ...c, params: 0, adam: c.adam.step });
  assert.equal(Rng.fromState(back.position.rngState).nextU32(), Rng.fromState(c.position.rngState).nextU32());
  const header = headerOf(readFileSync(path));
  assert.ok('adam.exp_avg.fc1.weight' in header && 'adam.exp_avg_sq.conv1.bias' in header && 'fc3.bias' in header);
  // The model tensors of a checkpoint are where PyTorch expects them; the Adam ones make it no plain model.
  await rejects(loadModel(path), /unexpected tensors "adam\.exp_avg\.conv1\.weight".*looks like a training checkpoint/);
});

test('checkpoint errors: a plain model, missing Adam tensors, bad metadata', async () => {
  const dir = tempDir();
  const model = join(dir, 'model.safetensors');
  await saveModel(model, LENET5, randomFlat());
  await rejects(loadCheckpoint(model), escape(model), /is a model, not a checkpoint; use --init/);

  const path = join(dir, 'ckpt.safetensors');
  await saveCheckpoint(path, randomCheckpoint());
  const { tensors, metadata } = decodeSafetensors(readFileSync(path), path);
  const rewrite = (t: Map<string, NamedTensor>, m: Record<string, string>) => writeFileSync(path, encodeSafetensors(t, m));

  const fewer = new Map(tensors);
  fewer.delete('adam.exp_avg_sq.fc1.weight');
  rewrite(fewer, metadata);
  await rejects(loadCheckpoint(path), escape(path), /missing tensor "adam\.exp_avg_sq\.fc1\.weight"/);

  rewrite(tensors, { ...metadata, step: 'abc' });
  await rejects(loadCheckpoint(path), /checkpoint metadata "step" is "abc", expected an integer/);
  rewrite(tensors, { ...metadata, rng_state: '[1, 2, 3]' });
  await rejects(loadCheckpoint(path), /"rng_state" is \[1,2,3\], expected 4 unsigned 32-bit integers/);
  rewrite(tensors, { ...metadata, config: '{oops' });
  await rejects(loadCheckpoint(path), /metadata "config" is not valid JSON/);
  const { format: _, ...noFormat } = metadata;
  rewrite(tensors, noFormat);
  await rejects(loadCheckpoint(path), /not a training checkpoint this version reads: has no "format" metadata/);
  rewrite(tensors, { ...metadata, step_in_epoch: '-5' });
  await rejects(loadCheckpoint(path), /"step_in_epoch" is -5, expected a non-negative integer/);
  rewrite(tensors, { ...metadata, history: '"a string"' });
  await rejects(loadCheckpoint(path), /"history" is not \{"steps": \[\.\.\.\], "epochs": \[\.\.\.\]\}/);
  rewrite(tensors, { ...metadata, config: JSON.stringify({ ...DEFAULT_CONFIG, batchSize: 0 }) });
  await rejects(loadCheckpoint(path), /metadata "config": batchSize must be a positive integer, got 0/);
  rewrite(tensors, { ...metadata, config: JSON.stringify({ ...DEFAULT_CONFIG, normalization: { mean: 0.5, std: 0 } }) });
  await rejects(loadCheckpoint(path), /metadata "config": normalization std must be positive, got 0$/);
  rewrite(tensors, { ...metadata, arch: 'lenet5-relu', network: JSON.stringify(describeNetwork(LENET5_RELU)) });
  await rejects(loadCheckpoint(path), /"config" names network "lenet5", but "arch" is lenet5-relu/);
  // A file from before networks were recorded whole names a preset only.
  const { network: _recorded, ...old } = metadata;
  rewrite(tensors, { ...old, arch: 'resnet' });
  await rejects(loadCheckpoint(path), /metadata "arch" is "resnet", a network this engine does not know/);
  const c = randomCheckpoint();
  await rejects(saveCheckpoint(path, { ...c, position: { ...c.position, step: -1 } }), /"step" is -1, expected a non-negative integer/);
  for (const [change, message] of [
    [{ hflip: 'no' }, /"config": hflip must be true or false, got "no"/],
    [{ shuffle: 1 }, /"config": shuffle must be true or false, got 1/],
    [{ seed: 2 ** 40 }, /"config": seed must be an integer from 0 to 4294967295/],
    [{ lr: '0.001' }, /"config": lr must be a positive number at most 1000, got "0.001"/],
    [{ lr: 1e4 }, /"config": lr must be a positive number at most 1000, got 10000/],
    [{ normalization: { mean: 1e39, std: 1 } }, /"config": normalization mean is 1e\+39, past float32's range \(it ends at 3\.4e38\)$/],
    [{ normalization: { mean: 0, std: 1e-50 } }, /"config": normalization std is 1e-50, below 1e-30: 1\/std would overflow float32$/],
  ] as const) {
    rewrite(tensors, { ...metadata, config: JSON.stringify({ ...DEFAULT_CONFIG, ...change }) });
    await rejects(loadCheckpoint(path), escape(path), message);
  }
  // The data it trained on: a name, each split's count and digest; a checkpoint from before them has none (null).
  for (const [data, message] of [
    ['{oops', /metadata "data" is not valid JSON/],
    ['null', /metadata "data" is not \{"dataset": NAME, "train": \{"count": N, "digest": HEX\}, "test": \{\.\.\.\} or null\}$/],
    ['{"dataset": "", "train": {"count": 1, "digest": "0123456789abcdef"}, "test": null}', /metadata "data" has dataset "", expected a name$/],
    ['{"dataset": "m", "train": {"count": 0, "digest": "0123456789abcdef"}, "test": null}', /metadata "data" has train.count 0, expected a positive integer$/],
    ['{"dataset": "m", "train": {"count": 1, "digest": "0123456789abcdef"}, "test": {"count": 1, "digest": "xyz"}}', /metadata "data" has test.digest "xyz", expected 16 hex digits$/],
  ] as const) {
    rewrite(tensors, { ...metadata, data });
    await rejects(loadCheckpoint(path), escape(path), message);
  }
  const { data: _data, ...beforeData } = metadata;
  rewrite(tensors, beforeData);
  assert.is((await loadCheckpoint(path)).data, null);
  const withTest = { dataset: 'm', train: { count: 5, digest: '0123456789abcdef' }, test: null };
  rewrite(tensors, { ...metadata, data: JSON.stringify(withTest) });
  assert.equal((await loadCheckpoint(path)).data, withTest, 'no test split');
  await rejects(saveCheckpoint(path, { ...c, data: { ...withTest, train: { count: 5, digest: 'abc' } } }), /^checkpoint data has train.digest "abc", expected 16 hex digits$/);
  rewrite(tensors, { ...metadata, history: '{"steps": [], "epochs": [{"epoch": 1, "trainLoss": null, "trainAccuracy": 0.9}]}' });
  await rejects(loadCheckpoint(path), /"history" epochs\[0\] has trainLoss null, expected a number/);
  rewrite(tensors, { ...metadata, history: '{"steps": [7], "epochs": []}' });
  await rejects(loadCheckpoint(path), /"history" steps\[0\] is not an object/);
  const moments = new Map(tensors);
  const bad = { ...moments.get('adam.exp_avg_sq.fc2.bias')!, data: moments.get('adam.exp_avg_sq.fc2.bias')!.data.slice() };
  bad.data[5] = Infinity;
  moments.set('adam.exp_avg_sq.fc2.bias', bad);
  rewrite(moments, metadata);
  await rejects(loadCheckpoint(path), /tensor "adam\.exp_avg_sq\.fc2\.bias" holds Infinity at index 5; weights must be finite/);
});

test('a resumed position must fit its config: an edited batch size or limit is refused', () => {
  const config = { ...DEFAULT_CONFIG, epochs: 2 };
  const at = (step: number, epoch: number, stepInEpoch: number) => ({ step, epoch, stepInEpoch, rngState: [1, 2, 3, 4] });
  // 1000 images in batches of 64: 16 steps per epoch, the last one partial.
  checkResumePosition(config, 1000, at(20, 1, 4));
  checkResumePosition(config, 1000, at(32, 2, 0));
  checkResumePosition({ ...config, dropLast: true }, 1000, at(19, 1, 4));
  for (const [c, p] of [
    [{ ...config, batchSize: 128 }, at(20, 1, 4)],
    [{ ...config, limit: 640 }, at(20, 1, 12)],
    [config, at(20, 1, 16)],
    [config, at(48, 3, 0)],
  ] as const) {
    throwsMatching(() => checkResumePosition(c, 1000, p), /does not fit the config \(\d+ steps per epoch: 1000 training images/);
  }
});

test('weights that are not finite are refused, naming the file, the tensor and the first bad index', async () => {
  const path = join(tempDir(), 'nan.safetensors');
  const flat = randomFlat();
  const { offset } = parameterTable(LENET5).slots.find((s) => s.name === 'fc3.bias')!;
  flat[offset + 3] = NaN;
  flat[offset + 4] = NaN;
  await saveModel(path, LENET5, flat);
  await rejects(loadModel(path), escape(path), /tensor "fc3\.bias" holds NaN at index 3 \(2 values are not finite\)/);
});

test('model files name their network; a file without one is lenet5', async () => {
  const dir = tempDir();
  const path = join(dir, 'relu.safetensors');
  await saveModel(path, LENET5_RELU, randomFlat());
  assert.is((await loadModel(path)).network, LENET5_RELU);
  const { tensors, metadata } = decodeSafetensors(readFileSync(path), path);
  assert.is(metadata.arch, 'lenet5-relu');
  const old = join(dir, 'old.safetensors');
  writeFileSync(old, encodeSafetensors(tensors, { format: 'pt' }));
  assert.is((await loadModel(old)).network, LENET5);
  writeFileSync(old, encodeSafetensors(tensors, { arch: 'resnet' }));
  await rejects(loadModel(old), escape(old), /metadata "arch" is "resnet", a network this engine does not know/);
});


test('model files record the data set and normalisation; a file without them means MNIST', async () => {
  const dir = tempDir();
  const path = join(dir, 'fashion.safetensors');
  const on = { dataset: 'fashion', normalization: { mean: 0.28604063146254594, std: 0.35302426207299326 } };
  await saveModel(path, LENET5, randomFlat(), { epochs: '1' }, on);
  const m = await loadModel(path);
  assert.equal([m.dataset, m.normalization], [on.dataset, on.normalization]);
  assert.equal([m.metadata.dataset, m.metadata.mean, m.metadata.std], ['fashion', '0.28604063146254594', '0.35302426207299326']);
  const { tensors, metadata } = decodeSafetensors(readFileSync(path), path);
  const old = join(dir, 'old.safetensors');
  writeFileSync(old, encodeSafetensors(tensors, { format: 'pt' }));
  const o = await loadModel(old);
  assert.equal([o.dataset, o.normalization], ['mnist', { mean: 0.1307, std: 0.3081 }]);
  for (const [bad, message] of [
    [{ ...metadata, mean: 'abc' }, /metadata "mean" is "abc", expected a number/],
    [{ ...metadata, std: '' }, /metadata "std" is "", expected a number/],
    [{ ...metadata, std: '-1' }, /: metadata "std" must be positive, got -1$/],
    // Numbers float32 cannot hold, or whose inputs it cannot: predict would answer one class for every image.
    [{ ...metadata, mean: '1e308' }, /: metadata "mean" is 1e\+308, past float32's range \(it ends at 3\.4e38\)$/],
    [{ ...metadata, std: '1e39' }, /: metadata "std" is 1e\+39, past float32's range/],
    [{ ...metadata, std: '1e-50' }, /: metadata "std" is 1e-50, below 1e-30: 1\/std would overflow float32$/],
    [{ ...metadata, mean: '1e25', std: '1e-10' }, /: metadata "mean" 1e\+25 with metadata "std" 1e-10 makes inputs \(pixel\/255 - mean\)\/std of 1\.00e\+35, past 1e\+30/],
    [{ format: 'pt', mean: '0.5' }, /metadata has "mean" but no "std"/],
  ] as const) {
    writeFileSync(old, encodeSafetensors(tensors, bad));
    await rejects(loadModel(old), escape(old), message);
  }
  await rejects(saveModel(path, LENET5, randomFlat(), {}, { dataset: 'x', normalization: { mean: NaN, std: 1 } }), /^model normalization mean must be a finite number, got NaN$/);
});

test('a checkpoint keeps the data set and normalisation; one from before them means MNIST', async () => {
  const path = join(tempDir(), 'ckpt.safetensors');
  const c = randomCheckpoint();
  const on = { dataset: 'kmnist', normalization: { mean: 0.19, std: 0.35 } };
  await saveCheckpoint(path, { ...c, config: { ...c.config, ...on } });
  assert.equal((await loadCheckpoint(path)).config, { ...c.config, ...on });
  const { tensors, metadata } = decodeSafetensors(readFileSync(path), path);
  const { dataset: _d, normalization: _n, ...before } = c.config;
  writeFileSync(path, encodeSafetensors(tensors, { ...metadata, config: JSON.stringify(before) }));
  const back = await loadCheckpoint(path);
  assert.equal([back.config.dataset, back.config.normalization], ['mnist', { mean: 0.1307, std: 0.3081 }]);
});

test.run();
