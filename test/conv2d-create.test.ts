// Conv2d.create()'s checks of a shape, which refuse it before any GPU work (so no
// device is needed: the runtime is never touched).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Runtime } from '../src/gpu/runtime';
import { Conv2d } from '../src/ops/conv2d';
import type { Conv2dShape } from '../src/ops/shapes';

const NO_RUNTIME = {} as Runtime;
const base: Conv2dShape = { batch: 2, inChannels: 3, outChannels: 4, height: 9, width: 8, kernel: 3 };

async function refusal(shape: Partial<Conv2dShape>): Promise<string> {
  try {
    await Conv2d.create(NO_RUNTIME, { ...base, ...shape });
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error(`conv2d accepted ${JSON.stringify(shape)}`);
}

test('conv2d refuses a stride under 1 or not whole, naming it', async () => {
  assert.is(await refusal({ stride: 0 }), 'conv2d: stride must be a whole number of at least 1, got 0');
  assert.is(await refusal({ stride: 1.5 }), 'conv2d: stride must be a whole number of at least 1, got 1.5');
});

test('conv2d refuses a negative padding, naming it', async () => {
  assert.is(await refusal({ padding: -1 }), 'conv2d: padding must be a whole number of at least 0, got -1');
});

test('conv2d refuses a kernel over 7', async () => {
  assert.is(await refusal({ kernel: 8, height: 20, width: 20 }), 'conv2d: kernel 8 is larger than 7, the largest conv2d.wgsl supports');
});

test('conv2d refuses an output smaller than 1x1, naming the sizes', async () => {
  assert.is(await refusal({ kernel: 7, height: 5, width: 9 }), 'conv2d: kernel 7 with padding 0 does not fit the 5x9 input (the output would be -1x3)');
  assert.is(await refusal({ kernel: 7, height: 2, width: 2, padding: 2 }), 'conv2d: kernel 7 with padding 2 does not fit the 2x2 input (the output would be 0x0)');
});

test.run();
