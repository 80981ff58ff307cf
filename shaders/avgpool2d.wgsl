// Average pooling, K x K windows S apart, no padding, floor mode (PyTorch's AvgPool2d
// with padding=0, ceil_mode=False; count_include_pad does not matter without padding),
// NCHW. Planes are (n, c) pairs; OH = floor((H - K) / S) + 1, OW likewise: windows
// that do not fit are dropped.
//
//   forward    output[p,y,x]   = (sum_{ky,kx < K} input[p, S*y+ky, S*x+kx]) / (K*K)
//   backward   dinput[p,iy,ix] = sum over the windows (y, x) that contain (iy, ix) of
//                                doutput[p,y,x] / (K*K); 0 where there are none
//
// In the order PyTorch's float32 CPU kernel (aten/src/ATen/native/cpu/AvgPoolKernel.cpp,
// cpu_avg_pool and cpu_avg_pool_backward) computes them: forward adds the window's
// inputs from 0 in scan order (ky, then kx), then divides by K*K once; backward
// divides each window's gradient by K*K, then adds those from 0 in window order (y,
// then x). backward is a gather, one invocation per input element, so overlapping
// windows (S < K) need no atomics and the result is the same bits every run; PyTorch's
// scatter adds the same terms in the same order. WGSL lets a division be 2.5 ULP off;
// llvmpipe, SwiftShader and lavapipe divide exactly and give PyTorch's bits (a product
// with a float32 1/(K*K) gave other bits in about one output in ten for K = 3). No
// invocation loops over more than K*K elements (forward) or ceil(K/S)^2 windows (backward).

override WG: u32 = 64;
// The window: K x K, S apart (fixed trip counts once the pipeline is made).
override K: u32 = 2u;
override S: u32 = 2u;
// A plane's size, H x W, and the output's, OH x OW: constants, so that the divisions
// that find an invocation's place become multiplications (on the CPU adapters a
// division by a uniform is a scalar division per lane: pool1's forward took 1.6x as
// long with the sizes in the uniform, llvmpipe, Mesa 25.0.7).
override H: u32;
override W: u32;
override OH: u32;
override OW: u32;

struct Params {
  planes: u32,
  // K*K, from the host, not from the override constants: SwiftShader turned a division
  // by that constant into a product with its rounded reciprocal (other bits than
  // PyTorch's in some outputs for K = 3 or 5). By a uniform it divides, as IEEE does.
  divisor: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read_write> output: array<f32>;
@group(0) @binding(3) var<storage, read> doutput: array<f32>;
@group(0) @binding(4) var<storage, read_write> dinput: array<f32>;

fn invocation_index(id: vec3u, groups: vec3u) -> u32 {
  return id.x + id.y * groups.x * WG;
}

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let p = params;
  let i = invocation_index(id, groups);
  if (i >= p.planes * OH * OW) { return; }
  let x = i % OW;
  let y = (i / OW) % OH;
  let plane = i / (OW * OH);
  let top_left = plane * H * W + S * (y * W + x);
  var sum = 0.0;
  for (var ky = 0u; ky < K; ky++) {
    for (var kx = 0u; kx < K; kx++) {
      sum += input[top_left + ky * W + kx];
    }
  }
  output[i] = sum / p.divisor;
}

// The first and last window index along one side that contain input row (or column)
// i: the windows w with S*w <= i < S*w + K and w < count. first > last where none does.
fn windows_over(i: u32, count: u32) -> vec2u {
  let first = select(0u, (i - K) / S + 1u, i >= K);
  let last = min(i / S, count - 1u);
  return vec2u(first, last);
}

@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let p = params;
  let i = invocation_index(id, groups);
  if (i >= p.planes * H * W) { return; }
  let ix = i % W;
  let iy = (i / W) % H;
  let first = (i / (W * H)) * OH * OW;
  let rows = windows_over(iy, OH);
  let cols = windows_over(ix, OW);
  var sum = 0.0;
  for (var y = rows.x; y <= rows.y; y++) {
    for (var x = cols.x; x <= cols.y; x++) {
      sum += doutput[first + y * OW + x] / p.divisor;
    }
  }
  dinput[i] = sum;
}
