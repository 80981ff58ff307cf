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
