// What the command-line programs refuse before any GPU work, in the CPU pass (once,
// not once per adapter): bad option values, files that are not models, weights that
// are not finite, edited checkpoints, outputs that cannot be written, bad data sets,
// state_dicts of another network. Each run ends with one line naming the file or
// option and a non-zero exit code, and nothing replaced or lost.
//
// The programs run where no GPU can be had (LENET_ADAPTER=none-such): a refusal that
// came only after a GPU was asked for fails the test. Each test runs Node's build of
// the programs (Dawn's) and Deno's (wgpu's) where npm install brought Deno.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULT_MODEL } from '../src/cli/shared/common';
import { MNIST } from '../src/data/dataset';
import { writePng } from '../src/data/image-file';
import { defaultMnistDir } from '../src/data/mnist';
import { LENET5_RELU } from '../src/model/network';
import { parameterTable } from '../src/model/parameters';
import { decodeSafetensors, encodeSafetensors } from '../src/model/safetensors';
import { tensorsFromFlat } from '../src/model/safetensors-codec';
import { Rng } from '../src/util/rng';
import { checkpoint } from './helpers/checkpoints';
import { PIXELS, synthetic, writeSet, type Synthetic } from './helpers/dataset';
import { smallMnist } from './helpers/mnist';
import { NO_GPU, programIn, RUNTIMES, type ProgramRuntime } from './helpers/programs';

const test = suite('cli refusals');
const FIXTURE = 'test/fixtures/lenet5-mnist.safetensors';
let root: string;
let small: string;
let bars: { set: { train: Synthetic; test: Synthetic }; data: string };
test.before(() => {
  root = mkdtempSync(join(tmpdir(), 'lenet-cli-refused-'));
  small = smallMnist(join(root, 'small-mnist'), 2560, 200);
  const rng = new Rng(2024);
  const set = { train: synthetic(rng, 600), test: synthetic(rng, 200) };
  bars = { set, data: join(root, 'bars') };
  writeSet(bars.data, set, { gzipTest: true });
});
test.after(() => rmSync(root, { recursive: true, force: true }));

interface Ran {
  code: number | null;
  out: string;
  /** stderr's lines that start with "error" or hold ": error" (a file's error, one of several) */
  err: string;
  /** stderr's lines that start with "error" */
  errors: string[];
  /** stderr's lines, the empty ones left out */
  lines: string;
}

type Cli = (name: string, args: string[]) => Ran;

/** Runs a program of `runtime`'s build, which must end within a minute, with no GPU to be had. */
function runner(runtime: ProgramRuntime): Cli {
  return (name, args) => {
    const r = spawnSync(...programIn(runtime, name, args), { encoding: 'utf8', env: NO_GPU, timeout: 60_000 });
    const lines = r.stderr.split('\n');
    return {
      code: r.status,
      out: r.stdout,
      err: lines.filter((l) => l.startsWith('error') || l.includes(': error')).join('\n'),
      errors: lines.filter((l) => l.startsWith('error')),
      lines: lines.filter((l) => l).join('\n'),
    };
  };
}

/**
 * A test run on each runtime's programs (`cli`), in a folder of its own (`dir`): the
 * title names the runtime.
 */
function each(title: string, body: (cli: Cli, dir: string, runtime: ProgramRuntime) => void): void {
  for (const runtime of RUNTIMES) {
    test(`${title} (${runtime})`, () => {
      const dir = join(root, `${runtime}-${title.replace(/\W+/g, '-').slice(0, 40)}`);
      mkdirSync(dir);
      body(runner(runtime), dir, runtime);
    });
  }
}

/** Exit code 1 and exactly one error line, containing every piece. */
function fails(r: Ran, ...pieces: string[]): void {
  assert.is.not(r.code, null, `the program did not end within a minute: ${r.out}`);
  assert.is(r.code, 1, `exit code; stdout: ${r.out}`);
  assert.is(r.errors.length, 1, `one error line: ${r.errors.join(' | ')}`);
  for (const piece of pieces) assert.ok(r.errors[0].includes(piece), `"${r.errors[0]}" names ${piece}`);
}

/** The default model file's state, to show that a run did not touch it. */
function defaultModelState(): string {
  return existsSync(DEFAULT_MODEL) ? `${statSync(DEFAULT_MODEL).mtimeMs} ${statSync(DEFAULT_MODEL).size}` : 'absent';
}

each('bad option values are clear errors', (cli) => {
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

each('empty option values and empty data sets are errors, not defaults', (cli, dir) => {
  for (const [args, message] of [
    [['--epochs='], '--epochs needs a value'],
    [['--lr', ''], '--lr needs a value'],
    [['--out', ''], '--out needs a value'],
    [['--data', ''], '--data needs a value'],
  ] as const) {
    fails(cli('train', [...args]), message);
  }
  fails(cli('eval', ['--data=']), '--data needs a value');
  fails(cli('train', ['--data', smallMnist(join(dir, 'no-train'), 0, 10)]), 'train-images-idx3-ubyte: holds no images');
  fails(cli('train', ['--data', smallMnist(join(dir, 'no-test'), 100, 0)]), 't10k-images-idx3-ubyte: holds no images');
  fails(cli('eval', [FIXTURE, '--data', join(dir, 'no-test')]), 't10k-images-idx3-ubyte: holds no images');
});

each('a truncated MNIST file stops the run before training, naming the file', (cli, dir) => {
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

each('bad data sets and normalisation options are one-line errors naming the file or option', (cli, dir) => {
  const { set, data } = bars;
  const big = join(dir, 'big');
  const wide = (s: Synthetic) => ({ images: new Uint8Array((s.images.length / PIXELS) * 32 * 32), labels: s.labels });
  writeSet(big, { train: wide(set.train), test: wide(set.test) }, { side: 32 });
  const outOfRange = join(dir, 'eleven');
  const labels = set.train.labels.slice();
  labels[7] = 10;
  writeSet(outOfRange, { train: { images: set.train.images, labels }, test: set.test }, { gzipTest: true });
  for (const [args, message] of [
    [['--data', big], `error: ${join(big, MNIST.files.train.images)}: images are 32x32, expected 28x28`],
    [['--data', outOfRange], `error: ${join(outOfRange, MNIST.files.train.labels)}: label 10 at index 7 is not a class: there are 10, labelled 0..9`],
    [['--data', data, '--mean', '0.2'], 'error: --mean and --std go together: give both, or neither'],
    [['--data', data, '--mean', 'x', '--std', '1'], 'error: --mean must be a number, got "x"'],
    [['--data', data, '--mean', '0.2', '--std', '0'], 'error: --std must be a positive number, got "0"'],
  ] as const) {
    const r = cli('train', [...args, '--out', join(dir, 'never.safetensors')]);
    assert.is(r.code, 1, args.join(' '));
    assert.is(r.lines, message, args.join(' '));
    assert.not.match(r.out, /Epoch 1/);
  }
});

each('a file that is not a model is a clear error', (cli, dir) => {
  const bad = join(dir, 'bad.safetensors');
  writeFileSync(bad, 'not a model at all');
  const r = cli('eval', [bad]);
  assert.is(r.code, 1);
  assert.ok(r.err.includes(bad), r.err);
});

each('eval and predict without a model say how to make one', (cli, dir, runtime) => {
  const missing = join(dir, 'none.safetensors');
  fails(cli('eval', [missing]), missing, 'no such file', `npm run train:${runtime} -- --out ${missing}`);
  fails(cli('predict', ['--model', missing, 'x.png']), missing, 'no such file');
  if (!existsSync(DEFAULT_MODEL)) fails(cli('eval', []), DEFAULT_MODEL, `train one first with: npm run train:${runtime}`);
});

each('weights that are not finite are refused by eval, predict and train --init, naming the file and the tensor', (cli, dir) => {
  const { tensors, metadata } = decodeSafetensors(readFileSync(FIXTURE), FIXTURE);
  const nan = join(dir, 'nan.safetensors');
  tensors.get('fc3.bias')!.data[3] = NaN;
  writeFileSync(nan, encodeSafetensors(tensors, metadata));
  const inf = join(dir, 'inf.safetensors');
  tensors.get('fc3.bias')!.data[3] = 0;
  tensors.get('conv1.weight')!.data[7] = -Infinity;
  writeFileSync(inf, encodeSafetensors(tensors, metadata));
  fails(cli('eval', [nan]), nan, '"fc3.bias" holds NaN at index 3');
  fails(cli('predict', ['--model', inf, 'x.png']), inf, '"conv1.weight" holds -Infinity at index 7');
  fails(cli('train', ['--init', nan, '--data', small]), nan, '"fc3.bias"');
});

each('a state_dict without our metadata (PyTorch\'s save_file) that is not the network --arch names is refused with every mismatch', (cli, dir) => {
  const init = join(dir, 'torch.safetensors');
  const table = parameterTable(LENET5_RELU);
  const flat = table.init(new Rng(5));
  writeFileSync(init, encodeSafetensors(tensorsFromFlat(table, flat)));
  const short = ['--epochs', '1', '--limit', '256', '--test-limit', '200', '--batch-size', '64'];
  const wrong = cli('train', ['--init', init, '--arch', 'lenet5-bn', ...short, '--out', join(dir, 'from-torch-bn.safetensors')]);
  assert.is(wrong.code, 1);
  assert.match(wrong.err, /torch\.safetensors: records no network, and its tensors are not lenet5-bn's: missing tensors "bn1\.weight", .*; tensor "fc1\.weight"|torch\.safetensors: records no network, and its tensors are not lenet5-bn's: missing tensors "bn1\.weight"/);
});

each('edited checkpoints are refused before training, naming the file and the field; the unedited one gets as far as the GPU', (cli, dir) => {
  const config = (change: Record<string, unknown>) => (m: Record<string, string>) => {
    m.config = JSON.stringify({ ...JSON.parse(m.config), ...change });
  };
  const cases: [string, (m: Record<string, string>) => void, string][] = [
    ['negative.ckpt.safetensors', (m) => (m.step_in_epoch = '-5'), '"step_in_epoch" is -5'],
    ['history.ckpt.safetensors', (m) => (m.history = '"a string"'), '"history" is not'],
    ['points.ckpt.safetensors', (m) => (m.history = '{"steps": [{"step": 1, "epoch": 0, "loss": "low", "accuracy": 1}], "epochs": []}'), 'steps[0] has loss "low"'],
    ['hflip.ckpt.safetensors', config({ hflip: 'no' }), 'hflip must be true or false, got "no"'],
    ['batch.ckpt.safetensors', config({ batchSize: 256 }), 'does not fit the config (10 steps per epoch'],
    ['limit.ckpt.safetensors', config({ limit: 320 }), 'does not fit the config (5 steps per epoch'],
    ['rng.ckpt.safetensors', (m) => (m.rng_state = '[0,0,0,0]'), '"rng_state" is [0,0,0,0]'],
    ['lr.ckpt.safetensors', config({ lr: '0.001' }), 'lr must be a positive number at most 1000, got "0.001"'],
  ];
  const before = defaultModelState();
  for (const [name, edit, message] of cases) {
    const path = checkpoint(dir, name, edit);
    const r = cli('train', ['--resume', path, '--data', small]);
    fails(r, path, message);
    assert.not.match(r.out, /set-up/, `${name}: refused before the GPU's set-up`);
  }
  // The unedited checkpoint passes every check and stops only at the GPU, which here
  // is not to be had: the edits are what was refused (the GPU tests resume it).
  fails(cli('train', ['--resume', checkpoint(dir, 'good.ckpt.safetensors', () => {}), '--data', small, '--epochs', '1']), 'LENET_ADAPTER: unknown adapter "none-such"');
  assert.is(defaultModelState(), before, `${DEFAULT_MODEL} untouched`);
});

each('outputs that are not regular files, or cannot be written, are refused before training, and left as they were', (cli, dir) => {
  mkdirSync(join(dir, 'folder.safetensors'));
  symlinkSync('/dev/full', join(dir, 'device.safetensors'));
  execFileSync('mkfifo', [join(dir, 'pipe.safetensors')]);
  writeFileSync(join(dir, 'plain'), 'not a directory');
  mkdirSync(join(dir, 'busy.ckpt.safetensors'));
  for (const [out, message] of [
    [join(dir, 'folder.safetensors'), 'is a directory (--out)'],
    [join(dir, 'device.safetensors'), 'is not a regular file (a character device)'],
    [join(dir, 'pipe.safetensors'), 'is not a regular file (a FIFO)'],
    [join(dir, 'plain', 'm.safetensors'), 'cannot write (--out)'],
    [join(dir, 'busy.safetensors'), 'busy.ckpt.safetensors: is a directory (the checkpoint beside --out)'],
    ['/dev/full', 'a model file\'s name ends in .safetensors'],
  ]) {
    const r = cli('train', ['--data', small, '--limit', '64', '--epochs', '1', '--out', out]);
    fails(r, message);
    assert.not.match(r.out, /set-up/, `${out}: refused before training`);
  }
  assert.ok(statSync('/dev/full').isCharacterDevice());
  assert.ok(lstatSync(join(dir, 'device.safetensors')).isSymbolicLink());
  assert.ok(lstatSync(join(dir, 'pipe.safetensors')).isFIFO());
  assert.is(readFileSync(join(dir, 'plain'), 'utf8'), 'not a directory');
});

each("eval's and predict --explain's pictures: a directory, a FIFO or a path under a file is refused before the GPU works, and left as it was", (cli, dir) => {
  const model = join(dir, 'pictured.safetensors');
  copyFileSync(FIXTURE, model);
  mkdirSync(join(dir, 'pictured.eval.json'));
  fails(cli('eval', [model]), 'pictured.eval.json: is a directory');
  assert.ok(statSync(join(dir, 'pictured.eval.json')).isDirectory());
  assert.not.ok(existsSync(join(dir, 'pictured.eval.svg')), 'nothing written beside it');
  execFileSync('mkfifo', [join(dir, 'pictured.eval.svg')]);
  writeFileSync(join(dir, 'plain'), 'not a directory');
  fails(cli('eval', [model, '--out-dir', join(dir, 'plain')]), 'plain/pictured.eval.json: cannot write');
  fails(cli('eval', [model, '--json', '--out-dir', dir]), '--json prints the figures instead of writing files');
  rmSync(join(dir, 'pictured.eval.json'), { recursive: true });
  fails(cli('eval', [model]), 'pictured.eval.svg: is not a regular file (a FIFO)');
  assert.not.ok(existsSync(join(dir, 'pictured.eval.json')), 'the JSON not written either');
  assert.ok(lstatSync(join(dir, 'pictured.eval.svg')).isFIFO());

  const photo = join(dir, 'digit.png');
  writePng(photo, 28, 28, new Uint8Array(784).fill(255).fill(0, 300, 320));
  mkdirSync(join(dir, 'digit.explain.svg'));
  fails(cli('predict', ['--model', FIXTURE, '--explain', photo]), 'digit.explain.svg: is a directory (--explain)');
  fails(cli('predict', ['--model', FIXTURE, '--explain', '--out', join(dir, 'plain', 'x.svg'), photo]), 'cannot write (--explain)');
});

each('eval --out-dir that cannot be written stops it before the GPU works', (cli, dir) => {
  const model = join(dir, 'fixture.safetensors');
  copyFileSync(FIXTURE, model);
  const small10 = smallMnist(join(dir, 'mnist-100'), 10, 100);
  const blocker = join(dir, 'a-file');
  writeFileSync(blocker, 'not a directory');
  const bad = cli('eval', [model, '--data', small10, '--out-dir', blocker]);
  assert.is(bad.code, 1);
  assert.match(bad.err, /a-file\/fixture\.eval\.json: cannot write/);
});

test.run();
