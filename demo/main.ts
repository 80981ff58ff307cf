/**
 * The page: shows a Session (session.ts) and turns clicks, strokes and dropped files
 * into its calls. window.lenet exposes the same calls and state for automation.
 */
import { renderChart } from '../src/chart/chart';
import { renderConfusion, renderFeatureMaps, renderFilters, renderMistakes } from '../src/chart/pictures';
import { NETWORKS } from '../src/model/network';
import { featureMapPicture, type Explanation } from '../src/train/inference';
import { DEFAULT_CONFIG, type TrainConfig } from '../src/train/options';
import { sentence } from '../src/util/text';
import { DrawingPad, showDigit } from './pad';
import { fileKind, logInterval, Session, type Filters, type TestPicture } from './session';

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
};

const form = $<HTMLFormElement>('recipe');
const buttons = {
  start: $<HTMLButtonElement>('start'),
  pause: $<HTMLButtonElement>('pause'),
  reset: $<HTMLButtonElement>('reset'),
  model: $<HTMLButtonElement>('download'),
  checkpoint: $<HTMLButtonElement>('download-checkpoint'),
};

// ------------------------------------------------------------ messages

let messageText: string | null = null;

/** One message at a time, with an optional action (e.g. retry a download). */
function showMessage(text: string, kind: 'error' | 'info', action?: { label: string; run: () => void }): void {
  messageText = text;
  const box = $('message');
  box.hidden = false;
  box.className = `message ${kind}`;
  $('message-text').textContent = text;
  const button = $<HTMLButtonElement>('message-action');
  button.hidden = !action;
  button.textContent = action?.label ?? '';
  button.onclick = action
    ? () => {
        hideMessage();
        action.run();
      }
    : null;
}

function hideMessage(): void {
  messageText = null;
  $('message').hidden = true;
}

$('message-close').addEventListener('click', hideMessage);

// ------------------------------------------------------------ the session and its view

const session = new Session({
  changed: scheduleRender,
  weightsChanged: () => {
    filtersStale = true;
    void predictDrawing();
  },
  notice: showMessage,
});

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
  const { phase, stats, adapter } = session;
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
  buttons.reset.disabled = running ? phase !== 'training' : !(session.hasModel || session.history.steps.length > 0);
  // A run keeps its recipe until it is reset, but for its epochs, which a paused run may extend;
  // a loaded model's weights fix the network.
  for (const field of Array.from(form.querySelectorAll<HTMLInputElement | HTMLSelectElement>('input, select'))) {
    field.disabled = running || (phase === 'paused' && field.name !== 'epochs') || (field.name === 'arch' && session.loadedNetwork !== null);
  }
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

  $('chart').innerHTML = renderChart(session.history, { width: 900, height: 330 });
  $('epochs').replaceChildren(
    ...session.history.epochs.map((e) => {
      const li = document.createElement('li');
      li.textContent = `Epoch ${e.epoch}: test accuracy ${pct(e.testAccuracy ?? null)}, test loss ${e.testLoss?.toFixed(4)} (train: ${pct(e.trainAccuracy)}, loss ${e.trainLoss.toFixed(4)})`;
      return li;
    }),
  );

  if (session.lastTest !== shownTest) showTestPictures(session.lastTest);

  $('model-source').textContent = session.modelSource
    ? `Model: ${session.modelSource}.`
    : 'No model yet: train one, or load one saved by npm run train:node.';
  buttons.model.disabled = !session.hasModel;
  buttons.checkpoint.disabled = !session.canCheckpoint;
}

// ------------------------------------------------------------ training

const NUMBERS = { epochs: 'Epochs', batchSize: 'Batch size', lr: 'Learning rate', limit: 'Training images', testLimit: 'Test images', seed: 'Seed' } as const;
/** The TrainConfig fields the form has no field for: window.lenet.train may set them. */
type Unseen = Pick<TrainConfig, 'shuffle' | 'dropLast' | 'logEvery'>;
let unseen: Partial<Unseen> = {};

function input(name: string): HTMLInputElement {
  return form.elements.namedItem(name) as HTMLInputElement;
}

const arch = form.elements.namedItem('arch') as HTMLSelectElement;
arch.replaceChildren(
  ...NETWORKS.map((n) => {
    const option = document.createElement('option');
    option.value = n.name;
    option.textContent = n.name;
    option.title = n.description;
    return option;
  }),
);

/** The form's TrainConfig; metrics are read every logInterval() steps unless told otherwise. */
function readConfig(): TrainConfig {
  const given = Object.fromEntries(Object.entries(unseen).filter(([, v]) => v !== undefined));
  const c: TrainConfig = { ...DEFAULT_CONFIG, ...given, arch: arch.value, hflip: input('hflip').checked };
  for (const [name, label] of Object.entries(NUMBERS)) {
    const value = input(name).valueAsNumber;
    if (!Number.isFinite(value)) throw new Error(`${label}: "${input(name).value}" is not a number`);
    c[name as keyof typeof NUMBERS] = value;
  }
  c.logEvery = unseen.logEvery ?? logInterval(c.batchSize, session.adapter?.software ?? true);
  return c;
}

function writeConfig(c: Partial<TrainConfig>): void {
  for (const name of Object.keys(NUMBERS) as (keyof typeof NUMBERS)[]) if (c[name] !== undefined) input(name).value = String(c[name]);
  if (c.hflip !== undefined) input('hflip').checked = c.hflip;
  if (c.arch !== undefined) arch.value = c.arch;
  arch.title = NETWORKS.find((n) => n.name === arch.value)?.description ?? '';
}

arch.addEventListener('change', () => writeConfig({}));
writeConfig(DEFAULT_CONFIG);

/** Start or resume, as the button does; resolves when training stops. */
async function start(): Promise<void> {
  try {
    const config = readConfig();
    if (messageText) hideMessage();
    await session.train(config);
  } catch (err) {
    showMessage(`Training stopped: ${(err as Error).message}`, 'error');
    throw err;
  }
}

buttons.start.addEventListener('click', () => void start().catch(() => {}));
buttons.pause.addEventListener('click', () => void session.pause());
buttons.reset.addEventListener('click', () => void session.reset());

// ------------------------------------------------------------ drawing and predicting

const bars = $('bars');
bars.replaceChildren(
  ...Array.from({ length: 10 }, (_, digit) => {
    const li = document.createElement('li');
    li.innerHTML = `<span class="digit">${digit}</span><span class="bar"><span></span></span><span class="value"></span>`;
    return li;
  }),
);

let drawn: number[] | null = null;
let drawing: Promise<void> = Promise.resolve();
let predicting = false;
let again = false;
/** The weights changed since the filters were last read. */
let filtersStale = true;

/**
 * Redraws what depends on the drawing and the weights: the bars, the feature maps and,
 * when the weights changed, the filters, all read back at one sync point (a wait the
 * training loop shares). While one runs, the latest strokes wait for the next.
 */
function predictDrawing(): Promise<void> {
  if (predicting) {
    again = true;
    return drawing;
  }
  predicting = true;
  drawing = (async () => {
    try {
      do {
        again = false;
        const digit = pad.digit();
        showDigit($<HTMLCanvasElement>('seen'), digit);
        if (!session.hasModel || !session.adapter) {
          drawn = null;
          showMaps(null);
          showFilters(null);
          showBars(null, !session.adapter ? 'Predictions need WebGPU.' : 'Train or load a model to see what it makes of your digit.');
          continue;
        }
        const pictures = picturesNow();
        const filters = pictures && filtersStale;
        filtersStale &&= !filters;
        if (pictures && (digit || filters)) {
          const r = await session.pictures(digit, filters);
          if (r.filters) showFilters(r.filters);
          drawn = r.explanation && Array.from(r.explanation.probabilities);
          if (!again) showMaps(r.explanation?.maps ?? null);
        } else {
          drawn = digit && Array.from((await session.predict([digit]))[0]);
        }
        if (!again) showBars(drawn, 'Draw a digit in the box.');
      } while (again);
    } catch (err) {
      drawn = null;
      filtersStale = true;
      showBars(null, `Could not predict: ${(err as Error).message}`);
    } finally {
      predicting = false;
    }
  })();
  return drawing;
}

const pad = new DrawingPad($<HTMLCanvasElement>('pad'), () => void predictDrawing());
$('clear').addEventListener('click', () => pad.clear());

function showBars(p: number[] | null, note?: string): void {
  const best = p ? p.indexOf(Math.max(...p)) : -1;
  Array.from(bars.children).forEach((li, digit) => {
    li.classList.toggle('best', digit === best);
    (li.querySelector('.bar > span') as HTMLElement).style.width = `${p ? 100 * p[digit] : 0}%`;
    li.querySelector('.value')!.textContent = p ? `${(100 * p[digit]).toFixed(1)}%` : '';
  });
  $('guess').textContent = p ? `It looks like a ${best} (${(100 * p[best]).toFixed(1)}%).` : (note ?? '');
  $('guess').dataset.digit = p ? String(best) : '';
}

// ------------------------------------------------------------ what it learned

const live = $<HTMLInputElement>('live');
/** The feature maps last drawn for the pad's digit (null: none). */
let shownMaps: { name: string; values: number[] }[] | null = null;
/** The test pass whose pictures are shown. */
let shownTest: TestPicture | null = null;
let filtersShown = 0;

/** Whether the pictures follow the weights now: always, but while training only when asked to. */
function picturesNow(): boolean {
  return live.checked || !session.running;
}

live.addEventListener('change', () => {
  if (live.checked) void predictDrawing();
});

/** The first conv layer's filters (null: no model). */
function showFilters(f: Filters | null): void {
  const box = $('filters');
  if (!f) {
    box.innerHTML = '<p class="note">Train or load a model to see its filters.</p>';
    return;
  }
  box.innerHTML = renderFilters(f.weights, f.shape, { title: `${f.layer}: ${f.shape[0]} filters of ${f.shape[2]}×${f.shape[3]} (light: positive, dark: negative)` });
  filtersShown++;
}

function showMaps(maps: Explanation['maps'] | null): void {
  const box = $('maps');
  if (!maps) {
    shownMaps = null;
    box.innerHTML = '<p class="note">The conv layers\' feature maps for your digit.</p>';
    return;
  }
  shownMaps = maps.map((m) => ({ name: m.name, values: Array.from(m.values) }));
  box.innerHTML = renderFeatureMaps(maps.map((m) => featureMapPicture(m, `${m.label}: ${m.shape.join(' × ')}`)));
}

function showTestPictures(t: TestPicture | null): void {
  shownTest = t;
  $('confusion').innerHTML = t ? renderConfusion(t.confusion, { title: `after epoch ${t.epoch}` }) : '<p class="note">Shown after each epoch\'s test pass.</p>';
  $('mistakes').innerHTML = t ? renderMistakes(t.mistakes, { columns: 6, title: `${t.missed} of ${t.confusion.flat().reduce((a, b) => a + b, 0)} test images missed` }) : '';
  $('confusion-cell').textContent = 'Point at a cell, or tap it, for its count.';
}

/** A confusion cell's count, on hover and on tap. */
function showCell(e: Event): void {
  const cell = (e.target as Element).closest?.('.cell');
  if (!cell) return;
  for (const c of Array.from($('confusion').querySelectorAll('.cell.chosen'))) c.classList.remove('chosen');
  cell.classList.add('chosen');
  $('confusion-cell').textContent = cell.querySelector('title')?.textContent ?? '';
}
$('confusion').addEventListener('pointerover', showCell);
$('confusion').addEventListener('click', showCell);

$('mistakes').addEventListener('click', (e) => {
  const tile = (e.target as Element).closest?.('[data-index]');
  const m = tile && shownTest?.mistakes.find((x) => x.index === Number(tile.getAttribute('data-index')));
  if (m) pad.show(m.pixels, m.rows, m.cols);
});

// ------------------------------------------------------------ model files

async function loadFile(bytes: Uint8Array, name: string): Promise<void> {
  let kind = 'model';
  try {
    kind = fileKind(bytes, name);
    const loaded = await session.loadFile(bytes, name);
    if (loaded.kind === 'checkpoint') {
      writeConfig(loaded.config);
      showMessage(`Loaded the checkpoint ${name}: Resume continues its run (more epochs extend it).`, 'info');
    } else {
      writeConfig({ arch: loaded.network.name });
      showMessage(`Loaded the model ${name}.`, 'info');
    }
  } catch (err) {
    showMessage(`Could not load the ${kind}: ${(err as Error).message}`, 'error');
    throw err;
  }
}

async function pickedFile(file: File): Promise<void> {
  await loadFile(new Uint8Array(await file.arrayBuffer()), file.name).catch(() => {});
}

const picker = $<HTMLInputElement>('model-file');
picker.addEventListener('change', () => {
  const file = picker.files?.[0];
  picker.value = ''; // the same file again is a new choice
  if (file) void pickedFile(file);
});

// Drag and drop anywhere on the page.
const hasFiles = (e: DragEvent) => e.dataTransfer?.types.includes('Files') ?? false;
document.addEventListener('dragover', (e) => {
  if (!hasFiles(e)) return;
  e.preventDefault();
  $('drop').hidden = false;
});
document.addEventListener('dragleave', (e) => {
  if (e.relatedTarget === null) $('drop').hidden = true;
});
document.addEventListener('drop', (e) => {
  $('drop').hidden = true;
  const file = e.dataTransfer?.files[0];
  if (!file) return;
  e.preventDefault();
  void pickedFile(file);
});

/** Saves what `make` returns as a download named after the network: lenet5-page + `suffix`. */
async function download(what: string, make: () => Promise<Uint8Array>, suffix: string): Promise<void> {
  try {
    const bytes = await make();
    const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = `${session.network?.name ?? 'model'}-page${suffix}`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  } catch (err) {
    showMessage(`Could not save the ${what}: ${(err as Error).message}`, 'error');
  }
}

buttons.model.addEventListener('click', () => void download('model', () => session.modelFile(), '.safetensors'));
buttons.checkpoint.addEventListener('click', () => void download('checkpoint', () => session.checkpointFile(), '.ckpt.safetensors'));

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
  if (session.adapter?.software && input('limit').value === '0' && input('testLimit').value === '0') {
    writeConfig({ limit: 6000, testLimit: 2000 });
    $('recipe-note').textContent = 'On a CPU adapter the form starts with 6,000 training and 2,000 test images, so that an epoch takes about a minute; 0 means all.';
  }
}

const ready = Promise.all([openGpu(), loadData()]).then(() => undefined);
render();

// ------------------------------------------------------------ automation

const api = {
  /** Resolves once the GPU and the data have been tried (whatever came of it). */
  ready,
  get adapter() {
    return session.adapter;
  },
  get state() {
    return session.phase;
  },
  get dataState() {
    return session.dataState;
  },
  get hasModel() {
    return session.hasModel;
  },
  get epoch() {
    return session.stats.epoch;
  },
  get step() {
    return session.stats.step;
  },
  get lastLoss() {
    return session.stats.lastLoss;
  },
  get lastTrainAccuracy() {
    return session.stats.lastTrainAccuracy;
  },
  get testAccuracy() {
    return session.stats.testAccuracy;
  },
  get imagesPerSecond() {
    return session.stats.imagesPerSecond;
  },
  /** Every metrics read of the run: step, loss, accuracy and time (ms). */
  get log() {
    return session.log.map((e) => ({ ...e }));
  },
  get epochs() {
    return session.history.epochs.map((e) => ({ ...e }));
  },
  /** The message the page shows, if any. */
  get message() {
    return messageText;
  },
  /** The current run's recipe (null: none yet). */
  get config() {
    return session.config && { ...session.config };
  },
  /** The network of the current weights. */
  get network() {
    return session.network?.name ?? null;
  },
  /** Where the kept checkpoint stands (Adam's step, epochs done, step in the epoch), or null. */
  get checkpoint() {
    return session.checkpoint;
  },
  /**
   * Starts training as the Start button does, with `options` written over the form's
   * values (fields the form lacks, over the defaults); a paused run continues with its
   * own recipe but for `epochs`. Resolves when training stops.
   */
  train(options: Partial<TrainConfig> = {}): Promise<void> {
    const { shuffle, dropLast, logEvery } = options;
    unseen = { shuffle, dropLast, logEvery };
    writeConfig(session.phase === 'paused' ? { epochs: options.epochs } : { ...options, arch: session.loadedNetwork?.name ?? options.arch });
    return start();
  },
  pause: () => session.pause(),
  reset: () => session.reset(),
  /** The ten probabilities for a 28x28 MNIST digit (bytes 0..255, white ink on black). */
  async predict(pixels: ArrayLike<number>): Promise<number[]> {
    if (pixels.length !== 784) throw new Error(`predict: expected 28x28 = 784 pixels, got ${pixels.length}`);
    const [p] = await session.predict([Uint8Array.from(pixels)]);
    return Array.from(p);
  },
  /** Loads a .safetensors model or checkpoint as the file picker does (a bad one rejects and shows a message). */
  load: (bytes: ArrayLike<number> | ArrayBuffer, name = 'model.safetensors') =>
    loadFile(bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : Uint8Array.from(bytes), name),
  /** The run's checkpoint as the Download checkpoint button saves it (a .ckpt.safetensors file's bytes). */
  checkpointFile: () => session.checkpointFile(),
  /** The probabilities shown for the drawing, once the predictions in flight are done (null: none). */
  async drawing(): Promise<number[] | null> {
    await drawing;
    return drawn;
  },
  /** The last test pass's confusion matrix (rows: true class), or null. */
  get confusion() {
    return session.lastTest && session.lastTest.confusion.map((row) => [...row]);
  },
  /** Its most confident mistakes, as the gallery shows them. */
  get mistakes() {
    return session.lastTest?.mistakes.map(({ index, label, predicted, probability }) => ({ index, label, predicted, probability })) ?? [];
  },
  /** The feature maps drawn for the pad's digit (each layer's values), or null. */
  get featureMaps() {
    return shownMaps && shownMaps.map((m) => ({ ...m }));
  },
  /** How many times the filters have been drawn. */
  get filtersShown() {
    return filtersShown;
  },
  /** Whether the filters and the feature maps follow the weights while training (the checkbox). */
  get livePictures() {
    return live.checked;
  },
  set livePictures(on: boolean) {
    live.checked = on;
  },
  /** Puts a 28x28 MNIST digit (bytes, white ink on black) on the drawing pad, as clicking a mistake does. */
  showDigit(pixels: ArrayLike<number>) {
    if (pixels.length !== 784) throw new Error(`showDigit: expected 28x28 = 784 pixels, got ${pixels.length}`);
    pad.show(pixels);
  },
  /** Destroys the GPU device, to see the page recover. */
  loseDevice: () => session.loseDevice(),
};

declare global {
  interface Window {
    lenet: typeof api;
  }
}
window.lenet = api;
