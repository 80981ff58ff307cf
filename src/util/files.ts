/**
 * Files the Node programs read and write, with errors that name the path.
 *
 * Writes go only to regular files or to new paths, and atomically: a temporary file
 * beside the destination, flushed, then renamed over it, so that a crash or a full
 * disk leaves the old file or the new one, never half of one, and a device node, a
 * directory or a FIFO given as an output is refused instead of replaced.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, constants, openSync, readFileSync, realpathSync, rmSync, statSync, writeSync } from 'node:fs';
import { access, lstat, mkdir, open, readdir, readFile, realpath, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';

const TEMP = /^(.*)\.tmp-(\d+)-[0-9a-f]{12}$/;

/** Why a path cannot be written, in words; null when it can (or does not exist yet). */
async function notWritable(path: string): Promise<string | null> {
  const s = await stat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw err;
  });
  if (!s) return null;
  if (s.isDirectory()) return 'is a directory';
  if (!s.isFile()) return `is not a regular file (${kind(s)}); give a file path`;
  return null;
}

function kind(s: { isCharacterDevice(): boolean; isBlockDevice(): boolean; isFIFO(): boolean; isSocket(): boolean }): string {
  if (s.isCharacterDevice()) return 'a character device';
  if (s.isBlockDevice()) return 'a block device';
  if (s.isFIFO()) return 'a FIFO';
  if (s.isSocket()) return 'a socket';
  return 'not a file';
}

/** An error from the file system as one line that names `path`, without Node's syscall noise. */
export function fileError(path: string, verb: string, err: unknown): Error {
  const e = err as NodeJS.ErrnoException;
  const why: Record<string, string> = {
    ENOENT: 'no such file or directory',
    EISDIR: 'is a directory',
    ENOTDIR: 'a part of the path is not a directory',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EROFS: 'read-only file system',
    ENOSPC: 'no space left on the device',
    EDQUOT: 'disk quota exceeded',
    EEXIST: 'already exists',
    ENAMETOOLONG: 'name too long',
  };
  const reason = (e.code && why[e.code]) ?? e.message;
  return new Error(`${path}: cannot ${verb}: ${reason}`);
}

/** Reads a whole file; a missing file, a directory or no permission is one line naming it. */
export async function readInput(path: string, hint = ''): Promise<Buffer> {
  if (path === '') throw new Error('an empty path was given for a file to read');
  try {
    return await readFile(path);
  } catch (err) {
    const e = fileError(path, 'read', err);
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && hint) e.message += `; ${hint}`;
    throw e;
  }
}

/**
 * A small text file read whole (a network file): a missing file, anything but a
 * regular file (a FIFO would block), or one over `maxBytes`, is one line naming it.
 */
export function readTextInput(path: string, what: string, maxBytes = 1 << 20): string {
  if (path === '') throw new Error(`${what}: an empty path was given for a file to read`);
  try {
    const s = statSync(path);
    if (!s.isFile()) throw new Error(`${path}: cannot read (${what}): ${s.isDirectory() ? "a directory" : kind(s)}, not a regular file`);
    if (s.size > maxBytes) throw new Error(`${path}: cannot read (${what}): ${s.size} bytes is more than the ${maxBytes} a network file may have`);
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === undefined) throw err;
    throw fileError(path, `read (${what})`, err);
  }
}

/**
 * Checks, before any work, that `path` can be written: not empty, not a directory or
 * a device, its directory creatable and writable (tried with a real file, so a
 * read-only file system or a full disk is found too). `what` names the option.
 */
export async function checkOutput(path: string, what: string): Promise<void> {
  if (path === '') throw new Error(`${what} is empty: give a file path`);
  const why = await notWritable(path).catch((err) => {
    throw fileError(path, `write (${what})`, err);
  });
  if (why) throw new Error(`${path}: ${why} (${what})`);
  const dir = dirname(path);
  try {
    await mkdir(dir, { recursive: true });
    await access(dir, constants.W_OK);
    const probe = join(dir, `.${basename(path)}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
    await (await open(probe, 'wx')).close();
    await rm(probe, { force: true });
  } catch (err) {
    throw fileError(path, `write (${what})`, err);
  }
}

/**
 * Writes `data` to `path` through a temporary file and a rename. A symbolic link is
 * followed to its target; anything but a regular file at `path` is refused. Temporary
 * files left beside it by processes that no longer run (killed while writing) are
 * removed first.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  if (path === '') throw new Error('an empty path was given for a file to write');
  const why = await notWritable(path).catch((err) => {
    throw fileError(path, 'write', err);
  });
  if (why) throw new Error(`${path}: ${why}; not writing over it`);
  const target = (await lstat(path).catch(() => null))?.isSymbolicLink() ? await realpath(path) : path;
  const tmp = `${target}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  try {
    await mkdir(dirname(target), { recursive: true });
    await removeStaleTemps(target);
    const file = await open(tmp, 'wx');
    try {
      await file.writeFile(data);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => {}); // the original error matters more
    throw fileError(path, 'write', err);
  }
}

/** Removes `<path>.tmp-<pid>-<hex>` files whose process has ended. */
export async function removeStaleTemps(path: string): Promise<string[]> {
  const name = basename(path);
  const removed: string[] = [];
  for (const entry of await readdir(dirname(path)).catch(() => [] as string[])) {
    const m = TEMP.exec(entry);
    if (!m || m[1] !== name || isRunning(Number(m[2]))) continue;
    await rm(join(dirname(path), entry), { force: true });
    removed.push(entry);
  }
  return removed;
}

/** A file a run reads or writes, and what it is to the run (`--out`, "the image"), for messages. */
export interface NamedPath {
  path: string;
  what: string;
}

/**
 * What a path is, to compare two: the device and inode of what it leads to where it
 * exists, else its real directory and its name (a path not there yet).
 */
function identity(path: string): string {
  try {
    const s = statSync(path);
    return `inode ${s.dev}:${s.ino}`;
  } catch {
    // not there (yet)
  }
  let dir = resolve(dirname(path));
  try {
    dir = realpathSync(dir);
  } catch {
    // a directory to be made: its resolved path is what there is
  }
  return `path ${join(dir, basename(path))}`;
}

/**
 * Refuses, before any work, an output that is one of the run's inputs (the same file,
 * through any path, link or hard link) and two outputs that are one file: nothing a
 * run writes may replace what it reads, or what it wrote a moment before.
 */
export function checkDistinct(inputs: NamedPath[], outputs: NamedPath[]): void {
  const read = inputs.map((i) => ({ ...i, id: existingIdentity(i.path) })).filter((i) => i.id !== null);
  const written: (NamedPath & { id: string })[] = [];
  for (const o of outputs) {
    const id = identity(o.path);
    const input = read.find((i) => i.id === id);
    if (input) throw new Error(`${o.path} (${o.what}) is ${input.path === o.path ? '' : 'the same file as '}${input.what} ${input.path}: not writing over an input of the run`);
    const twin = written.find((w) => w.id === id);
    if (twin) throw new Error(`${o.what} and ${twin.what} are both ${o.path === twin.path ? o.path : `${twin.path} (as ${o.path})`}: one would replace the other`);
    written.push({ ...o, id });
  }
}

function existingIdentity(path: string): string | null {
  try {
    const s = statSync(path);
    return `inode ${s.dev}:${s.ino}`;
  } catch {
    return null; // an input that is not there is reported when it is read
  }
}

/**
 * Takes `<path>.lock` for this process (made with O_EXCL, holding its PID), so that a
 * second run writing the same file is refused at its start instead of one run's output
 * silently replacing the other's. A lock whose process no longer runs is removed and
 * taken. Returns its release (synchronous, for the exit handlers); `what` names the option.
 */
export function lockOutput(path: string, what: string): () => void {
  const lock = `${path}.lock`;
  for (let attempt = 0; ; attempt++) {
    let fd: number;
    try {
      fd = openSync(lock, 'wx');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 2) throw fileError(lock, `lock ${path} (${what})`, err);
      const holder = lockHolder(lock);
      if (holder === null || isRunning(holder)) {
        const who = holder === null ? 'a process that is taking it now' : `process ${holder}`;
        throw new Error(`${path} (${what}) is being written by another run (${who}; its lock is ${lock}): wait for it to end, or choose another path`);
      }
      rmSync(lock, { force: true }); // its process has ended: a stale lock
      continue;
    }
    try {
      writeSync(fd, `${process.pid}\n`);
    } finally {
      closeSync(fd);
    }
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      // Only our own: a lock another run took after ours was (wrongly) removed stays.
      if (lockHolder(lock) === process.pid) rmSync(lock, { force: true });
    };
  }
}

/** The PID in a lock file; null while it is being written (empty) or unreadable but young. */
function lockHolder(lock: string): number | null {
  try {
    const text = readFileSync(lock, 'utf8').trim();
    if (/^[1-9]\d*$/.test(text)) return Number(text);
    // Empty: its process is between creating and writing it, or died there; after 10 s, the latter.
    return Date.now() - statSync(lock).mtimeMs > 10_000 ? 0 : null;
  } catch {
    return 0; // gone meanwhile: nobody holds it
  }
}

function isRunning(pid: number): boolean {
  if (pid === 0) return false;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // alive, someone else's
  }
}
