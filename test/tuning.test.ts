// The per-adapter table of block shapes (src/gpu/tuning.ts) and LENET_TUNING's overrides.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { driverVersion, llvmpipeThreads } from '../src/gpu/device';
import { DEFAULT_TUNING, tuningFor } from '../src/gpu/tuning';

const llvmpipe = { name: 'llvmpipe (OpenGL ES, compatibility)', description: 'OpenGL ES 3.2 Mesa 22.3.6' };
const lavapipe = { name: 'lavapipe (Vulkan)', description: 'llvmpipe (LLVM 15.0.6, 256 bits)' };
const swiftshader = { name: 'SwiftShader (Vulkan)', description: 'SwiftShader driver 5.0.0' };
const gpu = { name: 'NVIDIA H200 (Vulkan)', description: '' };

test('Mesa’s gallivm adapters get the shapes measured on llvmpipe, SwiftShader its own, others the defaults', () => {
  const gallivm = { convColumns: 16, convInputColumns: 16, convAllRows: true, linearWide: true, convUniformWeights: true };
  assert.equal(tuningFor(llvmpipe), gallivm);
  assert.equal(tuningFor(lavapipe), gallivm);
  assert.equal(tuningFor(swiftshader), { convColumns: 4, convInputColumns: 8, convAllRows: false, linearWide: true, convUniformWeights: false });
  assert.equal(tuningFor(gpu), DEFAULT_TUNING);
});

test('LENET_TUNING overrides the table item by item', () => {
  assert.equal(tuningFor(llvmpipe, 'convColumns=4, convUniformWeights=0'), { ...tuningFor(llvmpipe), convColumns: 4, convUniformWeights: false });
  assert.equal(tuningFor(gpu, 'linearWide=1'), { ...DEFAULT_TUNING, linearWide: true });
  assert.equal(tuningFor(gpu, ''), DEFAULT_TUNING);
  const table = tuningFor(llvmpipe);
  tuningFor(llvmpipe, 'convColumns=4');
  assert.equal(tuningFor(llvmpipe), table, 'an override leaves the table as it was');
});

test('Mesa’s threads: two per core', () => {
  assert.is(llvmpipeThreads(2), '4');
  assert.is(llvmpipeThreads(16), '32');
  assert.is(llvmpipeThreads(0), '2', 'a machine that says it has no cores gets one core’s');
});

test('a wrong LENET_TUNING item is an error naming it and the choices', () => {
  for (const bad of ['convColumns=6', 'linearWide=yes', 'wide=1', 'convColumns']) {
    assert.throws(() => tuningFor(llvmpipe, bad), (e: Error) => e.message.startsWith(`LENET_TUNING: "${bad}" is not one of convColumns=4|8|16`), bad);
  }
});

test('the driver version the benchmarks record: Mesa’s from its adapter line, SwiftShader’s, or none', () => {
  const dawnGl = { name: 'llvmpipe (OpenGL ES, compatibility)', description: 'OpenGL version OpenGL ES 3.2 Mesa 25.0.7-2~bpo12+1', device: 'llvmpipe-llvm-15-0-6-256-bits-' };
  assert.is(driverVersion(dawnGl), 'Mesa 25.0.7');
  assert.is(driverVersion({ ...dawnGl, description: 'OpenGL version OpenGL ES 3.2 Mesa 22.3.6' }), 'Mesa 22.3.6');
  assert.is(driverVersion({ name: 'lavapipe (Vulkan)', description: 'Mesa 25.0.7 (LLVM 19.1.7)', device: '' }), 'Mesa 25.0.7');
  assert.is(driverVersion({ ...swiftshader, device: '' }), 'SwiftShader 5.0.0');
  assert.is(driverVersion({ ...gpu, device: '' }), null);
});

test.run();
