// The command-line programs on every kind of bad input, Ctrl-C and divergence: each
// run ends (never a hang: each is given a minute, and takes seconds), with one line
// naming the file or option, a non-zero exit code, and nothing replaced or lost.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULT_MODEL } from '../../src/cli/shared/common';
import { writePng } from '../../src/data/image-file';
import { LENET5 } from '../../src/model/network';
import { parameterTable } from '../../src/model/parameters';
import { decodeSafetensors, encodeSafetensors } from '../../src/model/safetensors';
import { encodeCheckpoint } from '../../src/train/checkpoint';
import { DEFAULT_CONFIG } from '../../src/train/options';
import { Rng } from '../../src/util/rng';
import { smallMnist } from '../helpers/mnist';
import { program, RUNTIME } from '../helpers/programs';

const test = suite('cli errors');
const FIXTURE = 'test/fixtures/lenet5-mnist.safetensors';
let dir: string;
let small: string;
test.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'lenet-cli-errors-'));
  small = smallMnist(join(dir, 'small-mnist'), 2560, 200);
});
test.after(() => rmSync(dir, { recursive: true, force: true }));

interface Ran {
  code: number | null;
  out: string;
  /** stderr's lines that start with "error" */
  errors: string[];
  seconds: number;
}

/** A run that must end on its own within `timeout` ms: a minute for an error, more for one that trains. */
function cli(name: string, args: string[], timeout = 60_000): Ran {
  const started = performance.now();
  const r = spawnSync(...program(name, args), { encoding: 'utf8', env: process.env, timeout });
  const seconds = (performance.now() - started) / 1000;
  return { code: r.status, out: r.stdout, errors: r.stderr.split('\n').filter((l) => l.startsWith('error')), seconds };
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

test('a diverging run ends at once with one line, exit code 1 and no model', () => {
  const out = join(dir, 'diverged.safetensors');
  // lr 1: the loss grows by orders of magnitude (finite, or not), past 100 x ln(10).
  const r = cli('train', ['--data', small, '--limit', '640', '--epochs', '1', '--lr', '1', '--log-every', '5', '--out', out]);
  fails(r, 'training diverged: loss is', 'at step 5', 'try a smaller learning rate (--lr)');
  assert.not.ok(existsSync(out));
  console.log(`  divergence: exit ${r.code} after ${r.seconds.toFixed(1)} s`);
});

test('weights that are not finite are refused by eval, predict and train --init, naming the file and the tensor', () => {
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

/** A checkpoint of 10 steps into a run of batch 64 on `small`, its metadata edited by `edit`. */
function checkpoint(name: string, edit: (metadata: Record<string, string>) => void): string {
  const table = parameterTable(LENET5);
  const rng = new Rng(3);
  const zeros = () => new Float32Array(table.flatLength);
  const bytes = encodeCheckpoint({
    network: LENET5,
    params: table.init(rng),
    adam: { expAvg: zeros(), expAvgSq: zeros(), step: 10 },
    position: { step: 10, epoch: 0, stepInEpoch: 10, rngState: new Rng(1).state },
    config: { ...DEFAULT_CONFIG, epochs: 1 },
    data: null,
    history: { steps: [], epochs: [] },
  });
  const { tensors, metadata } = decodeSafetensors(bytes, name);
  edit(metadata);
  const path = join(dir, name);
  writeFileSync(path, encodeSafetensors(tensors, metadata));
  return path;
}

test('edited checkpoints are refused before training, naming the file and the field', () => {
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
    const path = checkpoint(name, edit);
    const r = cli('train', ['--resume', path, '--data', small]);
    fails(r, path, message);
    assert.not.match(r.out, /set-up/, `${name}: refused before the GPU's set-up`);
  }
  // The unedited checkpoint is accepted, which shows the edits are what was refused.
  const good = cli('train', ['--resume', checkpoint('good.ckpt.safetensors', () => {}), '--data', small, '--epochs', '1'], 600_000);
  assert.is(good.code, 0, good.errors.join('\n'));
  assert.ok(existsSync(join(dir, 'good.safetensors')), 'the resumed run wrote its model beside its checkpoint');
  assert.is(defaultModelState(), before, `${DEFAULT_MODEL} untouched`);
});

test('outputs that are not regular files, or cannot be written, are refused before training, and left as they were', () => {
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

test("eval's and predict --explain's pictures: a directory, a FIFO or a path under a file is refused before the GPU works, and left as it was", () => {
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

test('empty option values and empty data sets are errors, not defaults', () => {
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

test('eval and predict without a model say how to make one', () => {
  const missing = join(dir, 'none.safetensors');
  fails(cli('eval', [missing]), missing, 'no such file', `npm run train:${RUNTIME} -- --out ${missing}`);
  fails(cli('predict', ['--model', missing, 'x.png']), missing, 'no such file');
  if (!existsSync(DEFAULT_MODEL)) fails(cli('eval', []), DEFAULT_MODEL, `train one first with: npm run train:${RUNTIME}`);
});

test('Ctrl-C is noticed between metrics reads; the hint resumes beside the checkpoint, not over the default model', async () => {
  const out = join(dir, 'runs', 'interrupted.safetensors');
  const before = defaultModelState();
  // 100 steps and no metrics read before the end: Ctrl-C must be noticed between steps.
  const child = spawn(...program('train', ['--limit', '6400', '--epochs', '1', '--log-every', '100000', '--test-limit', '100', '--out', out]), { env: process.env });
  let output = '';
  let sent = false;
  child.stdout.on('data', (b) => {
    output += b;
    if (!sent && output.includes('set-up')) {
      sent = true;
      // Not child.kill(): Deno's child_process then reports the signal, not the exit code.
      process.kill(child.pid!, 'SIGINT');
    }
  });
  child.stderr.on('data', () => {});
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.is(code, 130, output);
  const [, step] = /interrupted at step (\d+): checkpoint saved/.exec(output) ?? [];
  assert.ok(Number(step) < 100, `stopped mid-epoch, at step ${step}: ${output}`);
  const [, hint] = /resume with: npm run train:(?:node|deno) -- (.*) \(/.exec(output) ?? [];
  assert.is(hint, `--resume ${join(dir, 'runs', 'interrupted.ckpt.safetensors')}`);
  assert.not.ok(existsSync(out));
  const r = cli('train', hint.split(' '), 600_000); // the rest of the epoch, on a busy machine
  assert.is(r.code, 0, r.errors.join('\n'));
  assert.ok(existsSync(out), 'the model went beside the checkpoint');
  assert.is(defaultModelState(), before, `${DEFAULT_MODEL} untouched`);
});

test('a run whose output pipes were closed (its reader gone) ends on SIGTERM or at its next write', async () => {
  const child = spawn(...program('train', ['--data', small, '--epochs', '1', '--log-every', '1', '--out', join(dir, 'orphan.safetensors')]), { env: process.env });
  let output = '';
  let sent = false;
  const code = await new Promise<number | null>((resolve) => {
    const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('exit', (c) => {
      clearTimeout(guard);
      resolve(c);
    });
    child.stdout.on('data', (b) => {
      output += b;
      if (sent || !output.includes('set-up')) return;
      sent = true;
      child.stdout.destroy();
      child.stderr.destroy();
      setTimeout(() => {
        // It may have ended already, at its first write to the closed pipe: Deno can
        // tell so (ESRCH) before its exit event has set exitCode.
        if (child.exitCode !== null || child.signalCode !== null) return;
        try {
          process.kill(child.pid!, 'SIGTERM');
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ESRCH' && !/ESRCH/.test(String(err))) throw err;
        }
      }, 200);
    });
  });
  // Its next write fails (EPIPE: exit 1), or the signal comes first (143); never the guard's kill.
  assert.ok(code === 1 || code === 143, `exit code ${code}: ended by the one-minute guard, not by itself`);
});

test.run();
