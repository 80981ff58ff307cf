/**
 * The safetensors format (https://github.com/huggingface/safetensors#format): an
 * 8-byte little-endian u64 N, N bytes of UTF-8 JSON mapping each tensor name to
 * {dtype, shape, data_offsets: [begin, end]} (relative to the data, which follows
 * the header) plus an optional "__metadata__" of strings, then the data itself.
 * Models are saved under PyTorch's state_dict names and shapes, so a file written
 * here loads with `safetensors.torch.load_file` into the tutorial's module, and back.
 *
 * Pure code (no Node or DOM imports): the Node file functions are in safetensors.ts,
 * and the page decodes a dropped file and encodes its download with the same code.
 */
import { checkNormalization, MNIST, trainedOn, type TrainedOn } from '../data/dataset';
import type { Normalization } from '../ops/shapes';
import { DEFAULT_ARCH, describeNetwork, NETWORKS, networkNamed, parseNetwork, sameNetwork, type Network } from './network';
import { parameterTable, type ParameterTable } from './parameters';

export interface NamedTensor {
  shape: number[];
  /** The values; an I64 tensor's as floats (counts, exact up to 2^24). */
  data: Float32Array;
  /** F32 unless told: I64 is what PyTorch writes batchnorm's num_batches_tracked as. */
  dtype?: 'F32' | 'I64';
}

const METADATA_KEY = '__metadata__';

// Tensor bytes are copied as they lie in memory, which is little-endian on every
// platform Node and WebGPU run on; refuse loudly rather than write swapped floats.
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

export function encodeSafetensors(tensors: Map<string, NamedTensor> | [string, NamedTensor][], metadata?: Record<string, string>): Uint8Array {
  if (!LITTLE_ENDIAN) throw new Error('safetensors: this host is big-endian, which is not supported');
  const entries = [...tensors];
  // No prototype, so that a tensor named "__proto__" is just a key.
  const header: Record<string, unknown> = Object.create(null);
  if (metadata) header[METADATA_KEY] = checkMetadata(metadata, 'safetensors');
  let offset = 0;
  const bytesOf = entries.map(([, t]) => tensorBytes(t));
  entries.forEach(([name, t], i) => {
    checkTensor(name, t, header);
    header[name] = { dtype: t.dtype ?? 'F32', shape: t.shape, data_offsets: [offset, offset + bytesOf[i].byteLength] };
    offset += bytesOf[i].byteLength;
  });
  // Spaces pad the JSON so that the data starts on an 8-byte boundary, as the
  // reference writer does; JSON ignores trailing whitespace.
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded);
  let at = 8 + padded;
  for (const b of bytesOf) {
    out.set(b, at);
    at += b.byteLength;
  }
  return out;
}

/** A tensor's bytes as the file holds them: F32 as they lie, I64 from the (integral) floats. */
function tensorBytes(t: NamedTensor): Uint8Array {
  if ((t.dtype ?? 'F32') === 'F32') return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const out = new BigInt64Array(t.data.length);
  t.data.forEach((v, i) => {
    if (!Number.isInteger(v)) throw new Error(`safetensors: I64 tensor holds ${v}, not an integer`);
    out[i] = BigInt(v);
  });
  return new Uint8Array(out.buffer);
}

function checkTensor(name: string, t: NamedTensor, seen: Record<string, unknown>): void {
  if (name === METADATA_KEY) throw new Error(`safetensors: "${METADATA_KEY}" cannot name a tensor`);
  if (Object.hasOwn(seen, name)) throw new Error(`safetensors: tensor "${name}" given twice`);
  if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new Error(`safetensors: tensor "${name}" has a bad shape [${t.shape.join(', ')}]`);
  const n = elements(t.shape);
  if (n !== t.data.length) throw new Error(`safetensors: tensor "${name}" has ${t.data.length} values, but shape [${t.shape.join(', ')}] holds ${n}`);
}

/**
 * The most bytes a header may have, as the reference implementation allows
 * (MAX_HEADER_SIZE in huggingface/safetensors): checked before the header is read.
 */
export const MAX_HEADER_BYTES = 100_000_000;

/**
 * A file's header from its first bytes (`head`: the 8-byte length, then as much of
 * the header as is there) and the file's `size`, checked before the tensors are
 * read: the header length against the size, the JSON (duplicate keys included), every
 * entry, and the tensors' layout against the size, exactly. Call with the first 8
 * bytes to learn the length (`needs`), then with 8 + that many.
 */
export function decodeSafetensorsHeader(head: Uint8Array, size: number, path: string): { metadata: Record<string, string>; entries: SafetensorsEntry[]; dataStart: number } {
  const { header, dataStart } = readHeader(head, path, size);
  const metadata = header[METADATA_KEY] === undefined ? {} : checkMetadata(header[METADATA_KEY], path);
  const entries = Object.entries(header)
    .filter(([name]) => name !== METADATA_KEY)
    .map(([name, entry]) => readEntry(name, entry, path))
    .sort((a, b) => a.begin - b.begin || a.end - b.end);
  checkLayout(entries, size - dataStart, path);
  return { metadata, entries, dataStart };
}

/** The header length a file's first 8 bytes give, checked against the file's `size` and MAX_HEADER_BYTES. */
export function safetensorsHeaderLength(first: Uint8Array, size: number, path: string): number {
  if (first.length < 8 || size < 8) throw new Error(`${path}: ${size} bytes is shorter than the 8-byte header length; not a safetensors file`);
  const length = new DataView(first.buffer, first.byteOffset, 8).getBigUint64(0, true);
  if (length > BigInt(size - 8)) {
    throw new Error(`${path}: header length ${length} is larger than the ${size - 8} bytes that follow it; truncated, or not a safetensors file`);
  }
  if (length > BigInt(MAX_HEADER_BYTES)) throw new Error(`${path}: header length ${length} is more than the ${MAX_HEADER_BYTES} bytes a safetensors header may have; not a model file`);
  return Number(length);
}

export function decodeSafetensors(bytes: Uint8Array, path: string): { tensors: Map<string, NamedTensor>; metadata: Record<string, string> } {
  if (!LITTLE_ENDIAN) throw new Error('safetensors: this host is big-endian, which is not supported');
  const { metadata, entries, dataStart } = decodeSafetensorsHeader(bytes, bytes.length, path);
  const tensors = new Map<string, NamedTensor>();
  for (const e of entries) {
    // A fresh, aligned copy: the data may start at any byte offset in the file.
    const raw = new Uint8Array(bytes.subarray(dataStart + e.begin, dataStart + e.end)); // a copy (a Buffer's slice would be a view)
    if (e.dtype === 'F32') {
      tensors.set(e.name, { shape: e.shape, data: new Float32Array(raw.buffer) });
      continue;
    }
    const ints = new BigInt64Array(raw.buffer);
    const data = new Float32Array(ints.length);
    ints.forEach((v, i) => {
      if (v < 0n || v > 1n << 24n) throw new Error(`${path}: tensor "${e.name}" holds ${v}; an I64 count must be in [0, 2^24] here`);
      data[i] = Number(v);
    });
    tensors.set(e.name, { shape: e.shape, data, dtype: 'I64' });
  }
  return { tensors, metadata };
}

function readHeader(bytes: Uint8Array, path: string, size: number): { header: Record<string, unknown>; dataStart: number } {
  const dataStart = 8 + safetensorsHeaderLength(bytes, size, path);
  if (bytes.length < dataStart) throw new Error(`${path}: the header (${dataStart - 8} bytes) was not all read`);
  let header: unknown;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, dataStart));
    header = JSON.parse(text);
  } catch (err) {
    throw new Error(`${path}: header is not valid UTF-8 JSON (${(err as Error).message})`);
  }
  if (!isObject(header)) throw new Error(`${path}: header is not a JSON object`);
  const twice = duplicateKey(text);
  if (twice) {
    const [outer, key] = [twice.slice(0, -1), twice[twice.length - 1]];
    const name = (k: string) => (k === METADATA_KEY ? `"${k}"` : `tensor "${k}"`);
    const where = outer.length === 0 ? 'the header' : `${name(outer[0])}${outer.length > 1 ? ` (under ${outer.slice(1).map((k) => `"${k}"`).join(', ')})` : ''}`;
    throw new Error(`${path}: ${outer.length === 0 ? name(key) : `"${key}"`} is given twice in ${where}; JSON keeps only the last, so the file is ambiguous`);
  }
  return { header, dataStart };
}

/**
 * The first key that an object in `json` (valid JSON) gives twice, as the path of
 * keys to it (["__metadata__", "arch"]), or null: JSON.parse silently keeps the last
 * of two, which would let a file say two things and mean one.
 */
export function duplicateKey(json: string): string[] | null {
  // One frame per open object or array: its keys so far, and the key it sits under.
  const stack: { keys: Set<string> | null; under: string; expectKey: boolean }[] = [];
  let pendingKey = '';
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (c === '"') {
      let j = i + 1;
      while (json[j] !== '"') j += json[j] === '\\' ? 2 : 1;
      const top = stack[stack.length - 1];
      if (top?.keys && top.expectKey) {
        const key = JSON.parse(json.slice(i, j + 1)) as string;
        if (top.keys.has(key)) return [...stack.slice(1).map((f) => f.under), key];
        top.keys.add(key);
        top.expectKey = false;
        pendingKey = key;
      }
      i = j;
    } else if (c === '{' || c === '[') {
      stack.push({ keys: c === '{' ? new Set() : null, under: pendingKey, expectKey: c === '{' });
    } else if (c === '}' || c === ']') {
      stack.pop();
    } else if (c === ',') {
      const top = stack[stack.length - 1];
      if (top?.keys) top.expectKey = true;
    }
  }
  return null;
}

/** A tensor as the header describes it: its bytes are [begin, end) of the data, which start after the header. */
export interface SafetensorsEntry {
  name: string;
  dtype: 'F32' | 'I64';
  shape: number[];
  begin: number;
  end: number;
}

function readEntry(name: string, entry: unknown, path: string): SafetensorsEntry {
  const where = `${path}: tensor "${name}"`;
  if (!isObject(entry)) throw new Error(`${where}: entry is not a JSON object`);
  const { dtype, shape, data_offsets: offsets } = entry;
  if (dtype === undefined) throw new Error(`${where}: entry has no dtype`);
  if (shape === undefined) throw new Error(`${where}: entry has no shape`);
  if (offsets === undefined) throw new Error(`${where}: entry has no data_offsets`);
  if (dtype !== 'F32' && dtype !== 'I64') throw new Error(`${where} has dtype ${JSON.stringify(dtype)}; only F32 (and I64 for counters) is supported`);
  const size = dtype === 'F32' ? 4 : 8;
  if (!Array.isArray(shape) || !shape.every(isCount)) throw new Error(`${where}: shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[0] > offsets[1]) {
    throw new Error(`${where}: data_offsets ${JSON.stringify(offsets)} is not a pair [begin, end] with 0 <= begin <= end`);
  }
  const [begin, end] = offsets as number[];
  const needed = elements(shape as number[]) * size;
  if (end - begin !== needed) {
    throw new Error(`${where}: data_offsets [${begin}, ${end}] span ${end - begin} bytes, but ${dtype} shape [${shape.join(', ')}] needs ${needed}`);
  }
  return { name, dtype, shape: shape as number[], begin, end };
}

/** Sorted tensors must tile the data section exactly: no overlaps, no holes, no excess. */
function checkLayout(entries: SafetensorsEntry[], dataLength: number, path: string): void {
  let end = 0;
  for (const e of entries) {
    if (e.begin < end) throw new Error(`${path}: tensor "${e.name}" at bytes [${e.begin}, ${e.end}] overlaps the tensor before it, which ends at ${end}`);
    if (e.begin > end) throw new Error(`${path}: tensor "${e.name}" starts at byte ${e.begin}, leaving a hole after byte ${end}`);
    end = e.end;
  }
  if (dataLength < end) {
    throw new Error(`${path}: truncated file: data section has ${dataLength} bytes, but the tensors end at byte ${end} (${end - dataLength} bytes missing)`);
  }
  if (dataLength > end) throw new Error(`${path}: ${dataLength - end} trailing bytes after the last tensor, which ends at byte ${end}`);
}

function checkMetadata(metadata: unknown, source: string): Record<string, string> {
  if (!isObject(metadata) || !Object.values(metadata).every((v) => typeof v === 'string')) {
    throw new Error(`${source}: "${METADATA_KEY}" must map strings to strings`);
  }
  return metadata as Record<string, string>;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function isCount(x: unknown): x is number {
  return Number.isSafeInteger(x) && (x as number) >= 0;
}

function elements(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** The model's tensors under their PyTorch names and shapes (with a prefix, e.g. for Adam's moments). */
export function tensorsFromFlat(table: ParameterTable, flat: Float32Array, prefix = ''): [string, NamedTensor][] {
  table.check(flat, `${prefix || 'model '}buffer`);
  // Adam's moments of a counter are floats like any other; the counter itself is PyTorch's int64.
  return table.slots.map((s) => [prefix + s.name, { shape: [...s.shape], data: flat.subarray(s.offset, s.offset + s.length), ...(s.role === 'counter' && !prefix ? { dtype: 'I64' as const } : {}) }]);
}

/** What keeps `tensors` from being exactly `table`'s (prefixed) tensors: missing ones, wrong shapes or dtypes, extra ones (unless ignored). */
export function tensorMismatches(table: ParameterTable, tensors: ReadonlyMap<string, NamedTensor>, prefix = '', extra = true): string[] {
  const problems: string[] = [];
  const missing = table.slots.map((s) => prefix + s.name).filter((name) => !tensors.has(name));
  if (missing.length) problems.push(`missing ${plural(missing.length, 'tensor')} ${listNames(missing)}`);
  for (const s of table.slots) {
    const t = tensors.get(prefix + s.name);
    if (!t) continue;
    const same = t.shape.length === s.shape.length && t.shape.every((d, i) => d === s.shape[i]);
    if (!same) problems.push(`tensor "${prefix + s.name}" has shape [${t.shape.join(', ')}], expected [${s.shape.join(', ')}]`);
    const dtype = s.role === 'counter' && !prefix ? 'I64' : 'F32';
    if ((t.dtype ?? 'F32') !== dtype && !(dtype === 'I64' && t.dtype === undefined)) problems.push(`tensor "${prefix + s.name}" is ${t.dtype ?? 'F32'}, expected ${dtype}`);
  }
  if (extra) {
    const names = new Set(table.slots.map((s) => prefix + s.name));
    const others = [...tensors.keys()].filter((n) => !names.has(n));
    if (others.length) problems.push(`unexpected ${plural(others.length, 'tensor')} ${listNames(others)}`);
  }
  return problems;
}

/** A flat buffer (padding zero) from the prefixed model tensors; each must be there with its exact shape. */
export function flatFromTensors(table: ParameterTable, tensors: ReadonlyMap<string, NamedTensor>, path: string, prefix = ''): Float32Array {
  const [problem] = tensorMismatches(table, tensors, prefix, false);
  if (problem) throw new Error(`${path}: ${problem}`);
  const flat = new Float32Array(table.flatLength);
  for (const s of table.slots) {
    const t = tensors.get(prefix + s.name)!;
    const bad = t.data.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) {
      const count = t.data.reduce((n, x) => n + (Number.isFinite(x) ? 0 : 1), 0);
      throw new Error(`${path}: tensor "${prefix + s.name}" holds ${t.data[bad]} at index ${bad}${count > 1 ? ` (${count} values are not finite)` : ''}; weights must be finite numbers`);
    }
    flat.set(t.data, s.offset);
  }
  return flat;
}

/** Rejects tensors outside `expected`, naming them. */
export function rejectExtraTensors(tensors: ReadonlyMap<string, NamedTensor>, expected: ReadonlySet<string>, path: string, hint = ''): void {
  const extra = [...tensors.keys()].filter((name) => !expected.has(name));
  if (extra.length) throw new Error(`${path}: unexpected ${plural(extra.length, 'tensor')} ${listNames(extra)}${hint}`);
}

export function listNames(names: string[], max = 6): string {
  const shown = names.slice(0, max).map((n) => `"${n}"`).join(', ');
  return names.length > max ? `${shown} and ${names.length - max} more` : shown;
}

function plural(n: number, word: string): string {
  return n === 1 ? word : `${word}s`;
}

/**
 * The network a file's metadata records: its whole description ("network", as every
 * file since network files has), or a preset's name ("arch", older files), or null
 * where it records none (a file PyTorch wrote: the caller's --arch, or lenet5).
 */
export function networkOf(metadata: Record<string, string>, path: string): Network | null {
  if (metadata.network !== undefined) {
    const net = parseNetwork(metadata.network, `${path}: metadata "network"`);
    // A preset keeps being the preset (its note, its identity) when it comes back.
    return NETWORKS.find((n) => n.name === net.name && sameNetwork(n, net)) ?? net;
  }
  if (metadata.arch === undefined) return null;
  try {
    return networkNamed(metadata.arch, 'arch');
  } catch {
    throw new Error(`${path}: metadata "arch" is "${metadata.arch}", a network this engine does not know`);
  }
}

/** The metadata that records a network: its description, and its name. */
export function networkMetadata(network: Network): Record<string, string> {
  return { arch: network.name, network: JSON.stringify(describeNetwork(network)) };
}

/**
 * The network of a file: the one it records, which `wanted` (--arch) must be if
 * given; for a file that records none, `wanted` (or the default network), when the
 * file's tensors are exactly that network's: else an error listing every mismatch.
 */
export function fileNetwork(metadata: Record<string, string>, tensors: ReadonlyMap<string, NamedTensor>, wanted: Network | undefined, path: string): Network {
  const found = networkOf(metadata, path);
  if (found) {
    expectNetwork(found, wanted, path);
    return found;
  }
  const net = wanted ?? networkNamed(DEFAULT_ARCH);
  const problems = tensorMismatches(parameterTable(net), [...tensors].some(([n]) => n.startsWith('adam.')) ? new Map([...tensors].filter(([n]) => !n.startsWith('adam.'))) : tensors);
  if (problems.length) {
    throw new Error(`${path}: records no network, and its tensors are not ${net.name}'s${wanted ? '' : ' (the default; --arch names another)'}: ${problems.join('; ')}`);
  }
  return net;
}

/** Throws when a file's network is not the one asked for (--arch). */
export function expectNetwork(found: Network, wanted: Network | undefined, path: string): void {
  if (wanted && !sameNetwork(wanted, found)) {
    throw new Error(`${path}: holds a ${found.name} model, but --arch asks for ${wanted.name}; leave --arch out to use the file's network`);
  }
}

/**
 * What a file's metadata says the model was trained on: "dataset", "mean" and "std"
 * (numbers as strings); a file without them is from before data sets had
 * descriptions, and means MNIST's.
 */
export function trainedOnOf(metadata: Record<string, string>, path: string): TrainedOn {
  const mnist = trainedOn(MNIST);
  if (metadata.mean === undefined && metadata.std === undefined) return { dataset: metadata.dataset ?? mnist.dataset, normalization: mnist.normalization };
  const number = (key: 'mean' | 'std'): number => {
    const text = metadata[key];
    if (text === undefined) throw new Error(`${path}: metadata has "${key === 'mean' ? 'std' : 'mean'}" but no "${key}"`);
    if (text.trim() === '' || !Number.isFinite(Number(text))) throw new Error(`${path}: metadata "${key}" is "${text}", expected a number`);
    return Number(text);
  };
  const normalization: Normalization = { mean: number('mean'), std: number('std') };
  // Numbers float32 cannot train or predict with ("1e308") are refused as the training options are.
  checkNormalization(normalization, `${path}: `, { mean: 'metadata "mean"', std: 'metadata "std"' });
  return { dataset: metadata.dataset ?? 'unnamed', normalization };
}

export interface ModelFile extends TrainedOn {
  network: Network;
  /** The weights in the network's flat layout. */
  params: Float32Array;
  metadata: Record<string, string>;
}

/**
 * A model file's weights in the flat layout of the network its metadata names:
 * exactly that network's tensors (a checkpoint, or any other file, is refused with a
 * message saying so).
 */
export function decodeModel(bytes: Uint8Array, name: string, wanted?: Network): ModelFile {
  const { tensors, metadata } = decodeSafetensors(bytes, name);
  const network = modelNetwork(metadata, tensors, wanted, name);
  return { network, params: flatFromTensors(parameterTable(network), tensors, name), metadata, ...trainedOnOf(metadata, name) };
}

/**
 * The network of a model file from its header alone (the tensors' names, shapes and
 * dtypes; their data may be left out), which must hold exactly that network's
 * tensors, and say what it was trained on in numbers that can be: what decodeModel
 * checks before the values, so that a file can be checked before its data are read.
 */
export function modelNetwork(metadata: Record<string, string>, tensors: ReadonlyMap<string, NamedTensor> | SafetensorsEntry[], wanted: Network | undefined, name: string): Network {
  const shapes = Array.isArray(tensors) ? new Map(tensors.map((e) => [e.name, { shape: e.shape, dtype: e.dtype, data: new Float32Array(0) }])) : tensors;
  const network = fileNetwork(metadata, shapes, wanted, name);
  const table = parameterTable(network);
  const isCheckpoint = [...shapes.keys()].some((t) => t.startsWith('adam.'));
  rejectExtraTensors(shapes, table.names, name, isCheckpoint ? ' (this looks like a training checkpoint, not a model)' : '');
  const [problem] = tensorMismatches(table, shapes, '', false);
  if (problem) throw new Error(`${name}: ${problem}`);
  trainedOnOf(metadata, name);
  return network;
}

/**
 * A model's weights as a safetensors file, under PyTorch's names and shapes; the
 * metadata names its network and what it was trained on (MNIST unless told).
 */
export function encodeModel(network: Network, params: Float32Array, metadata: Record<string, string> = {}, on: TrainedOn = trainedOn(MNIST)): Uint8Array {
  checkNormalization(on.normalization, '', { mean: 'model normalization mean', std: 'model normalization std' });
  const { mean, std } = on.normalization;
  return encodeSafetensors(tensorsFromFlat(parameterTable(network), params), { format: 'pt', ...metadata, ...networkMetadata(network), dataset: on.dataset, mean: String(mean), std: String(std) });
}
