/**
 * A training checkpoint: one safetensors file holding the model's tensors (named as
 * in a saved model, so PyTorch can read the weights straight out of it), Adam's two
 * moments as `adam.exp_avg.<name>` and `adam.exp_avg_sq.<name>`, and in its string
 * metadata the step, epochs completed, seed, RNG state and the run's config: all a
 * resumed run needs to continue exactly where this one stopped.
 */
import { readFile } from 'node:fs/promises';
import { SLOTS } from '../model/parameters';
import { decodeSafetensors, encodeSafetensors, flatFromTensors, rejectExtraTensors, tensorsFromFlat, writeFileAtomic } from '../model/safetensors';

export const CHECKPOINT_FORMAT = 'lenet-webgpu-checkpoint-1';
const EXP_AVG = 'adam.exp_avg.';
const EXP_AVG_SQ = 'adam.exp_avg_sq.';
const NAMES: ReadonlySet<string> = new Set(['', EXP_AVG, EXP_AVG_SQ].flatMap((prefix) => SLOTS.map((s) => prefix + s.name)));

export interface Checkpoint {
  /** Parameters, then Adam's first and second moments, all in the FLAT_LENGTH layout. */
  flat: Float32Array;
  expAvg: Float32Array;
  expAvgSq: Float32Array;
  /** Optimizer steps taken (Adam's bias correction needs it). */
  step: number;
  /** Epochs completed. */
  epoch: number;
  seed: number;
  /** Rng.state: four u32 words. */
  rngState: number[];
  config: Record<string, unknown>;
}

export async function saveCheckpoint(path: string, c: Checkpoint): Promise<void> {
  checkCounts(c, `${path}: checkpoint`);
  const tensors = [...tensorsFromFlat(c.flat), ...tensorsFromFlat(c.expAvg, EXP_AVG), ...tensorsFromFlat(c.expAvgSq, EXP_AVG_SQ)];
  const metadata = {
    format: CHECKPOINT_FORMAT,
    step: String(c.step),
    epoch: String(c.epoch),
    seed: String(c.seed),
    rng_state: JSON.stringify(c.rngState),
    config: JSON.stringify(c.config),
  };
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

export async function loadCheckpoint(path: string): Promise<Checkpoint> {
  const { tensors, metadata } = decodeSafetensors(await readFile(path), path);
  checkFormat(metadata, [...tensors.keys()].some((name) => name.startsWith('adam.')), path);
  rejectExtraTensors(tensors, NAMES, path);
  const c: Checkpoint = {
    flat: flatFromTensors(tensors, path),
    expAvg: flatFromTensors(tensors, path, EXP_AVG),
    expAvgSq: flatFromTensors(tensors, path, EXP_AVG_SQ),
    step: integer(metadata, 'step', path),
    epoch: integer(metadata, 'epoch', path),
    seed: integer(metadata, 'seed', path),
    rngState: parseJson(metadata, 'rng_state', path) as number[],
    config: parseJson(metadata, 'config', path) as Record<string, unknown>,
  };
  checkCounts(c, `${path}: checkpoint metadata`);
  if (typeof c.config !== 'object' || c.config === null || Array.isArray(c.config)) {
    throw new Error(`${path}: checkpoint metadata "config" is not a JSON object`);
  }
  return c;
}

/** A saved model has no Adam tensors (whatever its metadata): say how to start from it instead. */
function checkFormat(metadata: Record<string, string>, hasAdam: boolean, path: string): void {
  if (metadata.format === CHECKPOINT_FORMAT) return;
  if (!hasAdam) throw new Error(`${path}: is a model, not a checkpoint; use --init to start training from its weights`);
  const found = metadata.format === undefined ? 'has no "format" metadata' : `has format "${metadata.format}"`;
  throw new Error(`${path}: not a training checkpoint: ${found}, expected "${CHECKPOINT_FORMAT}"`);
}

function field(metadata: Record<string, string>, key: string, path: string): string {
  const value = metadata[key];
  if (value === undefined) throw new Error(`${path}: checkpoint metadata has no "${key}"`);
  return value;
}

/** Strictly digits: Number() would also take "", " 7" and "1e3". */
function integer(metadata: Record<string, string>, key: string, path: string): number {
  const text = field(metadata, key, path);
  if (!/^-?\d+$/.test(text)) throw new Error(`${path}: checkpoint metadata "${key}" is "${text}", expected an integer`);
  return Number(text);
}

function parseJson(metadata: Record<string, string>, key: string, path: string): unknown {
  const text = field(metadata, key, path);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${path}: metadata "${key}" is not valid JSON (${(err as Error).message})`);
  }
}

/** The same checks on the way out and on the way in, so a bad value is never written. */
function checkCounts(c: Checkpoint, where: string): void {
  for (const [key, value] of Object.entries({ step: c.step, epoch: c.epoch })) {
    if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${where} "${key}" is ${value}, expected a non-negative integer`);
  }
  // Any integer seed: Rng takes it modulo 2^32, and the run's own value is what to record.
  if (!Number.isSafeInteger(c.seed)) throw new Error(`${where} "seed" is ${c.seed}, expected an integer`);
  const words = c.rngState;
  const ok = Array.isArray(words) && words.length === 4 && words.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffffffff);
  if (!ok) throw new Error(`${where} "rng_state" is ${JSON.stringify(words)}, expected 4 unsigned 32-bit integers`);
}
