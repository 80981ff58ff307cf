// Small checks for command-line values, with errors that name the option.

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
