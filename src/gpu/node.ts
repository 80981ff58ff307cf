/**
 * WebGPU in Node through Dawn (the `webgpu` package), with the choice of adapter:
 *
 *   hardware      a real GPU through Dawn's default backends (Vulkan, Metal, D3D12)
 *   llvmpipe      Dawn's OpenGL ES backend on Mesa's llvmpipe (CPU), compatibility mode
 *   swiftshader   Dawn's Vulkan backend on SwiftShader (CPU), as Debian's chromium ships it
 *   auto          the first of these that works (the default)
 *
 * llvmpipe comes before SwiftShader because it ran matmul-like kernels about 5x faster
 * on the same machine. LENET_ADAPTER picks one from the environment.
 *
 * Dawn prints what goes wrong while it looks for adapters ("Couldn't load Vulkan:
 * libvulkan.so.1 ...", "vkCreateInstance: Found no drivers!") to stderr from native
 * code: dawn::WarningLog() is an fprintf to stderr, with no callback and no level to
 * set from JavaScript (only a build of Dawn with DAWN_DISABLE_LOGGING is quiet). So an
 * adapter that cannot exist is not probed at all: no Vulkan probe without the Vulkan
 * loader, nor the hardware one without a Vulkan driver manifest (Linux); DEBUG=1 says
 * which were skipped and why. What remains are Dawn's two notices on llvmpipe, printed
 * each time its OpenGL ES adapter is made ("maxDynamicUniformBuffersPerPipelineLayout
 * artificially reduced from 90 to 16 ...", the same for storage buffers): they are
 * about the chosen adapter, harmless here (no dynamic offsets are used), and cannot
 * be silenced in-process, since Node cannot redirect the process's own stderr
 * (file descriptor 2) around a native call.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { availableParallelism, homedir } from 'node:os';
import { join } from 'node:path';
import { create, globals } from 'webgpu';
import { describeAdapter, llvmpipeThreads, openDevice, type Gpu } from './device';

export const ADAPTERS = ['auto', 'hardware', 'llvmpipe', 'swiftshader'] as const;
export type AdapterChoice = (typeof ADAPTERS)[number];

const SWIFTSHADER_ICDS = [
  '/usr/lib/chromium/vk_swiftshader_icd.json',
  '/usr/lib/chromium-browser/vk_swiftshader_icd.json',
  '/snap/chromium/current/usr/lib/chromium-browser/vk_swiftshader_icd.json',
];

export const SETUP_HINT =
  'No WebGPU adapter was found. On a machine without a GPU, install a software one with\n' +
  '  sudo scripts/install-deps.sh\n' +
  "(Debian/Ubuntu: Mesa's EGL and llvmpipe for Dawn's OpenGL ES backend, and chromium for its SwiftShader Vulkan driver),\n" +
  'or install your GPU vendor\'s Vulkan driver.';

// Dawn's GPU object must stay referenced while its devices are in use: released
// early, Node exits silently or crashes. Every instance we make lives here.
const instances: GPU[] = [];

Object.assign(globalThis, globals);
process.env.XDG_RUNTIME_DIR ??= '/tmp';

function instance(options: string[]): GPU {
  const gpu = create(options);
  instances.push(gpu);
  return gpu;
}

interface Candidate {
  adapter: GPUAdapter;
  backend: string;
  featureLevel: 'core' | 'compatibility';
}

/** A Dawn instance for one kind of adapter, and the options that find it. */
export interface Dawn {
  gpu: GPU;
  options: GPURequestAdapterOptions;
  backend: string;
  featureLevel: 'core' | 'compatibility';
}

/** Makes the Dawn instance for `name` (null where this machine cannot have it). */
export function dawn(name: Exclude<AdapterChoice, 'auto'>): Dawn | null {
  if (name === 'hardware') {
    const backend = process.platform === 'darwin' ? 'metal' : process.platform === 'win32' ? 'd3d12' : 'vulkan';
    return { gpu: instance([]), options: { powerPreference: 'high-performance' }, backend, featureLevel: 'core' };
  }
  if (name === 'llvmpipe') {
    if (process.platform !== 'linux') return null;
    process.env.EGL_PLATFORM ??= 'surfaceless';
    process.env.LP_NUM_THREADS ??= llvmpipeThreads(availableParallelism());
    const options = { featureLevel: 'compatibility' } as GPURequestAdapterOptions;
    return { gpu: instance(['backend=opengles']), options, backend: 'opengles', featureLevel: 'compatibility' };
  }
  const icd = process.env.VK_ICD_FILENAMES ?? SWIFTSHADER_ICDS.find((p) => existsSync(p));
  if (!icd) return null;
  // The Vulkan loader reads this when Dawn first loads it, so it must be set first.
  process.env.VK_ICD_FILENAMES = icd;
  return { gpu: instance(['backend=vulkan']), options: {}, backend: 'vulkan', featureLevel: 'core' };
}

/**
 * Whether the dynamic linker can find the shared library `name` (e.g. libvulkan.so.1):
 * in LD_LIBRARY_PATH, the usual directories or glibc's cache. Where the cache cannot
 * be read (another libc), we cannot tell, and say yes.
 */
function sharedLibraryFound(name: string): boolean {
  const dirs = [...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean), '/lib', '/usr/lib', '/lib64', '/usr/lib64'];
  if (dirs.some((d) => existsSync(join(d, name)))) return true;
  try {
    return readFileSync('/etc/ld.so.cache').includes(name);
  } catch {
    return true;
  }
}

/** The directories where the Vulkan loader looks for driver manifests (Linux), unless the environment names them. */
function vulkanManifestDirs(): string[] {
  const env = process.env;
  const home = homedir();
  const config = [env.XDG_CONFIG_HOME || join(home, '.config'), ...(env.XDG_CONFIG_DIRS || '/etc/xdg').split(':'), '/etc', '/usr/local/etc'];
  const data = [env.XDG_DATA_HOME || join(home, '.local/share'), ...(env.XDG_DATA_DIRS || '/usr/local/share:/usr/share').split(':')];
  return [...config, ...data].filter(Boolean).map((d) => join(d, 'vulkan', 'icd.d'));
}

/**
 * Why the adapter `name` cannot exist on this machine, found without asking Dawn (whose
 * failed probes print to stderr); null where it may.
 */
function missing(name: Exclude<AdapterChoice, 'auto'>): string | null {
  if (process.platform !== 'linux' || name === 'llvmpipe') return null;
  if (!sharedLibraryFound('libvulkan.so.1')) return 'the Vulkan loader (libvulkan.so.1) is not installed';
  if (name === 'swiftshader') return null; // dawn() finds its driver manifest
  const env = process.env;
  if (env.VK_DRIVER_FILES || env.VK_ICD_FILENAMES || env.VK_ADD_DRIVER_FILES) return null;
  // Mesa's hardware drivers (mesa-vulkan-drivers, installed for lavapipe) complain on
  // stderr when there is no GPU for them; a GPU on Linux has a device node.
  if (!gpuDeviceNode()) return 'no GPU device node (/dev/dri/renderD*, /dev/nvidia0)';
  const dirs = vulkanManifestDirs();
  const manifests = dirs.flatMap((d) => {
    try {
      return readdirSync(d).filter((f) => f.endsWith('.json'));
    } catch {
      return [];
    }
  });
  return manifests.length === 0 ? `no Vulkan driver is installed (no manifest in ${dirs.join(', ')})` : null;
}

function gpuDeviceNode(): boolean {
  try {
    if (readdirSync('/dev/dri').some((f) => f.startsWith('renderD'))) return true;
  } catch {
    // no DRM devices
  }
  return existsSync('/dev/nvidia0');
}

/**
 * The Vulkan drivers the hardware probe may load: every manifest but the software
 * ones. Dawn refuses lavapipe (Debian's mesa-vulkan-drivers, which wgpu uses) with a
 * warning on stderr at every probe; SwiftShader is probed as itself. An explicit
 * driver list in the environment is left as it is.
 */
function hardwareDrivers(): Record<string, string | undefined> {
  const env = process.env;
  if (process.platform !== 'linux' || env.VK_DRIVER_FILES || env.VK_ICD_FILENAMES || env.VK_ADD_DRIVER_FILES) return {};
  const manifests = vulkanManifestDirs().flatMap((d) => {
    try {
      return readdirSync(d).filter((f) => f.endsWith('.json')).map((f) => join(d, f));
    } catch {
      return [];
    }
  });
  const hardware = manifests.filter((m) => !/lvp_icd|swiftshader/i.test(m));
  // The loader of Debian 12 reads VK_DRIVER_FILES, older ones VK_ICD_FILENAMES.
  const list = hardware.join(':') || '/nonexistent/no-hardware-vulkan-driver.json';
  return { VK_DRIVER_FILES: list, VK_ICD_FILENAMES: list };
}

/** Runs `fn` with `vars` set in the environment (which the Vulkan loader reads), then puts it back. */
async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const put = (values: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(values)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  put(vars);
  try {
    return await fn();
  } finally {
    put(saved);
  }
}

async function find(name: Exclude<AdapterChoice, 'auto'>): Promise<Candidate | null> {
  const why = missing(name);
  if (why) {
    if (process.env.DEBUG) console.error(`adapter ${name}: not probed: ${why}`);
    return null;
  }
  const probe = async () => {
    const d = dawn(name);
    return d && { d, adapter: await d.gpu.requestAdapter(d.options) };
  };
  const found = name === 'hardware' ? await withEnv(hardwareDrivers(), probe) : await probe();
  if (!found?.adapter) return null;
  const { d, adapter } = found;
  // Dawn's default backends may offer a CPU implementation: not what "hardware" means.
  if (name === 'hardware' && describeAdapter(adapter, d.backend, d.featureLevel).software) return null;
  return { adapter, backend: d.backend, featureLevel: d.featureLevel };
}

/**
 * Dawn's Node bindings poll for finished GPU work by calling setImmediate again and
 * again while any promise is pending: the main thread then spins at 100% for as
 * long as the GPU works. On a CPU adapter the "GPU" is the other threads of the same
 * few cores, so that spinning takes a core from it. The bindings look setImmediate
 * up on the global object at each call, so while we wait we hand them one that
 * polls every millisecond instead, after the first SPIN_MS of each wait: on Dawn's
 * OpenGL ES backend the work is done when queue.submit returns, and a first poll a
 * millisecond later cost each training step a millisecond with every core idle
 * (bench/NOTES.md).
 */
let waiting = 0;
let spinUntil = 0;
const SPIN_MS = 0.25;
const immediate = globalThis.setImmediate;
const politeImmediate = ((fn: (...args: unknown[]) => void, ...args: unknown[]) =>
  performance.now() < spinUntil ? immediate(fn, ...args) : setTimeout(fn, 1, ...args)) as unknown as typeof setImmediate;

export async function politeWait<T>(start: () => Promise<T>): Promise<T> {
  if (waiting++ === 0) globalThis.setImmediate = politeImmediate;
  spinUntil = performance.now() + SPIN_MS;
  try {
    return await start();
  } finally {
    if (--waiting === 0) globalThis.setImmediate = immediate;
  }
}

/** Every adapter this machine offers, each opened once and released. */
export async function listAdapters(): Promise<{ choice: AdapterChoice; name: string }[]> {
  const found: { choice: AdapterChoice; name: string }[] = [];
  for (const choice of ['hardware', 'llvmpipe', 'swiftshader'] as const) {
    try {
      const gpu = await requestGpu(choice);
      found.push({ choice, name: gpu.adapter.name });
      gpu.destroy();
    } catch {
      // not available
    }
  }
  return found;
}

export function parseAdapterChoice(value: string | undefined, source: string): AdapterChoice {
  const v = (value ?? 'auto').toLowerCase();
  if (!(ADAPTERS as readonly string[]).includes(v)) {
    throw new Error(`${source}: unknown adapter "${value}"; choose one of ${ADAPTERS.join(', ')}`);
  }
  return v as AdapterChoice;
}

/** Opens a device on the chosen adapter (default: LENET_ADAPTER, else auto). */
export async function requestGpu(choice?: AdapterChoice): Promise<Gpu> {
  const wanted = choice ?? parseAdapterChoice(process.env.LENET_ADAPTER, 'LENET_ADAPTER');
  const order: Exclude<AdapterChoice, 'auto'>[] =
    wanted === 'auto' ? ['hardware', 'llvmpipe', 'swiftshader'] : [wanted];
  for (const name of order) {
    let found: Candidate | null = null;
    try {
      found = await find(name);
    } catch {
      found = null; // a backend that cannot load is the same as an absent one
    }
    if (!found) continue;
    const device = await openDevice(found.adapter);
    const adapter = describeAdapter(found.adapter, found.backend, found.featureLevel);
    return { device, adapter, kind: name, destroy: () => device.destroy(), wait: politeWait };
  }
  const what = wanted === 'auto' ? 'No WebGPU adapter was found.' : `The ${wanted} adapter is not available.`;
  throw new Error(SETUP_HINT.replace('No WebGPU adapter was found.', what));
}
