/**
 * Files the Node programs read and write, with errors that name the path.
 *
 * Reads open without blocking and check what they opened before reading it: a FIFO
 * (whose open would wait for a writer, past every signal), a socket, a device or a
 * directory is refused by name, and a reader learns the file's size first, to check
 * it against what the format's header allows before any large read.
 *
 * Writes go only to regular files or to new paths, and atomically: a temporary file
 * beside the destination, flushed, then renamed over it, so that a crash or a full
 * disk leaves the old file or the new one, never half of one, and a device node, a
 * directory or a FIFO given as an output is refused instead of replaced.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readFileSync, readSync, realpathSync, rmSync, statSync, writeSync, type Stats } from 'node:fs';
import { access, lstat, mkdir, open, readdir, realpath, rename, rm, stat } from 'node:fs/promises';
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

/**
 * The most bytes one read can give Node a buffer of (Node refuses a file over 2 GiB
 * with a message that names no file): a larger input is refused here, by name.
 */
export const MAX_READ_BYTES = 2 ** 31 - 1;

/** An input file opened for reading: a regular file, its size, and reads at offsets. */
export interface InputFile {
  path: string;
  /** The size when it was opened. */
  size: number;
  /** `length` bytes from `offset` (a short file is an error naming it). */
  read(offset: number, length: number): Uint8Array;
  /** The whole file, which must be at most `maxBytes`. */
  readAll(maxBytes?: number): Uint8Array;
  close(): void;
}

/**
 * Opens an input without blocking and checks that it is a regular file before
 * anything is read: a FIFO (whose open would wait for a writer, past every signal),
 * a socket, a device (/dev/zero never ends) or a directory is refused, by name, as
 * `PATH: cannot read (WHAT): a FIFO, not a regular file`. The kind is asked of the
 * path first and of the open file again (the path may change in between); the open
 * itself is O_NONBLOCK, so that even a FIFO swapped in at the last moment cannot
 * hang it. `what` names the option or the role (say, "--model").
 */
export function openInput(path: string, what = '', hint = ''): InputFile {
  const verb = what ? `read (${what})` : 'read';
  if (path === '') throw new Error(`${what ? `${what}: ` : ''}an empty path was given for a file to read`);
  const refuse = (s: Stats) => {
    if (!s.isFile()) throw new Error(`${path}: cannot ${verb}: ${s.isDirectory() ? 'a directory' : kind(s)}, not a regular file`);
  };
  let fd: number;
  try {
    refuse(statSync(path));
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === undefined) throw err;
    const e = fileError(path, verb, err);
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && hint) e.message += `; ${hint}`;
    throw e;
  }
  let size: number;
  try {
    const s = fstatSync(fd);
    refuse(s);
    size = s.size;
  } catch (err) {
    closeSync(fd);
    if ((err as NodeJS.ErrnoException).code === undefined) throw err;
    throw fileError(path, verb, err);
  }
  const read = (offset: number, length: number): Uint8Array => {
    const out = new Uint8Array(length);
    let got = 0;
    try {
      while (got < length) {
        const n = readSync(fd, out, got, length - got, offset + got);
        if (n === 0) break;
        got += n;
      }
    } catch (err) {
      throw fileError(path, verb, err);
    }
    if (got < length) throw new Error(`${path}: cannot ${verb}: the file ended after ${offset + got} bytes, ${offset + length} were expected (did it change while being read?)`);
    return out;
  };
  return {
    path,
    size,
    read,
    readAll(maxBytes = MAX_READ_BYTES) {
      const limit = Math.min(maxBytes, MAX_READ_BYTES);
      if (size > limit) throw new Error(`${path}: cannot ${verb}: ${size} bytes is more than the ${limit} bytes (${sizeWords(limit)}) such a file may have`);
      return read(0, size);
    },
    close: () => closeSync(fd),
  };
}

/** `n` bytes as MiB or GiB, for messages. */
function sizeWords(n: number): string {
  const gib = (n + 1) / 2 ** 30;
  if (Number.isInteger(gib)) return `${gib} GiB`;
  return `${Math.round((n / 2 ** 20) * 10) / 10} MiB`;
}

/** `f` on `path` opened by openInput, which is closed afterwards whatever happens. */
export function withInput<T>(path: string, what: string, f: (file: InputFile) => T, hint = ''): T {
  const file = openInput(path, what, hint);
  try {
    return f(file);
  } finally {
    file.close();
  }
}

/**
 * Reads a whole regular file (at most `maxBytes`), opened by openInput: a missing
 * file, a directory, a FIFO or a device, or a file over the size, is one line naming it.
 */
export async function readInput(path: string, hint = '', what = '', maxBytes = MAX_READ_BYTES): Promise<Buffer> {
  const bytes = withInput(path, what, (f) => f.readAll(maxBytes), hint);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * A small text file read whole (a network file): a missing file, anything but a
 * regular file (a FIFO would block), or one over `maxBytes`, is one line naming it.
 */
export function readTextInput(path: string, what: string, maxBytes = 1 << 20): string {
  if (path === '') throw new Error(`${what}: an empty path was given for a file to read`);
  return withInput(path, what, (f) => {
    if (f.size > maxBytes) throw new Error(`${path}: cannot read (${what}): ${f.size} bytes is more than the ${maxBytes} a network file may have`);
    return new TextDecoder().decode(f.readAll(maxBytes));
  });
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
