// Files the programs write: only regular files or new paths, whole or not at all,
// errors that name the path, and no temporary files left by killed processes.
import { execFileSync, spawnSync } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { checkOutput, readInput, removeStaleTemps, writeFileAtomic } from '../src/util/files';

const test = suite('files');
let dir: string;
test.before.each(() => {
  dir = mkdtempSync(join(tmpdir(), 'lenet-files-'));
});
test.after.each(() => rmSync(dir, { recursive: true, force: true }));

async function rejects(p: Promise<unknown>, ...patterns: (RegExp | string)[]): Promise<string> {
  try {
    await p;
  } catch (err) {
    const message = (err as Error).message;
    for (const pattern of patterns) assert.ok(typeof pattern === 'string' ? message.includes(pattern) : pattern.test(message), `"${message}" lacks ${pattern}`);
    assert.not.match(message, /\n/, 'one line');
    return message;
  }
  assert.unreachable(`expected a rejection matching ${patterns.join(', ')}`);
  return '';
}

test('writeFileAtomic replaces whole files and leaves no temporary behind', async () => {
  const path = join(dir, 'a', 'b', 'out.bin');
  await writeFileAtomic(path, 'first version, longer');
  await writeFileAtomic(path, new Uint8Array([1, 2, 3]));
  assert.equal([...readFileSync(path)], [1, 2, 3]);
  assert.equal(readdirSync(join(dir, 'a', 'b')), ['out.bin']);
});

test('writeFileAtomic refuses a directory, a FIFO and a device, naming the path, and leaves them as they were', async () => {
  writeFileSync(join(dir, 'file'), 'x');
  await rejects(writeFileAtomic(join(dir, 'file', 'out.bin'), 'data'), join(dir, 'file', 'out.bin'), 'not a directory');
  mkdirSync(join(dir, 'target'));
  await rejects(writeFileAtomic(join(dir, 'target'), new Uint8Array(1000)), join(dir, 'target'), 'is a directory');
  execFileSync('mkfifo', [join(dir, 'fifo')]);
  await rejects(writeFileAtomic(join(dir, 'fifo'), 'data'), join(dir, 'fifo'), 'a FIFO');
  assert.ok(lstatSync(join(dir, 'fifo')).isFIFO(), 'the FIFO is still a FIFO');
  await rejects(writeFileAtomic('/dev/full', 'data'), '/dev/full', 'a character device');
  assert.ok(statSync('/dev/full').isCharacterDevice(), '/dev/full is still a device');
  assert.equal(readdirSync(dir).sort(), ['fifo', 'file', 'target']);
  assert.equal(readdirSync(join(dir, 'target')), []);
  assert.is(readFileSync(join(dir, 'file'), 'utf8'), 'x');
});

test('writeFileAtomic writes through a symbolic link to a regular file, keeping the link', async () => {
  mkdirSync(join(dir, 'real'));
  writeFileSync(join(dir, 'real', 'model.bin'), 'old');
  symlinkSync(join(dir, 'real', 'model.bin'), join(dir, 'link.bin'));
  await writeFileAtomic(join(dir, 'link.bin'), 'new');
  assert.ok(lstatSync(join(dir, 'link.bin')).isSymbolicLink());
  assert.is(readFileSync(join(dir, 'real', 'model.bin'), 'utf8'), 'new');
});

test('temporary files of processes that ended are removed; a running one keeps its own', async () => {
  const path = join(dir, 'model.safetensors');
  // A process that has ended: a child's pid once it has exited.
  const ended = spawnSync(process.execPath, ['-e', '0']).pid!;
  const stale = `model.safetensors.tmp-${ended}-0123456789ab`;
  const live = `model.safetensors.tmp-${process.ppid}-0123456789ab`;
  const other = `other.safetensors.tmp-${ended}-0123456789ab`;
  for (const f of [stale, live, other]) writeFileSync(join(dir, f), 'half');
  await writeFileAtomic(path, 'whole');
  assert.equal(readdirSync(dir).sort(), [live, 'model.safetensors', other].sort());
  assert.equal(await removeStaleTemps(join(dir, 'other.safetensors')), [other]);
});

test('a full disk is an error naming the file, and the old file stays whole', async () => {
  const mount = join(dir, 'tiny');
  mkdirSync(mount);
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mount]).status === 0;
  if (!mounted) {
    console.log('  (skipped: cannot mount a small tmpfs here; needs root)');
    return;
  }
  try {
    const path = join(mount, 'model.safetensors');
    await writeFileAtomic(path, 'the old model');
    await rejects(writeFileAtomic(path, new Uint8Array(1 << 20)), path, 'no space left on the device');
    assert.is(readFileSync(path, 'utf8'), 'the old model');
    assert.equal(readdirSync(mount), ['model.safetensors']);
  } finally {
    spawnSync('umount', [mount]);
  }
});

test('checkOutput refuses empty paths, directories, devices and paths under a file, before any work', async () => {
  await rejects(checkOutput('', '--out'), '--out is empty');
  await rejects(checkOutput(dir, '--out'), dir, 'is a directory', '--out');
  await rejects(checkOutput('/dev/full', '--out'), '/dev/full', 'a character device');
  writeFileSync(join(dir, 'file'), 'x');
  await rejects(checkOutput(join(dir, 'file', 'm.safetensors'), '--out'), join(dir, 'file', 'm.safetensors'));
  await checkOutput(join(dir, 'new', 'm.safetensors'), '--out');
  assert.equal(readdirSync(join(dir, 'new')), [], 'the probe file is gone');
});

test('readInput names the file and adds the hint to a missing one', async () => {
  await rejects(readInput(join(dir, 'none.safetensors'), 'train one first'), join(dir, 'none.safetensors'), 'no such file', 'train one first');
  await rejects(readInput(dir), dir, 'a directory, not a regular file');
  await rejects(readInput(''), 'empty path');
});

test.run();
