// A static file server for the page (npm run demo, and the browser tests): GET and
// HEAD of the files under one folder, nothing else. Localhost only by default: a
// browser gives WebGPU to secure contexts, and http://localhost is one.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, resolve, sep } from 'node:path';

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

export interface StaticServer {
  /** e.g. http://localhost:8080/ */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Serves `root` on `port` (0: any free port). */
export async function serveStatic(root: string, port: number, host = '127.0.0.1'): Promise<StaticServer> {
  const base = resolve(root);
  const server = createServer((req, res) => {
    handle(base, req, res).catch((err: Error) => {
      if (!res.headersSent) send(res, 500, `server error: ${err.message}`);
      else res.destroy();
    });
  });
  await new Promise<void>((done, fail) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      fail(err.code === 'EADDRINUSE' ? new Error(`port ${port} is in use; choose another with --port`) : err);
    });
    server.listen(port, host, done);
  });
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

async function handle(base: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'only GET and HEAD');
  let path: string;
  try {
    path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
  } catch {
    return send(res, 400, 'bad path');
  }
  if (path.endsWith('/')) path += 'index.html';
  const file = resolve(join(base, path));
  if (file !== base && !file.startsWith(base + sep)) return send(res, 404, 'not found');
  const info = await stat(file).catch(() => null);
  if (!info?.isFile()) return send(res, 404, `not found: ${path}`);
  res.writeHead(200, {
    'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
    'Content-Length': info.size,
    'Cache-Control': 'no-cache',
  });
  if (req.method === 'HEAD') return void res.end();
  createReadStream(file).pipe(res);
}

function send(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(`${text}\n`);
}
