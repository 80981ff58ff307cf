/**
 * Adam over a model's flat parameter buffer: it owns its two moments (buffers in the
 * same flat layout) and its step counter; one dispatch updates every parameter and
 * writes the packed copies of the conv weights that the model's kernels read.
 * https://pytorch.org/docs/stable/generated/torch.optim.Adam.html
 */
import type { Dispatch } from '../gpu/dispatch';
import { labelled, type Model } from '../model/model';
import { Adam } from '../ops/adam';
import { ADAM_DEFAULTS, type AdamHyper } from '../ops/shapes';
import type { Backprop } from './backprop';

export interface AdamState {
  expAvg: Float32Array;
  expAvgSq: Float32Array;
  /** Steps taken (the bias corrections need it). */
  step: number;
}

export class AdamOptimizer {
  /** Steps taken. */
  private taken = 0;

  private constructor(
    private readonly model: Model,
    private readonly op: Adam,
    readonly expAvg: GPUBuffer,
    readonly expAvgSq: GPUBuffer,
    /** The update of every parameter from its gradient; queue next() before each submit. */
    readonly dispatch: Dispatch,
  ) {}

  static async create(model: Model, backprop: Backprop, hyper: AdamHyper = ADAM_DEFAULTS): Promise<AdamOptimizer> {
    const { rt, table } = model;
    const op = await Adam.create(rt, table.flatLength, hyper);
    const expAvg = rt.buffer('adam exp_avg', table.flatLength * 4);
    const expAvgSq = rt.buffer('adam exp_avg_sq', table.flatLength * 4);
    const dispatch = labelled(
      'adam',
      op.stepAndPack({
        param: table.whole(model.param),
        grad: table.whole(backprop.buffer),
        exp_avg: table.whole(expAvg),
        exp_avg_sq: table.whole(expAvgSq),
        slots: model.packed.slots,
        packed: model.packed.packed,
      }),
    );
    const adam = new AdamOptimizer(model, op, expAvg, expAvgSq, dispatch);
    adam.load({ expAvg: new Float32Array(table.flatLength), expAvgSq: new Float32Array(table.flatLength), step: 0 });
    return adam;
  }

  get hyper(): AdamHyper {
    return this.op.hyper;
  }

  get step(): number {
    return this.taken;
  }

  /** Counts the next step and queues its uniforms: submit `dispatch` after this. */
  next(): void {
    this.taken++;
    this.op.setStep(this.taken);
  }

  /** Sets the moments and the step count (a resumed run). */
  load(state: AdamState): void {
    const { table, rt } = this.model;
    table.check(state.expAvg, 'adam exp_avg');
    table.check(state.expAvgSq, 'adam exp_avg_sq');
    if (!(Number.isSafeInteger(state.step) && state.step >= 0)) throw new Error(`adam: step must be a non-negative integer, got ${state.step}`);
    for (const [buffer, data] of [[this.expAvg, state.expAvg], [this.expAvgSq, state.expAvgSq]] as const) {
      rt.device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength);
    }
    this.taken = state.step;
  }

  /** The moments, read back (a sync point), and the step count. */
  async read(): Promise<AdamState> {
    const { table, rt } = this.model;
    const bytes = table.flatLength * 4;
    return {
      expAvg: new Float32Array(await rt.readBytes(this.expAvg, 0, bytes)),
      expAvgSq: new Float32Array(await rt.readBytes(this.expAvgSq, 0, bytes)),
      step: this.taken,
    };
  }
}
