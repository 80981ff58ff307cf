/**
 * window.lenet: the page's calls and state for automation (test/e2e/demo.test.ts
 * drives the page through it), the same calls its buttons and fields make.
 */
import type { TrainConfig } from '../src/train/options';
import { shownMessage } from './dom';
import type { RecipeForm } from './form';
import type { PictureView } from './pictures';
import type { Session } from './session';

export interface PageParts {
  session: Session;
  form: RecipeForm;
  pictures: PictureView;
  /** Loads a file as the file picker does. */
  load(bytes: Uint8Array, name: string): Promise<void>;
  /** Resolves once the GPU and the data have been tried (whatever came of it). */
  ready: Promise<void>;
}

function lenetApi({ session, form, pictures, load, ready }: PageParts) {
  const { figures } = session;
  return {
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
      return session.model.hasModel;
    },
    get epoch() {
      return figures.stats.epoch;
    },
    get step() {
      return figures.stats.step;
    },
    get lastLoss() {
      return figures.stats.lastLoss;
    },
    get lastTrainAccuracy() {
      return figures.stats.lastTrainAccuracy;
    },
    get testAccuracy() {
      return figures.stats.testAccuracy;
    },
    get imagesPerSecond() {
      return figures.stats.imagesPerSecond;
    },
    /** Every metrics read of the run: step, loss, accuracy and time (ms). */
    get log() {
      return figures.log.map((e) => ({ ...e }));
    },
    get epochs() {
      return figures.history.epochs.map((e) => ({ ...e }));
    },
    /** The message the page shows, if any. */
    get message() {
      return shownMessage();
    },
    /** The current run's recipe (null: none yet). */
    get config() {
      const c = session.model.config;
      return c && { ...c };
    },
    /** The network of the current weights. */
    get network() {
      return session.model.network?.name ?? null;
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
    train: (options: Partial<TrainConfig> = {}): Promise<void> => form.startWith(options),
    pause: () => session.pause(),
    reset: () => session.reset(),
    /** The ten probabilities for a 28x28 MNIST digit (bytes 0..255, white ink on black). */
    async predict(pixels: ArrayLike<number>): Promise<number[]> {
      if (pixels.length !== 784) throw new Error(`predict: expected 28x28 = 784 pixels, got ${pixels.length}`);
      const [p] = await session.predictions.predict([Uint8Array.from(pixels)]);
      return Array.from(p);
    },
    /** Loads a .safetensors model or checkpoint as the file picker does (a bad one rejects and shows a message). */
    load: (bytes: ArrayLike<number> | ArrayBuffer, name = 'model.safetensors') => load(bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : Uint8Array.from(bytes), name),
    /** The run's checkpoint as the Download checkpoint button saves it (a .ckpt.safetensors file's bytes). */
    checkpointFile: () => session.checkpointFile(),
    /** The probabilities shown for the drawing, once the predictions in flight are done (null: none). */
    async drawing(): Promise<number[] | null> {
      await pictures.drawing;
      return pictures.drawn;
    },
    /** The last test pass's confusion matrix (rows: true class), or null. */
    get confusion() {
      return figures.lastTest && figures.lastTest.confusion.map((row) => [...row]);
    },
    /** Its most confident mistakes, as the gallery shows them. */
    get mistakes() {
      return figures.lastTest?.mistakes.map(({ index, label, predicted, probability }) => ({ index, label, predicted, probability })) ?? [];
    },
    /** The feature maps drawn for the pad's digit (each layer's values), or null. */
    get featureMaps() {
      return pictures.shownMaps && pictures.shownMaps.map((m) => ({ ...m }));
    },
    /** How many times the filters have been drawn. */
    get filtersShown() {
      return pictures.filtersShown;
    },
    /** Whether the filters and the feature maps follow the weights while training (the checkbox). */
    get livePictures() {
      return pictures.live.checked;
    },
    set livePictures(on: boolean) {
      pictures.live.checked = on;
    },
    /** Puts a 28x28 MNIST digit (bytes, white ink on black) on the drawing pad, as clicking a mistake does. */
    showDigit(pixels: ArrayLike<number>) {
      if (pixels.length !== 784) throw new Error(`showDigit: expected 28x28 = 784 pixels, got ${pixels.length}`);
      pictures.pad.show(pixels);
    },
    /** Destroys the GPU device, to see the page recover. */
    loseDevice: () => session.loseDevice(),
  };
}

declare global {
  interface Window {
    lenet: ReturnType<typeof lenetApi>;
  }
}

/** Puts the page's calls on window.lenet. */
export function installApi(parts: PageParts): void {
  window.lenet = lenetApi(parts);
}
