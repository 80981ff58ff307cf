// Network files: what parseNetwork reads back, and every mistake a file can hold as
// one line naming the file, the layer (position, op and name) and what is wrong.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { describeNetwork, LENET5, networkJson, NETWORKS, parseNetwork, resolve, sameNetwork } from '../src/model/network';
import { REGISTRY } from '../src/model/registry';
import { modelSummary } from '../src/model/summary';

const FILE = 'my.json';
const base = { name: 'mynet', input: [1, 28, 28] };
const conv = { op: 'conv2d', name: 'c1', inChannels: 1, outChannels: 8, kernel: 3, stride: 1, padding: 1 };
const tail = [{ op: 'flatten' }, { op: 'linear', name: 'f1', inFeatures: 8 * 28 * 28, outFeatures: 10 }, { op: 'log_softmax' }];
const net = (...layers: object[]) => JSON.stringify({ ...base, layers });

test("the issue's example file: every layer kind, with the defaults filled in", () => {
  const text = JSON.stringify({
    name: 'mynet',
    input: [1, 28, 28],
    layers: [
      { op: 'conv2d', name: 'c1', inChannels: 1, outChannels: 8, kernel: 3, stride: 1, padding: 1 },
      { op: 'batchnorm2d', name: 'n1', channels: 8, eps: 1e-5, momentum: 0.1 },
      { op: 'relu' }, { op: 'maxpool2d', kernel: 2, stride: 2 }, { op: 'avgpool2d', kernel: 2 },
      { op: 'tanh' }, { op: 'sigmoid' }, { op: 'dropout', p: 0.25 }, { op: 'flatten' },
      { op: 'linear', name: 'f1', inFeatures: 392, outFeatures: 64 },
      { op: 'batchnorm1d', name: 'n2', features: 64 }, { op: 'log_softmax' },
    ],
  });
  const n = parseNetwork(text, FILE);
  const layers = resolve(n).layers;
  assert.equal(layers[4], { op: 'avgpool2d', kernel: 2, stride: 2 });
  assert.equal(layers[10], { op: 'batchnorm1d', name: 'n2', features: 64, eps: 1e-5, momentum: 0.1 });
  // The stages: the ReLU after a batchnorm is one of its own; log_softmax after a linear.
  assert.equal(resolve(n).stages.map((s) => s.name), ['c1', 'n1', 'relu1', 'pool1', 'pool2', 'tanh1', 'sigmoid1', 'dropout1', 'f1', 'n2', 'log_probs']);
  assert.equal(resolve(n).stages.at(-2)!.outShape, [64]);
  // Every kind the registry has is in it, but for linear's log_softmax partner.
  const ops = new Set(layers.map((l) => l.op));
  for (const op of REGISTRY.keys()) assert.ok(ops.has(op), op);
  // What `network --json` prints reads back to the same network.
  assert.ok(sameNetwork(parseNetwork(networkJson(n), 'again.json'), n));
  assert.match(modelSummary(n), /parameters: .* \(and 6 buffers: running statistics\)/);
});

test('print(model): a ReLU of its own name is its own module, fused or not; unnamed ones share `relu`', () => {
  const n = parseNetwork(net(conv, { op: 'relu', name: 'act' }, { op: 'maxpool2d', kernel: 2 }, { op: 'relu' }, { op: 'flatten' }, { op: 'linear', name: 'f1', inFeatures: 8 * 14 * 14, outFeatures: 10 }, { op: 'log_softmax' }), FILE);
  const summary = modelSummary(n);
  assert.ok(summary.startsWith('Net(\n  (c1): Conv2d(1, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))\n  (act): ReLU()\n  (maxpool1): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)\n  (relu): ReLU()\n  (f1): '), summary);
  assert.match(summary, /forward: c1 -> act -> maxpool1 -> relu -> flatten\(1568\) -> f1 -> log_softmax/);
  assert.ok(resolve(n).stages[0].relu, 'the named ReLU is still fused into c1');
});

test('every preset prints as a network file that reads back to itself', () => {
  for (const preset of NETWORKS) {
    const back = parseNetwork(networkJson(preset), `${preset.name}.json`);
    assert.equal(describeNetwork(back), describeNetwork(preset), preset.name);
  }
  assert.ok(sameNetwork(parseNetwork(networkJson(LENET5), 'x.json'), LENET5));
});

const refused: [string, string | object, RegExp][] = [
  ['not JSON', '{"name": ', /^my\.json: not JSON \(/],
  ['not an object', '[1, 2]', /^my\.json: a network is a JSON object/],
  ['an unknown top-level field', JSON.stringify({ ...base, layers: [conv, ...tail], optimizer: 'sgd' }), /^my\.json: unknown field "optimizer"/],
  ['a bad input', JSON.stringify({ ...base, input: [1, 28], layers: [conv, ...tail] }), /"input" must be \[channels, height, width\]/],
  ['colour input', JSON.stringify({ ...base, input: [3, 28, 28], layers: [conv, ...tail] }), /"input" has 3 channels, but the data sets are greyscale/],
  ['an unknown op', net(conv, { op: 'gelu' }, ...tail), /^my\.json: layer 2 \(gelu\): unknown op "gelu" \(known: conv2d, /],
  ['an unknown field', net({ ...conv, dilation: 2 }, ...tail), /^my\.json: layer 1 \(conv2d "c1"\): unknown field "dilation" for conv2d/],
  ['a missing size', net({ op: 'conv2d', name: 'c1', inChannels: 1, kernel: 3 }, ...tail), /layer 1 \(conv2d "c1"\): needs "outChannels"/],
  ['a non-integer size', net({ ...conv, outChannels: 8.5 }, ...tail), /layer 1 \(conv2d "c1"\): outChannels must be an integer, got 8\.5/],
  ['a size given as text', net({ ...conv, kernel: '3' }, ...tail), /layer 1 \(conv2d "c1"\): kernel must be a number, got "3"/],
  ['a zero stride', net({ ...conv, stride: 0 }, ...tail), /layer 1 \(conv2d "c1"\): stride must be at least 1, got 0/],
  ['a negative padding', net({ ...conv, padding: -1 }, ...tail), /layer 1 \(conv2d "c1"\): padding must be at least 0, got -1/],
  ['a pool with a zero stride', net(conv, { op: 'maxpool2d', kernel: 2, stride: 0 }, ...tail), /layer 2 \(maxpool2d\): stride must be at least 1, got 0/],
  ['p of 1', net(conv, { op: 'dropout', p: 1 }, ...tail), /layer 2 \(dropout\): p must be less than 1, got 1/],
  ['p below 0', net(conv, { op: 'dropout', p: -0.1 }, ...tail), /layer 2 \(dropout\): p must be at least 0, got -0\.1/],
  ['a conv without a name', net({ ...conv, name: undefined }, ...tail), /layer 1 \(conv2d\): needs "name"/],
  ['a bad name', net({ ...conv, name: '1st' }, ...tail), /layer 1 \(conv2d "1st"\): name "1st" is not a valid name/],
  ['a name used twice', net(conv, { op: 'flatten' }, { op: 'linear', name: 'c1', inFeatures: 8 * 28 * 28, outFeatures: 10 }, { op: 'log_softmax' }), /the name "c1" is used twice/],
  ['shapes that do not chain', net(conv, { op: 'flatten' }, { op: 'linear', name: 'f1', inFeatures: 100, outFeatures: 10 }, { op: 'log_softmax' }), /^my\.json: layer 3 \(linear "f1"\): expects 100 input features, gets 6272/],
  ['channels that do not chain', net(conv, { op: 'batchnorm2d', name: 'n', channels: 6 }, ...tail), /layer 2 \(batchnorm2d "n"\): expects 6 channels, gets 8/],
  ['a linear on a map', net(conv, { op: 'linear', name: 'f1', inFeatures: 10, outFeatures: 10 }, { op: 'log_softmax' }), /layer 2 \(linear "f1"\): needs a flat input, gets 8x28x28: put a flatten before it/],
  ['a kernel past the largest', net({ ...conv, kernel: 9, padding: 4 }, ...tail), /layer 1 \(conv2d "c1"\): kernel 9 is larger than 7, the largest conv2d\.wgsl takes/],
  ['a window larger than its input', net({ ...conv, kernel: 5, stride: 5, padding: 0 }, { op: 'maxpool2d', kernel: 7 }, ...tail), /layer 2 \(maxpool2d\): its 5x5 input is smaller than the 7x7 window/],
  ['no log_softmax at the end', net(conv, { op: 'flatten' }, { op: 'linear', name: 'f1', inFeatures: 6272, outFeatures: 10 }), /the last layer must be log_softmax/],
  ['a layer after log_softmax', net(conv, ...tail, { op: 'relu' }), /layer 5 \(relu\): nothing may follow log_softmax/],
  ['no parameters', net({ op: 'maxpool2d', kernel: 2 }, { op: 'flatten' }, { op: 'log_softmax' }), /has no layer with parameters/],
];

for (const [what, text, message] of refused) {
  test(`refused with one line: ${what}`, () => {
    let error: Error | null = null;
    try {
      parseNetwork(typeof text === 'string' ? text : JSON.stringify(text), FILE);
    } catch (err) {
      error = err as Error;
    }
    assert.ok(error, `${what}: accepted`);
    assert.match(error!.message, message);
    assert.ok(error!.message.startsWith('my.json: '), error!.message);
    assert.not.match(error!.message, /\n/);
  });
}

test.run();
