// src/shaders.ts comes from a listing of shaders/ (build.mjs): every WGSL file, by its basename.
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SHADERS } from '../src/shaders';

test('every shaders/*.wgsl file is a shader, keyed by its basename, with its text', () => {
  const files = readdirSync('shaders').filter((f) => f.endsWith('.wgsl'));
  assert.equal(Object.keys(SHADERS).sort(), files.map((f) => f.slice(0, -'.wgsl'.length)).sort());
  for (const f of files) assert.is(SHADERS[f.slice(0, -'.wgsl'.length)], readFileSync(`shaders/${f}`, 'utf8'), f);
});

test.run();
