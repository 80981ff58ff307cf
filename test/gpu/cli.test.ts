// The command-line programs as a user runs them: train (options, bad data, Ctrl-C
// and --resume), eval and predict, on the adapter under test (LENET_ADAPTER).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { writePng } from '../../src/data/image-file';
import { defaultMnistDir, loadMnist } from '../../src/data/mnist';
import { smallMnist } from '../helpers/mnist';
import { program } from '../helpers/programs';

const test = suite('cli');
const FIXTURE = 'test/fixtures/lenet5-mnist.safetensors';
let dir: string;
let small: string;
test.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'lenet-cli-'));
  small = smallMnist(join(dir, 'small-mnist'), 2560, 1000);
});
test.after(() => rmSync(dir, { recursive: true, force: true }));

function cli(name: string, args: string[]) {
  const r = spawnSync(...program(name, args), { encoding: 'utf8', env: process.env });
  return { code: r.status, out: r.stdout, err: r.stderr.split('\n').filter((l) => l.startsWith('error') || l.includes(': error')).join('\n') };
}

/** An MNIST test digit as a "photo": 4x larger, dark ink on light paper. */
function photo(index: number): { path: string; label: number } {
  const test = loadMnist(defaultMnistDir(), 'test');
  const big = new Uint8Array(112 * 112);
  for (let y = 0; y < 112; y++) for (let x = 0; x < 112; x++) big[y * 112 + x] = 255 - test.images[index * 784 + (y >> 2) * 28 + (x >> 2)];
  const path = join(dir, `digit-${index}.png`);
  writePng(path, 112, 112, big);
  return { path, label: test.labels[index] };
}

test('bad option values are clear errors', () => {
  for (const [args, message] of [
    [['--epochs', '0'], '--epochs must be a positive integer, got "0"'],
    [['--lr', 'fast'], '--lr must be a positive number, got "fast"'],
    [['--batch-size', '6.5'], '--batch-size must be a positive integer'],
    [['--adapter', 'quantum'], 'unknown adapter "quantum"'],
    [['--init', 'a', '--resume', 'b'], '--init and --resume exclude each other'],
  ] as const) {
    const r = cli('train', [...args]);
    assert.is(r.code, 1, args.join(' '));
    assert.ok(r.err.includes(message), `${args.join(' ')}: ${r.err}`);
  }
});

test('a truncated MNIST file stops the run before training, naming the file', () => {
  const data = join(dir, 'data');
  spawnSync('mkdir', ['-p', data]);
  for (const f of ['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte', 'train-labels-idx1-ubyte']) {
    writeFileSync(join(data, f), readFileSync(join(defaultMnistDir(), f)));
  }
  writeFileSync(join(data, 'train-images-idx3-ubyte'), readFileSync(join(defaultMnistDir(), 'train-images-idx3-ubyte')).subarray(0, 5000));
  const r = cli('train', ['--data', data]);
  assert.is(r.code, 1);
  assert.match(r.err, /train-images-idx3-ubyte/);
  assert.match(r.err, /truncated/);
  assert.not.match(r.out, /Epoch 1/);
});

test('train writes the model, checkpoint, metrics and curves; eval reads the model back', () => {
  const out = join(dir, 'small.safetensors');
  const r = cli('train', ['--data', small, '--limit', '640', '--epochs', '1', '--out', out]);
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /parameters: 61,706/);
  assert.match(r.out, /Test set: Average loss: \d\.\d{4}, Accuracy: \d+\/1000 /);
  for (const suffix of ['.safetensors', '.ckpt.safetensors', '.metrics.json', '.svg']) assert.ok(existsSync(join(dir, `small${suffix}`)), suffix);
  const metrics = JSON.parse(readFileSync(join(dir, 'small.metrics.json'), 'utf8'));
  assert.is(metrics.epochs.length, 1);
  assert.ok(metrics.steps.length > 0);
  assert.match(readFileSync(join(dir, 'small.svg'), 'utf8'), /^<svg/);
  const accuracy = /Accuracy: (\d+)\/1000 /.exec(r.out)![1];
  const e = cli('eval', [out, '--data', small]);
  assert.is(e.code, 0, e.err);
  assert.ok(e.out.includes(`Accuracy: ${accuracy}/1000 `), `eval agrees with training's last test: ${e.out}`);
});

test('Ctrl-C saves a checkpoint, and --resume finishes the run', async () => {
  const out = join(dir, 'interrupted.safetensors');
  const child = spawn(...program('train', ['--data', small, '--epochs', '1', '--log-every', '1', '--out', out]), { env: process.env });
  let output = '';
  let sent = false;
  child.stdout.on('data', (b) => {
    output += b;
    // Once: a second Ctrl-C quits at once. Not child.kill(): Deno's child_process then
    // reports the signal, not the exit code.
    if (!sent && output.includes('set-up')) {
      sent = true;
      process.kill(child.pid!, 'SIGINT');
    }
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.is(code, 130, output);
  assert.match(output, /interrupted at step \d+: checkpoint saved/);
  assert.not.ok(existsSync(out), 'no model file from an interrupted run');
  const r = cli('train', ['--resume', join(dir, 'interrupted.ckpt.safetensors'), '--data', small, '--out', out]);
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /resuming .*: 0 epochs and \d+ steps done/);
  assert.ok(existsSync(out));
});

test('predict reads MNIST test digits from PNG photos, and still answers when one image is bad', () => {
  const photos = [0, 1, 2, 3, 4].map(photo);
  const bad = join(dir, 'not-an-image.png');
  writeFileSync(bad, 'hello');
  const r = cli('predict', ['--model', FIXTURE, '--json', ...photos.map((p) => p.path), bad]);
  assert.is(r.code, 1, 'one image failed');
  const lines = r.out.trim().split('\n').map((l) => JSON.parse(l));
  assert.is(lines.length, 6);
  photos.forEach((p, i) => {
    assert.is(lines[i].digit, p.label, `${p.path}`);
    assert.is(lines[i].probabilities.length, 10);
    assert.ok(Math.abs(lines[i].probabilities.reduce((a: number, b: number) => a + b, 0) - 1) < 1e-3);
  });
  assert.match(lines[5].error, /not a PNG or JPEG image/);
});

test('eval of the trained fixture model on the full test set', () => {
  const e = cli('eval', [FIXTURE]);
  assert.is(e.code, 0, e.err);
  const [, correct] = /Accuracy: (\d+)\/10000/.exec(e.out)!;
  assert.ok(Number(correct) >= 9800, e.out);
});

test('a file that is not a model is a clear error', () => {
  const bad = join(dir, 'bad.safetensors');
  writeFileSync(bad, 'not a model at all');
  const r = cli('eval', [bad]);
  assert.is(r.code, 1);
  assert.ok(r.err.includes(bad), r.err);
});

test.run();
