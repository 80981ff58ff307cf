// The host layer: bindings by name, uniforms by member, and GPU errors as exceptions.
import * as assert from 'uvu/assert';
import { Kernel } from '../../src/gpu/kernel';
import { Runtime } from '../../src/gpu/runtime';
import { Conv2d } from '../../src/ops/conv2d';
import { gpuSuite } from '../helpers/gpu';

const test = gpuSuite('kernel host layer');

async function throwsWith(fn: () => unknown, pattern: RegExp): Promise<void> {
  try {
    await fn();
  } catch (e) {
    assert.match((e as Error).message, pattern);
    return;
  }
  assert.unreachable(`expected an error matching ${pattern}`);
}

test('the bind-group layout comes from the shader: each entry point binds what it uses', async ({ rt }) => {
  const sizes = { C_IN: 1, C_OUT: 2, H: 6, W: 6, K: 3 };
  const k = await rt.kernel('conv2d', 'reduce', sizes);
  assert.equal(k.bindingNames, ['params', 'saved_partial', 'saved_partial_bias', 'dweight', 'dbias']);
  const f = await rt.kernel('conv2d', 'forward', sizes);
  assert.equal(f.bindingNames, ['params', 'input', 'bias', 'output', 'by_tap', 'by_tap_u']);
  const accumulate = await rt.kernel('nll_loss', 'accumulate');
  assert.equal(accumulate.bindingNames, ['params', 'log_probs', 'labels', 'metrics'], 'not loss_backward\'s loss and dlogits: this entry point does not use them');
});

test('a missing binding is an error naming the kernel and the binding', async ({ rt }) => {
  const k = await rt.kernel('relu', 'forward');
  const t = rt.buffer('t', 64);
  await throwsWith(() => k.bind({ params: k.uniformBuffer({ count: 4 }), input: t }), /kernel relu\.forward: binding "output" is missing/);
});

test('an extra or misspelt binding is an error naming it', async ({ rt }) => {
  const k = await rt.kernel('relu', 'forward');
  const t = rt.buffer('t', 64);
  await throwsWith(
    () => k.bind({ params: k.uniformBuffer({ count: 4 }), input: t, output: t, outptu: t }),
    /kernel relu\.forward: no binding named "outptu"/,
  );
});

test('a buffer of the wrong kind is an error naming the binding', async ({ rt }) => {
  const k = await rt.kernel('relu', 'forward');
  const t = rt.buffer('t', 64);
  await throwsWith(() => k.bind({ params: t, input: t, output: t }), /kernel relu\.forward: binding "params" is a uniform/);
  const u = k.uniformBuffer({ count: 4 });
  await throwsWith(() => k.bind({ params: u, input: u, output: t }), /kernel relu\.forward: binding "input" is a storage buffer/);
});

test('uniform members are checked by name and type', async ({ rt }) => {
  const k = await rt.kernel('log_softmax', 'forward');
  await throwsWith(() => k.uniformBuffer({ batch: 1 }), /kernel log_softmax\.forward: uniform params\.classes is missing/);
  const full = { batch: 1, classes: 10 };
  await throwsWith(() => k.uniformBuffer({ ...full, stride: 1 }), /uniform params has no member "stride"/);
  await throwsWith(() => k.uniformBuffer({ ...full, batch: 1.5 }), /uniform params\.batch is u32, got 1\.5/);
});

test('an op checks tensor sizes against its shape', async ({ rt }) => {
  const conv = await Conv2d.create(rt, { batch: 1, inChannels: 1, outChannels: 2, height: 6, width: 6, kernel: 3 });
  const t = (n: number) => rt.tensor('t', [n]);
  await throwsWith(
    () => conv.forward({ input: t(36), by_tap: t(4 * 9 * 2), bias: t(2), output: t(31) }),
    /conv2d\.forward: output has 31 elements \[31\], expected 32/,
  );
});

test('an unknown shader is an error naming the known ones', async ({ rt }) => {
  await throwsWith(() => rt.kernel('softmax', 'forward'), /kernel softmax\.forward: no shader named "softmax" \(known: adam, avgpool2d, batchnorm, confusion, conv2d, .*, relu(, \w+)*\)/);
});

test('the runtime lists the kernels it has compiled, one per pipeline', async ({ rt }) => {
  const fresh = new Runtime(rt.gpu); // the same device, no kernels yet
  assert.equal(fresh.compiled, []);
  await fresh.kernel('relu', 'forward');
  await fresh.kernel('relu', 'forward'); // cached: no second pipeline
  await fresh.kernel('conv2d', 'reduce', { C_IN: 1, C_OUT: 2, H: 6, W: 6, K: 3 });
  await fresh.kernel('conv2d', 'reduce', { C_IN: 1, C_OUT: 3, H: 6, W: 6, K: 3 });
  await fresh.kernel('relu', 'sideways').catch(() => undefined); // failed: not listed
  assert.equal(fresh.compiled, ['relu.forward', 'conv2d.reduce', 'conv2d.reduce']);
  fresh.compiled.pop();
  assert.is(fresh.compiled.length, 3, 'a copy: changing it changes nothing');
});

test('an unknown entry point or override is an error naming the shader', async ({ rt }) => {
  await throwsWith(() => rt.kernel('relu', 'sideways'), /relu\.wgsl has no compute entry point "sideways"/);
  await throwsWith(() => rt.kernel('relu', 'forward', { TILE: 4 }), /no override named "TILE" in relu\.wgsl/);
});

test('an override the shader requires but the host leaves out is an error naming the kernel', async ({ rt }) => {
  await throwsWith(() => rt.kernel('linear', 'forward', { IN: 4 }), /kernel linear\.forward/);
});

test('a shader that does not compile names the file, line and message', async ({ rt }) => {
  const broken = 'override WG: u32 = 64;\n@compute @workgroup_size(WG) fn main() { let x: f32 = 1u; }\n';
  await throwsWith(() => Kernel.create(rt.device, 'broken', broken, 'main'), /kernel broken\.main failed to compile[\s\S]*broken\.wgsl:2:/);
});

test('a GPU validation error surfaces as an exception, not as wrong numbers', async ({ rt }) => {
  const k = await rt.kernel('relu', 'forward');
  const params = k.uniformBuffer({ count: 16 });
  const t = rt.buffer('shared', 64);
  // The same buffer bound read-only and writable in one dispatch is invalid in WebGPU.
  const group = k.bind({ params, input: t, output: t });
  const encoder = rt.device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(k.pipeline);
  pass.setBindGroup(0, group);
  pass.dispatchWorkgroups(1);
  pass.end();
  rt.device.queue.submit([encoder.finish()]);
  await throwsWith(() => rt.sync(), /WebGPU error/);
});

test.run();
