// npm run bench: training throughput of this engine and of TensorFlow.js
// (tfjs-backend-webgpu) on the very same Dawn adapter, in one run, on real MNIST
// batches; set-up (pipeline compilation) apart from steady state; the share of a step
// spent in each kernel; results appended to a JSON file.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { readFile } from 'node:fs/promises';
import { benchEngine, WARM_UP, type EngineRun } from '../bench/engine';
import { profile, profileTable, profileTimestamps, type DispatchTime } from '../bench/profile';
import { driverVersion } from '../gpu/device';
import { dawn, type AdapterChoice } from '../gpu/node';
import type { Network } from '../model/network';
import { DEFAULT_CONFIG } from '../train/options';
import { checkDistinct, checkOutput, fileError, writeFileAtomic } from '../util/files';
import { parseOptions, positiveInt } from './shared/args';
import { archOption, describe, lockOutputs, openRuntime, readSplits, run } from './shared/common';

const HELP = `usage: npm run bench -- [--adapter NAME] [--arch NAME|FILE.json] [--steps N] [--rounds N] [--tfjs-steps N] [--batch-size N] [--no-tfjs] [--no-deno] [--no-pytorch] [--json FILE]

Trains a network (--arch, default lenet5) on MNIST with this engine in Node (Dawn), then
in Deno (wgpu) on the same kind of adapter (where Deno is installed and has one), then
with PyTorch on the CPU (where a python3 imports torch; PYTHON names one), then with
TensorFlow.js's WebGPU backend on the same Dawn adapter, for --steps steps (default 200, after 20 warm-up steps) and
--tfjs-steps steps (default 20, after 3: it is 10-30x slower),
and prints images/s for each and their ratio, set-up time apart, the cores the
engine keeps busy, and the share of a step spent in each kernel (timestamp queries
where the adapter has them). The engine and PyTorch then run again, one after the
other, for --rounds in all (default 3): a CPU shared with other work swings by 2x
between runs, so the ratio printed last is the median of the rounds' ratios, each
from two runs seconds apart. Results go to --json FILE (default bench/results.json),
one entry per adapter, with the driver's version and the tuning.`;

const DENO = 'node_modules/.bin/deno';

/** The same measurement in Deno (wgpu), on the same kind of adapter, in a process of its own. */
function benchDeno(kind: string, arch: string, batchSize: number, steps: number): { adapter: string; engine: EngineRun } | { skipped: string } {
  if (!existsSync(DENO)) return { skipped: `${DENO} is missing (npm install brings it)` };
  if (!['llvmpipe', 'swiftshader', 'hardware'].includes(kind)) return { skipped: `Deno has no twin of ${kind}` };
  const args = ['run', '-A', 'dist/deno/cli/bench-engine.js', '--adapter', kind, '--arch', arch, '--batch-size', String(batchSize), '--steps', String(steps)];
  const r = spawnSync(DENO, args, { encoding: 'utf8' });
  if (r.status !== 0) return { skipped: r.stderr.split('\n').find((l) => l.startsWith('error')) ?? `deno exited with ${r.status}` };
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
}

/** The engine again in a process of its own (Node), as a later round beside PyTorch. */
function benchNode(kind: string, arch: string, batchSize: number, steps: number): EngineRun | null {
  const args = ['dist/cli/bench-engine.js', '--adapter', kind, '--arch', arch, '--batch-size', String(batchSize), '--steps', String(steps)];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
  return r.status === 0 ? (JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { engine: EngineRun }).engine : null;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

interface TorchRun {
  torch: string;
  threads: number;
  setupSeconds: number;
  imagesPerSecond: number;
  msPerStep: number;
}

/**
 * The same network and recipe in PyTorch on the CPU (bench/pytorch_bench.py), with
 * the first python3 that imports torch: $PYTHON, python3, /usr/bin/python3.
 */
function benchPytorch(network: Network, batchSize: number, steps: number): TorchRun | { skipped: string } {
  const candidates = [process.env.PYTHON, 'python3', '/usr/bin/python3'].filter((p): p is string => !!p);
  const python = candidates.find((p) => spawnSync(p, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0);
  if (!python) return { skipped: `no python3 imports torch (tried ${candidates.join(', ')}; Debian: apt install python3-torch)` };
  const args = ['bench/pytorch_bench.py', '-', '--steps', String(steps), '--warm-up', String(WARM_UP), '--batch', String(batchSize)];
  const r = spawnSync(python, args, { input: JSON.stringify(network), encoding: 'utf8' });
  if (r.status !== 0) return { skipped: `${python} bench/pytorch_bench.py failed: ${r.stderr.trim().split('\n').at(-1)}` };
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
}

function printProfile(rows: DispatchTime[], method: string): void {
  console.log(`\neach dispatch of a step (${method}):`);
  for (const line of profileTable(rows)) console.log(`  ${line}`);
}

/**
 * The results file bench appends to: one object with an entry per adapter kind
 * (bench/results.json), or none yet. Anything else is refused, naming the file.
 */
async function readResults(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw fileError(path, 'read (--json)', err);
  }
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`${path} (--json): not JSON (${(err as Error).message}); bench adds its results to an object of them, one per adapter`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const kind = value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
    throw new Error(`${path} (--json): holds ${kind}, not an object: bench adds its results to an object of them, one per adapter (as bench/results.json); give another file`);
  }
  return value as Record<string, unknown>;
}

async function main(): Promise<number> {
  const { values: o } = parseOptions({
    options: {
      adapter: { type: 'string' },
      arch: { type: 'string', default: DEFAULT_CONFIG.arch },
      steps: { type: 'string', default: '200' },
      rounds: { type: 'string', default: '3' },
      'tfjs-steps': { type: 'string', default: '20' },
      'batch-size': { type: 'string', default: String(DEFAULT_CONFIG.batchSize) },
      'no-tfjs': { type: 'boolean', default: false },
      'no-deno': { type: 'boolean', default: false },
      'no-pytorch': { type: 'boolean', default: false },
      json: { type: 'string', default: 'bench/results.json' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (o.help) {
    console.log(HELP);
    return 0;
  }
  const steps = positiveInt(o.steps!, '--steps');
  const rounds = positiveInt(o.rounds!, '--rounds');
  const tfjsSteps = positiveInt(o['tfjs-steps']!, '--tfjs-steps');
  const batchSize = positiveInt(o['batch-size']!, '--batch-size');
  const network = archOption(o.arch!);
  // Where the results go, and what is there already, is checked before minutes of benchmarking.
  if (o.arch!.endsWith('.json')) checkDistinct([{ path: o.arch!, what: 'the --arch network file' }], [{ path: o.json!, what: '--json' }]);
  await checkOutput(o.json!, '--json');
  await readResults(o.json!);
  lockOutputs([[o.json!, '--json']]);
  const { train } = readSplits(undefined, false);
  const rt = await openRuntime(o.adapter);
  const kind = rt.gpu.kind as Exclude<AdapterChoice, 'auto'>;
  const driver = driverVersion(rt.adapter);
  console.log(`adapter: ${describe(rt)}\ntuning: ${JSON.stringify(rt.tuning)}${process.env.LP_NUM_THREADS ? `; Mesa's threads (LP_NUM_THREADS): ${process.env.LP_NUM_THREADS}` : ''}\n${network.name}, batch ${batchSize}, Adam, MNIST; ${WARM_UP} warm-up steps, then ${steps} timed`);

  const { run: engine, trainer } = await benchEngine(rt, network, train!, batchSize, steps);
  const list = await trainer.stepDispatches(batchSize);
  const busy = engine.coresBusy === undefined ? '' : `, ${engine.coresBusy.toFixed(2)} of ${availableParallelism()} cores busy`;
  console.log(`\nlenet-webgpu:   ${engine.imagesPerSecond.toFixed(0).padStart(6)} images/s  (${engine.msPerStep.toFixed(1)} ms/step, ${list.length} dispatches per step${busy}; set-up and warm-up ${engine.setupSeconds.toFixed(2)} s)`);
  const stamped = await profileTimestamps(rt, list);
  const rows = stamped ?? (await profile(rt, list));
  rt.destroy();

  const deno = o['no-deno'] ? null : benchDeno(kind, o.arch!, batchSize, steps);
  if (deno && 'engine' in deno) {
    const ratio = deno.engine.imagesPerSecond / engine.imagesPerSecond;
    console.log(`  in Deno:      ${deno.engine.imagesPerSecond.toFixed(0).padStart(6)} images/s  (wgpu on ${deno.adapter}; ${ratio.toFixed(2)} of Node's; set-up and warm-up ${deno.engine.setupSeconds.toFixed(2)} s)`);
  } else if (deno) {
    console.log(`  in Deno:      not run: ${deno.skipped}`);
  }

  let tfjs: { setupSeconds: number; imagesPerSecond: number; finalLoss: number } | null = null;
  if (!o['no-tfjs']) {
    // Imported here so that a run without it does not load TensorFlow.js at all.
    const { trainTfjs, useDawn } = await import('../bench/tfjs-net');
    const d = dawn(kind)!;
    await useDawn(d.gpu, d.featureLevel);
    tfjs = await trainTfjs(network, train!, batchSize, 3, tfjsSteps);
    console.log(`TensorFlow.js:  ${tfjs.imagesPerSecond.toFixed(0).padStart(6)} images/s  (tfjs-backend-webgpu 4.22.0, ${tfjsSteps} steps; set-up and warm-up ${tfjs.setupSeconds.toFixed(2)} s)`);
    console.log(`ratio:          ${(engine.imagesPerSecond / tfjs.imagesPerSecond).toFixed(1)}x`);
  }
  const torch = o['no-pytorch'] ? null : benchPytorch(network, batchSize, steps);
  if (torch && 'imagesPerSecond' in torch) {
    console.log(
      `PyTorch (CPU):  ${torch.imagesPerSecond.toFixed(0).padStart(6)} images/s  (torch ${torch.torch}, ${torch.threads} threads, the same network and recipe)\n` +
        `engine/PyTorch: ${(engine.imagesPerSecond / torch.imagesPerSecond).toFixed(2)}`,
    );
  } else if (torch) {
    console.log(`PyTorch:        not run: ${torch.skipped}`);
  }
  // More rounds, engine then PyTorch: the ratio as the median of theirs.
  const ratios: { engine: number; pytorch: number; ratio: number }[] = [];
  if (torch && 'imagesPerSecond' in torch) {
    ratios.push({ engine: engine.imagesPerSecond, pytorch: torch.imagesPerSecond, ratio: engine.imagesPerSecond / torch.imagesPerSecond });
    for (let r = 2; r <= rounds; r++) {
      const e = benchNode(kind, o.arch!, batchSize, steps);
      const t = benchPytorch(network, batchSize, steps);
      if (!e || !('imagesPerSecond' in t)) break;
      ratios.push({ engine: e.imagesPerSecond, pytorch: t.imagesPerSecond, ratio: e.imagesPerSecond / t.imagesPerSecond });
    }
    if (ratios.length > 1) {
      console.log(`\nrounds (engine, PyTorch, ratio): ${ratios.map((x) => `${x.engine.toFixed(0)}/${x.pytorch.toFixed(0)} = ${x.ratio.toFixed(2)}`).join('; ')}`);
      console.log(`engine/PyTorch, median of ${ratios.length} rounds: ${median(ratios.map((x) => x.ratio)).toFixed(2)}`);
    }
  }
  printProfile(rows, stamped ? 'GPU timestamps, each dispatch in its own pass' : 'host timing of isolated dispatches');

  const results = await readResults(o.json!);
  results[kind] = {
    date: new Date().toISOString(),
    adapter: rt.adapter,
    driver,
    tuning: rt.tuning,
    // Mesa's threads (src/gpu/device.ts: llvmpipeThreads), where this process set them.
    mesaThreads: process.env.LP_NUM_THREADS ?? null,
    batchSize,
    steps,
    engine,
    dispatchesPerStep: list.length,
    deno: deno && 'engine' in deno ? deno : null,
    pytorch: torch && 'imagesPerSecond' in torch ? torch : null,
    tfjs: tfjs && { ...tfjs, steps: tfjsSteps },
    ratio: tfjs ? engine.imagesPerSecond / tfjs.imagesPerSecond : null,
    pytorchRounds: ratios,
    pytorchRatio: ratios.length ? median(ratios.map((x) => x.ratio)) : null,
    profile: { method: stamped ? 'timestamp-query' : 'host', rows },
  };
  await writeFileAtomic(o.json!, JSON.stringify(results, null, 1) + '\n');
  console.log(`\nwritten to ${o.json}`);
  return 0;
}

run(main);
