// Decompression bombs: small files that claim or inflate to gigabytes are refused from
// their headers, or as they inflate, with one line naming the file, at once. PNG and
// JPEG are tested at the real pixel limit (the size in the header is enough); gzip at
// a small limit given as a parameter, so that the test spends megabytes, not 256 MiB.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync, gzipSync } from 'node:zlib';
import { encode as encodeJpeg } from 'jpeg-js';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { fetchIdx } from '../demo/data';
import { serveStatic, type StaticServer } from '../src/cli/shared/serve';
import { MNIST } from '../src/data/dataset';
import { decodeImageFile, MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS, MAX_JPEG_SAMPLES } from '../src/data/image-file';
import { MAX_IDX_BYTES } from '../src/data/idx';
import { loadMnist } from '../src/data/mnist';

const test = suite('decoder limits');
const MiB = 2 ** 20;
let dir: string;
let server: StaticServer;

function crc32(bytes: Uint8Array): number {
  let c = ~0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const out = Buffer.alloc(body.length + 8);
  out.writeUInt32BE(data.length, 0);
  body.copy(out, 4);
  out.writeUInt32BE(crc32(body), body.length + 4);
  return out;
}

/** A grey 8-bit PNG, made by hand: IHDR says `width` x `height`, IDAT holds `pixelData` deflated. */
function greyPng(width: number, height: number, interlaced: boolean, pixelData: Uint8Array): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // grey
  ihdr[12] = interlaced ? 1 : 0;
  const magic = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([magic, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(pixelData)), chunk('IEND', new Uint8Array(0))]);
}

/** The error `f` throws, and how long it took to. */
async function failure(f: () => unknown): Promise<{ message: string; ms: number }> {
  const start = performance.now();
  try {
    await f();
  } catch (err) {
    return { message: (err as Error).message, ms: performance.now() - start };
  }
  throw new Error('no error');
}

/** An IDX images file header for `count` 28x28 images, then that many zero images. */
function zeroImages(count: number): Buffer {
  const bytes = Buffer.alloc(16 + count * 784);
  [0x803, count, 28, 28].forEach((v, i) => bytes.writeUInt32BE(v, 4 * i));
  return bytes;
}

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lenet-limits-'));
  server = await serveStatic(dir, 0);
});

test.after(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

test('the limits are the ones documented', () => {
  assert.is(MAX_IMAGE_PIXELS, 16_000_000);
  assert.is(MAX_JPEG_SAMPLES, 48_000_000);
  assert.is(MAX_IMAGE_BYTES, 64 * MiB);
  assert.is(MAX_IDX_BYTES, 256 * MiB);
});

test('a small PNG whose IHDR says 20000x20000 is refused from its header, naming file and size', async () => {
  const path = join(dir, 'bomb.png');
  writeFileSync(path, greyPng(20000, 20000, false, new Uint8Array(20001 * 4)));
  const { message, ms } = await failure(() => decodeImageFile(path));
  assert.is(message, `${path}: PNG of 20000x20000 pixels (400 megapixels) is larger than the limit of 16 megapixels; a digit needs far fewer (scale the photo down)`);
  assert.ok(ms < 5000, `${ms} ms`);
});

test('an interlaced PNG whose data inflate past what its pixels need is refused as it inflates', async () => {
  // pngjs bounds what it inflates by the image size, but not for an interlaced image.
  const path = join(dir, 'interlaced-bomb.png');
  writeFileSync(path, greyPng(3, 3, true, new Uint8Array(16 * MiB)));
  const { message, ms } = await failure(() => decodeImageFile(path));
  assert.is(message, `${path}: PNG image data inflate to more than the 15 bytes its 3x3 pixels need`);
  assert.ok(ms < 5000, `${ms} ms`);
});

test('an honest interlaced PNG still decodes: 3x3 is 9 pixels and 6 filter bytes over 5 passes', () => {
  const path = join(dir, 'interlaced.png');
  writeFileSync(path, greyPng(3, 3, true, new Uint8Array(15).fill(0)));
  const img = decodeImageFile(path);
  assert.is(img.width, 3);
  assert.is(img.height, 3);
});

test('a JPEG whose frame header says 20000x20000 is refused before decoding, naming file and size', async () => {
  const small = encodeJpeg({ data: new Uint8Array(16 * 16 * 4).fill(200), width: 16, height: 16 }, 90).data;
  const sof = small.findIndex((b, i) => b === 0xff && small[i + 1] === 0xc0);
  assert.ok(sof > 0, 'the encoder writes a baseline frame header');
  small.writeUInt16BE(20000, sof + 5); // height
  small.writeUInt16BE(20000, sof + 7); // width
  const path = join(dir, 'bomb.jpg');
  writeFileSync(path, small);
  const { message, ms } = await failure(() => decodeImageFile(path));
  assert.is(message, `${path}: JPEG of 20000x20000 pixels (400 megapixels) is larger than the limit of 16 megapixels; a digit needs far fewer (scale the photo down)`);
  assert.ok(ms < 5000, `${ms} ms`);
});

test('a gzipped IDX file that inflates past the limit is refused as it inflates, naming the file', async () => {
  const data = join(dir, 'gz-bomb');
  mkdirSync(data);
  const { images, labels } = MNIST.files.train;
  // 8 MiB of images in 8 KB of gzip, against a 1 MiB limit.
  writeFileSync(join(data, `${images}.gz`), gzipSync(zeroImages(10_700)));
  writeFileSync(join(data, `${labels}.gz`), gzipSync(Buffer.alloc(8)));
  const { message, ms } = await failure(() => loadMnist(data, 'train', MNIST, MiB));
  assert.is(message, `${join(data, images)}.gz: gzip data decompresses to more than 1 MiB, the limit for an IDX file`);
  assert.ok(ms < 5000, `${ms} ms`);
});

test("the page's download stops a gzip bomb as it streams, and a body over the limit, naming the file", async () => {
  writeFileSync(join(dir, 'bomb.gz'), gzipSync(zeroImages(10_700)));
  writeFileSync(join(dir, 'plain.gz'), zeroImages(2_000)); // plain IDX, as a host that gunzips on the fly sends it
  const bomb = await failure(() => fetchIdx(new URL('bomb.gz', server.url), undefined, MiB));
  assert.is(bomb.message, 'bomb.gz: gzip data decompresses to more than 1 MiB, the limit for an IDX file');
  assert.ok(bomb.ms < 5000, `${bomb.ms} ms`);
  const plain = await failure(() => fetchIdx(new URL('plain.gz', server.url), undefined, MiB));
  assert.is(plain.message, 'downloading plain.gz: it holds more than 1 MiB, the limit for an IDX file');
  // Under the limit, both come through whole.
  assert.is((await fetchIdx(new URL('bomb.gz', server.url), undefined, 16 * MiB)).length, 16 + 10_700 * 784);
  assert.is((await fetchIdx(new URL('plain.gz', server.url), undefined, 16 * MiB)).length, 16 + 2_000 * 784);
});

test.run();
