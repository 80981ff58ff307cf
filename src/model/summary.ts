// A network as PyTorch's print(model) shows the equivalent module: its modules in the
// order they are registered, each kind's line from the registry (stateless ones such
// as the tutorial's one `relu` shared by every use, unnamed pools numbered as the
// tutorial names them: maxpool1, maxpool2), plus what print(model) cannot show: the
// order of the forward pass, with its flatten and log_softmax, and the number of
// parameters. All of it from the network's description.
import type { Stage } from './kind';
import { resolve, type Network } from './network';
import { parameterTable } from './parameters';

/** Each stage's module name in print(model) (none for functional ones: log_softmax), and the module lines. */
export function moduleNames(net: Network): { names: Map<Stage, string>; lines: string[] } {
  const { stages } = resolve(net);
  const names = new Map<Stage, string>();
  const lines: string[] = [];
  const shared = new Map<string, string>();
  const counts = new Map<string, number>();
  for (const s of stages) {
    const k = s.kind;
    if (!k.module) continue;
    const text = k.module(s);
    if (k.sharedModule && s.layer.name === undefined) {
      const known = shared.get(text);
      if (known) {
        names.set(s, known);
        continue;
      }
    }
    let name = s.layer.name;
    if (name === undefined) {
      const n = (counts.get(s.op) ?? 0) + 1;
      counts.set(s.op, n);
      name = k.moduleName ? k.moduleName(n) : `${s.op}${n}`;
    }
    if (k.sharedModule && s.layer.name === undefined) shared.set(text, name);
    names.set(s, name);
    lines.push(`  (${name}): ${text}`);
    // A ReLU fused into this stage is still a module of print(model): its own name's, or the shared `relu`.
    const reluName = s.reluLayer?.name;
    if (s.relu && reluName !== undefined) lines.push(`  (${reluName}): ReLU()`);
    else if (s.relu && !shared.has('ReLU()')) {
      shared.set('ReLU()', 'relu');
      lines.push('  (relu): ReLU()');
    }
  }
  return { names, lines };
}

export function modelSummary(net: Network): string {
  const table = parameterTable(net); // checks the description first
  const r = resolve(net);
  const { names, lines } = moduleNames(net);
  const forward: string[] = [];
  for (const s of r.stages) {
    const flat = s.inShape.length === 1 && (r.activations.get(s.input)?.length ?? 1) > 1;
    if (flat) forward.push(`flatten(${s.inShape[0]})`);
    forward.push(names.get(s) ?? s.op);
    if (s.relu) forward.push(s.reluLayer?.name ?? 'relu');
  }
  const buffers = table.slots.filter((s) => s.role !== 'parameter').length;
  return [
    `${net.className ?? 'Net'}(`,
    ...lines,
    ')',
    `network: ${net.name}, input ${net.input.join('x')}`,
    `forward: ${forward.join(' -> ')}`,
    ...(net.note ? [`         (${net.note})`] : []),
    `parameters: ${table.count.toLocaleString('en-US')}${buffers ? ` (and ${buffers} buffers: running statistics)` : ''}`,
  ].join('\n');
}
