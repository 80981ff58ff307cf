// Host side of shaders/tanh.wgsl: tanh, and its gradient from the forward's output.
import { dispatch, expectLength, PER_INVOCATION, type Dispatch } from '../gpu/dispatch';
import type { Kernel } from '../gpu/kernel';
import type { Runtime, Tensor } from '../gpu/runtime';

export class Tanh {
  private constructor(
    readonly count: number,
    private readonly k: Record<'forward' | 'backward', Kernel>,
    private readonly params: GPUBuffer,
  ) {}

  static async create(rt: Runtime, count: number): Promise<Tanh> {
    const [forward, backward] = await Promise.all([rt.kernel('tanh', 'forward', { PER: PER_INVOCATION }), rt.kernel('tanh', 'backward', { PER: PER_INVOCATION })]);
    return new Tanh(count, { forward, backward }, forward.uniformBuffer({ count }));
  }

  forward(t: { input: Tensor; output: Tensor }): Dispatch {
    expectLength('tanh.forward', 'input', t.input, this.count);
    expectLength('tanh.forward', 'output', t.output, this.count);
    return dispatch(this.k.forward, this.params, t, Math.ceil(this.count / PER_INVOCATION));
  }

  backward(t: { doutput: Tensor; saved_output: Tensor; dinput: Tensor }): Dispatch {
    expectLength('tanh.backward', 'doutput', t.doutput, this.count);
    expectLength('tanh.backward', 'saved_output', t.saved_output, this.count);
    expectLength('tanh.backward', 'dinput', t.dinput, this.count);
    return dispatch(this.k.backward, this.params, t, Math.ceil(this.count / PER_INVOCATION));
  }
}
