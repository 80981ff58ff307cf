// Host side of shaders/relu.wgsl.
import { dispatch, expectLength, PER_INVOCATION, type Dispatch } from '../gpu/dispatch';
import type { Kernel } from '../gpu/kernel';
import type { Runtime, Tensor } from '../gpu/runtime';

export class Relu {
  private constructor(
    readonly count: number,
    private readonly k: Record<'forward' | 'backward', Kernel>,
    private readonly params: GPUBuffer,
  ) {}

  static async create(rt: Runtime, count: number): Promise<Relu> {
    const [forward, backward] = await Promise.all([rt.kernel('relu', 'forward', { PER: PER_INVOCATION }), rt.kernel('relu', 'backward', { PER: PER_INVOCATION })]);
    return new Relu(count, { forward, backward }, forward.uniformBuffer({ count }));
  }

  forward(t: { input: Tensor; output: Tensor }): Dispatch {
    expectLength('relu.forward', 'input', t.input, this.count);
    expectLength('relu.forward', 'output', t.output, this.count);
    return dispatch(this.k.forward, this.params, t, Math.ceil(this.count / PER_INVOCATION));
  }

  backward(t: { doutput: Tensor; saved_output: Tensor; dinput: Tensor }): Dispatch {
    expectLength('relu.backward', 'doutput', t.doutput, this.count);
    expectLength('relu.backward', 'saved_output', t.saved_output, this.count);
    expectLength('relu.backward', 'dinput', t.dinput, this.count);
    return dispatch(this.k.backward, this.params, t, Math.ceil(this.count / PER_INVOCATION));
  }
}
