// A data set the user brings, made here: a synthetic 28x28, 10-class set (bars, not
// digits) as IDX files under MNIST's names, for `--data DIR`.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { MNIST } from '../../src/data/dataset';
import type { Rng } from '../../src/util/rng';

export const SIDE = 28;
export const PIXELS = SIDE * SIDE;

export interface Synthetic {
  images: Uint8Array;
  labels: Uint8Array;
}

/**
 * Class k < 5 is a horizontal bar on row 5 + 4k, class k >= 5 a vertical one on
 * column 5 + 4(k - 5), shifted by up to a pixel, with faint noise: learnable, and no
 * digit.
 */
export function synthetic(rng: Rng, count: number): Synthetic {
  const images = new Uint8Array(count * PIXELS);
  const labels = Uint8Array.from({ length: count }, () => rng.int(10));
  for (let n = 0; n < count; n++) {
    const image = images.subarray(n * PIXELS, (n + 1) * PIXELS);
    for (let i = 0; i < PIXELS; i++) if (rng.int(4) === 0) image[i] = rng.int(40);
    const k = labels[n];
    const at = 5 + 4 * (k % 5) + rng.int(3) - 1;
    const from = 5 + rng.int(3);
    const ink = 150 + rng.int(106);
    for (let a = at; a < at + 3; a++) {
      for (let b = from; b < from + 17; b++) image[k < 5 ? a * SIDE + b : b * SIDE + a] = ink;
    }
  }
  return { images, labels };
}

function idx(magic: number, dims: number[], body: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + body.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, magic);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d));
  out.set(body, 4 + 4 * dims.length);
  return out;
}

/** The set as IDX files under MNIST's names (its test split gzipped, if asked), as Fashion-MNIST comes. */
export function writeSet(to: string, s: { train: Synthetic; test: Synthetic }, o: { gzipTest?: boolean; side?: number } = {}): void {
  mkdirSync(to, { recursive: true });
  const side = o.side ?? SIDE;
  for (const split of ['train', 'test'] as const) {
    const { images, labels } = s[split];
    const gz = split === 'test' && o.gzipTest;
    const write = (name: string, bytes: Uint8Array) => writeFileSync(join(to, gz ? `${name}.gz` : name), gz ? gzipSync(bytes) : bytes);
    write(MNIST.files[split].images, idx(0x803, [labels.length, side, side], images));
    write(MNIST.files[split].labels, idx(0x801, [labels.length], labels));
  }
}
