/**
 * The training options, one row each: the TrainConfig field, and all the programs
 * know of it. `train:node --help` prints a line for each row with a flag, and the
 * parser reads those flags (src/cli/shared/args.ts); the page builds its form from
 * the rows with a page field (demo/form.ts); checkConfig() checks every row; and a
 * checkpoint written before a field existed gets the row's `legacy` value
 * (./checkpoint.ts). A new option is a new row.
 *
 * One syntax for every number, whoever reads it (the command line, the page's form):
 * decimal or exponent notation (`64`, `1e-3`, `.5`), nothing else (no `0x10`, no
 * blanks, no `Infinity`). A value's error is one line that names it as its source
 * does: the flag (`--batch-size`), the form's field (`Batch size`), or the config
 * field (`batchSize`, after the checkpoint file's name).
 *
 * No Node or DOM imports: the page reads the same table.
 */
import { checkNormalization, MNIST } from '../data/dataset';
import { DEFAULT_ARCH, NETWORKS } from '../model/network';
import type { Normalization } from '../ops/shapes';
import { batchSizes } from './feed';

/** A value's type, and so how it is written and checked. */
interface Values {
  int: number;
  number: number;
  boolean: boolean;
  string: string;
  normalization: Normalization;
}
export type Kind = keyof Values;

/** What a value must be. An int is a safe integer from `min` (0 or 1) up to `max`; a number is finite, above 0 if `positive`, and at most `max`; a string is not empty. */
export interface Check<K extends Kind = Kind> {
  type: K;
  min?: 0 | 1;
  max?: number;
  positive?: true;
}

/** A field of the page's form: a number box (int, number), a checkbox (boolean) or a list to choose from (string). */
export interface PageField {
  label: string;
  input: 'number' | 'checkbox' | 'select';
  /** The tooltip. */
  title?: string;
  /** The number box's largest value (the form's hint; the check is the row's). */
  max?: number;
  /** The list's entries. */
  choices?: () => readonly { value: string; title: string }[];
}

export interface Option<K extends Kind = Kind> extends Check<K> {
  default: Values[K];
  /** The command-line flag (a boolean's turns its default around); null: the program sets the field itself. */
  flag: `--${string}` | null;
  /** --help's text for the flag: a line, and more lines if it has more to say (indented under it). */
  help?: string;
  /** The page's form field; null: none (window.lenet.train may still set a field that has a flag). */
  page: PageField | null;
  /** What a checkpoint from before the field existed gets; without it, a checkpoint lacking the field is refused. */
  legacy?: Values[K];
  /** A resumed run takes the field from the command line or the form (the rest from its checkpoint). */
  resume?: true;
}

/** A row whose default's type is its type's (the table's rows are checked against it); a normalization has no flag of its own. */
export type AnyOption = Option<'int'> | Option<'number'> | Option<'boolean'> | Option<'string'> | (Option<'normalization'> & { flag: null });
export type OptionRow = AnyOption & { key: ConfigKey };
/** A row with a flag: one the command line sets. */
export type FlagRow = Exclude<OptionRow, { type: 'normalization' }> & { flag: `--${string}` };

/**
 * The largest learning rate: Adam's first steps move every weight by about lr, so at
 * 1e3 a weight of 0.1 becomes 1000 in one step, which no network trains back from
 * (a run at lr 1 already reaches a loss of 1e7); above it, there is nothing to learn.
 */
export const MAX_LR = 1e3;

const networkList = NETWORKS.map((n) => `  ${n.name}: ${n.description}`).join('\n');

export const OPTIONS = {
  /** The network, by name (src/model/network.ts). */
  arch: {
    type: 'string',
    default: DEFAULT_ARCH,
    flag: '--arch',
    help: `the network: a preset, ${NETWORKS.map((n) => n.name).join(', ')}, or a network\nfile FILE.json (npm run network -- --json prints one)\n${networkList}`,
    page: { label: 'Network', input: 'select', choices: () => NETWORKS.map((n) => ({ value: n.name, title: n.description ?? '' })) },
  },
  epochs: { type: 'int', min: 1, default: 5, flag: '--epochs', help: 'epochs', page: { label: 'Epochs', input: 'number' }, resume: true },
  batchSize: { type: 'int', min: 1, default: 64, flag: '--batch-size', help: 'batch size', page: { label: 'Batch size', input: 'number', max: 1024 } },
  lr: { type: 'number', positive: true, max: MAX_LR, default: 1e-3, flag: '--lr', help: `Adam learning rate, at most ${MAX_LR}`, page: { label: 'Learning rate', input: 'number', max: MAX_LR } },
  /** Train on the first `limit` training images (0 = all). */
  limit: {
    type: 'int',
    min: 0,
    default: 0,
    flag: '--limit',
    help: 'train on the first N training images, 0 for all',
    page: { label: 'Training images', input: 'number', max: 60000, title: '0 = all 60,000' },
  },
  /** Evaluate on the first `testLimit` test images after each epoch (0 = all). */
  testLimit: {
    type: 'int',
    min: 0,
    default: 0,
    flag: '--test-limit',
    help: 'evaluate on the first N test images, 0 for all',
    page: { label: 'Test images', input: 'number', max: 10000, title: '0 = all 10,000' },
  },
  seed: {
    type: 'int',
    min: 0,
    max: 0xffffffff,
    default: 1,
    flag: '--seed',
    help: 'seed for initial weights, shuffling and flips',
    page: { label: 'Seed', input: 'number', title: 'Initial weights, shuffling and flips' },
  },
  /** The tutorial's random horizontal flip (off by default: it hurts digits). */
  hflip: {
    type: 'boolean',
    default: false,
    flag: '--hflip',
    help: "the tutorial's random horizontal flip (hurts digits)",
    page: { label: 'Horizontal flip', input: 'checkbox', title: "The tutorial's random horizontal flip (it hurts digits)" },
  },
  shuffle: { type: 'boolean', default: true, flag: '--no-shuffle', help: 'keep the training set in file order', page: null },
  /** Drop the last partial batch of each epoch, as PyTorch's drop_last. */
  dropLast: { type: 'boolean', default: false, flag: '--drop-last', help: "drop each epoch's last partial batch (PyTorch's drop_last)", page: null },
  /** Read loss and accuracy every this many steps. */
  logEvery: { type: 'int', min: 1, default: 50, flag: '--log-every', help: 'read loss and accuracy every N steps', page: null, resume: true },
  /** The data set's name (src/data/dataset.ts), for the model file: train:node's --data names it. Checkpoints without one are from before data sets had descriptions: MNIST. */
  dataset: { type: 'string', default: MNIST.name, flag: null, page: null, legacy: MNIST.name },
  /** The inputs are (pixel / 255 - mean) / std; the model file keeps it for eval and predict. train:node's --mean/--std or --data set it. */
  normalization: { type: 'normalization', default: { ...MNIST.normalization }, flag: null, page: null, legacy: { ...MNIST.normalization } },
} as const satisfies Record<string, AnyOption>;

/** A training run's settings: one field per row of OPTIONS, of its row's type. */
export type TrainConfig = { -readonly [K in keyof typeof OPTIONS]: Values[(typeof OPTIONS)[K]['type']] };
export type ConfigKey = keyof TrainConfig;

/** The rows, in the table's order (the order of --help and of the page's form), each with its key. */
export const OPTION_ROWS: readonly OptionRow[] = Object.entries(OPTIONS).map(([key, row]) => ({ key: key as ConfigKey, ...(row as AnyOption) }));

/** The rows with a flag, in the table's order. */
export const FLAG_ROWS: readonly FlagRow[] = OPTION_ROWS.filter((r): r is FlagRow => r.flag !== null);

const copy = <T>(v: T): T => (typeof v === 'object' && v !== null ? { ...v } : v);

export const DEFAULT_CONFIG: TrainConfig = Object.fromEntries(OPTION_ROWS.map((r) => [r.key, copy(r.default)])) as TrainConfig;

// ------------------------------------------------------------ values and their checks

/** What a value must be, in the words of the error: "a positive integer". */
function expected(c: Check): string {
  switch (c.type) {
    case 'int':
      if (c.max !== undefined) return `an integer from ${c.min ?? Number.MIN_SAFE_INTEGER} to ${c.max}`;
      return c.min === 1 ? 'a positive integer' : c.min === 0 ? 'a non-negative integer' : 'an integer';
    case 'number':
      return (c.positive ? 'a positive number' : 'a number') + (c.max !== undefined ? ` at most ${c.max}` : '');
    case 'boolean':
      return 'true or false';
    case 'string':
      return 'a name';
    case 'normalization':
      return 'a mean and a std that float32 holds (see checkNormalization)';
  }
}

function valid(c: Check, v: unknown): boolean {
  switch (c.type) {
    case 'int':
      return Number.isSafeInteger(v) && (v as number) >= (c.min ?? -Infinity) && (v as number) <= (c.max ?? Infinity);
    case 'number':
      return typeof v === 'number' && Number.isFinite(v) && (!c.positive || v > 0) && v <= (c.max ?? Infinity);
    case 'boolean':
      return typeof v === 'boolean';
    case 'string':
      return typeof v === 'string' && v !== '';
    case 'normalization': // as data set descriptions and model files are checked
      try {
        checkNormalization(v as Normalization, '');
        return true;
      } catch {
        return false;
      }
  }
}

/** Throws "`name` must be ..., got `value`" unless `value` passes `c`. */
export function checkValue(c: Check, value: unknown, name: string): void {
  // A normalisation's error says which of its two numbers is wrong, and why.
  if (c.type === 'normalization') return checkNormalization(value as Normalization, '', { mean: `${name} mean`, std: `${name} std` });
  if (!valid(c, value)) throw new Error(`${name} must be ${expected(c)}, got ${JSON.stringify(value) ?? String(value)}`);
}

/** Decimal or exponent notation, and nothing else. */
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * A value as text (a flag's, a form field's), parsed and checked; errors name it `name`
 * and quote the text as given. A boolean is not text (a switch, a checkbox).
 */
export function parseText<K extends 'int' | 'number' | 'string'>(c: Check<K>, text: string, name: string): Values[K] {
  const value = c.type === 'string' ? text : NUMBER.test(text) ? Number(text) : NaN;
  if (!valid(c, value)) throw new Error(`${name} must be ${expected(c)}, got "${text}"`);
  return value as Values[K];
}

/** Every field as its row says, each error naming the field; then the network (by name, for now). */
export function checkConfig(c: TrainConfig): void {
  for (const row of OPTION_ROWS) checkValue(row, c[row.key], row.key);
  if (c.arch === '') throw new Error('arch must name a network, got ""');
}

/**
 * A config read back from a checkpoint: the fields it lacks get their rows' `legacy`
 * values, and a field without one is an error naming it. Checked by checkConfig().
 */
export function storedConfig(stored: Record<string, unknown>): TrainConfig {
  const config: Record<string, unknown> = { ...stored };
  for (const row of OPTION_ROWS) {
    if (row.key in stored) continue;
    if (row.legacy === undefined) throw new Error(`has no "${row.key}"`);
    config[row.key] = copy(row.legacy);
  }
  return config as TrainConfig;
}

/** The fields of `given` that a resumed run takes (from the command line or the form). */
export function resumeFields(given: Partial<TrainConfig>): Partial<TrainConfig> {
  return Object.fromEntries(OPTION_ROWS.filter((r) => r.resume && given[r.key] !== undefined).map((r) => [r.key, given[r.key]]));
}

/** A resumed run's config: the checkpoint's, but for the fields it takes from `given`. */
export function resumedConfig(checkpoint: TrainConfig, given: Partial<TrainConfig>): TrainConfig {
  return { ...checkpoint, ...resumeFields(given) };
}

// ------------------------------------------------------------ what follows from a config

/** The training images an epoch goes through: the first `limit` of the `trainCount` (all for 0). */
export function trainImages(config: Pick<TrainConfig, 'limit'>, trainCount: number): number {
  return config.limit ? Math.min(config.limit, trainCount) : trainCount;
}

/** The batch sizes of one epoch over `trainCount` training images: the steps it takes. */
export function epochBatches(config: Pick<TrainConfig, 'limit' | 'batchSize' | 'dropLast'>, trainCount: number): number[] {
  return batchSizes(trainImages(config, trainCount), config.batchSize, config.dropLast);
}

export function stepsPerEpoch(config: Pick<TrainConfig, 'limit' | 'batchSize' | 'dropLast'>, trainCount: number): number {
  return epochBatches(config, trainCount).length;
}
