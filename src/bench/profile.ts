/**
 * Host-side timing of dispatches: each is encoded `reps` times into one pass and the
 * queue is drained, so the time per dispatch includes the adapter's per-dispatch
 * overhead, as it does in training. Works on every adapter (no timestamp queries).
 */
import { encode, submit, type Cost, type Dispatch } from '../gpu/dispatch';
import type { Runtime } from '../gpu/runtime';

export interface DispatchTime {
  label: string;
  kernel: string;
  microseconds: number;
  cost: Cost;
}

async function timeRepeated(rt: Runtime, list: readonly Dispatch[], reps: number): Promise<number> {
  const encoder = rt.device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  for (let r = 0; r < reps; r++) encode(pass, list);
  pass.end();
  const commands = encoder.finish();
  const start = performance.now();
  rt.device.queue.submit([commands]);
  await rt.sync();
  return (performance.now() - start) / reps;
}

/** Median over `rounds` of the mean time of one dispatch, after a warm-up. */
export async function timeDispatch(rt: Runtime, d: Dispatch, reps = 10, rounds = 3): Promise<number> {
  await timeRepeated(rt, [d], 2);
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) times.push(await timeRepeated(rt, [d], reps));
  times.sort((a, b) => a - b);
  return times[Math.floor(rounds / 2)] * 1000;
}

export async function profile(rt: Runtime, list: readonly Dispatch[], reps = 10): Promise<DispatchTime[]> {
  const out: DispatchTime[] = [];
  for (const d of list) out.push({ label: d.label ?? '', kernel: d.kernel.name, microseconds: await timeDispatch(rt, d, reps), cost: d.cost });
  return out;
}

/** Seconds per step for `steps` steps, each submitted on its own as training does. */
export async function timeSteps(rt: Runtime, step: readonly Dispatch[], steps: number, before?: (i: number) => void): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < steps; i++) {
    before?.(i);
    submit(rt, step, 'step');
  }
  await rt.sync();
  return (performance.now() - start) / 1000 / steps;
}

/**
 * GPU-side time of each dispatch from timestamp queries: each dispatch in a pass of
 * its own with timestampWrites, the whole list `reps` times; the median per
 * dispatch. Null where the adapter has no 'timestamp-query'.
 */
export async function profileTimestamps(rt: Runtime, list: readonly Dispatch[], reps = 5): Promise<DispatchTime[] | null> {
  const device = rt.device;
  if (!device.features.has('timestamp-query')) return null;
  const count = list.length * 2;
  const querySet = device.createQuerySet({ type: 'timestamp', count });
  const resolve = rt.buffer('timestamps', count * 8, GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC);
  const samples: number[][] = list.map(() => []);
  for (let r = 0; r < reps + 1; r++) {
    const encoder = device.createCommandEncoder({ label: 'profile' });
    list.forEach((d, i) => {
      const pass = encoder.beginComputePass({ timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } });
      encode(pass, [d]);
      pass.end();
    });
    encoder.resolveQuerySet(querySet, 0, count, resolve, 0);
    device.queue.submit([encoder.finish()]);
    const times = new BigInt64Array(await rt.readBytes(resolve, 0, count * 8));
    if (r === 0) continue; // warm-up
    list.forEach((_, i) => samples[i].push(Number(times[2 * i + 1] - times[2 * i]) / 1000));
  }
  querySet.destroy();
  resolve.destroy();
  return list.map((d, i) => {
    const s = samples[i].sort((a, b) => a - b);
    return { label: d.label ?? '', kernel: d.kernel.name, microseconds: s[Math.floor(s.length / 2)], cost: d.cost };
  });
}

/**
 * The profile as a table: each dispatch's time and share of the step, its useful
 * work (MFLOP) and the bytes it binds (KB), and the rates they make (GFLOP/s, GB/s).
 */
export function profileTable(rows: readonly DispatchTime[]): string[] {
  const total = rows.reduce((s, r) => s + r.microseconds, 0);
  const num = (v: number, digits: number, width: number) => (v > 0 ? v.toFixed(digits) : '-').padStart(width);
  const lines = [`${'layer'.padEnd(12)}${'kernel'.padEnd(28)}${'us'.padStart(8)}${'share'.padStart(7)}${'MFLOP'.padStart(8)}${'KB'.padStart(8)}${'GFLOP/s'.padStart(9)}${'GB/s'.padStart(7)}`];
  for (const r of rows) {
    const s = r.microseconds / 1e6;
    lines.push(
      `${r.label.padEnd(12)}${r.kernel.padEnd(28)}${r.microseconds.toFixed(0).padStart(8)}${((100 * r.microseconds) / total).toFixed(1).padStart(6)}%` +
        `${num(r.cost.flops / 1e6, 1, 8)}${num(r.cost.bytes / 1024, 0, 8)}${num(r.cost.flops / s / 1e9, 2, 9)}${num(r.cost.bytes / s / 1e9, 2, 7)}`,
    );
  }
  const flops = rows.reduce((a, r) => a + r.cost.flops, 0);
  const bytes = rows.reduce((a, r) => a + r.cost.bytes, 0);
  lines.push(
    `${`sum of ${rows.length} dispatches`.padEnd(40)}${total.toFixed(0).padStart(8)}${''.padStart(7)}${num(flops / 1e6, 1, 8)}${num(bytes / 1024, 0, 8)}${num(flops / (total / 1e6) / 1e9, 2, 9)}${num(bytes / (total / 1e6) / 1e9, 2, 7)}`,
  );
  return lines;
}
