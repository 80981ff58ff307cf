/**
 * WebGPU in Deno: `navigator.gpu`, backed by wgpu (the implementation Firefox uses,
 * with naga as its WGSL compiler), with the same choice of adapter as in Node:
 *
 *   hardware      a real GPU on wgpu's default backends (Vulkan on Linux)
 *   llvmpipe      wgpu's OpenGL backend on Mesa's llvmpipe (CPU)
 *   lavapipe      wgpu's Vulkan backend on Mesa's lavapipe (llvmpipe behind Vulkan)
 *   swiftshader   wgpu's Vulkan backend on SwiftShader, as Debian's chromium ships it
 *   auto          the adapter wgpu picks itself: a GPU if there is one, else the
 *                 first software one it finds (the default)
 *
 * wgpu reads its backend (DENO_WEBGPU_BACKEND) and the Vulkan loader its drivers
 * (VK_ICD_FILENAMES) when the first adapter is asked for, once per process: the choice
 * is made by setting them just before, and a process cannot try one adapter after
 * another (`npm run adapters:deno` asks each in a process of its own). wgpu does not
 * say which backend an adapter is on, so the name comes from the choice.
 *
 * This module takes the place of ./node.ts in the Deno build (build.mjs), with the
 * same exports, so the programs and the tests run unchanged.
 */
import { existsSync } from 'node:fs';
import { describeAdapter, llvmpipeThreads, openDevice, type Gpu } from './device';

export const ADAPTERS = ['auto', 'hardware', 'llvmpipe', 'lavapipe', 'swiftshader'] as const;
export type AdapterChoice = (typeof ADAPTERS)[number];

const SWIFTSHADER_ICDS = ['/usr/lib/chromium/vk_swiftshader_icd.json', '/usr/lib/chromium-browser/vk_swiftshader_icd.json'];
// Mesa names the manifest for its architecture in Debian 12, plainly in Debian 13.
const LAVAPIPE_ICDS = ['/usr/share/vulkan/icd.d/lvp_icd.x86_64.json', '/usr/share/vulkan/icd.d/lvp_icd.aarch64.json', '/usr/share/vulkan/icd.d/lvp_icd.json'];

export const SETUP_HINT =
  'No WebGPU adapter was found by Deno (wgpu). On a machine without a GPU, install a software one with\n' +
  '  sudo scripts/install-deps.sh\n' +
  "(Debian/Ubuntu: Mesa's EGL and llvmpipe for wgpu's OpenGL backend, mesa-vulkan-drivers for lavapipe, and chromium for its SwiftShader Vulkan driver),\n" +
  "or install your GPU vendor's Vulkan driver.";

interface Deno {
  env: { get(name: string): string | undefined; set(name: string, value: string): void };
  execPath(): string;
}
const deno = (globalThis as unknown as { Deno?: Deno }).Deno;
if (!deno) throw new Error('src/gpu/deno.ts runs in Deno only: in Node, the engine uses src/gpu/node.ts');
if (!deno.env.get('XDG_RUNTIME_DIR')) deno.env.set('XDG_RUNTIME_DIR', '/tmp');

/** The environment that makes wgpu find one kind of adapter, or why it cannot here. */
function environment(choice: Exclude<AdapterChoice, 'auto'>): { env: Record<string, string>; backend: string } | string {
  const icd = (paths: string[], what: string) => paths.find((p) => existsSync(p)) ?? `${what} is not installed (looked for ${paths.join(', ')})`;
  // Mesa's threads, as in Node (llvmpipeThreads), unless the user set them.
  const mesa: Record<string, string> = deno!.env.get('LP_NUM_THREADS') ? {} : { LP_NUM_THREADS: llvmpipeThreads(navigator.hardwareConcurrency) };
  switch (choice) {
    case 'hardware':
      return { env: {}, backend: 'vulkan' };
    case 'llvmpipe':
      return { env: { DENO_WEBGPU_BACKEND: 'gl', ...mesa }, backend: 'opengl' };
    case 'lavapipe': {
      const path = icd(LAVAPIPE_ICDS, "lavapipe (Debian's mesa-vulkan-drivers)");
      return LAVAPIPE_ICDS.includes(path) ? { env: { DENO_WEBGPU_BACKEND: 'vulkan', VK_ICD_FILENAMES: path, ...mesa }, backend: 'vulkan' } : path;
    }
    case 'swiftshader': {
      const path = icd(SWIFTSHADER_ICDS, "SwiftShader (Debian's chromium)");
      return SWIFTSHADER_ICDS.includes(path) ? { env: { DENO_WEBGPU_BACKEND: 'vulkan', VK_ICD_FILENAMES: path }, backend: 'vulkan' } : path;
    }
  }
}

export function parseAdapterChoice(value: string | undefined, source: string): AdapterChoice {
  const v = (value ?? 'auto').toLowerCase();
  if (!(ADAPTERS as readonly string[]).includes(v)) {
    throw new Error(`${source}: unknown adapter "${value}"; choose one of ${ADAPTERS.join(', ')}`);
  }
  return v as AdapterChoice;
}

let chosen: AdapterChoice | null = null;

/** Opens a device on the chosen adapter (default: LENET_ADAPTER, else auto); one choice per process. */
export async function requestGpu(choice?: AdapterChoice): Promise<Gpu> {
  const wanted = choice ?? parseAdapterChoice(deno!.env.get('LENET_ADAPTER'), 'LENET_ADAPTER');
  if (chosen !== null && chosen !== wanted) {
    throw new Error(`wgpu's adapter is chosen once per process: this one uses ${chosen}, and cannot open ${wanted} too`);
  }
  chosen = wanted;
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) throw new Error('this Deno has no navigator.gpu (WebGPU); Deno 2 has it built in');
  let backend = 'wgpu';
  if (wanted !== 'auto') {
    const how = environment(wanted);
    if (typeof how === 'string') throw new Error(`The ${wanted} adapter is not available: ${how}.`);
    for (const [name, value] of Object.entries(how.env)) deno!.env.set(name, value);
    backend = how.backend;
  }
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) {
    const what = wanted === 'auto' ? 'No WebGPU adapter was found by Deno (wgpu).' : `The ${wanted} adapter is not available to Deno (wgpu).`;
    throw new Error(SETUP_HINT.replace('No WebGPU adapter was found by Deno (wgpu).', what));
  }
  if (wanted === 'auto') backend = guessBackend(adapter);
  const description = describeAdapter(adapter, backend, 'core');
  if (wanted === 'hardware' && description.software) {
    throw new Error(`The hardware adapter is not available to Deno (wgpu): it found only ${description.name}, a software one.`);
  }
  const device = await openDevice(adapter);
  return { device, adapter: description, kind: wanted === 'auto' ? kindOf(description.name) : wanted, destroy: () => device.destroy() };
}

/**
 * With no backend set, wgpu on Linux asks Vulkan and uses OpenGL only where Vulkan
 * has no adapter: a software adapter from Mesa is lavapipe unless Vulkan is absent.
 */
function guessBackend(adapter: GPUAdapter): string {
  const llvmpipe = /llvmpipe/i.test(adapter.info.description ?? '');
  return llvmpipe && !LAVAPIPE_ICDS.some((p) => existsSync(p)) ? 'opengl' : 'vulkan';
}

function kindOf(name: string): string {
  return /^lavapipe/.test(name) ? 'lavapipe' : /^llvmpipe/.test(name) ? 'llvmpipe' : /^SwiftShader/.test(name) ? 'swiftshader' : 'hardware';
}

/**
 * Every adapter this machine offers Deno. wgpu chooses its backend once per process,
 * so each is asked for in a Deno process of its own (`deno eval`), in the
 * environment that picks it.
 */
export async function listAdapters(): Promise<{ choice: AdapterChoice; name: string }[]> {
  const found: { choice: AdapterChoice; name: string }[] = [];
  const probe =
    "const a = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });" +
    'const i = a?.info;' +
    "console.log(JSON.stringify(a && { vendor: i.vendor, architecture: i.architecture, device: i.device, description: i.description, isFallbackAdapter: i.isFallbackAdapter, timestamps: a.features.has('timestamp-query') }));";
  for (const choice of ['hardware', 'llvmpipe', 'lavapipe', 'swiftshader'] as const) {
    const how = environment(choice);
    if (typeof how === 'string') continue;
    const command = new (deno as DenoWithCommand).Command(deno!.execPath(), {
      args: ['eval', probe],
      env: { XDG_RUNTIME_DIR: '/tmp', ...how.env },
      stdout: 'piped',
      stderr: 'null',
    });
    const { code, stdout } = await command.output();
    if (code !== 0) continue;
    const info = JSON.parse(new TextDecoder().decode(stdout).trim() || 'null');
    if (!info) continue;
    const features = new Set(info.timestamps ? ['timestamp-query'] : []);
    const described = describeAdapter({ info, features } as unknown as GPUAdapter, how.backend, 'core');
    if (choice === 'hardware' && described.software) continue;
    found.push({ choice, name: described.name });
  }
  return found;
}

interface DenoWithCommand extends Deno {
  Command: new (
    path: string,
    options: { args: string[]; env: Record<string, string>; stdout: 'piped'; stderr: 'null' },
  ) => { output(): Promise<{ code: number; stdout: Uint8Array }> };
}

/** Deno's WebGPU promises do not spin the main thread as Dawn's Node bindings do: nothing to soften. */
export function politeWait<T>(start: () => Promise<T>): Promise<T> {
  return start();
}
