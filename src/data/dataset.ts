/**
 * A data set as data: its name, its IDX files, the size of its images, its classes
 * and the normalisation its pixels get. The loaders (./mnist.ts in Node, the page's
 * demo/data.ts) read the files it names and check them against it; the input
 * preparation resizes from its image size to the network's input; a model file
 * records its name and normalisation. MNIST's is ./mnist.json, JSON so that
 * build.mjs (plain JavaScript) reads the same file names; the type checker holds it
 * to the Dataset interface below.
 */
import type { Normalization } from '../ops/shapes';
import mnist from './mnist.json';

export type SplitName = 'train' | 'test';

export interface Dataset {
  /** What a model file's metadata ("dataset") and the programs call it. */
  name: string;
  /** Each split's two IDX files, in one directory (raw, or gzipped with .gz appended). */
  files: Record<SplitName, { images: string; labels: string }>;
  /** Every image's size in pixels: one unsigned byte each, 0 background to 255 ink. */
  image: { rows: number; cols: number };
  /** The class names, by label: label k names classes[k]. */
  classes: readonly string[];
  /** The network sees (pixel / 255 - mean) / std. */
  normalization: Normalization;
}

export const MNIST: Dataset = mnist;

/**
 * What a trained model expects of its inputs: the data set it learnt (by name) and
 * the normalisation. A training config and a model file carry it; a model file
 * without it is from before data sets had descriptions, and means MNIST's.
 */
export interface TrainedOn {
  dataset: string;
  normalization: Normalization;
}

export function trainedOn(d: Dataset): TrainedOn {
  return { dataset: d.name, normalization: { ...d.normalization } };
}

/**
 * The largest |mean| and |(v - mean) / std| for v in [0, 1] that a normalisation may
 * give, and the smallest std: the inputs go through the network in float32, which
 * ends at 3.4e38, so an input already near that overflows at the first layer's sums
 * (or 1/std does): training reaches 10% with every figure finite or not at all, and
 * a model answers the same class for every image. 1e30 leaves the layers eight
 * orders of magnitude; a real data set's inputs are within a few hundred.
 */
export const NORMALIZATION_LIMITS = { maxInput: 1e30, minStd: 1e-30 } as const;

/** How the fields are named in an error: `--mean`, `metadata "mean"`; by default `normalization mean`. */
export type NormalizationNames = Record<keyof Normalization, string>;

/**
 * A normalisation whose inputs (v - mean) / std, v in [0, 1], float32 holds: a
 * mean and a std that are finite in float32, std at least 1e-30, no input past 1e30
 * in magnitude.
 * `where` starts the one-line error, `names` names the field in it.
 */
export function checkNormalization(n: Normalization, where: string, names: NormalizationNames = { mean: 'normalization mean', std: 'normalization std' }): void {
  const { maxInput, minStd } = NORMALIZATION_LIMITS;
  const fail = (why: string) => new Error(`${where}${why}`);
  if (typeof n !== 'object' || n === null) throw fail(`${names.mean} and ${names.std} must be numbers, got ${JSON.stringify(n)}`);
  const { mean, std } = n;
  for (const [key, value] of [['mean', mean], ['std', std]] as const) {
    if (typeof value !== 'number' || !Number.isFinite(value)) throw fail(`${names[key]} must be a finite number, got ${typeof value === 'number' ? value : JSON.stringify(value)}`);
    if (!Number.isFinite(Math.fround(value))) throw fail(`${names[key]} is ${value}, past float32's range (it ends at 3.4e38)`);
  }
  if (!(std > 0)) throw fail(`${names.std} must be positive, got ${std}`);
  if (std < minStd) throw fail(`${names.std} is ${std}, below ${minStd}: 1/std would overflow float32`);
  const input = Math.max(Math.abs(0 - mean), Math.abs(1 - mean)) / std;
  if (input > maxInput) {
    throw fail(`${names.mean} ${mean} with ${names.std} ${std} makes inputs (pixel/255 - mean)/std of ${input.toPrecision(3)}, past ${maxInput}: float32 (which ends at 3.4e38) cannot train on them`);
  }
}

/**
 * Mean and standard deviation of pixel / 255 over every pixel of `images`, the
 * usual recipe for torchvision's Normalize (std over the population, not Bessel's).
 * Counted through a histogram: exact sums, one pass over the bytes. Images that all
 * have one value (an all-black set) have no std to divide by: an error that says to
 * give one, naming them as `what`.
 */
export function pixelStatistics(images: Uint8Array, what = 'the training images'): Normalization {
  if (images.length === 0) throw new Error('pixel statistics of no pixels');
  const counts = new Float64Array(256);
  for (let i = 0; i < images.length; i++) counts[images[i]]++;
  if (counts[images[0]] === images.length) {
    throw new Error(`${what} all have the same value (${images[0]} of 255), so their std is 0: give --mean and --std`);
  }
  let sum = 0;
  counts.forEach((c, v) => (sum += c * v));
  const mean = sum / images.length / 255;
  let squares = 0;
  counts.forEach((c, v) => (squares += c * (v / 255 - mean) ** 2));
  return { mean, std: Math.sqrt(squares / images.length) };
}

/** A split as a checkpoint records it: its image count and a digest of its images and labels as read. */
export interface SplitRecord {
  count: number;
  /** FNV-1a 64 of the images' pixels, then the labels (./dataset.ts digest()), as 16 hex digits. */
  digest: string;
}

/**
 * The data a run trained on, as its checkpoint records it, so that a resumed run
 * goes on with the same: the data set's name (what the model file will say), and each
 * split's count and digest. The test split is null where the run had none.
 */
export interface DataRecord {
  dataset: string;
  train: SplitRecord;
  test: SplitRecord | null;
}

const records = new WeakMap<object, SplitRecord>();

/** A split's record, computed once per split object (the Node program and the trainer both ask). */
export function splitRecord(split: { images: Uint8Array; labels: Uint8Array; count: number }): SplitRecord {
  let r = records.get(split);
  if (!r) {
    r = { count: split.count, digest: digest([split.images, split.labels]) };
    records.set(split, r);
  }
  return r;
}

/**
 * FNV-1a 64 over the bytes of `parts` in turn, as 16 hex digits: pure JavaScript, so
 * that Node and the page compute it the same way from the bytes they read (a
 * changed file is what it tells, not an attacker: a fast non-cryptographic hash
 * does). The 64-bit product by the prime 2^40 + 0x1b3 in two 32-bit halves: lo *
 * 0x1b3 stays below 2^41, exact in a double.
 */
export function digest(parts: readonly Uint8Array[]): string {
  let hi = 0xcbf29ce4;
  let lo = 0x84222325;
  for (const bytes of parts) {
    for (let i = 0; i < bytes.length; i++) {
      lo ^= bytes[i];
      const p = (lo >>> 0) * 0x1b3;
      hi = (Math.imul(hi, 0x1b3) + Math.floor(p / 0x100000000) + (lo << 8)) >>> 0;
      lo = p >>> 0;
    }
  }
  return hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0');
}
