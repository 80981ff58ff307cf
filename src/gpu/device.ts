/**
 * Opening a device on an adapter, the same way in Node and in the browser, and
 * describing the adapter in words a user can act on.
 */

export interface AdapterDescription {
  /** A short name, e.g. "llvmpipe (OpenGL ES, compatibility)". */
  name: string;
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** "vulkan", "opengles" (Dawn), "opengl" (wgpu), "metal", "d3d12", or "browser" where the page cannot tell. */
  backend: string;
  featureLevel: 'core' | 'compatibility';
  /** True for CPU implementations (SwiftShader, llvmpipe, WARP). */
  software: boolean;
  timestamps: boolean;
  /**
   * Where the adapter ends a shader invocation's loops after this many iterations in
   * all, silently: llvmpipe and lavapipe (Mesa's gallivm, LP_MAX_TGSI_LOOP_ITERATIONS).
   * The batch size limits (src/train/limits.ts) keep the kernels' loops under it.
   */
  loopLimit?: number;
  /**
   * Where the adapter has no name (Firefox tells the page nothing of its vendor, chip or
   * driver): what it does tell, in words: fallback or not, features, the limits that
   * matter here.
   */
  details?: string;
}

export interface Gpu {
  device: GPUDevice;
  adapter: AdapterDescription;
  /** In Node, which of the engine's adapters this is (hardware, llvmpipe, swiftshader). */
  kind?: string;
  /** Destroys the device (and, in Node, lets the process exit). */
  destroy(): void;
  /**
   * Waits for a GPU promise (mapAsync, onSubmittedWorkDone). In Node this keeps
   * Dawn from polling flat out while the GPU works (see src/gpu/node.ts).
   */
  wait?: <T>(start: () => Promise<T>) => Promise<T>;
}

/**
 * Mesa's llvmpipe threads (LP_NUM_THREADS, read when the driver starts) for a machine
 * with `cores` cores, where the user has not set them: two per core. llvmpipe gives
 * each thread a fixed share of a dispatch's workgroups, so a core the host slows for
 * a moment (another tenant, another process) holds up the whole dispatch while the
 * other core idles; with two threads a core, the idle core takes over a waiting
 * thread. lenet5 on 2 cores (Mesa 25.0.7, alternating runs against two threads):
 * ahead in 17 of 21 rounds, e.g. medians of 8 6,459 against 5,293 images/s, behind
 * in the quietest (bench/NOTES.md). Mesa caps the number itself (LP_MAX_THREADS).
 */
export function llvmpipeThreads(cores: number): string {
  return String(2 * Math.max(1, cores));
}

/**
 * The driver's version where the adapter says it, e.g. "Mesa 25.0.7" (llvmpipe through
 * Dawn's OpenGL ES backend says "OpenGL ES 3.2 Mesa 25.0.7-2~bpo12+1"); null where it
 * does not. The CPU adapters' speed depends on it more than on anything else
 * (bench/NOTES.md), so the benchmarks record it.
 */
export function driverVersion(adapter: Pick<AdapterDescription, 'name' | 'description' | 'device'>): string | null {
  const mesa = /\bMesa (\d+\.\d+(?:\.\d+)?)/.exec(`${adapter.description} ${adapter.device} ${adapter.name}`);
  if (mesa) return `Mesa ${mesa[1]}`;
  const swiftshader = /SwiftShader driver (\S+)/i.exec(adapter.description);
  return swiftshader ? `SwiftShader ${swiftshader[1]}` : null;
}

const SOFTWARE = /swiftshader|llvmpipe|lavapipe|softpipe|warp|basic render/i;
/** Mesa's gallivm (llvmpipe, lavapipe) counts every loop iteration of an invocation and stops them all here. */
const GALLIVM = /llvmpipe|lavapipe/i;
const GALLIVM_LOOP_LIMIT = 65535;

export function describeAdapter(
  adapter: GPUAdapter,
  backend: string,
  featureLevel: 'core' | 'compatibility',
): AdapterDescription {
  const info = adapter.info;
  const vendor = info.vendor ?? '';
  const architecture = info.architecture ?? '';
  const device = info.device ?? '';
  const description = info.description ?? '';
  const text = `${vendor} ${architecture} ${device} ${description}`;
  const fallback = (info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter === true;
  const software = fallback || SOFTWARE.test(text);
  const unnamed = text.trim() === '';
  // lavapipe is llvmpipe behind Vulkan, and names itself llvmpipe.
  const chip = /llvmpipe/i.test(text)
    ? backend === 'vulkan' ? 'lavapipe' : 'llvmpipe'
    : /swiftshader/i.test(text)
      ? 'SwiftShader'
      : [vendor, architecture, device].filter(Boolean).join(' ') || description || 'unnamed adapter';
  const api = { vulkan: 'Vulkan', opengles: 'OpenGL ES', opengl: 'OpenGL', metal: 'Metal', d3d12: 'D3D12', browser: 'browser' }[backend] ?? backend;
  const name = `${chip} (${api}${featureLevel === 'compatibility' ? ', compatibility' : ''})`;
  return {
    name,
    vendor,
    architecture,
    device,
    description,
    backend,
    featureLevel,
    software,
    timestamps: adapter.features.has('timestamp-query'),
    // A software adapter that does not say which may be lavapipe: keep to its loop limit.
    ...(GALLIVM.test(text) || (unnamed && software) ? { loopLimit: GALLIVM_LOOP_LIMIT } : {}),
    ...(unnamed ? { details: whatItTells(adapter, fallback) } : {}),
  };
}

const COMPUTE_FEATURES = ['shader-f16', 'subgroups', 'timestamp-query'];

/** An unnamed adapter in words: "a fallback adapter; timestamp-query; 256 invocations per workgroup, …". */
function whatItTells(adapter: GPUAdapter, fallback: boolean): string {
  const l = adapter.limits;
  const size = (bytes: number) => (bytes >= 2 ** 30 ? `${bytes / 2 ** 30} GiB` : bytes >= 2 ** 20 ? `${bytes / 2 ** 20} MiB` : `${bytes / 2 ** 10} KiB`);
  // Only the optional features compute kernels can use; texture formats say nothing here.
  const features = COMPUTE_FEATURES.filter((f) => adapter.features.has(f));
  return [
    fallback ? 'a fallback adapter' : 'not a fallback adapter',
    features.length ? features.join(', ') : `none of ${COMPUTE_FEATURES.join(', ')}`,
    `${l.maxComputeInvocationsPerWorkgroup} invocations per workgroup, ${l.maxStorageBuffersPerShaderStage} storage buffers per stage, ` +
      `${size(l.maxComputeWorkgroupStorageSize)} of workgroup memory, ${size(l.maxStorageBufferBindingSize)} per storage binding`,
  ].join('; ');
}

/**
 * Requests a device with the limits the kernels need. Compatibility mode starts
 * from lower defaults (4 storage buffers, 128 invocations per workgroup), so we ask
 * for what the adapter has.
 */
export async function openDevice(adapter: GPUAdapter): Promise<GPUDevice> {
  const a = adapter.limits;
  const requiredLimits: Record<string, number> = {
    maxStorageBuffersPerShaderStage: Math.min(a.maxStorageBuffersPerShaderStage, 10),
    maxComputeInvocationsPerWorkgroup: a.maxComputeInvocationsPerWorkgroup,
    maxComputeWorkgroupSizeX: a.maxComputeWorkgroupSizeX,
    maxComputeWorkgroupSizeY: a.maxComputeWorkgroupSizeY,
    maxStorageBufferBindingSize: a.maxStorageBufferBindingSize,
    maxBufferSize: a.maxBufferSize,
  };
  const requiredFeatures: GPUFeatureName[] = [];
  if (adapter.features.has('timestamp-query')) requiredFeatures.push('timestamp-query');
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  if (device.limits.maxStorageBuffersPerShaderStage < 6) {
    throw new Error(
      `the adapter allows only ${device.limits.maxStorageBuffersPerShaderStage} storage buffers per shader stage; the kernels need 6`,
    );
  }
  return device;
}
