// Checkpoints made by the tests: a run of LeNet-5 10 steps in, with batch 64 (on a
// training set of 2,560 images, as tests/helpers/mnist.ts's smallMnist makes one).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LENET5 } from '../../src/model/network';
import { parameterTable } from '../../src/model/parameters';
import { decodeSafetensors, encodeSafetensors } from '../../src/model/safetensors';
import { encodeCheckpoint } from '../../src/train/checkpoint';
import { DEFAULT_CONFIG } from '../../src/train/options';
import { Rng } from '../../src/util/rng';

/** A checkpoint of 10 steps into a run of batch 64, its metadata edited by `edit`, written to dir/name. */
export function checkpoint(dir: string, name: string, edit: (metadata: Record<string, string>) => void): string {
  const table = parameterTable(LENET5);
  const rng = new Rng(3);
  const zeros = () => new Float32Array(table.flatLength);
  const bytes = encodeCheckpoint({
    network: LENET5,
    params: table.init(rng),
    adam: { expAvg: zeros(), expAvgSq: zeros(), step: 10 },
    position: { step: 10, epoch: 0, stepInEpoch: 10, rngState: new Rng(1).state },
    config: { ...DEFAULT_CONFIG, epochs: 1 },
    data: null,
    history: { steps: [], epochs: [] },
  });
  const { tensors, metadata } = decodeSafetensors(bytes, name);
  edit(metadata);
  const path = join(dir, name);
  writeFileSync(path, encodeSafetensors(tensors, metadata));
  return path;
}
