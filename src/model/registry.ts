// Every kind of layer the engine has, by the `op` a network names it with. A new kind
// is a file in ./kinds and a line here; nothing else in the engine switches on ops.
import type { LayerKind } from './kind';
import { reluKind, sigmoidKind, tanhKind } from './kinds/activation';
import { batchnorm1dKind, batchnorm2dKind } from './kinds/batchnorm';
import { dropoutKind } from './kinds/dropout';
import { conv2dKind } from './kinds/conv2d';
import { linearKind } from './kinds/linear';
import { avgpool2dKind, maxpool2dKind } from './kinds/pool';
import { flattenKind, logSoftmaxKind } from './kinds/structure';

// The entries are typed by their own layer and shape; the registry sees them all alike.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const KINDS: readonly LayerKind<any, any>[] = [
  conv2dKind, linearKind, maxpool2dKind, avgpool2dKind,
  reluKind, tanhKind, sigmoidKind, dropoutKind,
  batchnorm2dKind, batchnorm1dKind,
  flattenKind, logSoftmaxKind,
];

export const REGISTRY: ReadonlyMap<string, LayerKind> = new Map(KINDS.map((k) => [k.op, k as LayerKind]));

export function kindOf(op: string): LayerKind | undefined {
  return REGISTRY.get(op);
}
