// The demo's static server under clumsy and hostile use: files it cannot read answer
// an HTTP error and the server goes on; downloads the client abandons close their
// files. Loopback only, bounded loops. The tests run as root in CI, where chmod 000
// stops nothing, so the failures are ones root gets too: a symlink loop, a socket, a
// FIFO, and /proc/self/mem, which opens but whose first bytes give EIO.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { serveStatic, type StaticServer } from '../src/cli/shared/serve';

const test = suite('demo server: file errors and aborted downloads');
const BIG = 64 * 2 ** 20; // sparse: no disk spent, and far more than the socket buffers hold
let dir: string;
let server: StaticServer;
let unixSocket: Server;
const logged: string[] = [];

/** Status and body of a GET, or the error that ended it. */
function request(path: string): Promise<{ status?: number; body: string; error?: string }> {
  return new Promise((done) => {
    const req = get({ host: '127.0.0.1', port: server.port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => done({ status: res.statusCode, body }));
      res.on('error', (err) => done({ status: res.statusCode, body, error: err.message }));
    });
    req.on('error', (err) => done({ body: '', error: err.message }));
    req.setTimeout(5000, () => req.destroy(new Error('no answer in 5 s')));
  });
}

/** Starts a download of `path` and drops the connection as soon as the headers arrive. */
function abandon(path: string): Promise<void> {
  return new Promise((done, fail) => {
    const req = get({ host: '127.0.0.1', port: server.port, path, agent: false }, (res) => {
      assert.is(res.statusCode, 200);
      req.destroy();
      done();
    });
    req.on('error', (err) => ((err as NodeJS.ErrnoException).code === 'ECONNRESET' ? done() : fail(err)));
  });
}

function openDescriptors(): number {
  return readdirSync('/proc/self/fd').length;
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lenet-serve-'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>t</title>');
  writeFileSync(join(dir, 'empty.js'), '');
  writeFileSync(join(dir, 'big.gz'), '');
  truncateSync(join(dir, 'big.gz'), BIG);
  mkdirSync(join(dir, 'folder.js'));
  symlinkSync('loop.js', join(dir, 'loop.js'));
  symlinkSync('/proc/self/mem', join(dir, 'mem.js'));
  execFileSync('mkfifo', [join(dir, 'fifo.js')]);
  unixSocket = createServer();
  await new Promise<void>((done) => unixSocket.listen(join(dir, 'socket.js'), done));
  writeFileSync(join(dir, 'secret.js'), 'x');
  chmodSync(join(dir, 'secret.js'), 0o000);
  server = await serveStatic(dir, 0, '127.0.0.1', (line) => logged.push(line));
});

test.after(async () => {
  await server.close();
  await new Promise((done) => unixSocket.close(done));
  rmSync(dir, { recursive: true, force: true });
});

test('what is not a readable regular file gets 404, at once, and the server goes on', async () => {
  // A FIFO without a writer would block a plain open() for ever: it must not.
  for (const path of ['/folder.js', '/loop.js', '/fifo.js', '/socket.js', '/missing.js', '/%00.js']) {
    const r = await request(path);
    assert.ok(r.status === 404 || r.status === 400, `${path}: ${JSON.stringify(r)}`);
  }
  assert.is((await request('/index.html')).status, 200);
});

test('a file that opens but cannot be read answers 500 naming it, and the server goes on', async () => {
  if (!existsSync('/proc/self/mem')) return console.log('  (no /proc/self/mem here: skipped)');
  const r = await request('/mem.js');
  assert.is(r.status, 500, JSON.stringify(r));
  assert.match(r.body, /^cannot read \/mem\.js: EIO/);
  assert.ok(logged.some((line) => line.includes('/mem.js')), `logged: ${logged.join(' | ')}`);
  assert.is((await request('/index.html')).status, 200);
});

test('a file without read permission gets 403 (where permissions bind: not as root)', async () => {
  const r = await request('/secret.js');
  if (process.getuid?.() === 0) assert.is(r.status, 200, 'root reads it');
  else assert.is(r.status, 403, JSON.stringify(r));
  assert.is((await request('/index.html')).status, 200);
});

test('an empty file is served empty', async () => {
  assert.equal(await request('/empty.js'), { status: 200, body: '' });
});

test('200 abandoned downloads of a large file close their files; the server still answers', async () => {
  const before = openDescriptors();
  for (let i = 0; i < 200; i++) await abandon('/big.gz');
  // The server learns of each abort asynchronously: give it a bounded moment.
  let now = openDescriptors();
  for (let tries = 0; tries < 50 && now > before + 10; tries++) {
    await sleep(100);
    now = openDescriptors();
  }
  assert.ok(now <= before + 10, `open descriptors: ${before} before, ${now} after 200 aborted downloads`);
  const r = await request('/index.html');
  assert.is(r.status, 200);
  assert.is(logged.filter((line) => line.includes('big.gz')).length, 0, 'a client leaving is not a server error');
});

test.run();
