// Max-pooling, K x K windows S apart, no padding, floor mode (PyTorch's MaxPool2d with
// padding=0, dilation=1, ceil_mode=False), NCHW. Planes are (n, c) pairs;
// OH = floor((H - K) / S) + 1, OW likewise: windows that do not fit are dropped.
//
//   forward    output[p,y,x] = max_{ky,kx < K} input[p, S*y+ky, S*x+kx]
//              argmax[p,y,x] = (S*y+ky)*W + (S*x+kx) of that maximum, the first in scan
//                              order (ky, then kx) on ties, as PyTorch's CPU kernel
//   backward   dinput[p,iy,ix] = sum over the windows (y, x) that contain (iy, ix) and
//                                whose saved_argmax is iy*W+ix of doutput[p,y,x];
//                                0 where there are none
//   backward_relu  the same, each term 0 where saved_output (that window's max) is not
//              > 0: the gradient through a ReLU before the pool as well
//
// backward comes in two forms, with the same bits where both apply:
//   backward, backward_relu (S >= K, windows that do not overlap): a scatter, window
//     by window (PER of them to an invocation). The windows' cells, rows S*y .. S*y+S-1 (to the last row
//     for the last window) by the same for columns, tile the plane, so each input
//     element is written once, by the window whose cell holds it: the gradient at the
//     argmax, 0 in the rest of the cell (the window's other inputs, the gaps between
//     windows when S > K, the rows and columns left over by floor mode).
//   backward_gather, backward_relu_gather (any S; the host takes them for S < K): one
//     invocation per input element, adding its windows' terms in a fixed order (y, then
//     x, ascending), so overlapping windows need no atomics. The sum starts from its
//     first term, not from 0 + it, so an element in one window gets that window's
//     gradient as it is (-0.0 included), as the scatter writes it; 0 in no window.
// On llvmpipe the scatter ran LeNet-5's pools' backward 3-6x faster than the gather.
// Every result is computed whole by one invocation in a fixed order: the same bits
// every run, no atomics. An invocation loops over K*K inputs of each of its PER
// windows (forward), each one's cell (the scatter: K*K where the windows tile the
// plane, up to (K+S-1)^2 for the last ones) or ceil(K/S)^2 windows (the gather).

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
// forward and the scatter: windows per invocation, consecutive (src/gpu/dispatch.ts:
// PER_INVOCATION): on llvmpipe an invocation costs time of its own besides its work.
override PER: u32 = 1u;

struct Params {
  planes: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read_write> output: array<f32>;
@group(0) @binding(3) var<storage, read_write> argmax: array<u32>;
@group(0) @binding(4) var<storage, read> saved_argmax: array<u32>;
@group(0) @binding(5) var<storage, read> doutput: array<f32>;
@group(0) @binding(6) var<storage, read_write> dinput: array<f32>;
@group(0) @binding(7) var<storage, read> saved_output: array<f32>;

fn invocation_index(id: vec3u, groups: vec3u) -> u32 {
  return id.x + id.y * groups.x * WG;
}

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let first = invocation_index(id, groups) * PER;
  for (var i = first; i < min(first + PER, params.planes * OH * OW); i++) { forward_window(i); }
}

fn forward_window(i: u32) {
  let x = i % OW;
  let y = (i / OW) % OH;
  let plane = i / (OW * OH);
  let base = plane * H * W;
  let top_left = S * (y * W + x);
  var best = top_left;
  var value = input[base + best];
  for (var ky = 0u; ky < K; ky++) {
    for (var kx = 0u; kx < K; kx++) {
      let at = top_left + ky * W + kx;
      let v = input[base + at];
      if (v > value) {
        value = v;
        best = at;
      }
    }
  }
  output[i] = value;
  argmax[i] = best;
}

// One invocation per window, S >= K: its gradient g goes to the argmax, zeros to the
// rest of its cell (see the top).
fn scatter_window(o: u32, g: f32) {
  let x = o % OW;
  let y = (o / OW) % OH;
  let base = (o / (OW * OH)) * H * W;
  let top = S * y;
  let left = S * x;
  let at = saved_argmax[o];
  for (var ky = 0u; ky < K; ky++) {
    for (var kx = 0u; kx < K; kx++) {
      let i = (top + ky) * W + left + kx;
      dinput[base + i] = select(0.0, g, i == at);
    }
  }
  // The rest of the cell (nothing for LeNet-5's pools): right of the window, then below it.
  let bottom = select(top + S, H, y + 1u == OH);
  let right = select(left + S, W, x + 1u == OW);
  for (var r = top; r < top + K; r++) {
    for (var c = left + K; c < right; c++) { dinput[base + r * W + c] = 0.0; }
  }
  for (var r = top + K; r < bottom; r++) {
    for (var c = left; c < right; c++) { dinput[base + r * W + c] = 0.0; }
  }
}

@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let first = invocation_index(id, groups) * PER;
  for (var o = first; o < min(first + PER, params.planes * OH * OW); o++) { scatter_window(o, doutput[o]); }
}

// backward through the ReLU that made the pool's input as well: the maximum of a
// window is the ReLU output at its argmax, so the gradient passes where it is > 0.
@compute @workgroup_size(WG)
fn backward_relu(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let first = invocation_index(id, groups) * PER;
  for (var o = first; o < min(first + PER, params.planes * OH * OW); o++) {
    scatter_window(o, select(0.0, doutput[o], saved_output[o] > 0.0));
  }
}

// The first and last window index along one side that contain input row (or column)
// i: the windows w with S*w <= i < S*w + K and w < count. first > last where none does.
fn windows_over(i: u32, count: u32) -> vec2u {
  let first = select(0u, (i - K) / S + 1u, i >= K);
  let last = min(i / S, count - 1u);
  return vec2u(first, last);
}

// Input element i of backward: its index within its plane (what saved_argmax holds),
// and the windows that contain it, rows.x..rows.y by cols.x..cols.y, each window o at
// first + y * out_width + x.
struct Cover {
  at: u32,
  first: u32,
  rows: vec2u,
  cols: vec2u,
}

fn cover(i: u32) -> Cover {
  let ix = i % W;
  let iy = (i / W) % H;
  let plane = i / (W * H);
  return Cover(iy * W + ix, plane * OH * OW, windows_over(iy, OH), windows_over(ix, OW));
}

@compute @workgroup_size(WG)
fn backward_gather(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = invocation_index(id, groups);
  if (i >= params.planes * H * W) { return; }
  let c = cover(i);
  var sum = 0.0;
  var hit = false;
  for (var y = c.rows.x; y <= c.rows.y; y++) {
    for (var x = c.cols.x; x <= c.cols.y; x++) {
      let o = c.first + y * OW + x;
      if (saved_argmax[o] == c.at) {
        let g = doutput[o];
        sum = select(g, sum + g, hit);
        hit = true;
      }
    }
  }
  dinput[i] = sum;
}

// backward_gather through the ReLU that made the pool's input as well: the same loop
// (an entry point binds only what its code reads), and each window's gradient masked as
// backward_relu's.
@compute @workgroup_size(WG)
fn backward_relu_gather(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = invocation_index(id, groups);
  if (i >= params.planes * H * W) { return; }
  let c = cover(i);
  var sum = 0.0;
  var hit = false;
  for (var y = c.rows.x; y <= c.rows.y; y++) {
    for (var x = c.cols.x; x <= c.cols.y; x++) {
      let o = c.first + y * OW + x;
      if (saved_argmax[o] == c.at) {
        let g = select(0.0, doutput[o], saved_output[o] > 0.0);
        sum = select(g, sum + g, hit);
        hit = true;
      }
    }
  }
  dinput[i] = sum;
}
