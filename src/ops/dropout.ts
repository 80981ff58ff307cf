// Host side of shaders/dropout.wgsl: inverted dropout in training, PyTorch's
// nn.Dropout(p). The keep mask is a hash of (seed, step, layer, element), computed in
// forward and again in backward (src/util/dropout-mask.ts); setStep() queues the seed
// and step before each training step. Evaluation is the identity: no kernel.
import { dispatch, expectLength, PER_INVOCATION, type Dispatch } from '../gpu/dispatch';
import type { Kernel } from '../gpu/kernel';
import type { Runtime, Tensor } from '../gpu/runtime';
import { dropoutScale, dropoutThreshold } from '../util/dropout-mask';

export interface DropoutOptions {
  /** The probability that an element is zeroed, in [0, 1). */
  p: number;
  /** The dropout layer's 0-based position in the network's list of layers. */
  layer: number;
}

const U32_MAX = 2 ** 32 - 1;

function checkU32(what: string, v: number, min = 0): void {
  if (!(Number.isInteger(v) && v >= min && v <= U32_MAX)) throw new Error(`dropout: ${what} must be an integer in [${min}, ${U32_MAX}], got ${v}`);
}

export class Dropout {
  private constructor(
    readonly count: number,
    readonly options: Readonly<DropoutOptions>,
    private readonly k: Record<'forward' | 'backward', Kernel>,
    private readonly params: GPUBuffer,
    private readonly device: GPUDevice,
  ) {}

  /** `count` elements per call: the batch's whole activation. Seed 0, step 1 until setStep(). */
  static async create(rt: Runtime, count: number, options: DropoutOptions): Promise<Dropout> {
    dropoutThreshold(options.p); // checks p
    checkU32('layer', options.layer);
    const [forward, backward] = await Promise.all([rt.kernel('dropout', 'forward', { PER: PER_INVOCATION }), rt.kernel('dropout', 'backward', { PER: PER_INVOCATION })]);
    const params = forward.uniformBuffer(Dropout.uniforms(count, options, 0, 1));
    return new Dropout(count, { ...options }, { forward, backward }, params, rt.device);
  }

  private static uniforms(count: number, o: DropoutOptions, seed: number, step: number) {
    return { count, seed, step, layer: o.layer, threshold: dropoutThreshold(o.p), scale: dropoutScale(o.p) };
  }

  /**
   * Queues the seed (the run's) and the step (the Adam step being taken, 1-based) that
   * the mask comes from. Call before submitting the command buffer that holds
   * forward() and backward(): queue writes land in submission order.
   */
  setStep(seed: number, step: number): void {
    checkU32('seed', seed);
    checkU32('step', step, 1);
    this.device.queue.writeBuffer(this.params, 0, this.k.forward.encodeUniform(Dropout.uniforms(this.count, this.options, seed, step)));
  }

  forward(t: { input: Tensor; output: Tensor }): Dispatch {
    expectLength('dropout.forward', 'input', t.input, this.count);
    expectLength('dropout.forward', 'output', t.output, this.count);
    return dispatch(this.k.forward, this.params, t, Math.ceil(this.count / PER_INVOCATION));
  }

  backward(t: { doutput: Tensor; dinput: Tensor }): Dispatch {
    expectLength('dropout.backward', 'doutput', t.doutput, this.count);
    expectLength('dropout.backward', 'dinput', t.dinput, this.count);
    return dispatch(this.k.backward, this.params, t, Math.ceil(this.count / PER_INVOCATION));
  }
}
