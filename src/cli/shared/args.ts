// Small checks for command-line values, with errors that name the option.
import { parseArgs, type ParseArgsConfig } from 'node:util';

export function positiveInt(value: string, option: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) {
    throw new Error(`${option} must be a positive integer, got "${value}"`);
  }
  return n;
}

export function positiveNumber(value: string, option: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new Error(`${option} must be a positive number, got "${value}"`);
  return n;
}

export function nonNegativeInt(value: string, option: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) throw new Error(`${option} must be a non-negative integer, got "${value}"`);
  return n;
}

export function finiteNumber(value: string, option: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new Error(`${option} must be a number, got "${value}"`);
  return n;
}

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
