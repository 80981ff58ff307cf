// A static file server for the page (npm run demo, and the browser tests): GET and
// HEAD of the files under one folder, nothing else. Localhost only by default: a
// browser gives WebGPU to secure contexts, and http://localhost is one.
// No client and no file can stop it: a file it cannot open or read answers an HTTP
// error, and every file it opens is closed, also when the client leaves mid-download.
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
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
  const base = resolve(root);
  const server = createServer((req, res) => {
    handle(base, req, res, log).catch((err: NodeJS.ErrnoException) => {
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
  const name = host === '127.0.0.1' || host === '::1' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
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

async function handle(base: string, req: IncomingMessage, res: ServerResponse, log: (line: string) => void): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'only GET and HEAD');
  let path: string;
  try {
    path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
  } catch {
    return send(res, 400, 'bad path');
  }
  if (path.includes('\0')) return send(res, 400, 'bad path');
  if (path.endsWith('/')) path += 'index.html';
  const file = resolve(join(base, path));
  if (file !== base && !file.startsWith(base + sep)) return send(res, 404, 'not found');
  let handle: FileHandle;
  try {
    // Opened once and checked through the handle (no window between a stat and an
    // open); O_NONBLOCK so that a FIFO does not wait for a writer before it is refused.
    handle = await open(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (err) {
    return refuse(res, path, err as NodeJS.ErrnoException, log);
  }
  try {
    await sendFile(req, res, handle, path, file, log);
  } finally {
    await handle.close();
  }
}

async function sendFile(req: IncomingMessage, res: ServerResponse, handle: FileHandle, path: string, file: string, log: (line: string) => void): Promise<void> {
  const info = await handle.stat();
  if (!info.isFile()) return send(res, 404, `not found: ${path}`);
  // At least one byte is asked for: an empty-looking file (/proc's) may still fail.
  const first = Buffer.alloc(Math.max(1, Math.min(FIRST_BLOCK, info.size)));
  let bytesRead: number;
  try {
    ({ bytesRead } = await handle.read(first, 0, first.length, 0));
  } catch (err) {
    return refuse(res, path, err as NodeJS.ErrnoException, log);
  }
  res.writeHead(200, {
    'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
    'Content-Length': info.size,
    'Cache-Control': 'no-cache',
  });
  // Never more than Content-Length, should the file have grown since.
  const head = first.subarray(0, Math.min(bytesRead, info.size));
  if (req.method === 'HEAD' || head.length === info.size) return void res.end(req.method === 'HEAD' ? undefined : head);
  res.write(head);
  // pipeline destroys the read stream when the response fails or the client leaves,
  // which pipe() does not: each abandoned download used to keep its file open.
  await pipeline(handle.createReadStream({ start: head.length, end: info.size - 1, autoClose: false }), res);
}

/** The answer to a file that cannot be opened or read. */
function refuse(res: ServerResponse, path: string, err: NodeJS.ErrnoException, log: (line: string) => void): void {
  const code = err.code ?? 'error';
  if (['ENOENT', 'ENOTDIR', 'EISDIR', 'ELOOP', 'ENXIO', 'ENAMETOOLONG'].includes(code)) return send(res, 404, `not found: ${path}`);
  if (code === 'EACCES' || code === 'EPERM') return send(res, 403, `not readable: ${path}`);
  log(`${path}: ${err.message}`);
  send(res, code === 'EMFILE' || code === 'ENFILE' ? 503 : 500, `cannot read ${path}: ${code}`);
}

function send(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(`${text}\n`);
}
