// Host side of shaders/log_softmax.wgsl (over the last dimension).
import { dispatch, expectLength, type Dispatch } from '../gpu/dispatch';
import type { Kernel } from '../gpu/kernel';
import type { Runtime, Tensor } from '../gpu/runtime';

export class LogSoftmax {
  private constructor(
    readonly batch: number,
    readonly classes: number,
    private readonly k: { forward: Kernel; backward?: Kernel },
    private readonly params: GPUBuffer,
  ) {}

  /** Without `backward` (true by default), only the forward kernel is compiled. */
  static async create(rt: Runtime, batch: number, classes: number, options: { backward?: boolean } = {}): Promise<LogSoftmax> {
    const [forward, backward] = await Promise.all([rt.kernel('log_softmax', 'forward'), ...((options.backward ?? true) ? [rt.kernel('log_softmax', 'backward')] : [])]);
    return new LogSoftmax(batch, classes, { forward, backward }, forward.uniformBuffer({ batch, classes }));
  }

  forward(t: { input: Tensor; output: Tensor }): Dispatch {
    const n = this.batch * this.classes;
    expectLength('log_softmax.forward', 'input', t.input, n);
    expectLength('log_softmax.forward', 'output', t.output, n);
    return dispatch(this.k.forward, this.params, t, this.batch);
  }

  backward(t: { doutput: Tensor; saved_output: Tensor; dinput: Tensor }): Dispatch {
    const n = this.batch * this.classes;
    expectLength('log_softmax.backward', 'doutput', t.doutput, n);
    expectLength('log_softmax.backward', 'saved_output', t.saved_output, n);
    expectLength('log_softmax.backward', 'dinput', t.dinput, n);
    if (!this.k.backward) throw new Error('log_softmax.backward: this log_softmax was created without its backward kernel');
    return dispatch(this.k.backward, this.params, t, this.batch);
  }
}
