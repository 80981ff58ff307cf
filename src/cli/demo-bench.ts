// npm run bench:page: the page's training throughput in headless Chromium against the
// Node trainer's on the same kind of adapter: Chromium without a GPU runs WebGPU on
// SwiftShader, so Node runs on its SwiftShader adapter too. Node is timed here the way
// dist/cli/bench.js times it (the Trainer, no metrics reads, 20 warm-up steps, then
// the timed steps and a sync); the page as a user runs it, through
// window.lenet.train, reading metrics as often as it does for its curves.
import { fileURLToPath } from 'node:url';
import type { MnistSplit } from '../data/mnist';
import { DEFAULT_CONFIG, Trainer } from '../train/trainer';
import { parseOptions, positiveInt } from './shared/args';
import { launchChromium } from './shared/chromium';
import { describe, openRuntime, readSplits, run } from './shared/common';
import { serveStatic } from './shared/serve';

const HELP = `usage: npm run bench:page -- [--steps N] [--batch-size N] [--repeat N] [--adapter NAME]

Trains --steps steps (default 200, after 20 warm-up steps) in the demo page in
headless Chromium and in Node, --repeat times each (default 2, alternating; the
median counts), and prints images/s and their ratio. About 5 minutes on SwiftShader.
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

    const nodeRuns: number[] = [];
    const pageRuns: number[] = [];
    for (let i = 0; i < repeat; i++) {
      const node = await nodeImagesPerSecond(o.adapter!, train!, steps, batch);
      nodeRuns.push(node);
      const inPage = await page.evaluate(
        async ({ steps, batch, warmUp }) => {
          const lenet = window.lenet;
          await lenet.reset();
          await lenet.train({ epochs: 1, batchSize: batch, limit: (warmUp + steps) * batch, testLimit: 1, lr: 1e-3, hflip: false });
          const log = lenet.log;
          const from = log.find((e) => e.step >= warmUp)!;
          const to = log[log.length - 1];
          return ((to.step - from.step) * batch * 1000) / (to.time - from.time);
        },
        { steps, batch, warmUp: WARM_UP },
      );
      pageRuns.push(inPage);
      console.log(`  run ${i + 1}: Node ${node.toFixed(0)} images/s, page ${inPage.toFixed(0)} images/s`);
    }
    const nodeRate = median(nodeRuns);
    const pageRate = median(pageRuns);
    console.log(`Node (the Trainer, --adapter ${o.adapter}):  ${nodeRate.toFixed(0)} images/s`);
    console.log(`page (headless Chromium, ${state.adapter}):  ${pageRate.toFixed(0)} images/s`);
    console.log(`page / Node: ${(pageRate / nodeRate).toFixed(2)} (target >= 0.9)`);
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
