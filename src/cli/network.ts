// npm run network: a network's summary, or its description as JSON (for tools in
// other languages, e.g. bench/torch_net.py, which builds the same network in PyTorch).
import { DEFAULT_ARCH, NETWORKS, networkJson } from '../model/network';
import { REGISTRY } from '../model/registry';
import { modelSummary } from '../model/summary';
import { parseOptions } from './shared/args';
import { archOption, run } from './shared/common';

const HELP = `usage: npm run network -- [--arch NAME|FILE.json] [--json] [--layers]

Prints a network as PyTorch's print(model) would, its forward pass and its number of
parameters; with --json, its description as a network file holds it (every default
filled in), which --arch FILE.json reads back; with --layers, every kind of layer a
network file may use, its fields and their defaults. --arch names a preset or a network file.
Presets: ${NETWORKS.map((n) => `${n.name} (${n.description})`).join('; ')}.`;

async function main(): Promise<number> {
  const { values: o } = parseOptions({ options: { arch: { type: 'string', default: DEFAULT_ARCH }, json: { type: 'boolean' }, layers: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  if (o.help) {
    console.log(HELP);
    return 0;
  }
  if (o.layers) {
    console.log(layerTable());
    return 0;
  }
  const net = archOption(o.arch!);
  if (!o.json) {
    console.log(modelSummary(net));
    return 0;
  }
  console.log(networkJson(net));
  return 0;
}

/** Every kind of layer a network file may use, with its fields and their defaults, from the registry. */
function layerTable(): string {
  const rows = [...REGISTRY.values()].map((k) => {
    const fields = Object.entries(k.fields).map(([name, f]) => {
      const d = f.default === undefined ? '' : typeof f.default === 'function' ? ' [kernel]' : ` [${f.default < 1e-3 ? f.default.toExponential() : f.default}]`;
      return `${name}${d}`;
    });
    return `| \`${k.op}\` | ${[...(k.named ? ['name'] : []), ...fields].join(', ') || '-'} |`;
  });
  return ['| op | fields [default] |', '|---|---|', ...rows].join('\n');
}

run(main);
