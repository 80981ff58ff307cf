/**
 * Model files on disk, in the safetensors format (the format itself is in
 * safetensors-codec.ts, re-exported here: pure code the page shares).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { TrainedOn } from '../data/dataset';
import type { Network } from './network';
import { decodeModel, encodeModel, type ModelFile } from './safetensors-codec';

export * from './safetensors-codec';

/**
 * Writes to a temporary file beside `path`, flushes it to disk, then renames it over
 * `path`: rename is atomic on one filesystem, so a crash or a full disk leaves either
 * the old file or the new one, never half of one.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  try {
    const file = await open(tmp, 'wx');
    try {
      await file.writeFile(data);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => {}); // the original error matters more
    throw err;
  }
}

export async function saveModel(path: string, network: Network, params: Float32Array, metadata?: Record<string, string>, on?: TrainedOn): Promise<void> {
  await writeFileAtomic(path, encodeModel(network, params, metadata, on));
}

export async function loadModel(path: string): Promise<ModelFile> {
  return decodeModel(await readFile(path), path);
}
