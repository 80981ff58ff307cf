// Checkpoints on disk (Node): the codec in ./checkpoint.ts, written atomically.
import { readInput, writeFileAtomic } from '../util/files';
import { decodeCheckpoint, encodeCheckpoint, type Checkpoint } from './checkpoint';

export async function saveCheckpoint(path: string, c: Checkpoint): Promise<void> {
  await writeFileAtomic(path, encodeCheckpoint(c));
}

export async function loadCheckpoint(path: string): Promise<Checkpoint> {
  return decodeCheckpoint(await readInput(path), path);
}
