// A static file server for the page (npm run demo, and the browser tests): GET and
// HEAD of the files under one folder, nothing else. Localhost only by default: a
// browser gives WebGPU to secure contexts, and http://localhost is one.
// No client and no file can stop it: a file it cannot open or read answers an HTTP
// error, and every file it opens is closed, also when the client leaves mid-download.
// Nothing outside the folder is served, whatever symlinks it holds (real paths are
// compared); a request naming another host (DNS rebinding: a page of evil.example
// whose name now points at 127.0.0.1) is refused; every response says nosniff; files
// carry an ETag and a Last-Modified, so a reload revalidates the 14 MB of data (304)
// instead of downloading it again.
import { constants, type BigIntStats } from 'node:fs';
import { open, realpath, type FileHandle } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  // The gzipped IDX files go as they are (no Content-Encoding): the page gunzips them,
  // as it must on any static host.
  '.gz': 'application/octet-stream',
};

/** Read before the status is sent, so that a file that opens but cannot be read gets a 500. */
const FIRST_BLOCK = 64 * 1024;
/** How a response ends when its client leaves mid-way: normal, not worth a line. */
const CLIENT_LEFT = new Set(['ERR_STREAM_PREMATURE_CLOSE', 'ECONNRESET', 'EPIPE']);

export interface StaticServer {
  /** e.g. http://localhost:8080/ */
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * Serves `root` on `port` (0: any free port). `log` hears of the server's own failures
 * (a file that cannot be read, too many open files), one line each; a client that
 * leaves is not one.
 */
export async function serveStatic(root: string, port: number, host = '127.0.0.1', log: (line: string) => void = () => {}): Promise<StaticServer> {
  // The root's own real path: a root reached through a symlink is fine, and what its
  // files resolve to is compared with this.
  const base = await realpath(resolve(root));
  // Filled in once listening (port 0 becomes a real port); nothing is answered before.
  let hosts = new Set<string>();
  const server = createServer((req, res) => {
    handle(base, hosts, req, res, log).catch((err: NodeJS.ErrnoException) => {
      if (!CLIENT_LEFT.has(err.code ?? '')) log(`${req.url}: ${err.message}`);
      if (!res.headersSent && !res.destroyed) send(res, 500, `server error: ${err.message}`);
      else res.destroy();
    });
  });
  await new Promise<void>((done, fail) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      fail(err.code === 'EADDRINUSE' ? new Error(`port ${port} is in use; choose another with --port`) : err);
    });
    server.listen(port, host, done);
  });
  // Listening, an error (EMFILE when accepting a connection) is reported, not fatal.
  server.removeAllListeners('error');
  server.on('error', (err) => log(`server: ${err.message}`));
  const actual = (server.address() as AddressInfo).port;
  const name = host === '127.0.0.1' || host === '::1' ? 'localhost' : hostName(host);
  hosts = allowedHosts(host, actual);
  return {
    url: `http://${name}:${actual}/`,
    port: actual,
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}

/** A host as it is written in a URL or a Host header: an IPv6 address in brackets. */
function hostName(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * The Host headers answered, lower case: this machine's loopback names and the address
 * given to listen on, each with the port (and without it on port 80, as browsers send).
 */
export function allowedHosts(host: string, port: number): Set<string> {
  const names = ['localhost', '127.0.0.1', '[::1]', hostName(host).toLowerCase()];
  return new Set(names.flatMap((name) => (port === 80 ? [name, `${name}:${port}`] : [`${name}:${port}`])));
}

async function handle(base: string, hosts: Set<string>, req: IncomingMessage, res: ServerResponse, log: (line: string) => void): Promise<void> {
  // First of all: a page of another site reaching this port by DNS rebinding learns nothing.
  if (!hosts.has((req.headers.host ?? '').toLowerCase())) return send(res, 421, 'unknown host: this server answers only to its own address');
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'only GET and HEAD', { Allow: 'GET, HEAD' });
  let path: string;
  try {
    path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
  } catch {
    return send(res, 400, 'bad path');
  }
  if (path.includes('\0')) return send(res, 400, 'bad path');
  if (path.endsWith('/')) path += 'index.html';
  if (!inside(base, resolve(join(base, path)))) return send(res, 404, 'not found');
  let file: string;
  let handle: FileHandle;
  try {
    // The real path, every symlink followed, must still be under the root: a link to /
    // in the folder serves nothing of /. Outside is answered as missing (404), so the
    // answer says nothing of what is there.
    file = await realpath(join(base, path));
    if (!inside(base, file)) return send(res, 404, `not found: ${path}`);
    // The checked path is opened, with O_NOFOLLOW so that its last part cannot have
    // become a symlink since. Checked through the handle (no window between a stat and
    // an open); O_NONBLOCK so that a FIFO does not wait for a writer before it is refused.
    handle = await open(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOFOLLOW ?? 0));
  } catch (err) {
    return refuse(res, path, err as NodeJS.ErrnoException, log);
  }
  try {
    await sendFile(req, res, handle, path, file, log);
  } finally {
    await handle.close();
  }
}

/** Whether `file` (resolved, or real) is `base` or under it. */
function inside(base: string, file: string): boolean {
  return file === base || file.startsWith(base.endsWith(sep) ? base : base + sep);
}

async function sendFile(req: IncomingMessage, res: ServerResponse, handle: FileHandle, path: string, file: string, log: (line: string) => void): Promise<void> {
  const stats = await handle.stat({ bigint: true });
  if (!stats.isFile()) return send(res, 404, `not found: ${path}`);
  const size = Number(stats.size);
  const validators = { ETag: etag(stats), 'Last-Modified': stats.mtime.toUTCString(), 'Cache-Control': 'no-cache' };
  if (notModified(req, validators.ETag, stats)) {
    res.writeHead(304, { ...validators, 'X-Content-Type-Options': 'nosniff' });
    return void res.end();
  }
  // At least one byte is asked for: an empty-looking file (/proc's) may still fail.
  const first = Buffer.alloc(Math.max(1, Math.min(FIRST_BLOCK, size)));
  let bytesRead: number;
  try {
    ({ bytesRead } = await handle.read(first, 0, first.length, 0));
  } catch (err) {
    return refuse(res, path, err as NodeJS.ErrnoException, log);
  }
  res.writeHead(200, {
    'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
    'Content-Length': size,
    ...validators,
    'X-Content-Type-Options': 'nosniff',
  });
  // Never more than Content-Length, should the file have grown since.
  const head = first.subarray(0, Math.min(bytesRead, size));
  if (req.method === 'HEAD' || head.length === size) return void res.end(req.method === 'HEAD' ? undefined : head);
  res.write(head);
  // pipeline destroys the read stream when the response fails or the client leaves,
  // which pipe() does not: each abandoned download used to keep its file open.
  await pipeline(handle.createReadStream({ start: head.length, end: size - 1, autoClose: false }), res);
}

/**
 * A strong validator from what changes when the file does: its inode (a file replaced
 * by a rename), size and modification time to the nanosecond (a rewrite within the
 * same second, which Last-Modified cannot tell apart).
 */
function etag(stats: BigIntStats): string {
  return `"${[stats.ino, stats.size, stats.mtimeNs].map((n) => n.toString(36)).join('-')}"`;
}

/**
 * Whether the client's copy is current (RFC 9110 13.1.1-13.1.3): If-None-Match, when
 * sent, decides alone (weak comparison, as for GET); else If-Modified-Since, to the
 * second, as Last-Modified is written.
 */
function notModified(req: IncomingMessage, tag: string, stats: BigIntStats): boolean {
  const match = req.headers['if-none-match'];
  if (match !== undefined) {
    if (match.trim() === '*') return true;
    return match.split(',').some((t) => t.trim().replace(/^W\//, '') === tag);
  }
  const since = req.headers['if-modified-since'];
  if (since === undefined) return false;
  const date = Date.parse(since);
  return Number.isFinite(date) && Number(stats.mtimeMs / 1000n) * 1000 <= date;
}

/** The answer to a file that cannot be opened or read. */
function refuse(res: ServerResponse, path: string, err: NodeJS.ErrnoException, log: (line: string) => void): void {
  const code = err.code ?? 'error';
  if (['ENOENT', 'ENOTDIR', 'EISDIR', 'ELOOP', 'ENXIO', 'ENAMETOOLONG'].includes(code)) return send(res, 404, `not found: ${path}`);
  if (code === 'EACCES' || code === 'EPERM') return send(res, 403, `not readable: ${path}`);
  log(`${path}: ${err.message}`);
  send(res, code === 'EMFILE' || code === 'ENFILE' ? 503 : 500, `cannot read ${path}: ${code}`);
}

function send(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff', ...headers });
  res.end(`${text}\n`);
}
