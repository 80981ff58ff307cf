/**
 * Model files on disk, in the safetensors format (the format itself is in
 * safetensors-codec.ts, re-exported here: pure code the page shares).
 */
import type { TrainedOn } from '../data/dataset';
import { withInput, writeFileAtomic } from '../util/files';
import type { Network } from './network';
import { decodeModel, decodeSafetensorsHeader, encodeModel, modelNetwork, safetensorsHeaderLength, type ModelFile } from './safetensors-codec';

export * from './safetensors-codec';

export async function saveModel(path: string, network: Network, params: Float32Array, metadata?: Record<string, string>, on?: TrainedOn): Promise<void> {
  await writeFileAtomic(path, encodeModel(network, params, metadata, on));
}

/**
 * A safetensors file's bytes, read header first: the file is opened without blocking
 * (a FIFO or a device is refused by name), the 8-byte length and the header are read
 * and checked against the file's size (the tensors must end where the file does), and
 * `check` is given the header before the data are read: a file that claims gigabytes
 * is refused from its first bytes. `hint` follows "no such file"; `what` names the
 * file in messages ("checkpoint").
 */
export function readSafetensorsFile(path: string, hint = '', check?: (header: ReturnType<typeof decodeSafetensorsHeader>) => void, what = 'model'): Uint8Array {
  return withInput(
    path,
    what,
    (file) => {
      const length = safetensorsHeaderLength(file.read(0, Math.min(8, file.size)), file.size, path);
      const header = decodeSafetensorsHeader(file.read(0, 8 + length), file.size, path);
      check?.(header);
      return file.readAll();
    },
    hint,
  );
}

/**
 * A model file, its network checked from the header (`wanted`, --arch, must be the
 * network the file records, or, for a file that records none, fit its tensors)
 * before its weights are read. `hint` follows "no such file" (say, how to make one).
 */
export async function loadModel(path: string, hint = '', wanted?: Network): Promise<ModelFile> {
  const bytes = readSafetensorsFile(path, hint, ({ metadata, entries }) => modelNetwork(metadata, entries, wanted, path));
  return decodeModel(bytes, path, wanted);
}
