/**
 * A kernel is one compute entry point of one WGSL file, compiled once. Its
 * bind-group layout and its uniform struct's layout come from the WGSL itself
 * (wgsl_reflect), and the host binds buffers by the names the shader gives them.
 * Anything missing, extra or of the wrong kind is an error naming the kernel and
 * the binding, raised before the GPU sees it.
 */
import { ResourceType, WgslReflect, type FunctionInfo, type VariableInfo } from 'wgsl_reflect/wgsl_reflect.module.js';

/** A range of a GPU buffer: what a storage or uniform binding points at. */
export interface BufferRange {
  buffer: GPUBuffer;
  /** In bytes; a multiple of the device's minStorageBufferOffsetAlignment (256). */
  offset?: number;
  /** In bytes; defaults to the rest of the buffer. */
  size?: number;
}

export type Resource = GPUBuffer | BufferRange;

type BindingKind = 'uniform' | 'read-only-storage' | 'storage';

interface BindingInfo {
  name: string;
  binding: number;
  kind: BindingKind;
  /** Minimum size in bytes (the struct size for uniforms, one element for arrays). */
  minSize: number;
}

interface UniformMember {
  name: string;
  offset: number;
  type: 'u32' | 'i32' | 'f32';
}

export type Constants = Record<string, number>;
export type UniformValues = Record<string, number>;

const reflections = new Map<string, WgslReflect>();

function reflect(source: string): WgslReflect {
  let r = reflections.get(source);
  if (!r) {
    r = new WgslReflect(source);
    reflections.set(source, r);
  }
  return r;
}

export class Kernel {
  readonly name: string;
  readonly pipeline: GPUComputePipeline;
  readonly layout: GPUBindGroupLayout;
  /** Invocations per workgroup along x, y, z, with overrides applied. */
  readonly workgroupSize: [number, number, number];
  private readonly bindings: BindingInfo[];
  private readonly uniform: { name: string; size: number; members: UniformMember[] } | null;

  private constructor(
    private readonly device: GPUDevice,
    name: string,
    pipeline: GPUComputePipeline,
    layout: GPUBindGroupLayout,
    bindings: BindingInfo[],
    uniform: Kernel['uniform'],
    workgroupSize: [number, number, number],
  ) {
    this.name = name;
    this.pipeline = pipeline;
    this.layout = layout;
    this.bindings = bindings;
    this.uniform = uniform;
    this.workgroupSize = workgroupSize;
  }

  /**
   * Compiles `entry` of a shader. `file` names the shader in messages
   * (e.g. "conv2d"); `constants` set its `override` declarations.
   */
  static async create(
    device: GPUDevice,
    file: string,
    source: string,
    entry: string,
    constants: Constants = {},
  ): Promise<Kernel> {
    const name = `${file}.${entry}`;
    const r = reflect(source);
    const fn = r.entry.compute.find((f) => f.name === entry);
    if (!fn) {
      const have = r.entry.compute.map((f) => f.name).join(', ');
      throw new Error(`kernel ${name}: ${file}.wgsl has no compute entry point "${entry}" (it has: ${have})`);
    }
    for (const key of Object.keys(constants)) {
      if (!r.overrides.some((o) => o.name === key)) {
        throw new Error(`kernel ${name}: no override named "${key}" in ${file}.wgsl`);
      }
    }
    const bindings = fn.resources.map((v) => bindingInfo(name, v)).sort((a, b) => a.binding - b.binding);
    const uniformVar = fn.resources.find((v) => v.resourceType === ResourceType.Uniform);
    const uniform = uniformVar ? uniformLayout(name, uniformVar) : null;

    device.pushErrorScope('validation');
    const module = device.createShaderModule({ label: `${file}.wgsl`, code: source });
    const layout = device.createBindGroupLayout({
      label: name,
      entries: bindings.map((b) => ({
        binding: b.binding,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: b.kind },
      })),
    });
    const scoped = device.popErrorScope();
    let pipeline: GPUComputePipeline;
    try {
      pipeline = await device.createComputePipelineAsync({
        label: name,
        layout: device.createPipelineLayout({ label: name, bindGroupLayouts: [layout] }),
        compute: { module, entryPoint: entry, constants },
      });
    } catch (e) {
      const info = await module.getCompilationInfo();
      const messages = info.messages.map((m) => `  ${file}.wgsl:${m.lineNum}:${m.linePos} ${m.type}: ${m.message}`);
      throw new Error(`kernel ${name} failed to compile: ${(e as Error).message}\n${messages.join('\n')}`);
    }
    const error = await scoped;
    if (error) throw new Error(`kernel ${name}: ${error.message}`);
    return new Kernel(device, name, pipeline, layout, bindings, uniform, workgroupSizeOf(fn, constants));
  }

  /** The names this entry point binds, in binding order. */
  get bindingNames(): string[] {
    return this.bindings.map((b) => b.name);
  }

  /**
   * Makes the bind group for these resources, checked by name: every binding the
   * entry point uses must be given, and nothing else.
   */
  bind(resources: Record<string, Resource>): GPUBindGroup {
    const given = new Set(Object.keys(resources));
    const entries: GPUBindGroupEntry[] = [];
    for (const b of this.bindings) {
      const res = resources[b.name];
      if (res === undefined) {
        throw new Error(`kernel ${this.name}: binding "${b.name}" is missing (it binds: ${this.bindingNames.join(', ')})`);
      }
      given.delete(b.name);
      const range: BufferRange = 'buffer' in res && !('mapState' in res) ? res : { buffer: res as GPUBuffer };
      this.check(b, range);
      entries.push({ binding: b.binding, resource: range });
    }
    if (given.size > 0) {
      throw new Error(
        `kernel ${this.name}: no binding named ${[...given].map((n) => `"${n}"`).join(', ')} (it binds: ${this.bindingNames.join(', ')})`,
      );
    }
    return this.device.createBindGroup({ label: this.name, layout: this.layout, entries });
  }

  private check(b: BindingInfo, r: BufferRange): void {
    const where = `kernel ${this.name}: binding "${b.name}"`;
    const usage = r.buffer.usage;
    if (b.kind === 'uniform' && !(usage & GPUBufferUsage.UNIFORM)) {
      throw new Error(`${where} is a uniform, but buffer "${r.buffer.label}" was not made with UNIFORM usage`);
    }
    if (b.kind !== 'uniform' && !(usage & GPUBufferUsage.STORAGE)) {
      throw new Error(`${where} is a storage buffer, but buffer "${r.buffer.label}" was not made with STORAGE usage`);
    }
    const offset = r.offset ?? 0;
    const size = r.size ?? r.buffer.size - offset;
    if (offset % 256 !== 0) throw new Error(`${where}: offset ${offset} is not a multiple of 256`);
    if (offset + size > r.buffer.size) {
      throw new Error(`${where}: range ${offset}+${size} lies outside buffer "${r.buffer.label}" (${r.buffer.size} bytes)`);
    }
    if (size < b.minSize) throw new Error(`${where}: ${size} bytes is smaller than the ${b.minSize} it needs`);
    const limit = b.kind === 'uniform' ? 'maxUniformBufferBindingSize' : 'maxStorageBufferBindingSize';
    const max = this.device.limits[limit];
    if (size > max) {
      throw new Error(`${where}: ${size.toLocaleString('en-US')} bytes of buffer "${r.buffer.label}" are more than the device's ${limit} (${max.toLocaleString('en-US')})`);
    }
  }

  /** Encodes uniform values by member name into the uniform struct's layout. */
  encodeUniform(values: UniformValues): ArrayBuffer {
    const u = this.uniform;
    if (!u) throw new Error(`kernel ${this.name} has no uniform binding`);
    const bytes = new ArrayBuffer(Math.max(16, Math.ceil(u.size / 16) * 16));
    const view = new DataView(bytes);
    const left = new Set(Object.keys(values));
    for (const m of u.members) {
      const v = values[m.name];
      if (v === undefined) throw new Error(`kernel ${this.name}: uniform ${u.name}.${m.name} is missing`);
      if (!Number.isFinite(v)) throw new Error(`kernel ${this.name}: uniform ${u.name}.${m.name} = ${v} is not a finite number`);
      if (m.type !== 'f32' && !Number.isInteger(v)) {
        throw new Error(`kernel ${this.name}: uniform ${u.name}.${m.name} is ${m.type}, got ${v}`);
      }
      if (m.type === 'u32') view.setUint32(m.offset, v, true);
      else if (m.type === 'i32') view.setInt32(m.offset, v, true);
      else view.setFloat32(m.offset, v, true);
      left.delete(m.name);
    }
    if (left.size > 0) {
      throw new Error(`kernel ${this.name}: uniform ${u.name} has no member ${[...left].map((n) => `"${n}"`).join(', ')}`);
    }
    return bytes;
  }

  /** A uniform buffer holding these values, made once at set-up. */
  uniformBuffer(values: UniformValues): GPUBuffer {
    const bytes = this.encodeUniform(values);
    const buffer = this.device.createBuffer({
      label: `${this.name}.${this.uniform!.name}`,
      size: bytes.byteLength,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    this.device.queue.writeBuffer(buffer, 0, bytes);
    return buffer;
  }

  /**
   * Workgroup counts that cover `invocations` along x, folding into y past
   * maxComputeWorkgroupsPerDimension (65,535) groups. The shaders' invocation_index()
   * is a u32, so a grid may cover at most 2^32 invocations.
   */
  grid(invocations: number): [number, number, number] {
    const g = grid(invocations, this.workgroupSize[0], this.device.limits.maxComputeWorkgroupsPerDimension);
    if (!g) throw new Error(`kernel ${this.name}: ${invocations.toLocaleString('en-US')} invocations are more than one dispatch can index`);
    return g;
  }
}

/**
 * The workgroup counts of Kernel.grid(), or null where there are none: more rows than
 * `maxPerDimension`, or indices (x + y * groups.x * workgroup) past a u32.
 */
export function grid(invocations: number, workgroup: number, maxPerDimension: number): [number, number, number] | null {
  const groups = Math.ceil(invocations / workgroup);
  const rows = Math.ceil(groups / maxPerDimension);
  if (rows <= 1) return groups * workgroup <= 2 ** 32 ? [Math.max(groups, 1), 1, 1] : null;
  return rows <= maxPerDimension && rows * maxPerDimension * workgroup <= 2 ** 32 ? [maxPerDimension, rows, 1] : null;
}

function bindingInfo(kernel: string, v: VariableInfo): BindingInfo {
  if (v.group !== 0) throw new Error(`kernel ${kernel}: binding "${v.name}" is in group ${v.group}; kernels use group 0 only`);
  if (v.resourceType === ResourceType.Uniform) {
    return { name: v.name, binding: v.binding, kind: 'uniform', minSize: v.type.size };
  }
  if (v.resourceType === ResourceType.Storage) {
    const element = v.isArray ? Math.max(v.stride, 4) : v.type.size;
    return { name: v.name, binding: v.binding, kind: v.access === 'read' ? 'read-only-storage' : 'storage', minSize: element };
  }
  throw new Error(`kernel ${kernel}: binding "${v.name}" is not a buffer; kernels bind buffers only`);
}

function uniformLayout(kernel: string, v: VariableInfo): NonNullable<Kernel['uniform']> {
  const members = (v.members ?? []).map((m) => {
    const type = m.type.name;
    if (type !== 'u32' && type !== 'i32' && type !== 'f32') {
      throw new Error(`kernel ${kernel}: uniform member ${v.name}.${m.name} is ${type}; only u32, i32 and f32 are supported`);
    }
    return { name: m.name, offset: m.offset, type } as UniformMember;
  });
  return { name: v.name, size: v.type.size, members };
}

function workgroupSizeOf(fn: FunctionInfo, constants: Constants): [number, number, number] {
  const reflected = fn.workgroupSize ?? [1, 1, 1];
  const attr = fn.attributes?.find((a) => a.name === 'workgroup_size');
  const args = attr ? (Array.isArray(attr.value) ? attr.value : [attr.value]) : [];
  const size: [number, number, number] = [reflected[0], reflected[1], reflected[2]];
  args.forEach((arg, i) => {
    const key = String(arg).trim();
    if (key in constants) size[i] = constants[key];
  });
  return size;
}
