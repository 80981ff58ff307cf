// The pictures' PNG encoder (src/chart/png.ts) against pngjs's decoder, which checks
// every chunk's CRC: exact levels for one pixel, for a tile, and for an image large
// enough to need several stored deflate blocks.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PNG } from 'pngjs';
import { greyPng, greyPngUri } from '../src/chart/png';
import { Rng } from '../src/util/rng';

function decoded(png: Uint8Array): { width: number; height: number; levels: number[] } {
  const image = PNG.sync.read(Buffer.from(png));
  return { width: image.width, height: image.height, levels: Array.from({ length: image.width * image.height }, (_, i) => image.data[4 * i]) };
}

for (const [width, height] of [
  [1, 1],
  [28, 28],
  [5, 3],
  [300, 300], // 90,300 bytes of rows: two stored blocks
]) {
  test(`a ${width}x${height} grey image decodes to its levels`, () => {
    const rng = new Rng(width * 1000 + height);
    const levels = Uint8Array.from({ length: width * height }, () => rng.int(256));
    assert.equal(decoded(greyPng(levels, width, height)), { width, height, levels: Array.from(levels) });
  });
}

test('a data URI of the same bytes', () => {
  const levels = Uint8Array.from([0, 128, 255, 7]);
  const uri = greyPngUri(levels, 2, 2);
  assert.ok(uri.startsWith('data:image/png;base64,'));
  assert.equal(new Uint8Array(Buffer.from(uri.slice(22), 'base64')), greyPng(levels, 2, 2));
});

test('sizes that do not fit the levels throw', () => {
  assert.throws(() => greyPng(new Uint8Array(5), 2, 2), /greyPng: 5 levels for a 2x2 image/);
  assert.throws(() => greyPng(new Uint8Array(0), 0, 1), /greyPng: 0x1 is not an image size/);
});

test.run();
