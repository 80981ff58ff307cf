// Reading the command line: node:util's parseArgs with empty values refused, the
// training options' flags from their table (src/train/options.ts), and number
// options that share its syntax and checks, with errors that name the option.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { FLAG_ROWS, parseText, type TrainConfig } from '../../train/options';

export const positiveInt = (value: string, option: string): number => parseText({ type: 'int', min: 1 }, value, option);
export const nonNegativeInt = (value: string, option: string): number => parseText({ type: 'int', min: 0 }, value, option);
export const positiveNumber = (value: string, option: string): number => parseText({ type: 'number', positive: true }, value, option);
export const finiteNumber = (value: string, option: string): number => parseText({ type: 'number' }, value, option);

/**
 * node:util's parseArgs, with an empty value (`--epochs=`, `--lr ''`) an error
 * instead of silently the default.
 */
export function parseOptions<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  const parsed = parseArgs(config);
  for (const [name, value] of Object.entries(parsed.values as Record<string, unknown>)) {
    const given = Array.isArray(value) ? value : [value];
    if (given.some((v) => v === '')) throw new Error(`--${name} needs a value, got an empty one`);
  }
  return parsed;
}

type Spec = NonNullable<ParseArgsConfig['options']>;
/** parseArgs's name for a flag: --batch-size -> batch-size. */
const nameOf = (flag: string) => flag.slice(2);

/**
 * The training options' flags and a program's own (`own`), parsed: `config` holds
 * the fields given, each parsed and checked with an error naming its flag (a
 * boolean's flag turns its default around); `values`, the program's own flags
 * (their `type` and `short`; anything else in `own`, such as help text, is the program's).
 * `args`: the command line's by default.
 */
export function parseTrainOptions<T extends Spec>(own: T, args?: string[]): { config: Partial<TrainConfig>; values: ReturnType<typeof parseArgs<{ options: T }>>['values'] } {
  const flags: Spec = Object.fromEntries(FLAG_ROWS.map((r) => [nameOf(r.flag), { type: r.type === 'boolean' ? 'boolean' : 'string' }]));
  // parseArgs is given what it reads of the program's flags (their --help lines are the program's).
  const ownSpec: Spec = Object.fromEntries(Object.entries(own).map(([name, { type, short }]) => [name, short ? { type, short } : { type }]));
  const values: Record<string, unknown> = parseOptions({ args, options: { ...flags, ...ownSpec } }).values;
  const config: Record<string, unknown> = {};
  for (const r of FLAG_ROWS) {
    const v = values[nameOf(r.flag)];
    if (v === undefined) continue;
    config[r.key] = r.type === 'boolean' ? !r.default : parseText(r, v as string, r.flag);
  }
  return { config: config as Partial<TrainConfig>, values: values as ReturnType<typeof parseArgs<{ options: T }>>['values'] };
}

/** --help's lines: each usage ("--epochs N") in a column, its text beside it, the text's further lines under it. */
export function helpLines(entries: readonly [usage: string, text: string][]): string {
  const column = 19;
  const indent = ' '.repeat(column + 2);
  return entries.map(([usage, text]) => `  ${usage.padEnd(column - 1)} ${text.replaceAll('\n', `\n${indent}`)}`).join('\n');
}

const METAVAR = { int: 'N', number: 'X', string: 'NAME' } as const;

/** The training options' lines of --help, in the table's order: a boolean's flag is a switch; the others show their default. */
export function configHelp(): string {
  return helpLines(
    FLAG_ROWS.map((r) => {
      if (r.type === 'boolean') return [r.flag, r.help ?? ''];
      const [first, ...more] = (r.help ?? '').split('\n');
      return [`${r.flag} ${METAVAR[r.type]}`, [`${first} (default ${r.default})`, ...more].join('\n')];
    }),
  );
}
