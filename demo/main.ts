/**
 * The page: shows a Session (session.ts) and turns clicks, strokes and dropped files
 * into its calls. Its parts: the recipe form (form.ts), the pictures (pictures.ts),
 * the files (files.ts) and window.lenet (api.ts), which exposes the same calls and
 * state for automation; here, the view of the run and the start-up.
 */
import { renderChart } from '../src/chart/chart';
import { sentence } from '../src/util/text';
import { installApi } from './api';
import { $, showMessage } from './dom';
import { fileControls } from './files';
import { RecipeForm } from './form';
import { PictureView } from './pictures';
import { Session } from './session';

const buttons = {
  start: $<HTMLButtonElement>('start'),
  pause: $<HTMLButtonElement>('pause'),
  reset: $<HTMLButtonElement>('reset'),
  model: $<HTMLButtonElement>('download'),
  checkpoint: $<HTMLButtonElement>('download-checkpoint'),
};

const session = new Session({
  changed: scheduleRender,
  weightsChanged: () => pictures.weightsChanged(),
  notice: showMessage,
});
const form = new RecipeForm($<HTMLFormElement>('recipe'), session);
const pictures = new PictureView(session);
const files = fileControls(session, form);

buttons.start.addEventListener('click', () => void form.start().catch(() => {}));
buttons.pause.addEventListener('click', () => void session.pause());
buttons.reset.addEventListener('click', () => void session.reset());

// ------------------------------------------------------------ the view of the run

let renderTimer: number | null = null;
let lastRender = 0;
let renderedPhase = '';

/** A new phase shows at once; new metrics at most a few times a second, however often they come. */
function scheduleRender(): void {
  if (session.phase !== renderedPhase) {
    if (renderTimer !== null) window.clearTimeout(renderTimer);
    renderTimer = null;
    render();
    return;
  }
  if (renderTimer !== null) return;
  const wait = Math.max(0, 200 - (performance.now() - lastRender));
  renderTimer = window.setTimeout(() => {
    renderTimer = null;
    render();
  }, wait);
}

const PHASES: Record<string, string> = {
  starting: 'Looking for WebGPU…',
  'no-gpu': 'No WebGPU',
  preparing: 'Preparing: uploading the images, compiling the kernels…',
  training: 'Training…',
  pausing: 'Pausing after the steps already queued…',
  paused: 'Paused',
  done: 'Done',
  reconnecting: 'Reopening the GPU…',
};

function render(): void {
  const { phase, adapter, figures, model } = session;
  const { stats, history } = figures;
  renderedPhase = phase;
  lastRender = performance.now();
  const a = $('adapter');
  if (adapter) {
    // The page cannot tell the backend, so the engine's name ends in "(browser)": leave that out.
    // Firefox names no adapter at all: say so, and what it does tell.
    const name = adapter.details ? 'the browser does not say which' : adapter.name.replace(/ \(browser\)$/, '');
    const software = adapter.software ? ' (software, on the CPU: training is slow)' : '';
    a.textContent = `WebGPU adapter: ${name}${software}${adapter.details ? `. It tells: ${adapter.details}.` : ''}`;
    a.className = 'adapter ok';
  } else if (phase === 'no-gpu') {
    a.textContent = 'No WebGPU: this page needs it to train and to predict.';
    a.className = 'adapter bad';
  }

  const ready = adapter !== null && session.dataState === 'ready' && !['starting', 'no-gpu', 'reconnecting', 'preparing'].includes(phase);
  const running = session.running;
  buttons.start.disabled = !ready || running;
  buttons.start.textContent = phase === 'paused' ? 'Resume' : phase === 'done' ? 'Train again' : 'Start';
  buttons.pause.disabled = phase !== 'training';
  buttons.reset.disabled = running ? phase !== 'training' : !(model.hasModel || history.steps.length > 0);
  form.render(phase, running, model.loaded !== null);
  $('phase').textContent = PHASES[phase] ?? '';

  const total = stats.epochs * stats.stepsPerEpoch;
  const progress = $<HTMLProgressElement>('progress');
  progress.value = total ? Math.min(1, (stats.epoch * stats.stepsPerEpoch + stats.stepInEpoch) / total) : 0;

  const pct = (x: number | null) => (x === null ? '–' : `${(100 * x).toFixed(2)}%`);
  $('stat-epoch').textContent = stats.epochs ? `${Math.min(stats.epoch + (phase === 'done' ? 0 : 1), stats.epochs)} / ${stats.epochs}` : '–';
  $('stat-step').textContent = total ? `${stats.step} / ${total}` : '–';
  $('stat-loss').textContent = stats.lastLoss === null ? '–' : stats.lastLoss.toFixed(4);
  $('stat-train-acc').textContent = pct(stats.lastTrainAccuracy);
  $('stat-test-acc').textContent = pct(stats.testAccuracy);
  $('stat-speed').textContent = stats.imagesPerSecond === null ? '–' : stats.imagesPerSecond.toFixed(0);

  $('chart').innerHTML = renderChart(history, { width: 900, height: 330 });
  $('epochs').replaceChildren(
    ...history.epochs.map((e) => {
      const li = document.createElement('li');
      li.textContent = `Epoch ${e.epoch}: test accuracy ${pct(e.testAccuracy ?? null)}, test loss ${e.testLoss?.toFixed(4)} (train: ${pct(e.trainAccuracy)}, loss ${e.trainLoss.toFixed(4)})`;
      return li;
    }),
  );

  pictures.render();

  $('model-source').textContent = model.source ? `Model: ${model.source}.` : 'No model yet: train one, or load one saved by npm run train:node.';
  buttons.model.disabled = !model.hasModel;
  buttons.checkpoint.disabled = !session.canCheckpoint;
}

// ------------------------------------------------------------ start-up

const MB = (bytes: number) => (bytes / 1e6).toFixed(1);

async function loadData(): Promise<void> {
  const status = $('data-status');
  status.textContent = 'Downloading MNIST…';
  try {
    await session.loadData(new URL('data/', document.baseURI), (p) => {
      status.textContent = `Downloading MNIST… ${MB(p.loaded)}${p.total ? ` of ${MB(p.total)}` : ''} MB`;
    });
    const { train, test } = session.data!;
    status.textContent = `MNIST: ${train.count.toLocaleString('en')} training and ${test.count.toLocaleString('en')} test images.`;
  } catch (err) {
    status.textContent = 'MNIST could not be downloaded.';
    showMessage(`The MNIST data could not be downloaded: ${sentence((err as Error).message)} Drawing with a loaded model still works.`, 'error', {
      label: 'Retry download',
      run: () => void loadData(),
    });
  }
}

async function openGpu(): Promise<void> {
  try {
    await session.openGpu();
  } catch (err) {
    showMessage((err as Error).message, 'error');
    return;
  }
  // CPU adapters train at about a hundred images a second: start the form with a
  // recipe that finishes in minutes (0 still means all).
  if (session.adapter?.software && form.value('limit') === '0' && form.value('testLimit') === '0') {
    form.write({ limit: 6000, testLimit: 2000 });
    $('recipe-note').textContent = 'On a CPU adapter the form starts with 6,000 training and 2,000 test images, so that an epoch takes about a minute; 0 means all.';
  }
}

const ready = Promise.all([openGpu(), loadData()]).then(() => undefined);
render();
installApi({ session, form, pictures, load: files.load, ready });
