// The programs' --arch before any GPU work (so in the CPU pass): an unknown preset
// names the known ones, a bad network file is one line naming the file and the
// layer, with exit 1 and nothing written.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { program } from './helpers/programs';

const test = suite('cli network');
let dir: string;
test.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'lenet-cli-network-'));
});
test.after(() => rmSync(dir, { recursive: true, force: true }));

function cli(name: string, args: string[]) {
  const r = spawnSync(...program(name, args), { encoding: 'utf8', env: { ...process.env, LENET_ADAPTER: 'none-such' } });
  return { code: r.status, out: r.stdout, err: r.stderr.trim() };
}

test('an unknown --arch names the presets', () => {
  for (const name of ['train', 'eval', 'predict', 'network']) {
    const r = cli(name, ['--arch', 'resnet50', ...(name === 'predict' ? ['x.png'] : [])]);
    assert.is(r.code, 1, name);
    assert.ok(r.err.includes('--arch: no network named "resnet50" (known: lenet5, lenet5-relu, lenet5-classic, lenet5-pad, lenet5-bn, or a network file ending in .json)'), `${name}: ${r.err}`);
  }
});

test('a bad network file: one line naming the file and the layer, exit 1 before the GPU opens, nothing written', () => {
  const file = join(dir, 'bad.json');
  writeFileSync(file, JSON.stringify({ name: 'bad', input: [1, 28, 28], layers: [{ op: 'conv2d', name: 'c1', inChannels: 1, outChannels: 4, kernel: 3, stride: 0 }, { op: 'flatten' }, { op: 'linear', name: 'f', inFeatures: 10, outFeatures: 10 }, { op: 'log_softmax' }] }));
  const out = join(dir, 'never.safetensors');
  for (const name of ['train', 'eval', 'predict', 'network', 'bench-kernels']) {
    const r = cli(name, ['--arch', file, ...(name === 'train' ? ['--out', out] : name === 'predict' ? ['x.png'] : [])]);
    assert.is(r.code, 1, `${name}: ${r.err}`);
    assert.is(r.err, `error: ${file}: layer 1 (conv2d "c1"): stride must be at least 1, got 0`, name);
  }
  assert.not.ok(existsSync(out));
  const missing = cli('train', ['--arch', join(dir, 'nothing.json')]);
  assert.match(missing.err, /nothing\.json: cannot read \(--arch\): no such file or directory/);
  const directory = join(dir, 'd.json');
  spawnSync('mkdir', [directory]);
  assert.match(cli('train', ['--arch', directory]).err, /d\.json: cannot read \(--arch\): a directory, not a regular file/);
});

test('what a network makes of the data is checked before the GPU opens: the input size, batchnorm on a batch of one', () => {
  const file = join(dir, 'odd.json');
  writeFileSync(file, JSON.stringify({ name: 'odd', input: [1, 30, 30], layers: [{ op: 'conv2d', name: 'c1', inChannels: 1, outChannels: 2, kernel: 3 }, { op: 'flatten' }, { op: 'linear', name: 'f', inFeatures: 2 * 28 * 28, outFeatures: 10 }, { op: 'log_softmax' }] }));
  const odd = cli('train', ['--arch', file, '--out', join(dir, 'odd.safetensors')]);
  assert.is(odd.code, 1);
  assert.is(odd.err, 'error: network odd: its input is 30x30, but the images are 28x28: a network takes them as they are, or 28x28 resized to 32x32');
  // 65 images in batches of 64 leave a last batch of one, which batchnorm1d cannot train on.
  const one = cli('train', ['--arch', 'bench/networks/every-layer.json', '--limit', '65', '--out', join(dir, 'one.safetensors')]);
  assert.is(one.code, 1);
  assert.match(one.err, /^error: network every-layer: layer 12 \(batchnorm1d "n2"\): a training batch of 1 sample gives one value per channel, which batch normalisation cannot train on \(PyTorch refuses it too\); --drop-last drops a last batch of one/);
  assert.not.ok(existsSync(join(dir, 'one.safetensors')));
});

test('network --json prints a file that --arch reads back', () => {
  const r = cli('network', ['--arch', 'lenet5-bn', '--json']);
  assert.is(r.code, 0, r.err);
  const file = join(dir, 'bn.json');
  writeFileSync(file, r.out.replace('"name":"lenet5-bn"', '"name":"mine"'));
  const back = cli('network', ['--arch', file]);
  assert.is(back.code, 0, back.err);
  assert.match(back.out, /network: mine, input 1x32x32/);
  assert.match(back.out, /\(bn1\): BatchNorm2d\(6, eps=1e-05/);
});

test.run();
