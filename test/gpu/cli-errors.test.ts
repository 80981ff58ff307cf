// The command-line programs when a run goes wrong on the GPU: divergence, Ctrl-C, a
// reader gone; and a checkpoint that resumes. Each run ends (never a hang: each is
// given a minute, and takes seconds), with one line naming the cause, a non-zero exit
// code, and nothing replaced or lost. Bad input, refused before any GPU work, is tested
// once, in the CPU pass: test/cli-refused.test.ts.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULT_MODEL } from '../../src/cli/shared/common';
import { checkpoint } from '../helpers/checkpoints';
import { smallMnist } from '../helpers/mnist';
import { program } from '../helpers/programs';

const test = suite('cli errors');
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

test('an unedited checkpoint resumes, its model beside it, the default model untouched (edited ones are refused before any GPU work: test/cli-refused.test.ts)', () => {
  const before = defaultModelState();
  const good = cli('train', ['--resume', checkpoint(dir, 'good.ckpt.safetensors', () => {}), '--data', small, '--epochs', '1'], 600_000);
  assert.is(good.code, 0, good.errors.join('\n'));
  assert.ok(existsSync(join(dir, 'good.safetensors')), 'the resumed run wrote its model beside its checkpoint');
  assert.is(defaultModelState(), before, `${DEFAULT_MODEL} untouched`);
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

// A run whose output pipes were closed, and SIGTERM: test/gpu/cli-signals.test.ts.

test.run();
