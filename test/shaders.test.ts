// src/shaders.ts comes from a listing of shaders/ (build.mjs): every WGSL file, by its
// basename. And the GPU tests are findable by name: each shader's in
// test/gpu/<shader>.test.ts, beside the few that test more than one shader.
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SHADERS } from '../src/shaders';

const shaders = readdirSync('shaders').filter((f) => f.endsWith('.wgsl')).map((f) => f.slice(0, -'.wgsl'.length));
const gpuTests = readdirSync('test/gpu').filter((f) => f.endsWith('.test.ts')).map((f) => f.slice(0, -'.test.ts'.length));

/** The GPU tests about more than one shader: whole networks, training, the programs, the engine. */
const ACROSS_SHADERS = ['arch', 'cli', 'cli-errors', 'cli-signals', 'dataset', 'evaluation', 'implementations', 'kernel', 'limits', 'lost', 'network', 'pytorch', 'quiet', 'train'];

test('every shaders/*.wgsl file is a shader, keyed by its basename, with its text', () => {
  assert.equal(Object.keys(SHADERS).sort(), [...shaders].sort());
  for (const name of shaders) assert.is(SHADERS[name], readFileSync(`shaders/${name}.wgsl`, 'utf8'), name);
});

test('every shader has its GPU test file, test/gpu/<shader>.test.ts', () => {
  const untested = shaders.filter((name) => !gpuTests.includes(name)).map((name) => `shaders/${name}.wgsl has no test/gpu/${name}.test.ts`);
  assert.equal(untested, [], untested.join('\n'));
});

test('every other GPU test file is named for a shader, or listed as one across shaders', () => {
  const strays = gpuTests
    .filter((name) => !shaders.includes(name) && !ACROSS_SHADERS.includes(name))
    .map((name) => `test/gpu/${name}.test.ts: there is no shaders/${name}.wgsl (a test of several shaders goes in ACROSS_SHADERS, test/shaders.test.ts)`);
  assert.equal(strays, [], strays.join('\n'));
  const gone = ACROSS_SHADERS.filter((name) => !gpuTests.includes(name)).map((name) => `ACROSS_SHADERS names test/gpu/${name}.test.ts, which does not exist`);
  assert.equal(gone, [], gone.join('\n'));
  const both = ACROSS_SHADERS.filter((name) => shaders.includes(name));
  assert.equal(both, [], `named for a shader, yet listed as across shaders: ${both.join(', ')}`);
});

test.run();
