// npm run bench:page: the page's training throughput in headless Chromium against the
// Node trainer's on the same kind of adapter: Chromium without a GPU runs WebGPU on
// SwiftShader, so Node runs on its SwiftShader adapter too. Node is timed here the way
// dist/cli/bench.js times it (the Trainer, no metrics reads, 20 warm-up steps, then
// the timed steps and a sync); the page as a user runs it, through
// window.lenet.train, reading metrics as often as it does for its curves.
import { fileURLToPath } from 'node:url';
import type { MnistSplit } from '../data/mnist';
import { DEFAULT_CONFIG } from '../train/options';
import { Trainer } from '../train/trainer';
import { parseOptions, positiveInt } from './shared/args';
import { launchChromium } from './shared/chromium';
import { describe, openRuntime, readSplits, run } from './shared/common';
import { serveStatic } from './shared/serve';

const HELP = `usage: npm run bench:page -- [--steps N] [--batch-size N] [--repeat N] [--adapter NAME]

Trains --steps steps (default 200, after 20 warm-up steps) in the demo page in
headless Chromium, with its live pictures (the filters, and the feature maps of a
digit on the pad) on and off, and in Node, --repeat times each (default 2,
alternating; the median counts), and prints images/s and their ratios. About 8
minutes on SwiftShader.
  --adapter NAME   Node's adapter (default swiftshader, what headless Chromium uses without a GPU)`;

const WARM_UP = 20;

async function main(): Promise<number> {
  const { values: o } = parseOptions({
    options: {
      steps: { type: 'string', default: '200' },
      'batch-size': { type: 'string', default: '64' },
      repeat: { type: 'string', default: '2' },
      adapter: { type: 'string', default: 'swiftshader' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (o.help) {
    console.log(HELP);
    return 0;
  }
  const steps = positiveInt(o.steps!, '--steps');
  const batch = positiveInt(o['batch-size']!, '--batch-size');
  const repeat = positiveInt(o.repeat!, '--repeat');
  const { train } = readSplits(undefined, false);
  const root = fileURLToPath(new URL('../demo/', import.meta.url));
  const server = await serveStatic(root, 0);
  const browser = await launchChromium();
  try {
    const page = browser.page;
    await page.goto(server.url);
    await page.waitForFunction(() => window.lenet !== undefined);
    await page.evaluate(() => window.lenet.ready);
    const state = await page.evaluate(() => ({ adapter: window.lenet.adapter?.name, data: window.lenet.dataState, message: window.lenet.message }));
    if (!state.adapter || state.data !== 'ready') throw new Error(`the page is not ready: ${state.message}`);
    console.log(`page: headless Chromium, adapter ${state.adapter}; Node: --adapter ${o.adapter}; ${steps} steps of ${batch} after ${WARM_UP} warm-up steps`);

    // A digit on the pad, so that its feature maps are redrawn as the weights change,
    // as they are for a user who draws while the page trains.
    const digit = Array.from(train!.images.subarray(0, 784));
    const pageRate = (live: boolean) =>
      page.evaluate(
        async ({ steps, batch, warmUp, live, digit }) => {
          const lenet = window.lenet;
          await lenet.reset();
          lenet.livePictures = live;
          lenet.showDigit(digit);
          const drawn = lenet.filtersShown;
          await lenet.train({ epochs: 1, batchSize: batch, limit: (warmUp + steps) * batch, testLimit: 1, lr: 1e-3, hflip: false });
          const log = lenet.log;
          const from = log.find((e) => e.step >= warmUp)!;
          const to = log[log.length - 1];
          return { rate: ((to.step - from.step) * batch * 1000) / (to.time - from.time), filters: lenet.filtersShown - drawn };
        },
        { steps, batch, warmUp: WARM_UP, live, digit },
      );
    const nodeRuns: number[] = [];
    const pageRuns: number[] = [];
    const quietRuns: number[] = [];
    for (let i = 0; i < repeat; i++) {
      const node = await nodeImagesPerSecond(o.adapter!, train!, steps, batch);
      nodeRuns.push(node);
      const inPage = await pageRate(true);
      const quiet = await pageRate(false);
      pageRuns.push(inPage.rate);
      quietRuns.push(quiet.rate);
      console.log(
        `  run ${i + 1}: Node ${node.toFixed(0)} images/s; page ${inPage.rate.toFixed(0)} images/s with its pictures live (filters drawn ${inPage.filters} times), ${quiet.rate.toFixed(0)} without`,
      );
    }
    const nodeRate = median(nodeRuns);
    const pageLive = median(pageRuns);
    const pageQuiet = median(quietRuns);
    console.log(`Node (the Trainer, --adapter ${o.adapter}):  ${nodeRate.toFixed(0)} images/s`);
    console.log(`page (headless Chromium, ${state.adapter}), pictures live:  ${pageLive.toFixed(0)} images/s`);
    console.log(`page, pictures off while training:  ${pageQuiet.toFixed(0)} images/s`);
    console.log(`page / Node: ${(pageLive / nodeRate).toFixed(2)} (target >= 0.9)`);
    console.log(`live pictures / none: ${(pageLive / pageQuiet).toFixed(3)} (target >= 0.95: they slow training by at most 5%)`);
    return 0;
  } finally {
    await browser.close();
    await server.close();
  }
}

/** The Node trainer's images/s, timed as dist/cli/bench.js does. */
async function nodeImagesPerSecond(adapter: string, train: MnistSplit, steps: number, batch: number): Promise<number> {
  const rt = await openRuntime(adapter);
  try {
    if (!nodeAdapter) console.log(`Node: ${(nodeAdapter = describe(rt))}`);
    const config = { ...DEFAULT_CONFIG, batchSize: batch, limit: (steps + WARM_UP) * batch, epochs: 1, logEvery: 1e9 };
    const trainer = await Trainer.create(rt, config, train, null);
    let taken = 0;
    await trainer.trainEpoch({ shouldStop: () => taken++ === WARM_UP });
    await rt.sync();
    const t0 = performance.now();
    taken = 0;
    await trainer.trainEpoch({ shouldStop: () => taken++ === steps });
    await rt.sync();
    return (steps * batch * 1000) / (performance.now() - t0);
  } finally {
    rt.destroy();
  }
}

let nodeAdapter = '';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

run(main);
