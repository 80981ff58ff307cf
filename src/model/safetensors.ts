/**
 * Model files on disk, in the safetensors format (the format itself is in
 * safetensors-codec.ts, re-exported here: pure code the page shares).
 */
import type { TrainedOn } from '../data/dataset';
import { readInput, writeFileAtomic } from '../util/files';
import type { Network } from './network';
import { decodeModel, encodeModel, type ModelFile } from './safetensors-codec';

export * from './safetensors-codec';

export async function saveModel(path: string, network: Network, params: Float32Array, metadata?: Record<string, string>, on?: TrainedOn): Promise<void> {
  await writeFileAtomic(path, encodeModel(network, params, metadata, on));
}

/** `hint` follows "no such file" (say, how to make one). */
/** `wanted` (--arch) must be the network the file records, or, for a file that records none, fit its tensors. */
export async function loadModel(path: string, hint = '', wanted?: Network): Promise<ModelFile> {
  return decodeModel(await readInput(path, hint), path, wanted);
}
