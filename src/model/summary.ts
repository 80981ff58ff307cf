// A network as PyTorch's print(model) shows the equivalent module (max-pools with
// the same settings share one `pool` module, as the tutorial's do), plus what
// print(model) cannot show: the order of the forward pass, with its ReLUs and
// flatten, and the number of parameters. All of it from the network's description.
import type { Network } from './network';
import { parameterTable } from './parameters';

export function modelSummary(net: Network): string {
  const table = parameterTable(net); // checks the description first
  const modules: string[] = [];
  const forward: string[] = [];
  let pools = 0;
  net.layers.forEach((l, i) => {
    switch (l.op) {
      case 'conv2d':
        modules.push(`  (${l.name}): Conv2d(${l.inChannels}, ${l.outChannels}, kernel_size=(${l.kernel}, ${l.kernel}), stride=(1, 1))`);
        forward.push(l.name);
        break;
      case 'linear':
        modules.push(`  (${l.name}): Linear(in_features=${l.inFeatures}, out_features=${l.outFeatures}, bias=True)`);
        forward.push(l.name);
        break;
      case 'maxpool2d':
        if (pools++ === 0) modules.push(`  (pool): MaxPool2d(kernel_size=${l.kernel}, stride=${l.kernel}, padding=0, dilation=1, ceil_mode=False)`);
        forward.push('pool');
        break;
      case 'relu':
        forward.push('relu');
        break;
      case 'flatten': {
        // resolve() checked that the next layer takes exactly what flatten gives.
        const next = net.layers.slice(i).find((x) => x.op === 'linear');
        forward.push(next && next.op === 'linear' ? `flatten(${next.inFeatures})` : 'flatten');
        break;
      }
      case 'log_softmax':
        forward.push('log_softmax');
        break;
    }
  });
  return [
    'Net(',
    ...modules,
    ')',
    `network: ${net.name}, input ${net.input.join('x')}`,
    `forward: ${forward.join(' -> ')}`,
    ...(net.note ? [`         (${net.note})`] : []),
    `parameters: ${table.count.toLocaleString('en-US')}`,
  ].join('\n');
}
