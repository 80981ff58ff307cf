// Pieces several kinds share.
import type { PerSample } from '../kind';

/** An op's per-image buffers ({label, shape}), labelled with the stage's name. */
export function perImage(stage: string, list: readonly { label: string; shape: readonly number[] }[]): PerSample[] {
  return list.map((b) => ({ name: b.label, label: `${stage} ${b.label}`, shape: b.shape }));
}

/** Elements of a shape. */
export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
