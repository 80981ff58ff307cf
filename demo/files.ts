/**
 * The page's model and its files: what a loaded .safetensors file is (a model, whose
 * weights start new runs, or a checkpoint, whose run continues), the model the page
 * holds (PageModel) and the model file it writes (as `train:node` does, metadata
 * included), and the ways in and out: the file picker, a drop anywhere on the page,
 * the two download buttons. All but fileControls() is plain code, the session's; it
 * wires the page's elements.
 */
import type { TrainedOn } from '../src/data/dataset';
import type { Runtime } from '../src/gpu/runtime';
import type { Network } from '../src/model/network';
import { PageNetworks } from './networks';
import { decodeModel, decodeSafetensors, encodeModel, type ModelFile } from '../src/model/safetensors-codec';
import { CHECKPOINT_FORMAT, decodeCheckpoint, type Checkpoint } from '../src/train/checkpoint';
import { Predictor } from '../src/train/inference';
import { checkConfig, OPTION_ROWS, resumedConfig, type TrainConfig } from '../src/train/options';
import { modelMetadata, type RunRecord } from '../src/train/run';
import type { StartFrom, Trainer } from '../src/train/trainer';
import { $, showMessage } from './dom';
import type { RecipeForm } from './form';
import type { Session } from './session';

/** What a loaded file was. */
export type Loaded = { kind: 'model'; network: Network; metadata: Record<string, string> } | { kind: 'checkpoint'; config: TrainConfig };

/** A checkpoint has Adam's moments (or says it is one); a model file has the weights only. */
export function fileKind(bytes: Uint8Array, name: string): Loaded['kind'] {
  const { tensors, metadata } = decodeSafetensors(bytes, name);
  return metadata.format === CHECKPOINT_FORMAT || [...tensors.keys()].some((t) => t.startsWith('adam.')) ? 'checkpoint' : 'model';
}

/** A file read as what it is; a bad one throws a message naming what is wrong. */
export function readFile(bytes: Uint8Array, name: string): { checkpoint: Checkpoint; model?: undefined } | { checkpoint?: undefined; model: ModelFile } {
  return fileKind(bytes, name) === 'checkpoint' ? { checkpoint: decodeCheckpoint(bytes, name) } : { model: decodeModel(bytes, name) };
}

/** A run to start: its config and where it starts from (a checkpoint's position: the kept run continues). */
export interface RunPlan {
  config: TrainConfig;
  start?: StartFrom;
  /** What the weights come from, in words (a file's name); null for fresh weights. */
  origin: string | null;
}

/**
 * The model the page holds, which it predicts with and saves: the running trainer's
 * weights, a kept checkpoint's (the run's latest, or a loaded one), or a loaded model
 * file's. The session decides when each changes.
 *
 * The run's latest checkpoint (taken every few seconds at a metrics read, after each
 * epoch and on pause) stays in memory: "Download checkpoint" writes it, in the file
 * format `train:node --resume` reads, and if the GPU device is lost the run resumes
 * from it, Adam's moments and the sample order included. A checkpoint file (the
 * page's or `train:node`'s) loaded here continues the same way; a model file gives
 * the weights that new runs start from, as `train:node --init` does.
 */
export class PageModel {
  trainer: Trainer | null = null;
  /** The run's latest checkpoint, or a loaded one: what Download checkpoint writes and a lost device resumes from. */
  kept: Checkpoint | null = null;
  /** A loaded model: new runs start from its weights. */
  loaded: (ModelFile & { source: string }) | null = null;
  /** What the current run's weights came from (a file), for `source`. */
  origin: string | null = null;
  /** Where the current weights come from, in words; null when there are none. */
  source: string | null = null;
  /** Callers of nextCheckpoint() waiting for the running run's next checkpoint. */
  private waiting: { resolve(c: Checkpoint): void; reject(err: Error): void }[] = [];

  get hasModel(): boolean {
    return this.trainer !== null || this.kept !== null || this.loaded !== null;
  }

  /** The networks the recipe can name: the presets, network files, the networks of loaded files. */
  readonly networks = new PageNetworks();

  /** The network of the current weights. */
  get network(): Network | null {
    return this.trainer?.network ?? this.kept?.network ?? this.loaded?.network ?? null;
  }

  /** The current run's recipe. */
  get config(): TrainConfig | null {
    return this.trainer?.config ?? this.kept?.config ?? null;
  }

  /** What the current weights were trained on (their input normalisation): the run's config, or the loaded file's. */
  trainedOn(): TrainedOn | null {
    const config = this.config;
    if (config) return { dataset: config.dataset, normalization: config.normalization };
    return this.loaded && { dataset: this.loaded.dataset, normalization: this.loaded.normalization };
  }

  /** No model. */
  forget(): void {
    this.trainer = null;
    this.kept = null;
    this.loaded = null;
    this.origin = null;
    this.source = null;
  }

  /**
   * What Start means: continuing the paused trainer (`paused`: the session is, and
   * `config` changes none of the fields a resumed run takes), the kept checkpoint's run
   * with those fields from `config`, or a new run with `config`, from a loaded model's
   * weights (and network) if there is one.
   */
  nextRun(config: TrainConfig, paused: boolean): Trainer | RunPlan {
    const { trainer, kept, loaded: m } = this;
    if (paused && trainer && OPTION_ROWS.every((r) => !r.resume || trainer.config[r.key] === config[r.key])) return trainer;
    if (paused && kept) {
      const resumed = resumedConfig(kept.config, config);
      checkConfig(resumed);
      return { config: resumed, start: { network: kept.network, params: kept.params, adam: kept.adam, position: kept.position, data: kept.data }, origin: this.origin };
    }
    const network = m?.network ?? this.networks.get(config.arch);
    const fresh = { ...config, arch: network.name };
    checkConfig(fresh);
    return { config: fresh, start: m ? { network, params: m.params } : { network }, origin: m?.source ?? null };
  }

  /** A file's weights (see readFile) in place of the current ones; what it was, for the page. */
  take(file: ReturnType<typeof readFile>, name: string): Loaded {
    this.trainer = null;
    if (file.checkpoint) {
      const c = file.checkpoint;
      const p = c.position;
      this.networks.add(c.network);
      this.kept = c;
      this.loaded = null;
      this.origin = `checkpoint ${name}`;
      this.source = `checkpoint ${name} (${c.network.name}, step ${p.step}, ${p.epoch} of ${c.config.epochs} epochs done)`;
      return { kind: 'checkpoint', config: { ...c.config } };
    }
    const m = file.model;
    this.networks.add(m.network);
    const accuracy = Number(m.metadata.test_accuracy);
    this.kept = null;
    this.loaded = { ...m, source: name };
    this.source = `loaded from ${name} (${m.network.name}${Number.isFinite(accuracy) ? `, test accuracy ${(100 * accuracy).toFixed(2)}%` : ''})`;
    return { kind: 'model', network: m.network, metadata: m.metadata };
  }

  /** The running run's next checkpoint (the session takes one at once when asked: see `awaited`). */
  nextCheckpoint(): Promise<Checkpoint> {
    return new Promise<Checkpoint>((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  /** Whether someone waits for a checkpoint. */
  get awaited(): boolean {
    return this.waiting.length > 0;
  }

  /** The run's latest checkpoint, kept: for those waiting, Download checkpoint and a lost device. */
  keep(c: Checkpoint): void {
    this.kept = c;
    this.answerWaiting();
  }

  /** Gives those waiting the kept checkpoint, or `err`. */
  answerWaiting(err?: Error): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const w of waiting) {
      if (!err && this.kept) w.resolve(this.kept);
      else w.reject(err ?? new Error('the run stopped before its first checkpoint'));
    }
  }

  /** A predictor of the kept checkpoint's weights, or the loaded model's (null without either). */
  ownPredictor(rt: Runtime | null): Promise<Predictor> | null {
    const weights = this.kept ?? this.loaded;
    const on = this.trainedOn();
    return rt && weights && on ? Predictor.create(rt, weights.network, on.normalization, { params: weights.params }) : null;
  }

  /** The current weights as a .safetensors model file, as `train:node` writes one; `run` tells how they were trained (with a config). */
  async file(run: Omit<RunRecord, 'config'>, adapter: string | null): Promise<Uint8Array> {
    const trainer = this.trainer;
    const weights = trainer ? { network: trainer.network, params: await trainer.readParameters() } : (this.kept ?? this.loaded);
    if (!weights) throw new Error('there is no model to download yet: train one or load one first');
    const config = this.config;
    const metadata = modelMetadata(config && { ...run, config }, adapter, { source: 'lenet-webgpu page' });
    return encodeModel(weights.network, weights.params, metadata, this.trainedOn()!);
  }
}

// ------------------------------------------------------------ the page's ways in and out

/** Wires the file picker, drag and drop and the download buttons; `load` takes a file as they do. */
export function fileControls(session: Session, form: RecipeForm): { load(bytes: Uint8Array, name: string): Promise<void> } {
  async function load(bytes: Uint8Array, name: string): Promise<void> {
    if (name.endsWith('.json')) return loadNetwork(bytes, name);
    let kind = 'model';
    try {
      kind = fileKind(bytes, name);
      const loaded = await session.loadFile(bytes, name);
      if (loaded.kind === 'checkpoint') {
        form.addNetwork(session.model.networks.get(loaded.config.arch));
        form.write(loaded.config);
        showMessage(`Loaded the checkpoint ${name}: Resume continues its run (more epochs extend it).`, 'info');
      } else {
        form.addNetwork(loaded.network);
        form.write({ arch: loaded.network.name });
        showMessage(`Loaded the model ${name}.`, 'info');
      }
    } catch (err) {
      showMessage(`Could not load the ${kind}: ${(err as Error).message}`, 'error');
      throw err;
    }
  }

  /** A network file: checked whole, then chosen in the recipe, its summary shown. */
  function loadNetwork(bytes: Uint8Array, name: string): void {
    try {
      if (session.model.loaded || session.model.kept) throw new Error('a loaded model or checkpoint fixes the network: Reset first');
      const net = session.model.networks.read(new TextDecoder().decode(bytes), name);
      form.addNetwork(net);
      form.write({ arch: net.name });
      showMessage(`Loaded the network ${net.name} from ${name}: Start trains it.`, 'info');
    } catch (err) {
      showMessage(`Could not load the network: ${(err as Error).message}`, 'error');
      throw err;
    }
  }

  async function picked(file: File): Promise<void> {
    await load(new Uint8Array(await file.arrayBuffer()), file.name).catch(() => {});
  }

  const networkPicker = $<HTMLInputElement>('network-file');
  networkPicker.addEventListener('change', () => {
    const file = networkPicker.files?.[0];
    networkPicker.value = '';
    if (file) void picked(file);
  });

  const picker = $<HTMLInputElement>('model-file');
  picker.addEventListener('change', () => {
    const file = picker.files?.[0];
    picker.value = ''; // the same file again is a new choice
    if (file) void picked(file);
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
    void picked(file);
  });

  /** Saves what `make` returns as a download named after the network: lenet5-page + `suffix`. */
  async function download(what: string, make: () => Promise<Uint8Array>, suffix: string): Promise<void> {
    try {
      const bytes = await make();
      const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }));
      const a = document.createElement('a');
      a.href = url;
      a.download = `${session.model.network?.name ?? 'model'}-page${suffix}`;
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (err) {
      showMessage(`Could not save the ${what}: ${(err as Error).message}`, 'error');
    }
  }

  $('download').addEventListener('click', () => void download('model', () => session.modelFile(), '.safetensors'));
  $('download-checkpoint').addEventListener('click', () => void download('checkpoint', () => session.checkpointFile(), '.ckpt.safetensors'));
  return { load };
}
