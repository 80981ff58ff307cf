/**
 * A training checkpoint: one safetensors file holding the model's tensors (named as
 * in a saved model, so PyTorch can read the weights straight out of it), Adam's two
 * moments as `adam.exp_avg.<name>` and `adam.exp_avg_sq.<name>`, and in its string
 * metadata the network, the position (step, epochs done, step in the epoch, the
 * generator's state at the epoch's start), the run's config (the data set's name and
 * normalisation included), the data it trained on (each split's count and digest,
 * so that a resumed run on other data is refused) and its history: all a resumed run
 * needs to continue exactly where this one stopped.
 *
 * Pure code, bytes in and bytes out: the Node programs write it to a file
 * (./checkpoint-file.ts), the page downloads it and takes one back.
 */
import type { History } from '../chart/chart';
import type { DataRecord, SplitRecord } from '../data/dataset';
import type { Network } from '../model/network';
import { parameterTable } from '../model/parameters';
import { decodeSafetensors, encodeSafetensors, fileNetwork, flatFromTensors, networkMetadata, rejectExtraTensors, tensorsFromFlat } from '../model/safetensors-codec';
import type { AdamState } from './optimizer';
import { checkConfig, storedConfig, type TrainConfig } from './options';
import type { Position } from './trainer';

export const CHECKPOINT_FORMAT = 'lenet-webgpu-checkpoint-2';
const EXP_AVG = 'adam.exp_avg.';
const EXP_AVG_SQ = 'adam.exp_avg_sq.';

export interface Checkpoint {
  network: Network;
  /** Parameters in the network's flat layout. */
  params: Float32Array;
  adam: AdamState;
  position: Position;
  config: TrainConfig;
  /** The data the run trained on; null in a checkpoint from before checkpoints recorded it (resumed unchecked). */
  data: DataRecord | null;
  history: History;
}

export function encodeCheckpoint(c: Checkpoint): Uint8Array {
  const where = 'checkpoint';
  checkPosition(c.position, c.adam.step, where);
  checkConfig(c.config);
  if (c.data !== null) {
    const wrong = dataProblem(c.data);
    if (wrong) throw new Error(`${where} data ${wrong}`);
  }
  if (c.config.arch !== c.network.name) throw new Error(`${where}: config.arch is "${c.config.arch}", but the network is ${c.network.name}`);
  const table = parameterTable(c.network);
  const tensors = [...tensorsFromFlat(table, c.params), ...tensorsFromFlat(table, c.adam.expAvg, EXP_AVG), ...tensorsFromFlat(table, c.adam.expAvgSq, EXP_AVG_SQ)];
  const p = c.position;
  return encodeSafetensors(tensors, {
    format: CHECKPOINT_FORMAT,
    ...networkMetadata(c.network),
    step: String(p.step),
    epoch: String(p.epoch),
    step_in_epoch: String(p.stepInEpoch),
    rng_state: JSON.stringify(p.rngState),
    config: JSON.stringify(c.config),
    ...(c.data ? { data: JSON.stringify(c.data) } : {}),
    history: JSON.stringify(c.history),
  });
}

/** A checkpoint from its bytes; `name` (the file's) starts every error message. */
export function decodeCheckpoint(bytes: Uint8Array, name: string): Checkpoint {
  const { tensors, metadata } = decodeSafetensors(bytes, name);
  checkFormat(metadata, [...tensors.keys()].some((t) => t.startsWith('adam.')), name);
  const network = fileNetwork(metadata, tensors, undefined, name);
  const table = parameterTable(network);
  rejectExtraTensors(tensors, new Set(['', EXP_AVG, EXP_AVG_SQ].flatMap((prefix) => table.slots.map((s) => prefix + s.name))), name);
  const step = integer(metadata, 'step', name);
  const position: Position = {
    step,
    epoch: integer(metadata, 'epoch', name),
    stepInEpoch: integer(metadata, 'step_in_epoch', name),
    rngState: parseJson(metadata, 'rng_state', name) as number[],
  };
  checkPosition(position, step, `${name}: checkpoint metadata`);
  const stored = parseJson(metadata, 'config', name);
  if (typeof stored !== 'object' || stored === null || Array.isArray(stored)) throw new Error(`${name}: checkpoint metadata "config" is not a JSON object`);
  let config: TrainConfig;
  try {
    // A field an older checkpoint lacks gets its option's legacy value (src/train/options.ts).
    config = storedConfig(stored as Record<string, unknown>);
    checkConfig(config);
  } catch (err) {
    throw new Error(`${name}: checkpoint metadata "config": ${(err as Error).message}`);
  }
  if (config.arch !== network.name) throw new Error(`${name}: checkpoint metadata "config" names network "${config.arch}", but "arch" is ${network.name}`);
  let data: DataRecord | null = null;
  if (metadata.data !== undefined) {
    const wrong = dataProblem(parseJson(metadata, 'data', name));
    if (wrong) throw new Error(`${name}: checkpoint metadata "data" ${wrong}`);
    data = JSON.parse(metadata.data) as DataRecord;
  }
  const history = parseJson(metadata, 'history', name);
  const wrong = historyProblem(history);
  if (wrong) throw new Error(`${name}: checkpoint metadata "history" ${wrong}`);
  return {
    network,
    params: flatFromTensors(table, tensors, name),
    adam: { expAvg: flatFromTensors(table, tensors, name, EXP_AVG), expAvgSq: flatFromTensors(table, tensors, name, EXP_AVG_SQ), step },
    position,
    config,
    data,
    history: history as History,
  };
}

/** A saved model has no Adam tensors (whatever its metadata): say how to start from it instead. */
function checkFormat(metadata: Record<string, string>, hasAdam: boolean, name: string): void {
  if (metadata.format === CHECKPOINT_FORMAT) return;
  if (!hasAdam) throw new Error(`${name}: is a model, not a checkpoint; use --init to start training from its weights`);
  const found = metadata.format === undefined ? 'has no "format" metadata' : `has format "${metadata.format}"`;
  throw new Error(`${name}: not a training checkpoint this version reads: ${found}, expected "${CHECKPOINT_FORMAT}"`);
}

function field(metadata: Record<string, string>, key: string, name: string): string {
  const value = metadata[key];
  if (value === undefined) throw new Error(`${name}: checkpoint metadata has no "${key}"`);
  return value;
}

/** Strictly digits: Number() would also take "", " 7" and "1e3". */
function integer(metadata: Record<string, string>, key: string, name: string): number {
  const text = field(metadata, key, name);
  if (!/^-?\d+$/.test(text)) throw new Error(`${name}: checkpoint metadata "${key}" is "${text}", expected an integer`);
  return Number(text);
}

function parseJson(metadata: Record<string, string>, key: string, name: string): unknown {
  const text = field(metadata, key, name);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${name}: metadata "${key}" is not valid JSON (${(err as Error).message})`);
  }
}

/** The same checks on the way out and on the way in, so a bad value is never written. */
function checkPosition(p: Position, adamStep: number, where: string): void {
  for (const [key, value] of Object.entries({ step: p.step, epoch: p.epoch, step_in_epoch: p.stepInEpoch })) {
    if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${where} "${key}" is ${value}, expected a non-negative integer`);
  }
  if (p.step !== adamStep) throw new Error(`${where} "step" is ${p.step}, but Adam's state is at step ${adamStep}`);
  const words = p.rngState;
  const ok = Array.isArray(words) && words.length === 4 && words.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffffffff) && words.some((w) => w !== 0);
  if (!ok) throw new Error(`${where} "rng_state" is ${JSON.stringify(words)}, expected 4 unsigned 32-bit integers, not all zero`);
}

/** What is wrong with a data record, or null: a name, and each split's count (a positive integer) and digest (16 hex digits). */
function dataProblem(d: unknown): string | null {
  const shape = 'is not {"dataset": NAME, "train": {"count": N, "digest": HEX}, "test": {...} or null}';
  if (typeof d !== 'object' || d === null) return shape;
  const { dataset, train, test } = d as Record<string, unknown>;
  if (typeof dataset !== 'string' || dataset === '') return `has dataset ${JSON.stringify(dataset)}, expected a name`;
  for (const [key, split] of [['train', train], ['test', test]] as const) {
    if (key === 'test' && split === null) continue;
    if (typeof split !== 'object' || split === null) return shape;
    const { count, digest } = split as Partial<SplitRecord>;
    if (!Number.isSafeInteger(count) || (count as number) < 1) return `has ${key}.count ${JSON.stringify(count)}, expected a positive integer`;
    if (typeof digest !== 'string' || !/^[0-9a-f]{16}$/.test(digest)) return `has ${key}.digest ${JSON.stringify(digest)}, expected 16 hex digits`;
  }
  return null;
}

/** What is wrong with a history read back, or null: every point's figures must be numbers. */
function historyProblem(h: unknown): string | null {
  if (typeof h !== 'object' || h === null || !Array.isArray((h as History).steps) || !Array.isArray((h as History).epochs)) {
    return 'is not {"steps": [...], "epochs": [...]}';
  }
  const lists = { steps: [['step', 'epoch', 'loss', 'accuracy'], []], epochs: [['epoch', 'trainLoss', 'trainAccuracy'], ['testLoss', 'testAccuracy']] } as const;
  for (const [list, [required, optional]] of Object.entries(lists)) {
    const points = (h as Record<string, unknown[]>)[list];
    for (let i = 0; i < points.length; i++) {
      const p = points[i] as Record<string, unknown>;
      if (typeof p !== 'object' || p === null) return `${list}[${i}] is not an object`;
      const field = required.find((k) => !Number.isFinite(p[k])) ?? optional.find((k) => p[k] !== undefined && !Number.isFinite(p[k]));
      if (field) return `${list}[${i}] has ${field} ${JSON.stringify(p[field])}, expected a number`;
    }
  }
  return null;
}
