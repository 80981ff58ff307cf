/**
 * WebGPU in the page: navigator.gpu, opened the same way as in Node (openDevice),
 * described the same way (describeAdapter). Falls back to compatibility mode where a
 * browser offers only that.
 */
import { describeAdapter, openDevice, type Gpu } from './device';

/**
 * What to do without WebGPU, for every browser the page knows; the page shows this text
 * and nothing else. Firefox has WebGPU on by default on Windows and macOS only; on Linux
 * it is behind a preference, and without a GPU its blocklist refuses the software Vulkan
 * drivers (lavapipe, SwiftShader) unless told otherwise.
 */
export const NO_WEBGPU_HINT =
  'This browser has no WebGPU. Use a current Chrome, Edge, Safari or Firefox. ' +
  'On Linux, start Chromium with --enable-unsafe-webgpu (without a GPU it then runs on SwiftShader); ' +
  'in Firefox on Linux, set dom.webgpu.enabled to true in about:config, and without a GPU gfx.webgpu.ignore-blocklist too.';

export async function requestGpu(): Promise<Gpu> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) throw new Error(NO_WEBGPU_HINT);
  let adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  let featureLevel: 'core' | 'compatibility' = 'core';
  if (!adapter) {
    adapter = await gpu.requestAdapter({ featureLevel: 'compatibility' } as GPURequestAdapterOptions);
    featureLevel = 'compatibility';
  }
  if (!adapter) throw new Error(`WebGPU is there but offers no adapter. ${NO_WEBGPU_HINT}`);
  const device = await openDevice(adapter);
  return { device, adapter: describeAdapter(adapter, 'browser', featureLevel), destroy: () => device.destroy() };
}
