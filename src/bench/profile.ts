/**
 * Host-side timing of dispatches: each is encoded `reps` times into one pass and the
 * queue is drained, so the time per dispatch includes the adapter's per-dispatch
 * overhead, as it does in training. Works on every adapter (no timestamp queries).
 */
import { encode, submit, type Dispatch } from '../gpu/dispatch';
import type { Runtime } from '../gpu/runtime';

export interface DispatchTime {
  label: string;
  kernel: string;
  microseconds: number;
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
  for (const d of list) out.push({ label: d.label ?? '', kernel: d.kernel.name, microseconds: await timeDispatch(rt, d, reps) });
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
    return { label: d.label ?? '', kernel: d.kernel.name, microseconds: s[Math.floor(s.length / 2)] };
  });
}
