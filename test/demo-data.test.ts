// The demo's server and the page's data download, in Node (which has fetch and
// DecompressionStream like a browser): files served as they are, nothing outside the
// folder, and IDX files fetched gzipped or plain, with readable errors.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { fetchIdx, fetchMnist } from '../demo/data';
import { logInterval } from '../demo/form';
import { serveStatic, type StaticServer } from '../src/cli/shared/serve';

const test = suite('demo data and server');
let dir: string;
let server: StaticServer;

/** An IDX images file of `count` 28x28 images whose pixels are (image + pixel) mod 256, and its labels. */
function idx(count: number): { images: Uint8Array; labels: Uint8Array } {
  const images = new Uint8Array(16 + count * 784);
  const view = new DataView(images.buffer);
  [0x803, count, 28, 28].forEach((v, i) => view.setUint32(4 * i, v));
  for (let i = 0; i < count * 784; i++) images[16 + i] = (Math.floor(i / 784) + i) % 256;
  const labels = new Uint8Array(8 + count);
  new DataView(labels.buffer).setUint32(0, 0x801);
  new DataView(labels.buffer).setUint32(4, count);
  for (let i = 0; i < count; i++) labels[8 + i] = i % 10;
  return { images, labels };
}

function rawStatus(path: string): Promise<number | undefined> {
  return new Promise((done, fail) => {
    get({ host: '127.0.0.1', port: server.port, path }, (res) => {
      res.resume();
      done(res.statusCode);
    }).on('error', fail);
  });
}

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lenet-demo-'));
  mkdirSync(join(dir, 'data'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>t</title>');
  const train = idx(5);
  const t10k = idx(3);
  writeFileSync(join(dir, 'data/train-images-idx3-ubyte.gz'), gzipSync(train.images));
  writeFileSync(join(dir, 'data/train-labels-idx1-ubyte.gz'), gzipSync(train.labels));
  // Plain IDX under a .gz name: what a host that decompresses .gz files on the fly delivers.
  writeFileSync(join(dir, 'data/t10k-images-idx3-ubyte.gz'), t10k.images);
  writeFileSync(join(dir, 'data/t10k-labels-idx1-ubyte.gz'), gzipSync(t10k.labels));
  writeFileSync(join(dir, 'data/broken.gz'), Buffer.from([0x1f, 0x8b, 1, 2, 3]));
  writeFileSync(join(tmpdir(), 'lenet-demo-secret.txt'), 'outside');
  server = await serveStatic(dir, 0);
});

test.after(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
  rmSync(join(tmpdir(), 'lenet-demo-secret.txt'), { force: true });
});

test('the server gives index.html for /, .gz files as bytes, and nothing outside its folder', async () => {
  assert.match(server.url, /^http:\/\/localhost:\d+\/$/);
  const index = await fetch(server.url);
  assert.is(index.status, 200);
  assert.match(index.headers.get('content-type') ?? '', /^text\/html/);
  const gz = await fetch(new URL('data/train-labels-idx1-ubyte.gz', server.url));
  assert.is(gz.headers.get('content-type'), 'application/octet-stream');
  assert.is(gz.headers.get('content-encoding'), null, 'the page gunzips, not the browser');
  // Raw paths: fetch would normalise the dots away before sending them.
  for (const path of ['/../lenet-demo-secret.txt', '/%2e%2e/lenet-demo-secret.txt', '/data/../../lenet-demo-secret.txt', '/missing.js']) {
    assert.is(await rawStatus(path), 404, path);
  }
  assert.is((await fetch(server.url, { method: 'POST' })).status, 405);
});

test('a second server on a port in use says so', async () => {
  try {
    await serveStatic(dir, server.port);
    assert.unreachable('listened twice');
  } catch (err) {
    assert.match((err as Error).message, `port ${server.port} is in use; choose another with --port`);
  }
});

test('fetchMnist reads gzipped and plain IDX files alike, with progress', async () => {
  const seen: number[] = [];
  const { train, test: t10k } = await fetchMnist(new URL('data/', server.url), (p) => seen.push(p.loaded));
  assert.is(train.count, 5);
  assert.is(t10k.count, 3);
  assert.equal(Array.from(train.labels), [0, 1, 2, 3, 4]);
  assert.is(train.images[784 * 2 + 5], (2 + 784 * 2 + 5) % 256);
  assert.equal(Array.from(t10k.labels), [0, 1, 2]);
  assert.ok(seen.length > 0 && seen.every((v, i) => i === 0 || v >= seen[i - 1]), 'progress only grows');
});

test('download failures are readable', async () => {
  const fail = async (path: string) => {
    try {
      await fetchIdx(new URL(path, server.url));
    } catch (err) {
      return (err as Error).message;
    }
    return 'no error';
  };
  assert.is(await fail('data/nothing.gz'), 'downloading nothing.gz failed: HTTP 404 Not Found');
  assert.match(await fail('data/broken.gz'), /^broken\.gz: gzip data does not decompress/);
  assert.match(await fail('http://127.0.0.1:1/data/x.gz'), /^downloading x\.gz failed: /);
});

test('metrics are read every ~128 images on a CPU adapter, every ~3,200 on a GPU', () => {
  assert.is(logInterval(64, true), 2);
  assert.is(logInterval(8, true), 16);
  assert.is(logInterval(1024, true), 1);
  assert.is(logInterval(64, false), 50);
});

test.run();
