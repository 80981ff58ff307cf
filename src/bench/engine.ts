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
  taken = 0;
  await trainer.trainEpoch({ shouldStop: () => taken++ === steps });
  await rt.sync();
  const seconds = (performance.now() - t1) / 1000;
  return { run: { setupSeconds, imagesPerSecond: (steps * batchSize) / seconds, msPerStep: (1000 * seconds) / steps }, trainer };
}

