// The engine's training speed, measured the same way in every runtime: the real
// trainer on MNIST, warm-up steps apart, then a number of timed steps.
import type { Network } from '../model/network';
import type { MnistSplit } from '../data/mnist';
import type { Runtime } from '../gpu/runtime';
import { DEFAULT_CONFIG } from '../train/options';
import { Trainer } from '../train/trainer';

export const WARM_UP = 20;

export interface EngineRun {
  setupSeconds: number;
  imagesPerSecond: number;
  msPerStep: number;
  /**
   * The process's CPU time over the timed steps' wall time, all threads together (on the
   * CPU adapters, the cores the step keeps busy); absent where the runtime cannot tell.
   */
  coresBusy?: number;
}

/** The process's CPU time so far in seconds (Node and Deno), or null. */
function cpuSeconds(): number | null {
  const usage = globalThis.process?.cpuUsage?.();
  return usage ? (usage.user + usage.system) / 1e6 : null;
}

export async function benchEngine(rt: Runtime, network: Network, train: MnistSplit, batchSize: number, steps: number): Promise<{ run: EngineRun; trainer: Trainer }> {
  const config = { ...DEFAULT_CONFIG, arch: network.name, batchSize, limit: (steps + WARM_UP + 1) * batchSize, epochs: 1, logEvery: 1e9 };
  const t0 = performance.now();
  const trainer = await Trainer.create(rt, config, train, null, { network });
  let taken = 0;
  await trainer.trainEpoch({ shouldStop: () => taken++ === WARM_UP });
  await rt.sync();
  const setupSeconds = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  const cpu1 = cpuSeconds();
  taken = 0;
  await trainer.trainEpoch({ shouldStop: () => taken++ === steps });
  await rt.sync();
  const seconds = (performance.now() - t1) / 1000;
  const cpu2 = cpuSeconds();
  const run: EngineRun = { setupSeconds, imagesPerSecond: (steps * batchSize) / seconds, msPerStep: (1000 * seconds) / steps };
  if (cpu1 !== null && cpu2 !== null) run.coresBusy = (cpu2 - cpu1) / seconds;
  return { run, trainer };
}

