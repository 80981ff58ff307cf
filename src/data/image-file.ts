/**
 * Node side of digit.ts: a PNG or JPEG file -> GreyImage -> 28x28 MNIST-style digit.
 * The format comes from the file's magic bytes, not its name: photos arrive renamed,
 * and a wrong extension should not turn into a confusing decoder error.
 * Every error message starts with the file's path, so a batch run says which file failed.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { decode as decodeJpeg } from 'jpeg-js';
import { PNG } from 'pngjs';
import { mnistDigit, toGrey, type GreyImage } from './digit';

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const JPEG_MAGIC = [0xff, 0xd8, 0xff];

export function decodeImageFile(path: string): GreyImage {
  const bytes = readBytes(path);
  if (startsWith(bytes, PNG_MAGIC)) return decodeWith(path, 'PNG', () => PNG.sync.read(bytes));
  // jpeg-js refuses images that would need more than maxMemoryUsageInMB; 512 admits
  // phone photos of 50 MP and more while still stopping a hostile header.
  const jpegOptions = { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 512 } as const;
  if (startsWith(bytes, JPEG_MAGIC)) return decodeWith(path, 'JPEG', () => decodeJpeg(bytes, jpegOptions));
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
