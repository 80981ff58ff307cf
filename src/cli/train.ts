// npm run train:node: a network (LeNet-5 by default) on MNIST (or another data set in
// MNIST's format, --data) with the tutorial's recipe (minus the flip), then the test
// set, the model file, the metrics and the curves.
import { basename } from 'node:path';
import { SingleBar } from 'cli-progress';
import { renderChart, type History } from '../chart/chart';
import { checkNormalization, MNIST, pixelStatistics, splitRecord } from '../data/dataset';
import { networkNamed } from '../model/network';
import { expectNetwork, loadModel, saveModel } from '../model/safetensors';
import { modelSummary } from '../model/summary';
import type { Checkpoint } from '../train/checkpoint';
import { loadCheckpoint, saveCheckpoint } from '../train/checkpoint-file';
import { checkConfig, DEFAULT_CONFIG, FLAG_ROWS, resumedConfig, epochBatches, stepsPerEpoch, trainImages, type TrainConfig } from '../train/options';
import { modelMetadata, runTraining } from '../train/run';
import { checkResumeData, checkResumePosition, checkTrainBatches, Trainer, type StartFrom } from '../train/trainer';
import { prepareShape } from '../train/feed';
import { checkDistinct, checkOutput, writeFileAtomic, type NamedPath } from '../util/files';
import { configHelp, finiteNumber, helpLines, parseTrainOptions, positiveNumber } from './shared/args';
import { archOption, atExit, DEFAULT_MODEL, describe, exit, lockOutputs, npmRun, openRuntime, readSplits, run, setInterruptHandler, sibling, signalCode, type Signal } from './shared/common';

/** The flags a resumed run takes; the checkpoint has the rest of its settings. */
const RESUMABLE = FLAG_ROWS.filter((r) => r.resume).map((r) => r.flag);

/** train's own flags, beside the training options' (src/train/options.ts): how parseArgs reads each, and its --help line. */
const FLAGS = {
  data: {
    type: 'string',
    usage: '--data DIR',
    help: "IDX files named as MNIST's, raw or .gz: MNIST (the default, from the\nmnist-data package) or a set like it (28x28, 10 classes), such as\nFashion-MNIST or KMNIST",
  },
  mean: {
    type: 'string',
    usage: '--mean X --std Y',
    help: `normalise inputs as (pixel/255 - X) / Y (default: MNIST's ${MNIST.normalization.mean} and\n${MNIST.normalization.std}; with --data, computed from its training images)`,
  },
  std: { type: 'string' }, // with --mean
  init: { type: 'string', usage: '--init FILE', help: 'start from the weights in a .safetensors model' },
  resume: { type: 'string', usage: '--resume FILE', help: `continue a checkpoint (its settings; ${RESUMABLE.join(' and ')} may change)` },
  out: {
    type: 'string',
    usage: '--out FILE',
    help: `model file, ending in .safetensors (default ${DEFAULT_MODEL}, or\nwith --resume the checkpoint's own: X.ckpt.safetensors -> X.safetensors);\nbeside it go .ckpt.safetensors (checkpoint), .metrics.json and .svg (curves)`,
  },
  adapter: { type: 'string', usage: '--adapter NAME', help: 'auto, hardware, llvmpipe or swiftshader (default: LENET_ADAPTER or auto)' },
  help: { type: 'boolean', short: 'h', usage: '-h, --help', help: 'this text' },
} as const;

const HELP = `usage: npm run train:node -- [options]

Trains a network on MNIST or a data set like it (the PyTorch tutorial's LeNet-5 and
recipe, without its random flip, by default), evaluates it on the test set after each
epoch, and saves it with the data set's name and normalisation.

${configHelp()}
${helpLines(Object.values(FLAGS).flatMap((f) => ('usage' in f ? [[f.usage, f.help] as [string, string]] : [])))}`;

async function main(): Promise<number> {
  const { config: given, values: o } = parseTrainOptions(FLAGS);
  if (o.help) {
    console.log(HELP);
    return 0;
  }
  if (o.init && o.resume) throw new Error('--init and --resume exclude each other: a checkpoint has its own weights');
  if ((o.mean === undefined) !== (o.std === undefined)) throw new Error('--mean and --std go together: give both, or neither');
  // --arch with --resume or --init says which network the file must hold (expectNetwork).
  const fixed = FLAG_ROWS.filter((r) => !r.resume && r.key !== 'arch' && given[r.key] !== undefined).map((r) => r.flag);
  if (fixed.length && o.resume) throw new Error(`${fixed.join(', ')} and --resume exclude each other: a checkpoint has its own settings (${RESUMABLE.join(' and ')} may change)`);
  const normalization = o.mean === undefined ? undefined : { mean: finiteNumber(o.mean, '--mean'), std: positiveNumber(o.std!, '--std') };
  if (normalization) checkNormalization(normalization, '', { mean: '--mean', std: '--std' });

  const out = o.out ?? (o.resume ? modelBeside(o.resume) : DEFAULT_MODEL);
  if (!out.endsWith('.safetensors')) throw new Error(`--out ${out}: a model file's name ends in .safetensors`);
  if (basename(out) === '.safetensors') throw new Error(`--out ${out}: a name is missing before .safetensors (its files would be hidden: .safetensors, .ckpt.safetensors, .svg)`);
  const paths = { checkpoint: sibling(out, '.ckpt.safetensors'), metrics: sibling(out, '.metrics.json'), chart: sibling(out, '.svg') };
  const outputs: [string, string][] = [[out, '--out'], [paths.checkpoint, 'the checkpoint beside --out'], [paths.metrics, 'the metrics beside --out'], [paths.chart, 'the curves beside --out']];
  // No output may be a file this run reads (but the checkpoint it resumes, which it
  // has read whole and goes on), nor another of its outputs.
  const inputs: NamedPath[] = [
    ...(o.init ? [{ path: o.init, what: 'the --init model' }] : []),
    ...(o.resume && o.resume !== paths.checkpoint ? [{ path: o.resume, what: 'the --resume checkpoint' }] : []),
    ...(given.arch?.endsWith('.json') ? [{ path: given.arch, what: 'the --arch network file' }] : []),
  ];
  checkDistinct(inputs, outputs.map(([path, what]) => ({ path, what })));

  const arch = given.arch === undefined ? undefined : archOption(given.arch);
  let config: TrainConfig = { ...DEFAULT_CONFIG, ...given, ...(arch ? { arch: arch.name } : {}), ...(normalization ? { normalization } : {}) };
  let start: StartFrom | undefined = arch ? { network: arch } : undefined;
  let history: History = { steps: [], epochs: [] };
  if (o.resume) {
    const c = await loadCheckpoint(o.resume);
    expectNetwork(c.network, arch, o.resume);
    config = resumedConfig(c.config, { ...given, ...(arch ? { arch: arch.name } : {}) });
    const n = c.config.normalization;
    if (normalization && (normalization.mean !== n.mean || normalization.std !== n.std)) {
      throw new Error(`--mean ${normalization.mean} --std ${normalization.std}: ${o.resume} was trained with --mean ${n.mean} --std ${n.std}; a resumed run keeps its normalisation`);
    }
    start = { network: c.network, params: c.params, adam: c.adam, position: c.position, data: c.data };
    history = c.history;
    console.log(`resuming ${o.resume}: ${c.position.epoch} epochs and ${c.position.step} steps done`);
  } else if (o.init) {
    const m = await loadModel(o.init, '', arch);
    config.arch = m.network.name;
    start = { network: m.network, params: m.params };
    console.log(`initial weights from ${o.init}`);
  }

  // Every input is read and checked before the GPU does any work.
  const data = readSplits(o.data);
  if (!o.resume) {
    config.dataset = data.dataset.name;
    if (o.data !== undefined && !normalization) {
      config.normalization = pixelStatistics(data.train.images, `${data.dir}: the training images`);
      const { mean, std } = config.normalization;
      console.log(`normalisation computed from the ${data.train.count} training images: --mean ${mean} --std ${std}`);
    }
  }
  checkConfig(config);
  if (start?.data) {
    const read = { dataset: data.dataset.name, train: splitRecord(data.train), test: data.test && splitRecord(data.test) };
    try {
      checkResumeData(start.data, read, o.data === undefined ? `the default data (${data.dir})` : `--data ${o.data}`);
    } catch (err) {
      throw new Error(`${o.resume}: ${(err as Error).message}`);
    }
  }
  if (start?.position) {
    try {
      checkResumePosition(config, data.train.count, start.position);
    } catch (err) {
      throw new Error(`${o.resume}: ${(err as Error).message}; was the checkpoint edited, or its data set changed?`);
    }
  }
  if (stepsPerEpoch(config, data.train.count) === 0) {
    throw new Error(`--drop-last with ${trainImages(config, data.train.count)} images and batch ${config.batchSize} leaves no batch to train on`);
  }
  // What the network makes of the data, before the GPU opens: its input's size, its batches in train mode.
  const network = start?.network ?? networkNamed(config.arch);
  prepareShape(1, data.train, network);
  checkTrainBatches(network, epochBatches(config, data.train.count));
  // Every output is checked before the GPU does any work, too, and the model's path
  // locked (which covers its siblings): a second run on it is refused.
  for (const [path, what] of outputs) await checkOutput(path, what);
  lockOutputs([[out, '--out']]);
  console.log(modelSummary(network));
  const rt = await openRuntime(o.adapter);
  console.log(`adapter: ${describe(rt)}`);

  // Ctrl-C or SIGTERM from here on stops at the next step and saves a checkpoint; a second signal quits at once.
  let stop: Signal | null = null;
  setInterruptHandler((signal) => {
    if (stop) exit(signalCode(signal));
    stop = signal;
  });

  const setupStart = performance.now();
  const trainer = await Trainer.create(rt, config, data.train, data.test, start);
  const { mean, std } = config.normalization;
  console.log(
    `data: ${trainer.trainCount} training and ${trainer.testCount} test images of ${config.dataset} from ${data.dir}, normalised with mean ${mean}, std ${std}\n` +
      `recipe: ${config.epochs} epochs, batch ${config.batchSize}, Adam lr ${config.lr}, seed ${config.seed}, ` +
      `${config.shuffle ? 'shuffled' : 'not shuffled'}, ${config.hflip ? 'random horizontal flip' : 'no flip'}` +
      `\nset-up (upload, pipelines): ${((performance.now() - setupStart) / 1000).toFixed(1)} s`,
  );

  const writeCurves = async (h: History) => {
    const json = { adapter: rt.adapter, config, ...h };
    await writeFileAtomic(paths.metrics, JSON.stringify(json, null, 1) + '\n');
    await writeFileAtomic(paths.chart, renderChart(h, { title: `${config.arch} on ${config.dataset}, ${rt.adapter.name}` }));
  };

  const tty = process.stderr.isTTY;
  let bar: SingleBar | null = null;
  atExit(() => bar?.stop()); // the terminal gets its cursor back, however the run ends
  let lastTime = 0;
  let lastStep = 0;
  const end = await runTraining(trainer, history, {
    shouldStop: () => stop !== null,
    onEpochStart: (epoch, stepInEpoch, steps) => {
      bar?.stop();
      bar = new SingleBar({
        format: `epoch ${epoch}/${config.epochs} |{bar}| {value}/{total} steps | {speed} img/s | loss {loss} | acc {acc} | ETA {eta_formatted}`,
        hideCursor: tty,
        etaBuffer: 200,
        // Without a terminal (CI, a log file), a plain line every 15 s instead of a redrawn bar.
        noTTYOutput: true,
        notTTYSchedule: 15000,
      });
      bar.start(steps, stepInEpoch, { speed: '-', loss: '-', acc: '-' });
      lastTime = performance.now();
      lastStep = trainer.where.step;
    },
    onLog: (p, done) => {
      const now = performance.now();
      const speed = ((p.step - lastStep) * config.batchSize) / ((now - lastTime) / 1000);
      [lastTime, lastStep] = [now, p.step];
      bar?.update(done, { speed: speed.toFixed(0), loss: p.loss.toFixed(4), acc: `${(100 * p.accuracy).toFixed(2)}%` });
    },
    onEpoch: (_point, result, test) => {
      bar?.stop();
      console.log(
        `Epoch ${result.epoch}: train loss ${result.trainLoss.toFixed(4)}, accuracy ${(100 * result.trainAccuracy).toFixed(2)}% ` +
          `(${result.seconds.toFixed(1)} s, ${(result.samples / result.seconds).toFixed(0)} images/s)` +
          (test ? `\nTest set: Average loss: ${test.loss.toFixed(4)}, Accuracy: ${test.correct}/${test.count} (${(100 * test.accuracy).toFixed(2)}%)` : ''),
      );
    },
    onCheckpoint: async (c: Checkpoint) => {
      await saveCheckpoint(paths.checkpoint, c);
      await writeCurves(c.history);
    },
  });
  if (end === 'stopped') {
    (bar as SingleBar | null)?.stop();
    console.log(
      `\n${stop === 'SIGTERM' ? 'stopped by SIGTERM' : 'interrupted'} at step ${trainer.where.step}: checkpoint saved to ${paths.checkpoint}\n` +
        `resume with: ${npmRun('train')} -- --resume ${paths.checkpoint} (the model then goes beside it, to ${out})`,
    );
    return signalCode(stop!);
  }
  setInterruptHandler(null);

  const metadata = modelMetadata({ config, epochs: trainer.where.epoch, history }, rt.adapter.name);
  await saveModel(out, trainer.network, await trainer.readParameters(), metadata, config);
  console.log(`saved ${out} (PyTorch state_dict names and shapes), ${paths.metrics}, ${paths.chart}`);
  return 0;
}

/** The model a checkpoint's run writes, beside it: X.ckpt.safetensors -> X.safetensors. */
function modelBeside(checkpoint: string): string {
  return checkpoint.endsWith('.ckpt.safetensors') ? checkpoint.replace(/\.ckpt\.safetensors$/, '.safetensors') : sibling(checkpoint, '.model.safetensors');
}

run(main);
