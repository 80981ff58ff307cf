// Small data sets for the command-line tests: the first images of each MNIST file,
// as IDX files with their counts rewritten (--data DIR), so runs stay short on slow adapters.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultMnistDir } from '../../src/data/mnist';

/** Writes the first `train` training and `test` test images and labels of MNIST to `to`; returns `to`. */
export function smallMnist(to: string, train: number, test: number): string {
  mkdirSync(to, { recursive: true });
  for (const [file, count, header, size] of [
    ['train-images-idx3-ubyte', train, 16, 784],
    ['train-labels-idx1-ubyte', train, 8, 1],
    ['t10k-images-idx3-ubyte', test, 16, 784],
    ['t10k-labels-idx1-ubyte', test, 8, 1],
  ] as const) {
    const bytes = Buffer.from(readFileSync(join(defaultMnistDir(), file)).subarray(0, header + count * size));
    bytes.writeUInt32BE(count, 4);
    writeFileSync(join(to, file), bytes);
  }
  return to;
}
