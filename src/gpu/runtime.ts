/**
 * The engine's hold on a device: compiled kernels (cached by file, entry point and
 * overrides), buffer helpers, and GPU errors turned into exceptions.
 */
import { SHADERS, type ShaderName } from '../shaders';
import { tuningFor, type Tuning } from './tuning';
import type { Gpu, AdapterDescription } from './device';
import { Kernel, type Constants } from './kernel';

/** A tensor on the GPU: a range of a buffer and its shape. */
export interface Tensor {
  buffer: GPUBuffer;
  /** Byte offset, a multiple of 256. */
  offset: number;
  shape: readonly number[];
  /** Number of elements (4 bytes each). */
  length: number;
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** The byte range a kernel binding takes from a tensor. */
export function range(t: Tensor): { buffer: GPUBuffer; offset: number; size: number } {
  return { buffer: t.buffer, offset: t.offset, size: Math.max(4, t.length * 4) };
}

/** Usage for tensors: bound as storage, written and read back by copies. */
function storageUsage(): number {
  // A function, not a constant: in Node the GPU* globals exist only once src/gpu/node.ts has run.
  return GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
}

/** The limits the engine plans batch sizes and uploads with (src/train/limits.ts). */
export interface PlanLimits {
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
  maxComputeWorkgroupsPerDimension: number;
}

/** Bytes as a person reads them: 134,217,728 (128 MiB). */
export function bytes(n: number): string {
  const unit = n >= 2 ** 30 ? ['GiB', 2 ** 30] : n >= 2 ** 20 ? ['MiB', 2 ** 20] : ['KiB', 2 ** 10];
  const size = n / (unit[1] as number);
  return n < 1024 ? `${n} bytes` : `${n.toLocaleString('en-US')} bytes (${Number.isInteger(size) ? size : size.toFixed(2)} ${unit[0]})`;
}

export class Runtime {
  readonly device: GPUDevice;
  readonly adapter: AdapterDescription;
  private readonly kernels = new Map<string, Promise<Kernel>>();
  /** The names ("file.entry") of the keys of `kernels` whose compilation has finished. */
  private readonly done = new Map<string, string>();
  /** Invocations per workgroup for every kernel (their WG override); the shaders' 64 if unset. */
  workgroupSize: number | undefined = Number(globalThis.process?.env?.LENET_WG) || undefined;
  /** The kernels' block shapes for this adapter (src/gpu/tuning.ts). */
  readonly tuning: Tuning;
  private errors: Error[] = [];
  private lowered: Partial<PlanLimits> = {};

  constructor(readonly gpu: Gpu) {
    this.device = gpu.device;
    this.adapter = gpu.adapter;
    this.tuning = tuningFor(gpu.adapter, globalThis.process?.env?.LENET_TUNING);
    this.device.addEventListener('uncapturederror', (event) => {
      const e = (event as GPUUncapturedErrorEvent).error;
      this.errors.push(new Error(`WebGPU error: ${e.message}`));
    });
    void this.device.lost.then((info) => {
      if (info.reason !== 'destroyed') this.errors.push(new Error(`GPU device lost: ${info.message}`));
    });
  }

  /** The device's limits that bound batch sizes and uploads, or lower ones set by lowerLimits(). */
  get limits(): PlanLimits {
    const d = this.device.limits;
    const lower = (name: keyof PlanLimits) => Math.min(d[name], this.lowered[name] ?? Infinity);
    return {
      maxStorageBufferBindingSize: lower('maxStorageBufferBindingSize'),
      maxBufferSize: lower('maxBufferSize'),
      maxComputeWorkgroupsPerDimension: lower('maxComputeWorkgroupsPerDimension'),
    };
  }

  /**
   * Plans with lower limits than the device's (WebGPU cannot give a device less than
   * the defaults): tests of the batch-size limits use it where the device's own would
   * make a run at the largest batch too long.
   */
  lowerLimits(limits: Partial<PlanLimits>): void {
    this.lowered = { ...this.lowered, ...limits };
  }

  /**
   * A compiled kernel, made once per (file, entry point, overrides). `file` is a
   * shader's basename; an unknown one is an error naming the known shaders.
   */
  kernel(file: ShaderName, entry: string, constants: Constants = {}): Promise<Kernel> {
    if (!Object.hasOwn(SHADERS, file)) {
      return Promise.reject(new Error(`kernel ${file}.${entry}: no shader named "${file}" (known: ${Object.keys(SHADERS).sort().join(', ')})`));
    }
    if (this.workgroupSize !== undefined && !('WG' in constants)) constants = { ...constants, WG: this.workgroupSize };
    const key = `${file}.${entry}${JSON.stringify(constants)}`;
    let k = this.kernels.get(key);
    if (!k) {
      k = Kernel.create(this.device, file, SHADERS[file], entry, constants);
      this.kernels.set(key, k);
      k.then(
        (kernel) => this.done.set(key, kernel.name),
        () => this.kernels.delete(key),
      );
    }
    return k;
  }

  /**
   * The kernels compiled so far, as "file.entry" names in the order they were asked
   * for: one per pipeline, so an entry point compiled with two sets of overrides is
   * listed twice. A copy: changing it changes nothing here.
   */
  get compiled(): string[] {
    return [...this.kernels.keys()].flatMap((key) => this.done.get(key) ?? []);
  }

  private wait<T>(start: () => Promise<T>): Promise<T> {
    return this.gpu.wait ? this.gpu.wait(start) : start();
  }

  /** Throws the first GPU error seen since the last check. */
  throwIfFailed(): void {
    if (this.errors.length > 0) {
      const [first] = this.errors;
      this.errors = [];
      throw first;
    }
  }

  /** Waits for the queue, then throws any GPU error it raised. */
  async sync(): Promise<void> {
    try {
      await this.wait(() => this.device.queue.onSubmittedWorkDone());
    } catch (err) {
      throw await this.whyFailed(err, 'waiting for the queue');
    }
    this.throwIfFailed();
  }

  buffer(label: string, size: number, usage: number = storageUsage()): GPUBuffer {
    return this.device.createBuffer({ label, size: this.checkedSize(label, size), usage });
  }

  /** A buffer's size rounded up to 16 bytes, or an error naming it where the device allows no buffer so large. */
  private checkedSize(label: string, size: number): number {
    const padded = Math.max(16, Math.ceil(size / 16) * 16);
    const max = this.device.limits.maxBufferSize;
    if (padded > max) throw new Error(`buffer "${label}" would need ${bytes(padded)}, over the device's maxBufferSize of ${bytes(max)}`);
    return padded;
  }

  /** A tensor with its own buffer. */
  tensor(label: string, shape: readonly number[]): Tensor {
    const length = numel(shape);
    return { buffer: this.buffer(label, length * 4), offset: 0, shape, length };
  }

  upload(label: string, data: Float32Array | Uint32Array | Int32Array | Uint8Array, usage: number = storageUsage()): GPUBuffer {
    const buffer = this.device.createBuffer({ label, size: this.checkedSize(label, data.byteLength), usage, mappedAtCreation: true });
    new Uint8Array(buffer.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    buffer.unmap();
    return buffer;
  }

  write(t: Tensor, data: Float32Array | Uint32Array): void {
    if (data.length !== t.length) throw new Error(`write: ${data.length} values for a tensor of ${t.length}`);
    this.device.queue.writeBuffer(t.buffer, t.offset, data.buffer, data.byteOffset, data.byteLength);
  }

  /** Copies a byte range back to the CPU (a sync point: not for the hot path). */
  async readBytes(buffer: GPUBuffer, offset = 0, size = buffer.size - offset): Promise<ArrayBuffer> {
    return (await this.readRanges([{ buffer, offset, size }]))[0];
  }

  /**
   * Copies several byte ranges back to the CPU with one submission and one map: one
   * sync point for them all, where reading them one by one would wait once each.
   */
  async readRanges(ranges: readonly { buffer: GPUBuffer; offset: number; size: number }[]): Promise<ArrayBuffer[]> {
    const padded = ranges.map((r) => Math.ceil(r.size / 4) * 4);
    const starts = padded.map((_, i) => padded.slice(0, i).reduce((a, b) => a + b, 0));
    const what = ranges.map((r) => r.buffer.label).join(', ');
    const staging = this.device.createBuffer({
      label: `read ${what}`,
      size: Math.max(4, padded.reduce((a, b) => a + b, 0)),
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    const encoder = this.device.createCommandEncoder({ label: 'readback' });
    ranges.forEach((r, i) => encoder.copyBufferToBuffer(r.buffer, r.offset, staging, starts[i], padded[i]));
    this.device.queue.submit([encoder.finish()]);
    try {
      await this.wait(() => staging.mapAsync(GPUMapMode.READ));
    } catch (err) {
      throw await this.whyFailed(err, `reading ${what} back`);
    }
    const mapped = staging.getMappedRange();
    const out = ranges.map((r, i) => mapped.slice(starts[i], starts[i] + r.size));
    staging.destroy();
    this.throwIfFailed();
    return out;
  }

  /** Several tensors read back at one sync point. */
  async readTensors(ts: readonly Tensor[]): Promise<Float32Array[]> {
    const bytes = await this.readRanges(ts.map((t) => ({ buffer: t.buffer, offset: t.offset, size: t.length * 4 })));
    return bytes.map((b) => new Float32Array(b));
  }

  /** A failed GPU call as a one-line error: "GPU device lost" when that is why (a mapAsync only says "aborted", or nothing). */
  private async whyFailed(err: unknown, what: string): Promise<Error> {
    const lost = await Promise.race([this.device.lost, new Promise<null>((resolve) => setTimeout(() => resolve(null), 100))]);
    if (lost) return new Error(`GPU device lost while ${what} (${lost.reason}${lost.message ? `: ${lost.message}` : ''})`);
    const message = (err as Error)?.message;
    return new Error(`${what} failed: ${message || String(err) || 'no reason given'}`);
  }

  async read(t: Tensor): Promise<Float32Array> {
    return new Float32Array(await this.readBytes(t.buffer, t.offset, t.length * 4));
  }

  async readU32(t: Tensor): Promise<Uint32Array> {
    return new Uint32Array(await this.readBytes(t.buffer, t.offset, t.length * 4));
  }

  destroy(): void {
    this.gpu.destroy();
  }
}
