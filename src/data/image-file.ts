/**
 * Node side of digit.ts: a PNG or JPEG file -> GreyImage -> 28x28 MNIST-style digit.
 * The format comes from the file's magic bytes, not its name: photos arrive renamed,
 * and a wrong extension should not turn into a confusing decoder error.
 * Every error message starts with the file's path, so a batch run says which file failed.
 * The size an image claims is checked before it is decoded: a few hundred KB of PNG
 * can claim 20000x20000 pixels, gigabytes once decoded.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { inflateSync } from 'node:zlib';
import { decode as decodeJpeg } from 'jpeg-js';
import { PNG } from 'pngjs';
import { mnistDigit, toGrey, type GreyImage } from './digit';

/**
 * The most pixels a photo may have. A digit needs a few thousand; phones take 12 to
 * 50 MP. At the limit the decoders spend about 0.5 GB (PNG) to 1.1 GB (JPEG).
 */
export const MAX_IMAGE_PIXELS = 50_000_000;
/**
 * jpeg-js's own memory cap, sized so that the pixel limit is what bites: it counts 6
 * bytes a pixel per colour component (32-bit coefficients, a line buffer, its output)
 * and 4 for the RGBA result, 22 for a YCbCr photo. A CMYK one near the limit (28)
 * gets jpeg-js's memory error instead.
 */
const JPEG_MEMORY_MB = Math.ceil((MAX_IMAGE_PIXELS * 24) / 2 ** 20);

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const JPEG_MAGIC = [0xff, 0xd8, 0xff];

export function decodeImageFile(path: string): GreyImage {
  const bytes = readBytes(path);
  if (startsWith(bytes, PNG_MAGIC)) {
    checkPng(path, bytes);
    return decodeWith(path, 'PNG', () => PNG.sync.read(bytes));
  }
  if (startsWith(bytes, JPEG_MAGIC)) {
    const size = jpegSize(bytes);
    if (size) checkPixels(path, 'JPEG', size.width, size.height);
    // jpeg-js checks the same limits again, from the frame it decodes.
    const options = { useTArray: true, formatAsRGBA: true, maxResolutionInMP: MAX_IMAGE_PIXELS / 1e6, maxMemoryUsageInMB: JPEG_MEMORY_MB } as const;
    return decodeWith(path, 'JPEG', () => decodeJpeg(bytes, options));
  }
  throw new Error(`${path}: not a PNG or JPEG image`);
}

export function readDigit(path: string): Uint8Array {
  const img = decodeImageFile(path);
  try {
    return mnistDigit(img);
  } catch (e) {
    throw new Error(`${path}: ${(e as Error).message}`);
  }
}

/** 8-bit grey (0 = black) as an opaque RGBA PNG: for tests and tools. */
export function writePng(path: string, width: number, height: number, grey: Uint8Array): void {
  if (grey.length !== width * height) throw new Error(`${path}: ${grey.length} bytes for a ${width}x${height} image`);
  const png = new PNG({ width, height });
  for (let i = 0; i < grey.length; i++) png.data.set([grey[i], grey[i], grey[i], 255], 4 * i);
  writeFileSync(path, PNG.sync.write(png));
}

function readBytes(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') throw new Error(`${path}: no such file`);
    throw new Error(`${path}: cannot read: ${err.message}`);
  }
}

function checkPixels(path: string, format: string, width: number, height: number): void {
  const pixels = width * height;
  if (pixels <= MAX_IMAGE_PIXELS) return;
  const mp = (n: number) => `${Math.round(n / 1e5) / 10} megapixels`;
  throw new Error(`${path}: ${format} of ${width}x${height} pixels (${mp(pixels)}) is larger than the limit of ${mp(MAX_IMAGE_PIXELS)}`);
}

/**
 * The size in IHDR, which a PNG must start with, checked before pngjs decodes. pngjs
 * bounds what it inflates by that size, except for an interlaced image: for one, the
 * image data are inflated here first, no further than its size allows.
 * A file without IHDR first is left to pngjs to refuse.
 */
function checkPng(path: string, bytes: Uint8Array): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 33 || chunkType(bytes, 12) !== 'IHDR') return;
  const width = view.getUint32(16);
  const height = view.getUint32(20);
  checkPixels(path, 'PNG', width, height);
  const [depth, colour, interlace] = [bytes[24], bytes[25], bytes[28]];
  const channels = ({ 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 } as Record<number, number>)[colour];
  if (interlace !== 1 || !channels) return;
  const idat: Uint8Array[] = [];
  for (let at = 8; at + 12 <= bytes.length; ) {
    const length = view.getUint32(at);
    if (chunkType(bytes, at + 4) === 'IDAT') idat.push(bytes.subarray(at + 8, at + 8 + length));
    at += 12 + length;
  }
  const limit = adam7Bytes(width, height, channels * depth);
  try {
    inflateSync(Buffer.concat(idat), { maxOutputLength: limit });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ERR_BUFFER_TOO_LARGE') return; // pngjs says what is wrong
    throw new Error(`${path}: PNG image data inflate to more than the ${limit} bytes its ${width}x${height} pixels need`);
  }
}

function chunkType(bytes: Uint8Array, at: number): string {
  return String.fromCharCode(...bytes.subarray(at, at + 4));
}

/** The inflated size of an Adam7-interlaced image: seven sub-images, each row led by a filter byte. */
function adam7Bytes(width: number, height: number, bitsPerPixel: number): number {
  const passes = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]];
  let total = 0;
  for (const [x0, y0, dx, dy] of passes) {
    const w = Math.ceil((width - x0) / dx);
    const h = Math.ceil((height - y0) / dy);
    if (w > 0 && h > 0) total += h * (Math.ceil((w * bitsPerPixel) / 8) + 1);
  }
  return total;
}

/**
 * A JPEG's size from its first start-of-frame marker (SOF0..SOF15 but DHT, JPG and
 * DAC), walking the segments from SOI; undefined if scan data come first or the
 * file ends, which jpeg-js then reports.
 */
function jpegSize(bytes: Uint8Array): { width: number; height: number } | undefined {
  let at = 2;
  while (at + 9 <= bytes.length) {
    if (bytes[at] !== 0xff) return undefined;
    const marker = bytes[at + 1];
    if (marker === 0xff) {
      at++; // fill byte
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {
      at += 2; // no length: TEM, RSTn, SOI
      continue;
    }
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { height: (bytes[at + 5] << 8) | bytes[at + 6], width: (bytes[at + 7] << 8) | bytes[at + 8] };
    }
    if (marker === 0xda || marker === 0xd9) return undefined; // SOS, EOI
    at += 2 + ((bytes[at + 2] << 8) | bytes[at + 3]);
  }
  return undefined;
}

function startsWith(bytes: Uint8Array, magic: number[]): boolean {
  return bytes.length >= magic.length && magic.every((b, i) => bytes[i] === b);
}

/** Runs a decoder; its failures (thrown strings included) become `path: cannot decode ...`. */
function decodeWith(path: string, format: string, decode: () => { width: number; height: number; data: Uint8Array }): GreyImage {
  let raw;
  try {
    raw = decode();
  } catch (e) {
    throw new Error(`${path}: cannot decode ${format}: ${e instanceof Error ? e.message : String(e)}`);
  }
  return toGrey(raw.data, raw.width, raw.height);
}
