/**
 * MNIST's format, IDX, as LeCun's site has it (http://yann.lecun.com/exdb/mnist/): a
 * big-endian header (magic, count, then rows and cols for images), then one unsigned
 * byte per pixel or label. Fashion-MNIST and KMNIST come the same way. Parsing only,
 * from bytes: no Node or DOM imports, so the Node loader (mnist.ts) and the page
 * (which fetches the files) share it. Images must have the data set's size and
 * labels name one of its classes. Every check throws an Error that starts with the
 * file's name and says what is wrong, because a bad download otherwise shows up as a
 * silently bad model.
 */
import type { Dataset } from './dataset';

/** One split of a data set in MNIST's format. */
export interface MnistSplit {
  /** count*rows*cols bytes, row-major, 0 (background) to 255 (ink). */
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
  rows: number;
  cols: number;
}

/**
 * The most bytes one IDX file may hold once gunzipped, checked while it inflates: a
 * few MB of gzip can hold gigabytes. MNIST's training images are 47 MB and EMNIST
 * Digits' (240,000 28x28 images, the largest such set) 188 MB: 256 MiB admits them
 * with room. A fixed cap, because the header that would give a tighter one is inside
 * the compressed data, and is the attacker's to write anyway.
 */
export const MAX_IDX_BYTES = 256 * 2 ** 20;

/** The error for `what` (e.g. "x.gz: gzip data decompresses to") passing the cap. */
export function overIdxLimit(what: string, limit: number): Error {
  return new Error(`${what} more than ${limit / 2 ** 20} MiB, the limit for an IDX file`);
}

const IMAGES_MAGIC = 0x00000803; // unsigned byte data, 3 dimensions
const LABELS_MAGIC = 0x00000801; // unsigned byte data, 1 dimension
const IMAGES_HEADER = 16;
const LABELS_HEADER = 8;

/** One split of `dataset` from its two files' bytes; the counts must agree. */
export function mnistSplit(dataset: Pick<Dataset, 'image' | 'classes'>, imagesBytes: Uint8Array, labelsBytes: Uint8Array, imagesPath: string, labelsPath: string): MnistSplit {
  const { images, count, rows, cols } = parseIdxImages(imagesBytes, imagesPath, dataset.image);
  const { labels, count: labelCount } = parseIdxLabels(labelsBytes, labelsPath, dataset.classes.length);
  if (labelCount !== count) {
    throw new Error(`${imagesPath}: has ${count} images but ${labelsPath} has ${labelCount} labels`);
  }
  if (count === 0) throw new Error(`${imagesPath}: holds no images: a data set to train or test on needs at least one`);
  return { images, labels, count, rows, cols };
}

/** An IDX images file whose images must be `size.rows` x `size.cols`. */
export function parseIdxImages(bytes: Uint8Array, path: string, size: { rows: number; cols: number }): { images: Uint8Array; count: number; rows: number; cols: number } {
  const { count, rows, cols } = checkIdxImagesHead(bytes, bytes.length, path, size);
  return { images: bytes.subarray(IMAGES_HEADER), count, rows, cols };
}

/** An IDX labels file whose labels must be classes 0 .. classes - 1. */
export function parseIdxLabels(bytes: Uint8Array, path: string, classes: number): { labels: Uint8Array; count: number } {
  const { count } = checkIdxLabelsHead(bytes, bytes.length, path);
  const labels = bytes.subarray(LABELS_HEADER);
  const bad = labels.findIndex((l) => l >= classes);
  if (bad >= 0) throw new Error(`${path}: label ${labels[bad]} at index ${bad} is not a class: there are ${classes}, labelled 0..${classes - 1}`);
  return { labels, count };
}

/** The bytes an IDX header takes: read these first, and check them with the functions below. */
export const IDX_HEAD_BYTES = { images: IMAGES_HEADER, labels: LABELS_HEADER } as const;

/**
 * Checks an images file from its first bytes `head` (the 16-byte header, or all the
 * file has if less) and its `length`, before the rest is read: the magic, the image
 * size, the size the header declares against `maxBytes`, and the file's length
 * against that size, exactly.
 */
export function checkIdxImagesHead(head: Uint8Array, length: number, path: string, size: { rows: number; cols: number }, maxBytes = Infinity): { count: number; rows: number; cols: number } {
  checkHeader(head, length, path, IMAGES_HEADER, IMAGES_MAGIC, 'images');
  const view = dataView(head);
  const count = view.getUint32(4);
  const rows = view.getUint32(8);
  const cols = view.getUint32(12);
  if (rows !== size.rows || cols !== size.cols) throw new Error(`${path}: images are ${rows}x${cols}, expected ${size.rows}x${size.cols}`);
  checkSize(length, path, IMAGES_HEADER, count, rows * cols, `${count} images of ${rows}x${cols}`, maxBytes);
  return { count, rows, cols };
}

/** checkIdxImagesHead for a labels file (an 8-byte header). */
export function checkIdxLabelsHead(head: Uint8Array, length: number, path: string, maxBytes = Infinity): { count: number } {
  checkHeader(head, length, path, LABELS_HEADER, LABELS_MAGIC, 'labels');
  const count = dataView(head).getUint32(4);
  checkSize(length, path, LABELS_HEADER, count, 1, `${count} labels`, maxBytes);
  return { count };
}

function dataView(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Magic first when there is one: a labels file given as images should say so, not "too short". */
function checkHeader(head: Uint8Array, length: number, path: string, headerBytes: number, magic: number, what: string): void {
  const tooShort = () => new Error(`${path}: ${length} bytes is too short for an IDX ${what} header (${headerBytes} bytes)`);
  if (length < 4 || head.length < 4) throw tooShort();
  const found = dataView(head).getUint32(0);
  if (found !== magic) throw new Error(`${path}: wrong magic ${hex(found)}, expected ${hex(magic)} for IDX ${what}`);
  if (length < headerBytes || head.length < headerBytes) throw tooShort();
}

/** The file must hold exactly the header plus what the header declares, which must be within `maxBytes`. */
function checkSize(length: number, path: string, headerBytes: number, count: number, itemBytes: number, declared: string, maxBytes: number): void {
  const expected = headerBytes + count * itemBytes;
  if (expected > maxBytes) throw overIdxLimit(`${path}: header declares ${declared}, ${expected} bytes,`, maxBytes);
  if (length < expected) {
    throw new Error(`${path}: truncated: ${expected - length} bytes missing (header declares ${declared}, ${expected} bytes in all; file has ${length})`);
  }
  if (length > expected) {
    throw new Error(`${path}: ${length - expected} trailing bytes after the ${declared} the header declares (${expected} bytes expected, file has ${length})`);
  }
}

function hex(x: number): string {
  return `0x${x.toString(16).padStart(8, '0')}`;
}
