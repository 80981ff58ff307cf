// The two WebGPU implementations, Dawn (Node) and wgpu (Deno), train the same run to
// bitwise the same weights on the same kind of adapter: the same WGSL, compiled by
// Tint in one and naga in the other, run by the same driver. Run from Node, on the
// adapter under test; where Deno has no such adapter, or none of the same kind
// (lavapipe is wgpu's only), the relative difference to Node's llvmpipe is reported.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeSafetensors } from '../../src/model/safetensors';
import { RUNTIME } from '../helpers/programs';

const test = suite('implementations');
const DENO = 'node_modules/.bin/deno';
const adapter = process.env.LENET_ADAPTER ?? 'auto';
let dir: string;
test.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'lenet-implementations-'));
});
test.after(() => rmSync(dir, { recursive: true, force: true }));

const RUN = ['--epochs', '1', '--limit', '640', '--test-limit', '100', '--no-shuffle', '--seed', '5'];

function train(runtime: 'node' | 'deno', adapterName: string, out: string): void {
  const [command, args] = runtime === 'node' ? [process.execPath, ['dist/cli/train.js']] : [DENO, ['run', '-A', 'dist/deno/cli/train.js']];
  const r = spawnSync(command, [...args, ...RUN, '--adapter', adapterName, '--out', out], { encoding: 'utf8', timeout: 600_000 });
  assert.is(r.status, 0, `${runtime} on ${adapterName}: ${r.stderr.split('\n').filter((l) => l.startsWith('error')).join(' ')}`);
}

function tensors(path: string): Map<string, Float32Array> {
  return new Map([...decodeSafetensors(readFileSync(path), path).tensors].map(([name, t]) => [name, t.data]));
}

/** The largest relative difference ||a - b|| / ||b|| over the tensors. */
function worstRelative(a: Map<string, Float32Array>, b: Map<string, Float32Array>): { name: string; relative: number; differing: number } {
  let worst = { name: '', relative: 0, differing: 0 };
  for (const [name, x] of a) {
    const y = b.get(name)!;
    let diff = 0;
    let norm = 0;
    let differing = 0;
    for (let i = 0; i < x.length; i++) {
      diff += (x[i] - y[i]) ** 2;
      norm += y[i] ** 2;
      if (x[i] !== y[i] && !(Number.isNaN(x[i]) && Number.isNaN(y[i]))) differing++;
    }
    const relative = Math.sqrt(diff / norm);
    worst.differing += differing;
    if (relative > worst.relative || !worst.name) worst = { name, relative, differing: worst.differing };
  }
  return worst;
}

const skip = RUNTIME === 'deno' ? 'run from Node only' : !existsSync(DENO) ? `${DENO} is missing (npm install)` : ['llvmpipe', 'swiftshader'].includes(adapter) ? null : `no twin of "${adapter}" in both`;

test(`Node (Dawn) and Deno (wgpu) on ${adapter}: bitwise the same weights`, () => {
  if (skip) {
    console.log(`  (skipped: ${skip})`);
    return;
  }
  const node = join(dir, `node-${adapter}.safetensors`);
  const deno = join(dir, `deno-${adapter}.safetensors`);
  train('node', adapter, node);
  train('deno', adapter, deno);
  const a = tensors(node);
  const b = tensors(deno);
  assert.equal([...a.keys()], [...b.keys()]);
  const worst = worstRelative(a, b);
  assert.is(worst.differing, 0, `${worst.differing} weights differ; worst tensor ${worst.name}, relative difference ${worst.relative.toExponential(2)}`);
  console.log(`  ${adapter}: ${a.size} tensors bitwise equal after 10 steps on Dawn and on wgpu`);
});

test('Deno (wgpu) on lavapipe against Node (Dawn) on llvmpipe: the difference, reported', () => {
  if (skip || adapter !== 'llvmpipe') {
    console.log(`  (skipped: ${skip ?? 'once, with the llvmpipe run'})`);
    return;
  }
  const node = join(dir, 'node-llvmpipe.safetensors');
  const deno = join(dir, 'deno-lavapipe.safetensors');
  if (!existsSync(node)) train('node', 'llvmpipe', node);
  train('deno', 'lavapipe', deno);
  const worst = worstRelative(tensors(deno), tensors(node));
  console.log(`  lavapipe (wgpu) vs llvmpipe (Dawn): ${worst.differing} of 61,706 weights differ, worst relative difference ${worst.relative.toExponential(2)} (${worst.name})`);
  assert.ok(worst.relative < 1e-3, `the same run on two Mesa drivers should agree to float32 rounding: ${worst.relative}`);
});

test.run();
