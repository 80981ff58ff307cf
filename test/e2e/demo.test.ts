// The page in real headless Chromium (Debian's chromium through playwright-core, on
// SwiftShader without a GPU), served by the demo's own server on a free port: it finds
// an adapter, refuses a bad model file readably, predicts with the fixture model as the
// Node engine does, reads digits drawn with mouse strokes, trains with the loss
// falling while the page stays responsive (pause and resume included), downloads a
// model Node can load, recovers from a lost device and from a failed download, and
// says how to get WebGPU where there is none. A screenshot after training goes to
// test-artifacts/demo.png.
import { mkdirSync, readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { chromiumMissing, launchChromium, type Browser } from '../../src/cli/shared/chromium';
import { serveStatic, type StaticServer } from '../../src/cli/shared/serve';
import { defaultMnistDir, loadMnist, type MnistSplit } from '../../src/data/mnist';
import { requestGpu } from '../../src/gpu/node';
import { Runtime } from '../../src/gpu/runtime';
import { decodeModel, type ModelFile } from '../../src/model/safetensors';
import { Predictor } from '../../src/train/inference';

const FIXTURE = 'test/fixtures/lenet5-mnist.safetensors';
const SCREENSHOT = 'test-artifacts/demo.png';
/** Page and Node run the same kernels on the same SwiftShader: probabilities agree to float rounding. */
const ATOL = 1e-4;

const test = suite('demo page');
let server: StaticServer;
let browser: Browser;
let page: Page;
let rt: Runtime | null = null;
let mnist: MnistSplit;
const pageErrors: string[] = [];
const started = performance.now();

const digit = (i: number) => Array.from(mnist.images.subarray(i * 784, (i + 1) * 784));
const argmax = (p: number[]) => p.indexOf(Math.max(...p));
const seconds = () => ((performance.now() - started) / 1000).toFixed(1);

async function nodeProbabilities(model: ModelFile, indices: number[]): Promise<number[][]> {
  rt ??= new Runtime(await requestGpu('swiftshader'));
  const predictor = await Predictor.create(rt, model.network, model.normalization, { params: model.params });
  return (await predictor.predict(indices.map((i) => Uint8Array.from(digit(i))))).map((p) => Array.from(p));
}

async function pageProbabilities(indices: number[]): Promise<number[][]> {
  return page.evaluate((digits) => Promise.all(digits.map((d) => window.lenet.predict(d))), indices.map(digit));
}

function assertSame(what: string, got: number[][], want: number[][]): void {
  let worst = 0;
  got.forEach((p, i) => p.forEach((v, k) => (worst = Math.max(worst, Math.abs(v - want[i][k])))));
  assert.ok(worst <= ATOL, `${what}: page and Node probabilities differ by up to ${worst.toExponential(2)} (> ${ATOL})\n  page: ${got[0].map((v) => v.toFixed(5))}\n  node: ${want[0].map((v) => v.toFixed(5))}`);
}

async function waitFor(what: string, fn: string, timeout = 30_000): Promise<void> {
  try {
    await page.waitForFunction(fn, null, { timeout, polling: 100 });
  } catch {
    const state = await page.evaluate(() => ({ state: window.lenet?.state, step: window.lenet?.step, message: window.lenet?.message })).catch(() => null);
    assert.unreachable(`${what}: not within ${timeout / 1000} s (page: ${JSON.stringify(state)})`);
  }
}

/** Traces the ink of an MNIST image as horizontal mouse strokes on the drawing canvas, one per run of ink in a row. */
async function drawDigit(pixels: number[]): Promise<void> {
  await page.click('#clear');
  const box = await page.locator('#pad').boundingBox();
  assert.ok(box, 'the drawing canvas is on the page');
  const scale = box.width / 28;
  const at = (x: number, y: number) => [box.x + (x + 0.5) * scale, box.y + (y + 0.5) * scale] as const;
  for (let y = 0; y < 28; y++) {
    for (let x = 0; x < 28; x++) {
      if (pixels[y * 28 + x] < 128) continue;
      let end = x;
      while (end + 1 < 28 && pixels[y * 28 + end + 1] >= 128) end++;
      await page.mouse.move(...at(x, y));
      await page.mouse.down();
      await page.mouse.move(...at(end, y), { steps: 2 });
      await page.mouse.up();
      x = end;
    }
  }
}

test.before(async () => {
  mnist = loadMnist(defaultMnistDir(), 'test');
  server = await serveStatic('dist/demo', 0);
  browser = await launchChromium();
  page = browser.page;
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(server.url);
  await page.waitForFunction(() => window.lenet !== undefined, null, { timeout: 10_000 });
  await page.evaluate(() => window.lenet.ready);
});

test.after(async () => {
  await browser?.close();
  await server?.close();
  rt?.destroy();
  console.log(`  (browser tests took ${seconds()} s)`);
});

test('the page finds a WebGPU adapter and the MNIST data', async () => {
  const s = await page.evaluate(() => ({ adapter: window.lenet.adapter, state: window.lenet.state, data: window.lenet.dataState, message: window.lenet.message }));
  assert.ok(s.adapter, `no adapter; the page says: ${s.message}`);
  assert.is(s.state, 'idle');
  assert.is(s.data, 'ready', `data: ${s.message}`);
  assert.is(s.message, null);
  assert.match((await page.textContent('#adapter')) ?? '', /^WebGPU adapter: \S/);
  assert.ok(await page.isEnabled('#start'), 'Start is enabled');
  console.log(`  adapter: ${s.adapter.name} (${seconds()} s)`);
});

test('a file that is not a model is refused with a readable message', async () => {
  const bad = [
    { name: 'notes.safetensors', bytes: Buffer.from('these are my notes, not a model'), says: /notes\.safetensors: header length \d+ is larger than the \d+ bytes that follow it; truncated, or not a safetensors file/ },
    { name: 'cut.safetensors', bytes: readFileSync(FIXTURE).subarray(0, 4000), says: /cut\.safetensors: truncated file/ },
  ];
  for (const file of bad) {
    await page.setInputFiles('#model-file', { name: file.name, mimeType: 'application/octet-stream', buffer: file.bytes });
    await waitFor(`an error for ${file.name}`, `window.lenet.message?.includes(${JSON.stringify(file.name)})`, 10_000);
    const text = (await page.textContent('#message-text')) ?? '';
    assert.match(text, /^Could not load the model: /);
    assert.match(text, file.says);
    assert.ok(await page.isVisible('#message.error'), 'shown as an error');
  }
  assert.is(await page.evaluate(() => window.lenet.hasModel), false, 'no model came of it');
  assert.is(await page.evaluate(() => window.lenet.state), 'idle');
});

test('the fixture model dropped on the page predicts as the Node engine does', async () => {
  const bytes = readFileSync(FIXTURE);
  const transfer = await page.evaluateHandle((data) => {
    const t = new DataTransfer();
    t.items.add(new File([new Uint8Array(data)], 'lenet5-mnist.safetensors'));
    return t;
  }, Array.from(bytes));
  await page.dispatchEvent('body', 'drop', { dataTransfer: transfer });
  await waitFor('the dropped model loads', 'window.lenet.hasModel && window.lenet.message?.startsWith("Loaded")', 10_000);
  assert.match((await page.textContent('#model-source')) ?? '', /lenet5-mnist\.safetensors/);

  const indices = [0, 1, 2, 3, 4, 5, 6, 7];
  const inPage = await pageProbabilities(indices);
  const inNode = await nodeProbabilities(decodeModel(bytes, FIXTURE), indices);
  assertSame('fixture model', inPage, inNode);
  assert.equal(inPage.map(argmax), indices.map((i) => mnist.labels[i]), 'the fixture reads these digits right');
});

test('digits drawn with the mouse are read as their labels', async () => {
  for (const i of [0, 1, 3]) {
    await drawDigit(digit(i));
    const p = await page.evaluate(() => window.lenet.drawing());
    assert.ok(p, `test digit ${i}: no prediction for the drawing`);
    assert.is(argmax(p), mnist.labels[i], `test digit ${i} (a ${mnist.labels[i]}) drawn on the canvas was read as a ${argmax(p)}`);
    assert.is(await page.getAttribute('#guess', 'data-digit'), String(mnist.labels[i]), 'the page shows the guess');
    assert.is(await page.locator('#bars li.best .digit').textContent(), String(mnist.labels[i]), 'the longest bar is the guess');
  }
});

test('training through the form: the loss falls, the page stays responsive, pause and resume', async () => {
  await page.evaluate(() => window.lenet.reset());
  await page.fill('input[name=epochs]', '1');
  await page.fill('input[name=batchSize]', '8');
  await page.fill('input[name=limit]', '2400');
  await page.fill('input[name=testLimit]', '500');
  await page.click('#start');
  await waitFor('60 steps', 'window.lenet.step >= 60', 60_000);

  const t0 = performance.now();
  assert.is(await page.evaluate(() => window.lenet.state), 'training');
  const roundTrip = performance.now() - t0;
  assert.ok(roundTrip < 1000, `the page took ${roundTrip.toFixed(0)} ms to answer while training`);

  await page.click('#pause');
  await waitFor('the pause', 'window.lenet.state === "paused"', 15_000);
  const pausedAt = await page.evaluate(() => window.lenet.step);
  assert.ok(pausedAt < 300, `paused at step ${pausedAt}`);
  assert.is(await page.textContent('#start'), 'Resume');
  await page.waitForTimeout(500);
  assert.is(await page.evaluate(() => window.lenet.step), pausedAt, 'no steps while paused');

  await page.click('#start');
  await waitFor('the end of the epoch', 'window.lenet.state === "done"', 120_000);
  const r = await page.evaluate(() => ({ step: window.lenet.step, log: window.lenet.log, test: window.lenet.testAccuracy, speed: window.lenet.imagesPerSecond, epochs: window.lenet.epochs }));
  assert.is(r.step, 300, '2400 images in batches of 8');
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const first = mean(r.log.slice(0, 2).map((e) => e.loss));
  const last = mean(r.log.slice(-2).map((e) => e.loss));
  assert.ok(last < 0.6 * first, `loss went from ${first.toFixed(3)} to ${last.toFixed(3)}`);
  assert.ok(r.test !== null && r.test > 0.7, `test accuracy ${r.test}`);
  assert.ok(r.speed !== null && r.speed > 0, `images/s ${r.speed}`);
  assert.is(r.epochs.length, 1);
  assert.is(await page.locator('#chart polyline.train').count(), 2, 'loss and accuracy curves');
  assert.is(await page.locator('#chart circle.test-marker').count(), 2, 'test loss and accuracy markers');
  assert.match((await page.textContent('#epochs')) ?? '', /Epoch 1: test accuracy \d+\.\d\d%/);
  console.log(`  trained 300 steps: loss ${first.toFixed(3)} -> ${last.toFixed(3)}, test accuracy ${(100 * r.test!).toFixed(1)}%, ${r.speed!.toFixed(0)} images/s (${seconds()} s)`);

  await page.evaluate(() => window.lenet.drawing()); // the last digit drawn, read by the trained model
  await page.waitForTimeout(300); // one more render of the throttled view
  mkdirSync('test-artifacts', { recursive: true });
  await page.screenshot({ path: SCREENSHOT, fullPage: true });
});

test('the downloaded model loads in Node and predicts as the page does', async () => {
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
  assert.is(download.suggestedFilename(), 'lenet5-page.safetensors');
  const model = decodeModel(readFileSync(await download.path()), 'downloaded model');
  const { metadata } = model;
  assert.is(metadata.format, 'pt');
  const indices = [10, 11, 12, 13];
  assertSame('page-trained model', await pageProbabilities(indices), await nodeProbabilities(model, indices));
});

test('a lost GPU device is reported, and the page reopens one and keeps the model', async () => {
  const before = await pageProbabilities([0]);
  await page.evaluate(() => window.lenet.loseDevice());
  await waitFor('a new device', 'window.lenet.message?.includes("has been reopened")', 30_000);
  assert.match((await page.textContent('#message-text')) ?? '', /The GPU device was lost and has been reopened/);
  assert.is(await page.evaluate(() => window.lenet.state), 'idle');
  assertSame('after the device was reopened', await pageProbabilities([0]), before);
});

test('a failed data download is shown, and Retry recovers without a reload', async () => {
  const second = await browser.context.newPage();
  second.on('pageerror', (e) => pageErrors.push(e.message));
  const blocked = '**/data/train-images-idx3-ubyte.gz';
  await second.route(blocked, (route) => route.abort('connectionfailed'));
  await second.goto(server.url);
  await second.waitForFunction(() => window.lenet !== undefined);
  await second.evaluate(() => window.lenet.ready);
  assert.is(await second.evaluate(() => window.lenet.dataState), 'failed');
  assert.match((await second.textContent('#message-text')) ?? '', /^The MNIST data could not be downloaded: downloading train-images-idx3-ubyte\.gz failed/);
  assert.ok(await second.isDisabled('#start'), 'no training without data');
  await second.unroute(blocked);
  await second.click('#message-action');
  await second.waitForFunction(() => window.lenet.dataState === 'ready', null, { timeout: 30_000 });
  await second.waitForFunction(() => !(document.getElementById('start') as HTMLButtonElement).disabled, null, { timeout: 5_000 });
  await second.close();
});

test('without WebGPU the page says so, and how to get it', async () => {
  const other = await browser.context.newPage();
  other.on('pageerror', (e) => pageErrors.push(e.message));
  await other.addInitScript(() => Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined }));
  await other.goto(server.url);
  await other.waitForFunction(() => window.lenet !== undefined);
  await other.evaluate(() => window.lenet.ready);
  assert.is(await other.evaluate(() => window.lenet.state), 'no-gpu');
  assert.match((await other.textContent('#adapter')) ?? '', /^No WebGPU/);
  const text = (await other.textContent('#message-text')) ?? '';
  assert.match(text, /This browser has no WebGPU\. Use a current Chrome or Edge/);
  assert.match(text, /--enable-unsafe-webgpu/);
  assert.ok(await other.isDisabled('#start'), 'no training without WebGPU');
  mkdirSync('test-artifacts', { recursive: true });
  await other.screenshot({ path: 'test-artifacts/demo-no-webgpu.png' });
  await other.close();
});

test('no uncaught errors in the page', () => {
  assert.equal(pageErrors, []);
});

const missing = chromiumMissing();
if (missing && !process.env.LENET_REQUIRE_ADAPTERS) {
  console.warn(`browser tests skipped: ${missing}`);
} else {
  test.run();
}
