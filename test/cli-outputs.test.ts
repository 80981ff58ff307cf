// What the programs write, before any GPU work (so in the CPU pass): no output may be
// an input of the same run or another output of it, each output is locked against a
// second run, bench's --json is checked (its contents too) before it measures, a lost
// standard output is named so, and --host and --out name what is wrong. Each run ends
// in seconds with one line, exit code 1, and every file as it was.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { writePng } from '../src/data/image-file';
import { smallMnist } from './helpers/mnist';
import { program } from './helpers/programs';

const test = suite('cli outputs');
const FIXTURE = 'test/fixtures/lenet5-mnist.safetensors';
let dir: string;
let small: string;
let photo: string;
test.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'lenet-cli-outputs-'));
  small = smallMnist(join(dir, 'small-mnist'), 256, 50);
  photo = join(dir, 'victim.png');
  writePng(photo, 28, 28, new Uint8Array(784).fill(255).fill(0, 300, 320));
});
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** No adapter: a run that gets past its checks fails at the GPU, which these runs must not reach. */
function cli(name: string, args: string[], stdout: 'pipe' | number = 'pipe') {
  const started = performance.now();
  const r = spawnSync(...program(name, args), { encoding: 'utf8', env: { ...process.env, LENET_ADAPTER: 'none-such' }, stdio: ['ignore', stdout, 'pipe'], timeout: 30_000 });
  const seconds = (performance.now() - started) / 1000;
  return { code: r.status, out: r.stdout ?? '', errors: r.stderr.split('\n').filter((l) => l.startsWith('error')), seconds };
}

/** Exit code 1, within 10 s, and exactly one error line holding every piece. */
function fails(r: ReturnType<typeof cli>, ...pieces: string[]): void {
  assert.is(r.code, 1, `exit code; ${r.errors.join(' | ')}`);
  assert.ok(r.seconds < 10, `ended in ${r.seconds.toFixed(1)} s`);
  assert.is(r.errors.length, 1, `one error line: ${r.errors.join(' | ')}`);
  for (const piece of pieces) assert.ok(r.errors[0].includes(piece), `"${r.errors[0]}" names ${piece}`);
}

const bytes = (path: string) => readFileSync(path).toString('base64');

test('predict --explain never writes over its image or its model, naming both', () => {
  const image = bytes(photo);
  const model = join(dir, 'model.safetensors');
  copyFileSync(FIXTURE, model);
  fails(cli('predict', ['--model', model, '--explain', '--out', photo, photo]), `${photo} (--out) is the image ${photo}`);
  fails(cli('predict', ['--model', model, '--explain', '--out', model, photo]), `${model} (--out) is the model ${model}`);
  // Through a link, or a hard link: the same file.
  symlinkSync(photo, join(dir, 'link.svg'));
  fails(cli('predict', ['--model', model, '--explain', '--out', join(dir, 'link.svg'), photo]), `(--out) is the same file as the image ${photo}`);
  // An image whose own picture path is itself a link to the model.
  mkdirSync(join(dir, 'trap'));
  writePng(join(dir, 'trap', 'a.png'), 28, 28, new Uint8Array(784));
  symlinkSync(model, join(dir, 'trap', 'a.explain.svg'));
  fails(cli('predict', ['--model', model, '--explain', join(dir, 'trap', 'a.png')]), 'a.explain.svg (the picture of', `the same file as the model ${model}`);
  assert.is(bytes(photo), image, 'the image unchanged');
  assert.is(bytes(model), bytes(FIXTURE), 'the model unchanged');
});

test('predict --explain refuses two images whose pictures are one file, naming both', () => {
  const pair = join(dir, 'pair');
  mkdirSync(pair);
  writePng(join(pair, 'a.png'), 28, 28, new Uint8Array(784));
  writeFileSync(join(pair, 'a.jpg'), 'a jpeg');
  const [a, b] = [join(pair, 'a.png'), join(pair, 'a.jpg')];
  fails(cli('predict', ['--model', FIXTURE, '--explain', a, b]), `the picture of ${b} and the picture of ${a} are both ${join(pair, 'a.explain.svg')}`);
  assert.equal(readdirSync(pair).sort(), ['a.jpg', 'a.png'], 'nothing written');
});

test('train refuses an --out that is its --init model, and an --out that is only the suffix', () => {
  const model = join(dir, 'init.safetensors');
  copyFileSync(FIXTURE, model);
  fails(cli('train', ['--data', small, '--init', model, '--out', model]), `${model} (--out) is the --init model ${model}`);
  assert.is(bytes(model), bytes(FIXTURE));
  const hidden = join(dir, 'hidden');
  mkdirSync(hidden);
  fails(cli('train', ['--data', small, '--out', join(hidden, '.safetensors')]), `--out ${join(hidden, '.safetensors')}: a name is missing before .safetensors`);
  fails(cli('train', ['--data', small, '--out', '.safetensors']), '--out .safetensors: a name is missing');
  assert.equal(readdirSync(hidden), []);
});

test('a run whose output another running process holds is refused at its start, naming that PID; a stale lock is removed', () => {
  const out = join(dir, 'locked.safetensors');
  // A live holder: a process that sleeps.
  const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
  try {
    writeFileSync(`${out}.lock`, `${holder.pid}\n`);
    fails(cli('train', ['--data', small, '--out', out]), `${out} (--out) is being written by another run (process ${holder.pid}`);
    assert.is(readFileSync(`${out}.lock`, 'utf8'), `${holder.pid}\n`, 'the other run keeps its lock');
    const picture = join(dir, 'victim.explain.svg');
    writeFileSync(`${picture}.lock`, `${holder.pid}\n`);
    fails(cli('predict', ['--model', FIXTURE, '--explain', photo]), `${picture} (--explain) is being written by another run (process ${holder.pid}`);
    rmSync(`${picture}.lock`);
  } finally {
    holder.kill();
  }
  // A holder that has ended: its lock is stale, removed; the run goes on to the GPU (none here), and its own lock goes when it ends.
  const ended = spawnSync(process.execPath, ['-e', '0']).pid!;
  writeFileSync(`${out}.lock`, `${ended}\n`);
  const r = cli('train', ['--data', small, '--out', out]);
  fails(r, 'none-such');
  assert.not.ok(existsSync(`${out}.lock`), 'no lock left behind');
  assert.not.ok(existsSync(out));
});

test('bench --json is checked, contents and all, before any benchmarking', () => {
  const nul = join(dir, 'null.json');
  const str = join(dir, 'str.json');
  const list = join(dir, 'list.json');
  const broken = join(dir, 'broken.json');
  writeFileSync(nul, 'null\n');
  writeFileSync(str, '"str"');
  writeFileSync(list, '[1,2]');
  writeFileSync(broken, '{"llvmpipe": ');
  mkdirSync(join(dir, 'results.json'));
  for (const [file, message] of [
    [join(dir, 'results.json'), 'is a directory (--json)'],
    ['/proc/self/status', 'cannot write (--json)'],
    [nul, 'holds null, not an object'],
    [str, 'holds a string, not an object'],
    [list, 'holds an array, not an object'],
    [broken, 'not JSON'],
  ]) {
    const before = existsSync(file) && !file.endsWith('results.json') && !file.startsWith('/proc') ? bytes(file) : null;
    const r = cli('bench', ['--json', file, '--steps', '1', '--no-deno', '--no-tfjs', '--no-pytorch']);
    fails(r, file, message);
    assert.not.match(r.out, /adapter:/, 'refused before the GPU opened');
    if (before !== null) assert.is(bytes(file), before, `${file} unchanged`);
  }
  // A file that is an object (bench/results.json's shape) passes the check and reaches the GPU.
  const good = join(dir, 'good.json');
  writeFileSync(good, '{"llvmpipe": {}}\n');
  fails(cli('bench', ['--json', good, '--steps', '1', '--no-deno', '--no-tfjs', '--no-pytorch']), 'none-such');
  assert.is(readFileSync(good, 'utf8'), '{"llvmpipe": {}}\n');
});

test('a standard output that cannot be written is named so, with exit code 1', () => {
  const full = openSync('/dev/full', 'w');
  try {
    const r = cli('train', ['--help'], full);
    fails(r, 'standard output: no space left on the device');
  } finally {
    closeSync(full);
  }
});

test('demo --host that does not resolve names --host', () => {
  const r = cli('demo', ['--host', 'nonsense.invalid', '--port', '0']);
  assert.is(r.code, 1);
  assert.is(r.errors.length, 1, r.errors.join(' | '));
  assert.match(r.errors[0], /^error: --host nonsense\.invalid: (no such host|its name cannot be looked up now)/);
});

test('demo ends on SIGTERM and on SIGINT with a shell\'s codes', async () => {
  for (const [signal, expected] of [['SIGTERM', 143], ['SIGINT', 130]] as const) {
    const child = spawn(...program('demo', ['--port', '0']), { env: process.env });
    let output = '';
    const code = await new Promise<number | null>((resolve) => {
      const guard = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.on('exit', (c) => {
        clearTimeout(guard);
        resolve(c);
      });
      child.stderr.on('data', () => {});
      child.stdout.on('data', (b) => {
        output += b;
        if (output.includes('Ctrl-C stops')) process.kill(child.pid!, signal);
      });
    });
    assert.is(code, expected, `${signal}: ${output}`);
  }
});

test.run();
