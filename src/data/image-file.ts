/**
 * Node side of digit.ts: a PNG or JPEG file -> GreyImage -> 28x28 MNIST-style digit.
 * The format comes from the file's magic bytes, not its name: photos arrive renamed,
 * and a wrong extension should not turn into a confusing decoder error.
 * Every error message starts with the file's path, so a batch run says which file failed.
 * The size an image claims is checked before it is decoded: a few hundred KB of PNG
 * can claim 20000x20000 pixels, gigabytes once decoded.
 */
import { writeFileSync } from 'node:fs';
import { inflateSync } from 'node:zlib';
import { decode as decodeJpeg } from 'jpeg-js';
import { PNG } from 'pngjs';
import { withInput } from '../util/files';
import { mnistDigit, toGrey, type GreyImage } from './digit';

/**
 * The most pixels a photo may have. A digit needs a few thousand, and is shrunk to
 * 20x20 anyway; phones take 12 to 50 MP, and a larger photo is to be scaled down
 * first. 16 MP keeps the decoders' peak near 0.6 GB whatever the colour model: jpeg-js
 * keeps every component's coefficients (a CMYK JPEG has four), pngjs the inflated rows.
 */
export const MAX_IMAGE_PIXELS = 16_000_000;
/** The most bytes an image file may have, checked before it is read: 16 MP of photo is a few MB. */
export const MAX_IMAGE_BYTES = 64 * 2 ** 20;
/**
 * The most colour samples (pixels times components) a JPEG may have: jpeg-js keeps
 * every component's coefficients, so a CMYK JPEG (four) costs a third more than a
 * colour one of the same size, and may have 12 MP.
 */
export const MAX_JPEG_SAMPLES = 3 * MAX_IMAGE_PIXELS;
/**
 * jpeg-js's own memory cap, sized so that the pixel limits are what bite: it counts
 * 6 bytes a sample (32-bit coefficients, a line buffer, the component planes) and 4
 * a pixel for the RGBA result.
 */
const JPEG_MEMORY_MB = Math.ceil((MAX_JPEG_SAMPLES * 6 + MAX_IMAGE_PIXELS * 4) / 2 ** 20) + 8;

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const JPEG_MAGIC = [0xff, 0xd8, 0xff];

/**
 * A PNG or JPEG file, grey. The file is opened without blocking and must be a
 * regular file of at most MAX_IMAGE_BYTES (checked before it is read); its magic
 * bytes come first, then the size its header claims (IHDR, SOF), then the decoder.
 */
export function decodeImageFile(path: string): GreyImage {
  const bytes = readBytes(path);
  if (startsWith(bytes, PNG_MAGIC)) {
    checkPng(path, bytes);
    return decodeWith(path, 'PNG', () => PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)));
  }
  if (startsWith(bytes, JPEG_MAGIC)) {
    const size = jpegSize(bytes);
    if (size) checkPixels(path, 'JPEG', size.width, size.height, size.components);
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

/** The file's bytes: magic first (8 bytes), then the rest, when it is at most MAX_IMAGE_BYTES. */
function readBytes(path: string): Uint8Array {
  return withInput(path, 'image', (file) => {
    const head = file.read(0, Math.min(8, file.size));
    const magic = startsWith(head, PNG_MAGIC) || startsWith(head, JPEG_MAGIC);
    if (!magic) throw new Error(`${path}: not a PNG or JPEG image`);
    if (file.size > MAX_IMAGE_BYTES) {
      throw new Error(`${path}: ${file.size} bytes is more than the ${MAX_IMAGE_BYTES / 2 ** 20} MiB an image may have; a photo of a digit needs far less (scale it down)`);
    }
    return file.readAll();
  });
}

/** The pixels an image claims against the limits: MAX_IMAGE_PIXELS, and MAX_JPEG_SAMPLES for a JPEG of `components`. */
function checkPixels(path: string, format: string, width: number, height: number, components = 1): void {
  const pixels = width * height;
  const mp = (n: number) => `${Math.round(n / 1e5) / 10} megapixels`;
  const scale = 'a digit needs far fewer (scale the photo down)';
  if (pixels > MAX_IMAGE_PIXELS) throw new Error(`${path}: ${format} of ${width}x${height} pixels (${mp(pixels)}) is larger than the limit of ${mp(MAX_IMAGE_PIXELS)}; ${scale}`);
  const limit = Math.floor(MAX_JPEG_SAMPLES / components);
  if (pixels > limit) {
    throw new Error(`${path}: ${format} of ${width}x${height} pixels (${mp(pixels)}) in ${components} colour components${components === 4 ? ' (CMYK)' : ''} is larger than the limit of ${mp(limit)} for ${components} components; ${scale}`);
  }
}

/**
 * The size in IHDR, which a PNG must start with, checked before pngjs decodes, and
 * every chunk's length and CRC up to IEND (pngjs reports a bad CRC as "unrecognised
 * content at end of stream"). pngjs bounds what it inflates by that size, except for
 * an interlaced image: for one, the image data are inflated here first, no further
 * than its size allows. A file without IHDR first is left to pngjs to refuse.
 */
function checkPng(path: string, bytes: Uint8Array): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 33 || chunkType(bytes, 12) !== 'IHDR') return;
  const width = view.getUint32(16);
  const height = view.getUint32(20);
  checkPixels(path, 'PNG', width, height);
  const idat: Uint8Array[] = [];
  for (let at = 8; at < bytes.length; ) {
    const type = at + 8 <= bytes.length ? chunkType(bytes, at + 4) : '';
    const length = at + 4 <= bytes.length ? view.getUint32(at) : 0;
    if (at + 12 + length > bytes.length) {
      throw new Error(`${path}: cannot decode PNG: chunk ${JSON.stringify(type)} at byte ${at} needs ${12 + length} bytes, but the file ends after ${bytes.length - at}: truncated`);
    }
    const stored = view.getUint32(at + 8 + length);
    const computed = crc32(bytes.subarray(at + 4, at + 8 + length));
    if (stored !== computed) {
      throw new Error(`${path}: cannot decode PNG: chunk ${JSON.stringify(type)} at byte ${at} has a bad CRC (stored ${hex(stored)}, computed ${hex(computed)}): the file is damaged`);
    }
    if (type === 'IDAT') idat.push(bytes.subarray(at + 8, at + 8 + length));
    at += 12 + length;
    if (type === 'IEND') break;
  }
  const [depth, colour, interlace] = [bytes[24], bytes[25], bytes[28]];
  const channels = ({ 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 } as Record<number, number>)[colour];
  if (interlace !== 1 || !channels) return;
  const limit = adam7Bytes(width, height, channels * depth);
  try {
    inflateSync(Buffer.concat(idat), { maxOutputLength: limit });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ERR_BUFFER_TOO_LARGE') return; // pngjs says what is wrong
    throw new Error(`${path}: PNG image data inflate to more than the ${limit} bytes its ${width}x${height} pixels need`);
  }
}

let crcTable: Uint32Array | undefined;

/** PNG's CRC-32 (ISO 3309, the one zlib and gzip use) of a chunk's type and data. */
function crc32(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = crcTable[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function hex(x: number): string {
  return `0x${x.toString(16).padStart(8, '0')}`;
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
 * A JPEG's size and colour components from its first start-of-frame marker (SOF0..SOF15 but DHT, JPG and
 * DAC), walking the segments from SOI; undefined if scan data come first or the
 * file ends, which jpeg-js then reports.
 */
function jpegSize(bytes: Uint8Array): { width: number; height: number; components: number } | undefined {
  let at = 2;
  while (at + 10 <= bytes.length) {
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
      return { height: (bytes[at + 5] << 8) | bytes[at + 6], width: (bytes[at + 7] << 8) | bytes[at + 8], components: bytes[at + 9] };
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
