// train under the signals and lost pipes of real life: SIGTERM (timeout, systemd,
// docker stop) saves a checkpoint as Ctrl-C does, a second signal quits at once, a
// log whose reader has gone stops nothing, and a second run on the same outputs is
// refused while the first holds them. No lock is left behind, however a run ends.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { smallMnist } from '../helpers/mnist';
import { program } from '../helpers/programs';

const test = suite('cli signals');
let dir: string;
let small: string;
test.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'lenet-cli-signals-'));
  small = smallMnist(join(dir, 'small-mnist'), 2560, 100);
});
test.after(() => rmSync(dir, { recursive: true, force: true }));

interface Ended {
  code: number | null;
  out: string;
  err: string;
}

/**
 * train with `args`; `onSetUp` is called once it has said "set-up" (its training
 * starts). Ends within two minutes or is killed (code null).
 */
function train(args: string[], onSetUp: (child: ChildProcessWithoutNullStreams) => void = () => {}): Promise<Ended> {
  const child = spawn(...program('train', args), { env: process.env });
  let out = '';
  let err = '';
  let started = false;
  return new Promise((resolve) => {
    const guard = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('exit', (code) => {
      clearTimeout(guard);
      resolve({ code, out, err });
    });
    child.stderr.on('data', (b) => (err += b));
    child.stdout.on('data', (b) => {
      out += b;
      if (started || !out.includes('set-up')) return;
      started = true;
      onSetUp(child);
    });
  });
}

/** A signal to a child that may have ended already (Deno can say ESRCH before its exit event). */
function signal(child: ChildProcessWithoutNullStreams, name: NodeJS.Signals): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  try {
    // Not child.kill(): Deno's child_process then reports the signal, not the exit code.
    process.kill(child.pid!, name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH' && !/ESRCH/.test(String(err))) throw err;
  }
}

test('SIGTERM during training saves a checkpoint as Ctrl-C does, exit 143, and --resume finishes the run', async () => {
  const out = join(dir, 'terminated.safetensors');
  const r = await train(['--data', small, '--epochs', '1', '--log-every', '1', '--out', out], (child) => signal(child, 'SIGTERM'));
  assert.is(r.code, 143, r.out + r.err);
  assert.match(r.out, /stopped by SIGTERM at step \d+: checkpoint saved/);
  assert.ok(existsSync(join(dir, 'terminated.ckpt.safetensors')), 'the checkpoint');
  assert.not.ok(existsSync(out), 'no model from a stopped run');
  assert.not.ok(existsSync(`${out}.lock`), 'no lock left behind');
  const resumed = await train(['--resume', join(dir, 'terminated.ckpt.safetensors'), '--data', small]);
  assert.is(resumed.code, 0, resumed.err);
  assert.ok(existsSync(out));
});

test('a second signal quits at once, without waiting for the checkpoint, and leaves no lock', async () => {
  const out = join(dir, 'twice.safetensors');
  const r = await train(['--data', small, '--epochs', '1', '--log-every', '1', '--out', out], (child) => {
    signal(child, 'SIGINT');
    setTimeout(() => signal(child, 'SIGTERM'), 20);
  });
  assert.ok(r.code === 143 || r.code === 130, `exit code ${r.code}: ${r.err}`);
  assert.not.ok(existsSync(out));
  assert.not.ok(existsSync(`${out}.lock`), 'no lock left behind');
});

test('a log whose reader has gone stops nothing: the run trains on, saves its model, and exits 1 saying standard output was lost', async () => {
  const out = join(dir, 'orphan.safetensors');
  const r = await train(['--data', small, '--limit', '256', '--epochs', '2', '--log-every', '1', '--out', out], (child) => child.stdout.destroy());
  assert.is(r.code, 1, r.err);
  assert.match(r.err, /^error: standard output: its reader has gone \(EPIPE\)/m);
  assert.not.match(r.err, /write EPIPE/);
  assert.ok(existsSync(out), 'the model was saved');
  assert.not.ok(existsSync(`${out}.lock`), 'no lock left behind');
  // Both pipes gone: nowhere to say so, and still the model.
  rmSync(out);
  const both = await train(['--data', small, '--limit', '256', '--epochs', '2', '--log-every', '1', '--out', out], (child) => {
    child.stdout.destroy();
    child.stderr.destroy();
  });
  assert.is(both.code, 1);
  assert.ok(existsSync(out), 'the model was saved with both pipes gone');
});

test('a second run on the same --out is refused at its start, naming the first one\'s PID', async () => {
  const out = join(dir, 'shared.safetensors');
  let second: Ended | null = null;
  let first = 0;
  const r = await train(['--data', small, '--epochs', '1', '--log-every', '1', '--out', out], (child) => {
    first = child.pid!;
    const started = performance.now();
    void train(['--data', small, '--epochs', '1', '--out', out]).then((s) => {
      second = s;
      assert.ok(performance.now() - started < 10_000, 'refused within 10 s');
      signal(child, 'SIGTERM');
    });
  });
  assert.is(r.code, 143, r.err);
  assert.ok(second, 'the second run ended first');
  const s = second as unknown as Ended;
  assert.is(s.code, 1);
  assert.match(s.err, new RegExp(`^error: ${out.replace(/[.]/g, '\\.')} \\(--out\\) is being written by another run \\(process ${first};`, 'm'));
  assert.not.match(s.out, /set-up/, 'refused before the GPU opened');
  assert.not.ok(existsSync(`${out}.lock`));
});

test.run();
