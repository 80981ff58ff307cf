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

/** A finite mean and a positive std, so that (v - mean) / std is finite; `where` starts the error. */
export function checkNormalization(n: Normalization, where: string): void {
  const ok = typeof n === 'object' && n !== null && Number.isFinite(n.mean) && Number.isFinite(n.std) && n.std > 0;
  if (!ok) throw new Error(`${where} must be a finite mean and a positive std, got ${JSON.stringify(n)}`);
}

/**
 * Mean and standard deviation of pixel / 255 over every pixel of `images`, the
 * usual recipe for torchvision's Normalize (std over the population, not Bessel's).
 * Counted through a histogram: exact sums, one pass over the bytes.
 */
export function pixelStatistics(images: Uint8Array): Normalization {
  if (images.length === 0) throw new Error('pixel statistics of no pixels');
  const counts = new Float64Array(256);
  for (let i = 0; i < images.length; i++) counts[images[i]]++;
  let sum = 0;
  counts.forEach((c, v) => (sum += c * v));
  const mean = sum / images.length / 255;
  let squares = 0;
  counts.forEach((c, v) => (squares += c * (v / 255 - mean) ** 2));
  return { mean, std: Math.sqrt(squares / images.length) };
}
