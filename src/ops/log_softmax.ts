// Host side of shaders/log_softmax.wgsl (over the last dimension).
import { dispatch, expectLength, type Dispatch } from '../gpu/dispatch';
import type { Kernel } from '../gpu/kernel';
import type { Runtime, Tensor } from '../gpu/runtime';

export class LogSoftmax {
  private constructor(
    readonly batch: number,
    readonly classes: number,
    private readonly k: Record<'forward' | 'backward', Kernel>,
    private readonly params: GPUBuffer,
  ) {}

  static async create(rt: Runtime, batch: number, classes: number): Promise<LogSoftmax> {
    const [forward, backward] = await Promise.all([rt.kernel('log_softmax', 'forward'), rt.kernel('log_softmax', 'backward')]);
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
    return dispatch(this.k.backward, this.params, t, this.batch);
  }
}
