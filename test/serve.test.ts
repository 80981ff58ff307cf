// The demo's static server under clumsy and hostile use: files it cannot read answer
// an HTTP error and the server goes on; downloads the client abandons close their
// files; symlinks out of its folder serve nothing; other sites' Host headers (DNS
// rebinding) are refused; every answer says nosniff; files revalidate with 304s.
// Loopback only, bounded loops. The tests run as root in CI, where chmod 000
// stops nothing, so the failures are ones root gets too: a symlink loop, a socket, a
// FIFO, and /proc/self/mem, which opens but whose first bytes give EIO.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { get, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { allowedHosts, serveStatic, type StaticServer } from '../src/cli/shared/serve';

const test = suite('demo server: file errors and aborted downloads');
const BIG = 64 * 2 ** 20; // sparse: no disk spent, and far more than the socket buffers hold
let dir: string;
let outside: string;
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

interface Answer {
  status?: number;
  headers: IncomingHttpHeaders;
  body: string;
  error?: string;
}

/** Any request, with its headers: `host` replaces the Host header, null sends none. */
function ask(path: string, options: { method?: string; headers?: Record<string, string>; host?: string | null; port?: number } = {}): Promise<Answer> {
  const headers = { ...options.headers, ...(typeof options.host === 'string' ? { host: options.host } : {}) };
  return new Promise((done) => {
    const req = httpRequest(
      { host: '127.0.0.1', port: options.port ?? server.port, path, method: options.method ?? 'GET', headers, setHost: options.host !== null, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => done({ status: res.statusCode, headers: res.headers, body }));
        res.on('error', (err) => done({ status: res.statusCode, headers: res.headers, body, error: err.message }));
      },
    );
    req.on('error', (err) => done({ headers: {}, body: '', error: err.message }));
    req.setTimeout(5000, () => req.destroy(new Error('no answer in 5 s')));
    req.end();
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
  // Outside the root: a folder and a file that links in the root point to.
  outside = mkdtempSync(join(tmpdir(), 'lenet-serve-outside-'));
  writeFileSync(join(outside, 'private.js'), 'private');
  symlinkSync('/', join(dir, 'escape'));
  symlinkSync(outside, join(dir, 'away'));
  symlinkSync(join(outside, 'private.js'), join(dir, 'private.js'));
  symlinkSync('../' + outside.split('/').pop() + '/private.js', join(dir, 'relative.js'));
  // Inside the root, a link is fine.
  mkdirSync(join(dir, 'sub'));
  writeFileSync(join(dir, 'sub', 'page.css'), 'p{}');
  symlinkSync('sub/page.css', join(dir, 'linked.css'));
  symlinkSync('sub', join(dir, 'sublink'));
  mkdirSync(join(dir, 'data'));
  writeFileSync(join(dir, 'data', 'images.gz'), 'v1 of the data');
  writeFileSync(join(dir, 'app.js'), 'console.log(1)');
  server = await serveStatic(dir, 0, '127.0.0.1', (line) => logged.push(line));
});

test.after(async () => {
  await server.close();
  await new Promise((done) => unixSocket.close(done));
  rmSync(dir, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
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
  // Through a link out of the root it is not served at all...
  assert.is((await request('/mem.js')).status, 404);
  // ...so the folder served is /proc/self itself (a symlink: its real path is the root).
  const own: string[] = [];
  const proc = await serveStatic('/proc/self', 0, '127.0.0.1', (line) => own.push(line));
  try {
    const r = await ask('/mem', { port: proc.port });
    assert.is(r.status, 500, JSON.stringify(r));
    assert.match(r.body, /^cannot read \/mem: EIO/);
    assert.is(r.headers['x-content-type-options'], 'nosniff');
    assert.ok(own.some((line) => line.includes('/mem')), `logged: ${own.join(' | ')}`);
    assert.is((await ask('/comm', { port: proc.port })).status, 200);
  } finally {
    await proc.close();
  }
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

test('nothing outside the root is served, through any symlink; links inside it are', async () => {
  for (const path of ['/escape/etc/hostname', '/escape/etc/passwd', '/escape/', '/away/private.js', '/private.js', '/relative.js', '/escape/proc/self/environ']) {
    const r = await request(path);
    assert.is(r.status, 404, `${path}: ${JSON.stringify(r)}`);
    assert.match(r.body, /^not found/, path);
  }
  assert.equal(await request('/linked.css'), { status: 200, body: 'p{}' });
  assert.equal(await request('/sublink/page.css'), { status: 200, body: 'p{}' });
  // A root that is itself a symlink serves what is in it.
  const link = join(outside, 'root-link');
  symlinkSync(dir, link);
  const linked = await serveStatic(link, 0);
  try {
    const r = await ask('/sub/page.css', { port: linked.port });
    assert.is(r.status, 200);
    assert.is(r.body, 'p{}');
    assert.is((await ask('/private.js', { port: linked.port })).status, 404);
  } finally {
    await linked.close();
  }
});

test('only its own names are answered as Host: other sites (DNS rebinding) are refused', async () => {
  const port = server.port;
  for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, `LocalHost:${port}`]) {
    const r = await ask('/index.html', { host });
    assert.is(r.status, 200, `${host}: ${JSON.stringify(r)}`);
  }
  for (const host of ['evil.example', `evil.example:${port}`, `localhost:${port + 1}`, 'localhost', `localhost.evil.example:${port}`, `127.0.0.1.nip.io:${port}`]) {
    const r = await ask('/index.html', { host });
    assert.is(r.status, 421, `${host}: ${JSON.stringify(r)}`);
    assert.ok(r.body.length > 0 && r.body.length < 100 && !r.body.includes('<title>'), r.body);
    assert.is(r.headers['x-content-type-options'], 'nosniff');
  }
  // Without one (HTTP/1.1 requires it), Node's server answers 400 before ours is asked.
  const none = await ask('/index.html', { host: null });
  assert.ok(none.status === 400 || none.status === 421, `no Host header: ${JSON.stringify(none)}`);
  // Nor is a refused request told anything about the files: the same answer as for one that exists.
  assert.is((await ask('/missing.js', { host: 'evil.example' })).status, 421);
  // The address given to listen on (--host) is accepted too, with the port.
  const given = allowedHosts('192.168.1.20', 8080);
  assert.ok(given.has('192.168.1.20:8080') && given.has('localhost:8080') && !given.has('192.168.1.20'));
  assert.ok(allowedHosts('fe80::1', 8080).has('[fe80::1]:8080'));
  assert.ok(allowedHosts('Box.lan', 80).has('box.lan'), 'port 80 may go without it');
});

test('405 says Allow: GET, HEAD; every answer says nosniff', async () => {
  for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
    const r = await ask('/index.html', { method });
    assert.is(r.status, 405, method);
    assert.is(r.headers.allow, 'GET, HEAD', method);
    assert.is(r.headers['x-content-type-options'], 'nosniff', method);
  }
  for (const [path, status] of [['/index.html', 200], ['/data/images.gz', 200], ['/missing.js', 404], ['/escape/etc/hostname', 404], ['/%00.js', 400], ['/%E0%A4%A.js', 400]] as const) {
    const r = await ask(path);
    assert.is(r.status, status, path);
    assert.is(r.headers['x-content-type-options'], 'nosniff', path);
  }
  const head = await ask('/index.html', { method: 'HEAD' });
  assert.is(head.status, 200);
  assert.is(head.headers['x-content-type-options'], 'nosniff');
});

test('data and assets carry ETag and Last-Modified; a second load gets 304, a changed file 200', async () => {
  for (const [path, name] of [['/data/images.gz', join('data', 'images.gz')], ['/app.js', 'app.js']]) {
    const file = join(dir, name);
    const then = new Date('2024-05-01T12:00:00Z');
    utimesSync(file, then, then);
    const first = await ask(path);
    assert.is(first.status, 200, path);
    const tag = first.headers.etag ?? '';
    assert.ok(tag && /^"[^"]+"$/.test(tag), `${path}: ETag ${tag}`);
    assert.is(first.headers['last-modified'], then.toUTCString(), path);
    assert.is(first.headers['cache-control'], 'no-cache', 'revalidated on each load');

    const current: Record<string, string>[] = [
      { 'if-none-match': tag },
      { 'if-none-match': `"other", W/${tag}` },
      { 'if-modified-since': then.toUTCString() },
      { 'if-modified-since': new Date(then.getTime() + 60_000).toUTCString() },
    ];
    for (const headers of current) {
      for (const method of ['GET', 'HEAD']) {
        const r = await ask(path, { headers, method });
        assert.is(r.status, 304, `${path} ${method} ${JSON.stringify(headers)}`);
        assert.is(r.body, '');
        assert.is(r.headers.etag, tag);
        assert.is(r.headers['x-content-type-options'], 'nosniff');
      }
    }
    // Validators that do not match: the whole file.
    assert.is((await ask(path, { headers: { 'if-none-match': '"other"' } })).status, 200);
    assert.is((await ask(path, { headers: { 'if-modified-since': new Date(then.getTime() - 1000).toUTCString() } })).status, 200);
    assert.is((await ask(path, { headers: { 'if-modified-since': 'yesterday' } })).status, 200);
    // If-None-Match decides alone when both are sent.
    assert.is((await ask(path, { headers: { 'if-none-match': '"other"', 'if-modified-since': then.toUTCString() } })).status, 200);

    // The file changes: the old validators get the new content.
    writeFileSync(file, 'version 2, longer');
    const later = new Date(then.getTime() + 3_600_000);
    utimesSync(file, later, later);
    const stale: Record<string, string>[] = [{ 'if-none-match': tag }, { 'if-modified-since': then.toUTCString() }];
    for (const headers of stale) {
      const r = await ask(path, { headers });
      assert.is(r.status, 200, `${path} changed, ${JSON.stringify(headers)}`);
      assert.is(r.body, 'version 2, longer');
      assert.is.not(r.headers.etag, tag);
      assert.is(r.headers['last-modified'], later.toUTCString());
    }
    // Same size, same second, other bytes: the ETag still tells them apart.
    const before = (await ask(path)).headers.etag;
    writeFileSync(file, 'version 3, longer');
    utimesSync(file, new Date(later.getTime() + 500), new Date(later.getTime() + 500));
    const r = await ask(path, { headers: { 'if-none-match': before! } });
    assert.is(r.status, 200, 'a rewrite within the second');
    assert.is(r.body, 'version 3, longer');
  }
});

test.run();
