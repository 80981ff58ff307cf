// The command-line programs as a user runs them: train (options, bad data, Ctrl-C
// and --resume), eval and predict, on the adapter under test (LENET_ADAPTER).
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
    [['--lr', 'fast'], '--lr must be a positive number at most 1000, got "fast"'],
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

test('predict --explain draws what the network saw beside the photo, or at --out', () => {
  const [seven, two] = [0, 1].map(photo);
  const r = cli('predict', ['--model', FIXTURE, '--explain', seven.path, two.path]);
  assert.is(r.code, 0, r.err);
  for (const p of [seven, two]) {
    const picture = p.path.replace(/\.png$/, '.explain.svg');
    assert.ok(r.out.includes(`what the network saw: ${picture}`), r.out);
    const svg = readFileSync(picture, 'utf8');
    assert.ok(svg.startsWith('<svg') && svg.trimEnd().endsWith('</svg>'));
    assert.is(svg.match(/<g class="feature-map"/g)?.length, 2, 'conv1 and conv2');
    assert.is(svg.match(/<g class="channel"/g)?.length, 6 + 16, 'their channels');
    assert.is(svg.match(/class="probability( best)?"/g)?.length, 10, 'ten bars');
  }
  const out = join(dir, 'pictures', 'seven.svg');
  const j = cli('predict', ['--model', FIXTURE, '--json', '--explain', '--out', out, seven.path]);
  assert.is(j.code, 0, j.err);
  assert.is(JSON.parse(j.out).explanation, out);
  assert.ok(existsSync(out));
  assert.match(cli('predict', ['--model', FIXTURE, '--explain', '--out', out, seven.path, two.path]).err, /--out names one file, but 2 images were given/);
  assert.match(cli('predict', ['--model', FIXTURE, '--out', out, seven.path]).err, /--out is where --explain writes its picture/);
});

test('eval of the trained fixture model on the full test set: figures, confusion matrix, JSON and SVG beside the model', () => {
  const model = join(dir, 'fixture.safetensors');
  copyFileSync(FIXTURE, model);
  const e = cli('eval', [model]);
  assert.is(e.code, 0, e.err);
  const [, correct] = /Accuracy: (\d+)\/10000/.exec(e.out)!;
  assert.ok(Number(correct) >= 9800, e.out);
  assert.match(e.out, /Per class:\n  class  images  correct  accuracy\n      0     980 /);
  assert.match(e.out, /Confusion matrix \(rows: true class, columns: predicted; \. is 0\):\n  true +0 +1 +2 /);

  const json = JSON.parse(readFileSync(join(dir, 'fixture.eval.json'), 'utf8'));
  assert.is(json.count, 10000);
  assert.is(json.correct, Number(correct));
  const labels = loadMnist(defaultMnistDir(), 'test').labels;
  const classCounts = Array.from({ length: 10 }, (_, c) => labels.filter((l) => l === c).length);
  assert.equal(json.confusion.map((row: number[]) => row.reduce((a, b) => a + b, 0)), classCounts, 'rows sum to the class counts');
  assert.is(json.confusion.reduce((sum: number, row: number[], c: number) => sum + row[c], 0), json.correct, 'the trace is the correct answers');
  assert.is(json.misclassified.length, 10000 - json.correct);
  for (const m of json.misclassified) {
    assert.is(m.label, labels[m.index], `image ${m.index}'s label`);
    assert.is.not(m.predicted, m.label);
  }
  json.perClass.forEach((a: number, c: number) => assert.ok(Math.abs(a - json.confusion[c][c] / classCounts[c]) < 1e-6, `class ${c}`));

  const svg = readFileSync(join(dir, 'fixture.eval.svg'), 'utf8');
  assert.ok(svg.startsWith('<svg') && svg.trimEnd().endsWith('</svg>'));
  assert.is(svg.match(/<g class="cell"/g)?.length, 100, 'a 10x10 heat map');
  assert.is(svg.match(/<g class="mistake"/g)?.length, 24, 'a gallery of the most confident mistakes');
  assert.ok(svg.includes(`data-index="${json.misclassified[0].index}"`), 'the most confident mistake first');

  // --json prints the same figures instead, and writes nothing.
  for (const f of ['fixture.eval.json', 'fixture.eval.svg']) rmSync(join(dir, f));
  const j = cli('eval', [model, '--json']);
  assert.is(j.code, 0, j.err);
  const printed = JSON.parse(j.out);
  assert.equal(printed.confusion, json.confusion);
  assert.equal(printed.misclassified, json.misclassified);
  assert.not.ok(existsSync(join(dir, 'fixture.eval.json')) || existsSync(join(dir, 'fixture.eval.svg')), '--json wrote a file');
});

test('eval --out-dir writes there; an output that cannot be written stops it before the GPU works', () => {
  const model = join(dir, 'fixture.safetensors');
  if (!existsSync(model)) copyFileSync(FIXTURE, model);
  const elsewhere = join(dir, 'results');
  const small10 = smallMnist(join(dir, 'mnist-100'), 10, 100);
  const e = cli('eval', [model, '--data', small10, '--out-dir', elsewhere]);
  assert.is(e.code, 0, e.err);
  assert.equal(readdirSync(elsewhere).sort(), ['fixture.eval.json', 'fixture.eval.svg']);
  const blocker = join(dir, 'a-file');
  writeFileSync(blocker, 'not a directory');
  const bad = cli('eval', [model, '--data', small10, '--out-dir', blocker]);
  assert.is(bad.code, 1);
  assert.match(bad.err, /a-file\/fixture\.eval\.json: cannot write/);
});

test('a file that is not a model is a clear error', () => {
  const bad = join(dir, 'bad.safetensors');
  writeFileSync(bad, 'not a model at all');
  const r = cli('eval', [bad]);
  assert.is(r.code, 1);
  assert.ok(r.err.includes(bad), r.err);
});

test.run();
