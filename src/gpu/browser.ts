/**
 * WebGPU in the page: navigator.gpu, opened the same way as in Node (openDevice),
 * described the same way (describeAdapter). Falls back to compatibility mode where a
 * browser offers only that.
 */
import { describeAdapter, openDevice, type Gpu } from './device';

export const NO_WEBGPU_HINT =
  'This browser has no WebGPU. Use a current Chrome or Edge (or Firefox 141+, Safari 26+); ' +
  'on Linux without a GPU, start Chromium with --enable-unsafe-webgpu (it then runs on SwiftShader).';

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
