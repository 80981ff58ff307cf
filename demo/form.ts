/**
 * The recipe form: a field for each training option with a page field
 * (src/train/options.ts), in the table's order, read into a TrainConfig (each value
 * parsed and checked as the command line's are, an error naming the field) and
 * written from one. What the form has no field for comes from the defaults, or from
 * window.lenet.train for the options that have a flag; metrics are read every
 * logInterval() steps unless told otherwise. Start (or Resume) trains with it.
 */
import { DEFAULT_CONFIG, OPTION_ROWS, parseText, resumeFields, type ConfigKey, type OptionRow, type PageField, type TrainConfig } from '../src/train/options';
import type { Network } from '../src/model/network';
import { modelSummary } from '../src/model/summary';
import { hideMessage, showMessage, shownMessage } from './dom';
import type { Phase, Session } from './session';

type FieldRow = Exclude<OptionRow, { type: 'normalization' }> & { page: PageField };
const FIELDS = OPTION_ROWS.filter((r): r is FieldRow => r.page !== null && r.type !== 'normalization');
/** The options the form has no field for that window.lenet.train may set: those with a flag. */
const UNSEEN = OPTION_ROWS.filter((r) => r.page === null && r.flag !== null).map((r) => r.key);

/** Metrics are read this often: every ~128 images on a CPU adapter, so pausing and the curves stay quick; every ~3,200 on a GPU. */
export function logInterval(batchSize: number, software: boolean): number {
  return Math.max(1, Math.round((software ? 128 : 3200) / batchSize));
}

export class RecipeForm {
  /** Set by window.lenet.train: fields the form has no field for. */
  private unseen: Partial<TrainConfig> = {};
  private readonly fields = new Map<ConfigKey, HTMLInputElement | HTMLSelectElement>();

  constructor(
    form: HTMLFormElement,
    private readonly session: Session,
  ) {
    form.replaceChildren(...FIELDS.map((r) => this.field(r)));
    this.write(DEFAULT_CONFIG);
  }

  /** The form's TrainConfig; a value the row's check refuses throws, naming the field. */
  read(): TrainConfig {
    const given = Object.fromEntries(Object.entries(this.unseen).filter(([, v]) => v !== undefined));
    const c: Record<string, unknown> = { ...DEFAULT_CONFIG, ...given };
    for (const r of FIELDS) {
      const el = this.fields.get(r.key)!;
      c[r.key] = r.type === 'boolean' ? (el as HTMLInputElement).checked : parseText(r, el.value, r.page.label);
    }
    const config = c as TrainConfig;
    config.logEvery = this.unseen.logEvery ?? logInterval(config.batchSize, this.session.adapter?.software ?? true);
    return config;
  }

  /** Shows `c`'s fields (the others stay as they are). */
  write(c: Partial<TrainConfig>): void {
    for (const r of FIELDS) {
      const el = this.fields.get(r.key)!;
      const v = c[r.key];
      if (v === undefined) continue;
      if (el instanceof HTMLInputElement && el.type === 'checkbox') el.checked = Boolean(v);
      else el.value = String(v);
    }
    for (const el of this.fields.values()) if (el instanceof HTMLSelectElement) el.title = el.selectedOptions[0]?.title ?? '';
    this.showSummary();
  }

  /** A network the recipe may now name (a network file's, a loaded model's): an option of the network field. */
  addNetwork(net: Network): void {
    const select = this.fields.get('arch') as HTMLSelectElement;
    if (Array.from(select.options).some((o) => o.value === net.name)) return;
    select.append(Object.assign(document.createElement('option'), { value: net.name, textContent: net.name, title: net.description ?? 'from a network file' }));
  }

  /** The chosen network as PyTorch's print(model) shows it, its forward pass and its parameters. */
  private showSummary(): void {
    const pre = document.getElementById('network-summary');
    if (!pre) return;
    const name = this.fields.get('arch')?.value;
    try {
      pre.textContent = name ? modelSummary(this.session.model.networks.get(name)) : '';
    } catch (err) {
      pre.textContent = (err as Error).message;
    }
  }

  /** The field of `key`'s option, if the form has one. */
  value(key: ConfigKey): string | undefined {
    return this.fields.get(key)?.value;
  }

  /**
   * A run keeps its recipe until it is reset, but for the fields a resumed run takes
   * (its epochs, which a paused run may extend); a loaded model's weights fix the network.
   */
  render(phase: Phase, running: boolean, networkFixed: boolean): void {
    for (const r of FIELDS) this.fields.get(r.key)!.disabled = running || (phase === 'paused' && !r.resume) || (r.key === 'arch' && networkFixed);
  }

  /** Start or resume, as the button does; resolves when training stops. */
  async start(): Promise<void> {
    try {
      const config = this.read();
      if (shownMessage()) hideMessage();
      await this.session.train(config);
    } catch (err) {
      showMessage(`Training stopped: ${(err as Error).message}`, 'error');
      throw err;
    }
  }

  /**
   * Starts as the Start button does with `options` written over the form's values
   * (the fields it lacks, over the defaults); a paused run takes only the fields a
   * resumed run takes. window.lenet.train's.
   */
  startWith(options: Partial<TrainConfig>): Promise<void> {
    this.unseen = Object.fromEntries(UNSEEN.map((k) => [k, options[k]]));
    const paused = this.session.phase === 'paused';
    const shown: Partial<TrainConfig> = paused ? resumeFields(options) : { ...options, arch: this.session.model.loaded?.network.name ?? options.arch };
    this.write(shown);
    return this.start();
  }

  /** One field, as <label>Name <input></label>, or <label><input type=checkbox> Name</label>. */
  private field(r: FieldRow): HTMLLabelElement {
    const label = document.createElement('label');
    const { page } = r;
    if (page.input === 'checkbox') {
      const input = Object.assign(document.createElement('input'), { name: r.key, type: 'checkbox' });
      label.className = 'check';
      if (page.title) label.title = page.title;
      label.append(input, ` ${page.label}`);
      this.fields.set(r.key, input);
    } else if (page.input === 'select') {
      const select = Object.assign(document.createElement('select'), { name: r.key });
      select.append(...(page.choices?.() ?? []).map((c) => Object.assign(document.createElement('option'), { value: c.value, textContent: c.value, title: c.title })));
      select.addEventListener('change', () => this.write({}));
      label.append(`${page.label} `, select);
      this.fields.set(r.key, select);
    } else {
      const input = Object.assign(document.createElement('input'), { name: r.key, type: 'number', required: true });
      if (r.type === 'int') input.step = '1';
      else input.step = 'any';
      const min = r.type === 'int' ? r.min : r.type === 'number' && r.positive ? 0 : undefined;
      const max = page.max ?? (r.type === 'int' ? r.max : undefined);
      if (min !== undefined) input.min = String(min);
      if (max !== undefined) input.max = String(max);
      if (page.title) input.title = page.title;
      label.append(`${page.label} `, input);
      this.fields.set(r.key, input);
    }
    return label;
  }
}
