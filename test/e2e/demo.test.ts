// The page in real headless browsers, served by the demo's own server on a free port:
// Debian's chromium (playwright-core, SwiftShader without a GPU) and Firefox ESR
// (puppeteer-core over WebDriver BiDi, on SwiftShader's or lavapipe's Vulkan), one
// suite each from the same tests (test/e2e/browsers.ts hides which browser it is).
// In each, the page finds an adapter, refuses a bad model file readably, predicts with
// the fixture model as the Node engine does, reads digits drawn with mouse strokes,
// draws the model's filters and the feature maps of the digit drawn, trains with the
// loss falling while the page stays responsive (pause and resume included) and then
// shows the test pass's confusion matrix and its most confident mistakes, downloads a model Node can load, recovers from a lost device and from a
// failed download, and says how to get WebGPU where there is none. Screenshots go to
// test-artifacts/<browser>/.
//
// Checkpoints cross between the page and Node (dist/cli/train.js on SwiftShader): a run
// paused in the page and resumed by Node, a run started by Node and finished in the
// page, and a page run that loses its device and resumes from its last checkpoint all
// end with weights bitwise equal to one uninterrupted Node run.
//
// LENET_TEST_BROWSERS=chromium,firefox chooses the browsers (default: both); one that is
// not installed is skipped with a line, or fails where LENET_REQUIRE_BROWSERS names it.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { serveStatic, type StaticServer } from '../../src/cli/shared/serve';
import { defaultMnistDir, loadMnist, type MnistSplit } from '../../src/data/mnist';
import { requestGpu } from '../../src/gpu/node';
import { Runtime } from '../../src/gpu/runtime';
import { describeNetwork, LENET5_RELU, networkJson } from '../../src/model/network';
import { EVERY_LAYER } from '../helpers/network';
import { decodeModel, decodeSafetensors, encodeModel, type ModelFile } from '../../src/model/safetensors';
import { decodeCheckpoint } from '../../src/train/checkpoint';
import { Predictor } from '../../src/train/inference';
import { DEFAULT_CONFIG } from '../../src/train/options';
import { BROWSERS, browserMissing, launchBrowser, type BrowserName, type TestBrowser, type TestPage } from './browsers';

const FIXTURE = 'test/fixtures/lenet5-mnist.safetensors';
/** Page and Node run the same kernels on the same SwiftShader: probabilities agree to float rounding. */
const ATOL = 1e-4;

/** A run small enough to train a few times over: 10 steps an epoch, 2 epochs. */
const SMALL = { arch: 'lenet5', limit: 640, batchSize: 64, epochs: 2, testLimit: 500, seed: 5, hflip: false, lr: 1e-3 };
const SMALL_ARGS = ['--limit', '640', '--test-limit', '500', '--seed', '5'];

const mnist: MnistSplit = loadMnist(defaultMnistDir(), 'test');
const tmp = mkdtempSync(join(tmpdir(), 'lenet-e2e-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
let rt: Runtime | null = null;

const digit = (i: number) => Array.from(mnist.images.subarray(i * 784, (i + 1) * 784));
const argmax = (p: number[]) => p.indexOf(Math.max(...p));
const differ = (a: number[], b: number[]) => a.some((v, k) => Math.abs(v - b[k]) > 1e-3);

async function nodeProbabilities(model: ModelFile, indices: number[]): Promise<number[][]> {
  rt ??= new Runtime(await requestGpu('swiftshader'));
  const predictor = await Predictor.create(rt, model.network, model.normalization, { params: model.params });
  return (await predictor.predict(indices.map((i) => Uint8Array.from(digit(i))))).map((p) => Array.from(p));
}

function assertSame(what: string, got: number[][], want: number[][]): void {
  let worst = 0;
  got.forEach((p, i) => p.forEach((v, k) => (worst = Math.max(worst, Math.abs(v - want[i][k])))));
  assert.ok(worst <= ATOL, `${what}: page and Node probabilities differ by up to ${worst.toExponential(2)} (> ${ATOL})\n  page: ${got[0].map((v) => v.toFixed(5))}\n  node: ${want[0].map((v) => v.toFixed(5))}`);
}

/** dist/cli/train.js on SwiftShader, as the page runs; its output on failure. */
async function nodeTrain(args: string[]): Promise<void> {
  const t0 = performance.now();
  try {
    await promisify(execFile)(process.execPath, ['dist/cli/train.js', ...args, '--adapter', 'swiftshader']);
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    assert.unreachable(`train.js ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
  console.log(`  node train.js ${args.join(' ')}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

let uninterruptedRun: Promise<string> | null = null;
/** The SMALL run in Node without a break: the model file every other route must match (made once, for every browser). */
function uninterrupted(): Promise<string> {
  const out = join(tmp, 'b.safetensors');
  uninterruptedRun ??= nodeTrain([...SMALL_ARGS, '--epochs', '2', '--out', out]).then(() => out);
  return uninterruptedRun;
}

/** Two model files hold bitwise the same tensors (metadata aside); on failure, how far apart they are. */
function assertSameTensors(what: string, got: Uint8Array, wantPath: string): void {
  const a = decodeSafetensors(got, what).tensors;
  const b = decodeSafetensors(readFileSync(wantPath), wantPath).tensors;
  assert.equal([...a.keys()].sort(), [...b.keys()].sort(), `${what}: the same tensors`);
  let differ = 0;
  let total = 0;
  let worst = 0;
  for (const [name, t] of a) {
    const want = b.get(name)!.data;
    const bytes = (x: Float32Array) => Buffer.from(x.buffer, x.byteOffset, x.byteLength);
    total += t.data.length;
    if (bytes(t.data).equals(bytes(want))) continue;
    t.data.forEach((v, i) => {
      if (Object.is(v, want[i])) return;
      differ++;
      worst = Math.max(worst, Math.abs(v - want[i]) / Math.max(Math.abs(want[i]), Number.MIN_VALUE));
    });
  }
  assert.ok(differ === 0, `${what}: ${differ} of ${total} values differ from ${wantPath}, by up to ${worst.toExponential(2)} relative`);
}

// ------------------------------------------------------------ reading the page, in either browser

const text = (page: TestPage, selector: string) => page.evaluate((s) => document.querySelector(s)?.textContent ?? '', selector);
const count = (page: TestPage, selector: string) => page.evaluate((s) => document.querySelectorAll(s).length, selector);
const value = (page: TestPage, selector: string) => page.evaluate((s) => document.querySelector<HTMLInputElement | HTMLSelectElement>(s)?.value ?? null, selector);
const attribute = (page: TestPage, selector: string, name: string) => page.evaluate(([s, n]) => document.querySelector(s)?.getAttribute(n) ?? null, [selector, name]);
const disabled = (page: TestPage, selector: string) =>
  page.evaluate((s) => {
    const e = document.querySelector<HTMLButtonElement | HTMLInputElement | HTMLSelectElement>(s);
    if (!e) throw new Error(`no ${s} on the page`);
    return e.disabled;
  }, selector);
const visible = (page: TestPage, selector: string) =>
  page.evaluate((s) => {
    const e = document.querySelector<HTMLElement>(s);
    return e !== null && e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden';
  }, selector);

/** Polls `expression` in the page until it is true; on timeout, fails with where the page stands. */
async function waitFor(page: TestPage, what: string, expression: string, timeout = 30_000): Promise<void> {
  const deadline = performance.now() + timeout;
  while (performance.now() < deadline) {
    if (await page.evaluate((e) => Boolean(new Function(`return (${e});`)()), expression)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  const state = await page.evaluate(() => ({ state: window.lenet?.state, step: window.lenet?.step, message: window.lenet?.message })).catch(() => null);
  assert.unreachable(`${what}: not within ${timeout / 1000} s (page: ${JSON.stringify(state)})`);
}

const pageProbabilities = (page: TestPage, indices: number[]) => page.evaluate((digits) => Promise.all(digits.map((d) => window.lenet.predict(d))), indices.map(digit));

async function downloaded(page: TestPage, button: string, filename: string): Promise<Uint8Array> {
  const file = await page.download(button);
  assert.is(file.filename, filename);
  return file.bytes;
}

/** Traces the ink of an MNIST image as horizontal mouse strokes on the drawing canvas, one per run of ink in a row. */
async function drawDigit(page: TestPage, pixels: number[]): Promise<void> {
  await page.click('#clear');
  const box = await page.evaluate(() => {
    const r = document.getElementById('pad')?.getBoundingClientRect();
    return r ? { x: r.x, y: r.y, width: r.width } : null;
  });
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
      await page.mouse.move(...at(end, y), 2);
      await page.mouse.up();
      x = end;
    }
  }
}

/** Opens the page and waits until it has tried the GPU and the data. */
async function open(page: TestPage, url: string): Promise<void> {
  await page.goto(url);
  await waitFor(page, 'window.lenet', 'window.lenet !== undefined', 10_000);
  await page.evaluate(() => window.lenet.ready);
}

// ------------------------------------------------------------ the tests, once per browser

function browserSuite(name: BrowserName): void {
  const test = suite(`demo page in ${name}`);
  const artifacts = join('test-artifacts', name);
  let server: StaticServer;
  let browser: TestBrowser;
  let page: TestPage;
  const pageErrors: string[] = [];
  let started = 0;
  const seconds = () => ((performance.now() - started) / 1000).toFixed(1);

  test.before(async () => {
    started = performance.now();
    mkdirSync(artifacts, { recursive: true });
    server = await serveStatic('dist/demo', 0);
    browser = await launchBrowser(name, (message) => pageErrors.push(message));
    console.log(`  ${browser.version}`);
    page = await browser.newPage();
    await open(page, server.url);
  });

  test.after(async () => {
    await browser?.close();
    await server?.close();
    rt?.destroy();
    rt = null;
    console.log(`  (${name}: ${seconds()} s)`);
  });

  test('the page finds a WebGPU adapter and the MNIST data', async () => {
    const s = await page.evaluate(() => ({ adapter: window.lenet.adapter, state: window.lenet.state, data: window.lenet.dataState, message: window.lenet.message }));
    assert.ok(s.adapter, `no adapter; the page says: ${s.message}`);
    assert.is(s.state, 'idle');
    assert.is(s.data, 'ready', `data: ${s.message}`);
    assert.is(s.message, null);
    const shown = await text(page, '#adapter');
    assert.match(shown, /^WebGPU adapter: \S/);
    assert.not.match(shown, /unknown/i, 'an adapter the browser does not name is described, not "unknown"');
    if (!s.adapter.vendor && !s.adapter.device && !s.adapter.description) {
      // Firefox tells the page nothing about the adapter: the page says so, and what it can learn.
      assert.match(shown, /the browser does not say which/);
      assert.match(shown, /invocations per workgroup/);
    }
    assert.is(await disabled(page, '#start'), false, 'Start is enabled');
    console.log(`  adapter: ${shown.replace(/^WebGPU adapter: /, '')} (${seconds()} s)`);
  });

  test('a file that is not a model is refused with a readable message', async () => {
    const bad = [
      { name: 'notes.safetensors', bytes: Buffer.from('these are my notes, not a model'), says: /notes\.safetensors: header length \d+ is larger than the \d+ bytes that follow it; truncated, or not a safetensors file/ },
      { name: 'cut.safetensors', bytes: readFileSync(FIXTURE).subarray(0, 4000), says: /cut\.safetensors: truncated file/ },
    ];
    for (const file of bad) {
      await page.setFile('#model-file', file.name, file.bytes);
      await waitFor(page, `an error for ${file.name}`, `window.lenet.message?.includes(${JSON.stringify(file.name)})`, 10_000);
      const shown = await text(page, '#message-text');
      assert.match(shown, /^Could not load the model: /);
      assert.match(shown, file.says);
      assert.ok(await visible(page, '#message.error'), 'shown as an error');
    }
    assert.is(await page.evaluate(() => window.lenet.hasModel), false, 'no model came of it');
    assert.is(await page.evaluate(() => window.lenet.state), 'idle');
  });

  test('the fixture model dropped on the page predicts as the Node engine does', async () => {
    const bytes = readFileSync(FIXTURE);
    // A drop event as the browser sends one, with the file in its DataTransfer.
    await page.evaluate((base64) => {
      const data = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
      const transfer = new DataTransfer();
      transfer.items.add(new File([data], 'lenet5-mnist.safetensors'));
      document.body.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
    }, bytes.toString('base64'));
    await waitFor(page, 'the dropped model loads', 'window.lenet.hasModel && window.lenet.message?.startsWith("Loaded")', 10_000);
    assert.match(await text(page, '#model-source'), /lenet5-mnist\.safetensors/);

    const indices = [0, 1, 2, 3, 4, 5, 6, 7];
    const inPage = await pageProbabilities(page, indices);
    const inNode = await nodeProbabilities(decodeModel(bytes, FIXTURE), indices);
    assertSame('fixture model', inPage, inNode);
    assert.equal(inPage.map(argmax), indices.map((i) => mnist.labels[i]), 'the fixture reads these digits right');
  });

  test('digits drawn with the mouse are read as their labels', async () => {
    for (const i of [0, 1, 3]) {
      await drawDigit(page, digit(i));
      const p = await page.evaluate(() => window.lenet.drawing());
      assert.ok(p, `test digit ${i}: no prediction for the drawing`);
      assert.is(argmax(p), mnist.labels[i], `test digit ${i} (a ${mnist.labels[i]}) drawn on the canvas was read as a ${argmax(p)}`);
      assert.is(await attribute(page, '#guess', 'data-digit'), String(mnist.labels[i]), 'the page shows the guess');
      assert.is(await text(page, '#bars li.best .digit'), String(mnist.labels[i]), 'the longest bar is the guess');
    }
  });

  test("the fixture model's filters are drawn, and the feature maps follow the digit drawn", async () => {
    await waitFor(page, 'the filters', 'document.querySelectorAll("#filters g.filter").length === 6', 10_000);
    const maps = [];
    for (const i of [0, 1]) {
      await drawDigit(page, digit(i));
      await page.evaluate(() => window.lenet.drawing());
      const m = await page.evaluate(() => window.lenet.featureMaps);
      assert.ok(m, `test digit ${i}: no feature maps`);
      assert.equal(
        m.map((x) => [x.name, x.values.length]),
        [
          ['pool1', 6 * 14 * 14],
          ['pool2', 16 * 5 * 5],
        ],
      );
      maps.push(m);
      assert.is(await count(page, '#maps g.feature-map'), 2, 'conv1 and conv2 drawn');
      assert.is(await count(page, '#maps g.channel'), 6 + 16, 'their channels');
    }
    assert.ok(differ(maps[0][0].values, maps[1][0].values), 'the feature maps changed with the digit');
    await page.screenshot(join(artifacts, 'demo-feature-maps.png'));
  });

  test('training through the form: the loss falls, the page stays responsive, pause and resume', async () => {
    await page.evaluate(() => window.lenet.reset());
    const recipe = { epochs: '1', batchSize: '8', limit: '2400', testLimit: '500' };
    for (const [field, v] of Object.entries(recipe)) await page.type(`input[name=${field}]`, v);
    for (const [field, v] of Object.entries(recipe)) assert.is(await value(page, `input[name=${field}]`), v, `typed into ${field}`);
    await page.click('#start');
    await waitFor(page, '60 steps', 'window.lenet.step >= 60', 60_000);
    await waitFor(page, 'a checkpoint kept in memory mid-epoch', 'window.lenet.checkpoint?.stepInEpoch > 0', 15_000);

    const t0 = performance.now();
    assert.is(await page.evaluate(() => window.lenet.state), 'training');
    const roundTrip = performance.now() - t0;
    assert.ok(roundTrip < 1000, `the page took ${roundTrip.toFixed(0)} ms to answer while training`);

    await page.click('#pause');
    await waitFor(page, 'the pause', 'window.lenet.state === "paused"', 15_000);
    const pausedAt = await page.evaluate(() => window.lenet.step);
    assert.ok(pausedAt < 300, `paused at step ${pausedAt}`);
    assert.is(await text(page, '#start'), 'Resume');
    await new Promise((r) => setTimeout(r, 500));
    assert.is(await page.evaluate(() => window.lenet.step), pausedAt, 'no steps while paused');

    await page.click('#start');
    await waitFor(page, 'the end of the epoch', 'window.lenet.state === "done"', 120_000);
    const r = await page.evaluate(() => ({ step: window.lenet.step, log: window.lenet.log, test: window.lenet.testAccuracy, speed: window.lenet.imagesPerSecond, epochs: window.lenet.epochs }));
    assert.is(r.step, 300, '2400 images in batches of 8');
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const first = mean(r.log.slice(0, 2).map((e) => e.loss));
    const last = mean(r.log.slice(-2).map((e) => e.loss));
    assert.ok(last < 0.6 * first, `loss went from ${first.toFixed(3)} to ${last.toFixed(3)}`);
    assert.ok(r.test !== null && r.test > 0.7, `test accuracy ${r.test}`);
    assert.ok(r.speed !== null && r.speed > 0, `images/s ${r.speed}`);
    assert.is(r.epochs.length, 1);
    assert.is(await count(page, '#chart polyline.train'), 2, 'loss and accuracy curves');
    assert.is(await count(page, '#chart circle.test-marker'), 2, 'test loss and accuracy markers');
    assert.match(await text(page, '#epochs'), /Epoch 1: test accuracy \d+\.\d\d%/);
    console.log(`  trained 300 steps: loss ${first.toFixed(3)} -> ${last.toFixed(3)}, test accuracy ${(100 * r.test!).toFixed(1)}%, ${r.speed!.toFixed(0)} images/s (${seconds()} s)`);

    await page.evaluate(() => window.lenet.drawing()); // the last digit drawn, read by the trained model
    await new Promise((r) => setTimeout(r, 300)); // one more render of the throttled view
    await page.screenshot(join(artifacts, 'demo.png'));

    // The test pass's confusion matrix, tallied on the GPU: 500 images, its trace the correct ones.
    const confusion = await page.evaluate(() => window.lenet.confusion);
    assert.ok(confusion, 'a confusion matrix after the epoch');
    assert.is(confusion.length, 10);
    const testLabels = mnist.labels.subarray(0, 500);
    assert.equal(
      confusion.map((row) => row.reduce((a, b) => a + b, 0)),
      Array.from({ length: 10 }, (_, c) => testLabels.filter((l) => l === c).length),
      'rows sum to the class counts of the 500 test images',
    );
    const trace = confusion.reduce((sum, row, c) => sum + row[c], 0);
    assert.is(trace, Math.round(r.test! * 500), 'the trace is the correct answers');
    assert.is(await count(page, '#confusion g.cell'), 100);
    // Pointing at a cell tells its count.
    const cell = await page.evaluate(() => {
      const g = document.querySelector('#confusion g.cell[data-true="3"][data-predicted="3"]');
      g?.scrollIntoView({ block: 'center' });
      const b = g?.querySelector('rect')?.getBoundingClientRect();
      return b ? { x: b.x + b.width / 2, y: b.y + b.height / 2 } : null;
    });
    assert.ok(cell, 'cell (3, 3) is drawn');
    await page.mouse.move(cell.x, cell.y);
    await waitFor(page, 'the hovered count', 'document.getElementById("confusion-cell").textContent.startsWith("true 3, predicted 3:")', 5_000);
    assert.match(await text(page, '#confusion-cell'), new RegExp(`^true 3, predicted 3: ${confusion[3][3]} image`));

    // The most confident mistakes; clicking one puts it on the pad.
    const mistakes = await page.evaluate(() => window.lenet.mistakes);
    assert.is(mistakes.length, Math.min(24, 500 - trace));
    for (const m of mistakes) assert.ok(m.predicted !== m.label && m.label === mnist.labels[m.index], `mistake ${m.index}`);
    for (let k = 1; k < mistakes.length; k++) assert.ok(mistakes[k - 1].probability >= mistakes[k].probability, 'the most confident first');
    assert.is(await count(page, '#mistakes g.mistake'), mistakes.length);
    const before = await page.evaluate(() => window.lenet.featureMaps);
    await page.click(`#mistakes g.mistake[data-index="${mistakes[0].index}"]`);
    await page.evaluate(() => window.lenet.drawing());
    const after = await page.evaluate(() => window.lenet.featureMaps);
    assert.ok(before && after && differ(before[0].values, after[0].values), 'the pad shows the mistake: its feature maps differ from the digit drawn before');
    await new Promise((r) => setTimeout(r, 300));
    await page.screenshot(join(artifacts, 'demo-confusion.png'));
  });

  test('the downloaded model loads in Node and predicts as the page does', async () => {
    const model = decodeModel(await downloaded(page, '#download', 'lenet5-page.safetensors'), 'downloaded model');
    assert.is(model.metadata.format, 'pt');
    const indices = [10, 11, 12, 13];
    assertSame('page-trained model', await pageProbabilities(page, indices), await nodeProbabilities(model, indices));
  });

  test('a lost GPU device is reported, and the page reopens one and keeps the model', async () => {
    const before = await pageProbabilities(page, [0]);
    await page.evaluate(() => window.lenet.loseDevice());
    await waitFor(page, 'a new device', 'window.lenet.message?.includes("has been reopened")', 30_000);
    assert.match(await text(page, '#message-text'), /The GPU device was lost and has been reopened/);
    assert.is(await page.evaluate(() => window.lenet.state), 'idle');
    assertSame('after the device was reopened', await pageProbabilities(page, [0]), before);
  });

  test('a model file names its network, and the page predicts and trains with that one', async () => {
    const fixture = decodeModel(readFileSync(FIXTURE), FIXTURE);
    const relu = { ...fixture, network: LENET5_RELU };
    const indices = [20, 21, 22, 23];
    const [asRelu, asLenet5] = [await nodeProbabilities(relu, indices), await nodeProbabilities(fixture, indices)];
    const apart = Math.max(...asRelu.flatMap((p, i) => p.map((v, k) => Math.abs(v - asLenet5[i][k]))));
    assert.ok(apart > ATOL, `the two networks must predict differently here (${apart})`);

    await page.evaluate(() => window.lenet.reset());
    assert.is(await value(page, 'select[name=arch]'), 'lenet5', 'the default network');
    const options = await page.evaluate(() => Array.from(document.querySelectorAll<HTMLOptionElement>('select[name=arch] option'), (o) => o.value));
    assert.equal(options, ['lenet5', 'lenet5-relu', 'lenet5-classic', 'lenet5-pad', 'lenet5-bn']);
    await page.setFile('#model-file', 'relu.safetensors', encodeModel(LENET5_RELU, fixture.params));
    await waitFor(page, 'the relu model loads', 'window.lenet.message?.startsWith("Loaded the model relu")', 10_000);
    assert.is(await page.evaluate(() => window.lenet.network), 'lenet5-relu');
    assert.is(await value(page, 'select[name=arch]'), 'lenet5-relu', "the form shows the file's network");
    // The form is redrawn on the page's next render (scheduleRender), a moment after the load.
    await waitFor(page, 'a loaded model fixes the network', 'document.querySelector("select[name=arch]").disabled', 5_000);
    assertSame('lenet5-relu model', await pageProbabilities(page, indices), asRelu);

    await page.evaluate((o) => window.lenet.train(o), { ...SMALL, arch: 'lenet5', epochs: 1, limit: 128 });
    const config = await page.evaluate(() => window.lenet.config);
    assert.is(config?.arch, 'lenet5-relu', 'a run from a loaded model trains its network');
    assert.is(await page.evaluate(() => window.lenet.state), 'done');
  });

  test('a network file chosen in the page trains, predicts and saves a model Node reads; a bad one is refused in the page', async () => {
    await page.evaluate(() => window.lenet.reset());
    const bad = { ...describeNetwork(EVERY_LAYER), name: 'broken', layers: [{ op: 'conv2d', name: 'c1', inChannels: 1, outChannels: 4, kernel: 3, stride: 0 }] };
    await page.setFile('#network-file', 'broken.json', Buffer.from(JSON.stringify(bad)));
    await waitFor(page, 'the bad network refused', 'window.lenet.message?.includes("broken.json")', 10_000);
    assert.is(await text(page, '#message-text'), 'Could not load the network: broken.json: layer 1 (conv2d "c1"): stride must be at least 1, got 0');
    assert.ok(await visible(page, '#message.error'), 'shown as an error');

    await page.setFile('#network-file', 'pagenet.json', Buffer.from(networkJson({ ...EVERY_LAYER, name: 'pagenet' })));
    await waitFor(page, 'the network loads', 'window.lenet.message?.startsWith("Loaded the network pagenet")', 10_000);
    assert.is(await value(page, 'select[name=arch]'), 'pagenet', 'the recipe names it');
    const summary = await text(page, '#network-summary');
    assert.match(summary, /^Net\(\n  \(c1\): Conv2d\(1, 4, kernel_size=\(3, 3\), stride=\(1, 1\), padding=\(1, 1\)\)/);
    assert.match(summary, /network: pagenet, input 1x28x28/);

    await page.evaluate((o) => window.lenet.train(o), { ...SMALL, arch: 'pagenet', epochs: 1, limit: 128, testLimit: 128 });
    assert.is(await page.evaluate(() => window.lenet.state), 'done');
    assert.is((await page.evaluate(() => window.lenet.config))?.arch, 'pagenet');
    const model = decodeModel(await downloaded(page, '#download', 'pagenet-page.safetensors'), 'pagenet-page.safetensors');
    assert.is(model.network.name, 'pagenet');
    assert.equal(describeNetwork(model.network), describeNetwork({ ...EVERY_LAYER, name: 'pagenet' }), 'the file records the network whole');
    const indices = [30, 31, 32];
    assertSame('a network file\'s model, page and Node', await pageProbabilities(page, indices), await nodeProbabilities(model, indices));
  });

  test('a checkpoint downloaded mid-run resumes in Node and ends bitwise as an uninterrupted Node run', async () => {
    void uninterrupted().catch(() => {}); // meanwhile; awaited below
    await page.evaluate(() => window.lenet.reset());
    // Pause from inside the page at the metrics read of step 4 (of 10 in epoch 1).
    const paused = await page.evaluate(async (o) => {
      const run = window.lenet.train(o);
      await new Promise<void>((resolve) => {
        const id = setInterval(() => {
          if (window.lenet.step < 4) return;
          clearInterval(id);
          resolve();
        }, 0);
      });
      await window.lenet.pause();
      await run;
      return { state: window.lenet.state, step: window.lenet.step, checkpoint: window.lenet.checkpoint, config: window.lenet.config };
    }, SMALL);
    assert.is(paused.state, 'paused');
    assert.ok(paused.checkpoint, 'a checkpoint is kept on pause');
    assert.is(paused.checkpoint.step, paused.step, 'the checkpoint is where the run paused');
    assert.ok(paused.checkpoint.epoch === 0 && paused.checkpoint.stepInEpoch > 0 && paused.checkpoint.stepInEpoch < 10, `paused during epoch 1: ${JSON.stringify(paused.checkpoint)}`);
    assert.equal({ ...paused.config, logEvery: 0 }, { ...DEFAULT_CONFIG, ...SMALL, logEvery: 0 }, 'the form edits a TrainConfig; what it lacks comes from the defaults');

    const bytes = await downloaded(page, '#download-checkpoint', 'lenet5-page.ckpt.safetensors');
    const c = decodeCheckpoint(bytes, 'downloaded checkpoint');
    assert.is(c.position.step, paused.step);
    assert.is(c.adam.step, paused.step);
    assert.ok(c.history.steps.length > 0, 'with its history');
    const viaApi = await page.evaluate(async () => Array.from(await window.lenet.checkpointFile()));
    assert.ok(Buffer.from(viaApi).equals(Buffer.from(bytes)), 'window.lenet.checkpointFile() gives the same bytes');

    const ckpt = join(tmp, `page-${name}.ckpt.safetensors`);
    writeFileSync(ckpt, bytes);
    const resumed = join(tmp, `a-${name}.safetensors`);
    await nodeTrain(['--resume', ckpt, '--out', resumed]);
    assertSameTensors('paused in the page at step ' + paused.step + ', finished by Node', readFileSync(resumed), await uninterrupted());
    console.log(`  page -> Node: bitwise equal (${seconds()} s)`);
  });

  test('a checkpoint from Node continues in the page, extended by an epoch, bitwise as Node', async () => {
    const out = join(tmp, `c-${name}.safetensors`);
    await nodeTrain([...SMALL_ARGS, '--epochs', '1', '--out', out]);
    const ckpt = join(tmp, `c-${name}.ckpt.safetensors`);
    const node = decodeCheckpoint(readFileSync(ckpt), ckpt);
    await page.setFile('#model-file', 'c.ckpt.safetensors', readFileSync(ckpt));
    await waitFor(page, 'the checkpoint loads', 'window.lenet.message?.startsWith("Loaded the checkpoint c.ckpt.safetensors")', 10_000);
    assert.is(await page.evaluate(() => window.lenet.state), 'paused');
    assert.is(await text(page, '#start'), 'Resume');
    assert.is(await page.evaluate(() => window.lenet.step), 10);
    assert.is(await value(page, 'input[name=limit]'), '640', "the form shows the checkpoint's recipe");
    assert.is(await value(page, 'input[name=seed]'), '5');
    assert.ok(await disabled(page, 'input[name=batchSize]'), 'which stays as it is');
    assert.is(await disabled(page, 'input[name=epochs]'), false, 'but for the epochs');
    assert.is(await count(page, '#chart circle.test-marker'), 2, "the checkpoint's history: its epoch's test loss and accuracy");

    await page.type('input[name=epochs]', '2');
    assert.is(await value(page, 'input[name=epochs]'), '2', 'typed into epochs');
    await page.click('#start');
    await waitFor(page, 'the second epoch', 'window.lenet.state === "done"', 60_000);
    const r = await page.evaluate(() => ({ step: window.lenet.step, epochs: window.lenet.epochs, config: window.lenet.config }));
    assert.is(r.step, 20);
    assert.is(r.config?.epochs, 2);
    assert.is(r.epochs.length, 2);
    assert.equal(r.epochs[0], node.history.epochs[0], "Node's first epoch stays in the history");
    assertSameTensors('started by Node, finished in the page', await downloaded(page, '#download', 'lenet5-page.safetensors'), await uninterrupted());
    console.log(`  Node -> page: bitwise equal (${seconds()} s)`);
  });

  test('a lost device mid-run resumes from the last checkpoint, Adam included, bitwise as Node', async () => {
    await page.evaluate(() => window.lenet.reset());
    // Lose the device at the first metrics read after the first checkpoint (epoch 1's end at the latest).
    const lost = await page.evaluate(async (o) => {
      void window.lenet.train(o).catch(() => {});
      await new Promise<void>((resolve) => {
        const id = setInterval(() => {
          const c = window.lenet.checkpoint;
          if (!c || window.lenet.step <= c.step) return;
          clearInterval(id);
          resolve();
        }, 0);
      });
      const at = { step: window.lenet.step, checkpoint: window.lenet.checkpoint! };
      window.lenet.loseDevice();
      return at;
    }, SMALL);
    assert.ok(lost.step < 20, `lost at step ${lost.step}, before the end`);
    await waitFor(page, 'a new device', 'window.lenet.message?.includes("has been reopened")', 30_000);
    const shown = await text(page, '#message-text');
    assert.match(shown, new RegExp(`Resume continues from the checkpoint at step ${lost.checkpoint.step}, with Adam's state`), `the page says: ${shown}`);
    const reopened = await page.evaluate(() => ({ state: window.lenet.state, step: window.lenet.step, checkpoint: window.lenet.checkpoint, log: window.lenet.log }));
    assert.is(reopened.state, 'paused');
    assert.is(reopened.step, lost.checkpoint.step, 'the page shows where the run resumes');
    assert.equal(reopened.checkpoint, lost.checkpoint);
    assert.is(await text(page, '#start'), 'Resume');

    await page.click('#start');
    await waitFor(page, 'the end of the resumed run', 'window.lenet.state === "done"', 60_000);
    const log = (await page.evaluate(() => window.lenet.log)).slice(reopened.log.length);
    assert.ok(log.length > 0 && log[0].step > lost.checkpoint.step, `Adam's step continues: ${log.map((e) => e.step)} after ${lost.checkpoint.step}`);
    assert.is(await page.evaluate(() => window.lenet.step), 20);
    assertSameTensors(`device lost at step ${lost.step}, resumed from step ${lost.checkpoint.step}`, await downloaded(page, '#download', 'lenet5-page.safetensors'), await uninterrupted());
    console.log(`  lost at step ${lost.step}, resumed from ${lost.checkpoint.step}: bitwise equal (${seconds()} s)`);
  });

  test('a failed data download is shown, and Retry recovers without a reload', async () => {
    const second = await browser.newPage();
    await second.failRequests('/data/train-images-idx3-ubyte.gz');
    await open(second, server.url);
    assert.is(await second.evaluate(() => window.lenet.dataState), 'failed');
    const shown = await text(second, '#message-text');
    assert.match(shown, /^The MNIST data could not be downloaded: downloading train-images-idx3-ubyte\.gz failed/);
    assert.not.match(shown, /\.\./, `no doubled period: ${shown}`);
    assert.ok(await disabled(second, '#start'), 'no training without data');
    await second.failRequests(null);
    await second.click('#message-action');
    await waitFor(second, 'the data after Retry', 'window.lenet.dataState === "ready"', 30_000);
    await waitFor(second, 'Start enabled', '!document.getElementById("start").disabled', 5_000);
    await second.close();
  });

  test('without WebGPU the page says so, and how to get it', async () => {
    const other = await browser.newPage({ webgpu: false });
    await open(other, server.url);
    assert.is(await other.evaluate(() => window.lenet.state), 'no-gpu');
    assert.match(await text(other, '#adapter'), /^No WebGPU/);
    const shown = await text(other, '#message-text');
    assert.match(shown, /^This browser has no WebGPU\. Use a current Chrome, Edge, Safari or Firefox/);
    assert.match(shown, /--enable-unsafe-webgpu/, 'what Chromium needs');
    assert.match(shown, /dom\.webgpu\.enabled/, 'what Firefox needs');
    assert.match(shown, /gfx\.webgpu\.ignore-blocklist/, 'and without a GPU');
    assert.ok(await disabled(other, '#start'), 'no training without WebGPU');
    await other.screenshot(join(artifacts, 'demo-no-webgpu.png'));
    await other.close();
  });

  test('no uncaught errors in the page', () => {
    assert.equal(pageErrors, []);
  });

  test.run();
}

const chosen = (process.env.LENET_TEST_BROWSERS ?? BROWSERS.join(',')).split(',').filter(Boolean);
const required = (process.env.LENET_REQUIRE_BROWSERS ?? '').split(',').filter(Boolean);
const running: string[] = [];
for (const name of [...new Set([...chosen, ...required])] as BrowserName[]) {
  if (!BROWSERS.includes(name)) throw new Error(`LENET_TEST_BROWSERS/LENET_REQUIRE_BROWSERS: unknown browser "${name}" (known: ${BROWSERS.join(', ')})`);
  const missing = browserMissing(name);
  if (!missing) {
    running.push(name);
    browserSuite(name);
  } else if (required.includes(name)) {
    const test = suite(`demo page in ${name}`);
    test(`${name} is required (LENET_REQUIRE_BROWSERS)`, () => assert.unreachable(missing));
    test.run();
  } else {
    console.warn(`browser tests in ${name} skipped: ${missing}`);
  }
}
// scripts/test.mjs reads this line for its summary.
console.log(`browsers run: ${running.join(', ') || 'none'}`);
