/**
 * MNIST in the IDX format of LeCun's site (http://yann.lecun.com/exdb/mnist/): a
 * big-endian header (magic, count, then rows and cols for images), then one unsigned
 * byte per pixel or label. Parsing only, from bytes: no Node or DOM imports, so the
 * Node loader (mnist.ts) and the page (which fetches the files) share it. Every check
 * throws an Error that starts with the file's name and says what is wrong, because a
 * bad download otherwise shows up as a silently bad model.
 */

export interface MnistSplit {
  /** count*28*28 bytes, row-major, 0 (background) to 255 (ink). */
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
  rows: 28;
  cols: 28;
}

const IMAGES_MAGIC = 0x00000803; // unsigned byte data, 3 dimensions
const LABELS_MAGIC = 0x00000801; // unsigned byte data, 1 dimension
const IMAGES_HEADER = 16;
const LABELS_HEADER = 8;
const SIDE = 28;

/** One split from its two parsed files; the counts must agree. */
export function mnistSplit(imagesBytes: Uint8Array, labelsBytes: Uint8Array, imagesPath: string, labelsPath: string): MnistSplit {
  const { images, count, rows, cols } = parseIdxImages(imagesBytes, imagesPath);
  const { labels, count: labelCount } = parseIdxLabels(labelsBytes, labelsPath);
  if (labelCount !== count) {
    throw new Error(`${imagesPath}: has ${count} images but ${labelsPath} has ${labelCount} labels`);
  }
  // parseIdxImages has already required 28x28; the casts only tell the type system.
  return { images, labels, count, rows: rows as 28, cols: cols as 28 };
}

export function parseIdxImages(bytes: Uint8Array, path: string): { images: Uint8Array; count: number; rows: number; cols: number } {
  checkHeader(bytes, path, IMAGES_HEADER, IMAGES_MAGIC, 'images');
  const view = dataView(bytes);
  const count = view.getUint32(4);
  const rows = view.getUint32(8);
  const cols = view.getUint32(12);
  if (rows !== SIDE || cols !== SIDE) throw new Error(`${path}: images are ${rows}x${cols}, expected ${SIDE}x${SIDE}`);
  checkSize(bytes, path, IMAGES_HEADER, count, rows * cols, `${count} images of ${rows}x${cols}`);
  return { images: bytes.subarray(IMAGES_HEADER), count, rows, cols };
}

export function parseIdxLabels(bytes: Uint8Array, path: string): { labels: Uint8Array; count: number } {
  checkHeader(bytes, path, LABELS_HEADER, LABELS_MAGIC, 'labels');
  const count = dataView(bytes).getUint32(4);
  checkSize(bytes, path, LABELS_HEADER, count, 1, `${count} labels`);
  const labels = bytes.subarray(LABELS_HEADER);
  const bad = labels.findIndex((l) => l > 9);
  if (bad >= 0) throw new Error(`${path}: label ${labels[bad]} at index ${bad} is not a digit 0..9`);
  return { labels, count };
}

function dataView(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Magic first when there is one: a labels file given as images should say so, not "too short". */
function checkHeader(bytes: Uint8Array, path: string, headerBytes: number, magic: number, what: string): void {
  const tooShort = () => new Error(`${path}: ${bytes.length} bytes is too short for an IDX ${what} header (${headerBytes} bytes)`);
  if (bytes.length < 4) throw tooShort();
  const found = dataView(bytes).getUint32(0);
  if (found !== magic) throw new Error(`${path}: wrong magic ${hex(found)}, expected ${hex(magic)} for IDX ${what}`);
  if (bytes.length < headerBytes) throw tooShort();
}

/** The file must hold exactly the header plus what the header declares. */
function checkSize(bytes: Uint8Array, path: string, headerBytes: number, count: number, itemBytes: number, declared: string): void {
  const expected = headerBytes + count * itemBytes;
  if (bytes.length < expected) {
    throw new Error(`${path}: truncated: ${expected - bytes.length} bytes missing (header declares ${declared}, ${expected} bytes in all; file has ${bytes.length})`);
  }
  if (bytes.length > expected) {
    throw new Error(`${path}: ${bytes.length - expected} trailing bytes after the ${declared} the header declares (${expected} bytes expected, file has ${bytes.length})`);
  }
}

function hex(x: number): string {
  return `0x${x.toString(16).padStart(8, '0')}`;
}
