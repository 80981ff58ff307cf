// 2-D convolution, stride 1, no padding, NCHW; weight is [C_OUT, C_IN, K, K] as in
// PyTorch, and OH = H - K + 1, OW = W - K + 1.
//
//   forward          output[n,co,y,x]     = bias[co] + sum_{ci,ky,kx} weight[co,ci,ky,kx] * input[n,ci,y+ky,x+kx]
//   backward_input   dinput[n,ci,y,x]     = sum_{co,ky,kx} weight[co,ci,ky,kx] * doutput[n,co,y-ky,x-kx]
//                                           (only the terms with 0 <= y-ky < OH, 0 <= x-kx < OW)
//   backward_weight  partial[n,co,ci,ky,kx] = sum_{y,x} doutput[n,co,y,x] * input[n,ci,y+ky,x+kx]
//   reduce_weight    dweight[co,ci,ky,kx]  = sum_n partial[n,co,ci,ky,kx]
//   backward_bias    dbias[co]            = sum_n (sum_{y,x} doutput[n,co,y,x])
//
// Every result is computed whole by one invocation (a gather) and sums run in a fixed
// order, so results are bitwise reproducible without atomics; gradients are written,
// not accumulated. Batch sums add one image's partial sum at a time, which keeps
// float32 rounding near that of a sum over one image, and lets backward_weight run
// one invocation per (image, co, ci) instead of only C_OUT * C_IN.
//
// The layer's sizes are override constants, so loops have fixed trip counts once the
// pipeline is made and the compiler unrolls them. Each invocation computes a small
// block in registers (CB channels x XB columns) and reuses every load across it: on
// CPU adapters this register blocking, with no workgroup barriers, is what pays.

override WG: u32 = 64;
override C_IN: u32;
override C_OUT: u32;
override H: u32;
override W: u32;
override K: u32;
// Block per invocation: XB output columns (divides OW) by CB channels (divides the
// channels it blocks over); at most MAX_XB and MAX_CB.
override XB: u32 = 1u;
override CB: u32 = 1u;

const MAX_XB: u32 = 8u;
const MAX_CB: u32 = 8u;
const MAX_K: u32 = 8u;
const MAX_ROW: u32 = MAX_XB + MAX_K - 1u;

struct Params {
  batch: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> output: array<f32>;
@group(0) @binding(5) var<storage, read> doutput: array<f32>;
@group(0) @binding(6) var<storage, read_write> dinput: array<f32>;
@group(0) @binding(7) var<storage, read_write> partial: array<f32>;
@group(0) @binding(8) var<storage, read> saved_partial: array<f32>;
@group(0) @binding(9) var<storage, read_write> dweight: array<f32>;
@group(0) @binding(10) var<storage, read_write> dbias: array<f32>;

fn invocation_index(id: vec3u, groups: vec3u) -> u32 {
  return id.x + id.y * groups.x * WG;
}

fn out_h() -> u32 { return H - K + 1u; }
fn out_w() -> u32 { return W - K + 1u; }

// One invocation: image n, output row y, columns x0..x0+XB-1, channels co0..co0+CB-1.
@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let oh = out_h();
  let ow = out_w();
  let xblocks = ow / XB;
  let cblocks = C_OUT / CB;
  let i = invocation_index(id, groups);
  if (i >= params.batch * cblocks * oh * xblocks) { return; }
  let x0 = (i % xblocks) * XB;
  let y = (i / xblocks) % oh;
  let co0 = ((i / (xblocks * oh)) % cblocks) * CB;
  let n = i / (xblocks * oh * cblocks);

  var acc: array<f32, MAX_CB * MAX_XB>;
  for (var c = 0u; c < CB; c++) {
    for (var j = 0u; j < XB; j++) { acc[c * XB + j] = bias[co0 + c]; }
  }
  var row: array<f32, MAX_ROW>;
  for (var ci = 0u; ci < C_IN; ci++) {
    for (var ky = 0u; ky < K; ky++) {
      let in_base = ((n * C_IN + ci) * H + y + ky) * W + x0;
      for (var t = 0u; t < XB + K - 1u; t++) { row[t] = input[in_base + t]; }
      for (var c = 0u; c < CB; c++) {
        let w_base = ((co0 + c) * C_IN + ci) * K * K + ky * K;
        for (var kx = 0u; kx < K; kx++) {
          let w = weight[w_base + kx];
          for (var j = 0u; j < XB; j++) { acc[c * XB + j] += w * row[j + kx]; }
        }
      }
    }
  }
  for (var c = 0u; c < CB; c++) {
    let out_base = ((n * C_OUT + co0 + c) * oh + y) * ow + x0;
    for (var j = 0u; j < XB; j++) { output[out_base + j] = acc[c * XB + j]; }
  }
}

// One invocation: image n, input row y, columns x0..x0+XB-1 (XB divides W), input
// channels ci0..ci0+CB-1 (CB divides C_IN).
@compute @workgroup_size(WG)
fn backward_input(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let oh = out_h();
  let ow = out_w();
  let xblocks = W / XB;
  let cblocks = C_IN / CB;
  let i = invocation_index(id, groups);
  if (i >= params.batch * cblocks * H * xblocks) { return; }
  let x0 = (i % xblocks) * XB;
  let y = (i / xblocks) % H;
  let ci0 = ((i / (xblocks * H)) % cblocks) * CB;
  let n = i / (xblocks * H * cblocks);

  var acc: array<f32, MAX_CB * MAX_XB>;
  var row: array<f32, MAX_ROW>;
  for (var co = 0u; co < C_OUT; co++) {
    for (var ky = 0u; ky < K; ky++) {
      // Output row y - ky, if it exists.
      if (ky > y || y - ky >= oh) { continue; }
      // row[t] = doutput[n, co, y-ky, x0 + t - (K-1)], zero outside the output.
      let out_base = ((n * C_OUT + co) * oh + y - ky) * ow;
      for (var t = 0u; t < XB + K - 1u; t++) {
        let ox = i32(x0 + t) - i32(K - 1u);
        row[t] = select(0.0, doutput[out_base + u32(max(ox, 0))], ox >= 0 && ox < i32(ow));
      }
      for (var c = 0u; c < CB; c++) {
        let w_base = (co * C_IN + ci0 + c) * K * K + ky * K;
        for (var kx = 0u; kx < K; kx++) {
          let w = weight[w_base + kx];
          for (var j = 0u; j < XB; j++) { acc[c * XB + j] += w * row[j + K - 1u - kx]; }
        }
      }
    }
  }
  for (var c = 0u; c < CB; c++) {
    let in_base = ((n * C_IN + ci0 + c) * H + y) * W + x0;
    for (var j = 0u; j < XB; j++) { dinput[in_base + j] = acc[c * XB + j]; }
  }
}

// One invocation: image n, channels (co, ci), kernel row ky, its K taps. A window of
// K input values slides along each row, so each input is loaded once per (y, ky), and
// every array index is fixed once the kx loops unroll.
@compute @workgroup_size(WG)
fn backward_weight(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let oh = out_h();
  let ow = out_w();
  let i = invocation_index(id, groups);
  if (i >= params.batch * C_OUT * C_IN * K) { return; }
  let ky = i % K;
  let ci = (i / K) % C_IN;
  let co = (i / (K * C_IN)) % C_OUT;
  let n = i / (K * C_IN * C_OUT);

  var acc: array<f32, MAX_K>;
  var window: array<f32, MAX_K>;
  for (var y = 0u; y < oh; y++) {
    let out_base = ((n * C_OUT + co) * oh + y) * ow;
    let in_base = ((n * C_IN + ci) * H + y + ky) * W;
    for (var kx = 0u; kx + 1u < K; kx++) { window[kx + 1u] = input[in_base + kx]; }
    for (var x = 0u; x < ow; x++) {
      for (var kx = 0u; kx + 1u < K; kx++) { window[kx] = window[kx + 1u]; }
      window[K - 1u] = input[in_base + x + K - 1u];
      let d = doutput[out_base + x];
      for (var kx = 0u; kx < K; kx++) { acc[kx] += d * window[kx]; }
    }
  }
  let out = (((n * C_OUT + co) * C_IN + ci) * K + ky) * K;
  for (var kx = 0u; kx < K; kx++) { partial[out + kx] = acc[kx]; }
}

@compute @workgroup_size(WG)
fn reduce_weight(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let count = C_OUT * C_IN * K * K;
  let i = invocation_index(id, groups);
  if (i >= count) { return; }
  var sum = 0.0;
  for (var n = 0u; n < params.batch; n++) { sum += saved_partial[n * count + i]; }
  dweight[i] = sum;
}

@compute @workgroup_size(WG)
fn backward_bias(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let plane = out_h() * out_w();
  let co = invocation_index(id, groups);
  if (co >= C_OUT) { return; }
  var sum = 0.0;
  for (var n = 0u; n < params.batch; n++) {
    let base = (n * C_OUT + co) * plane;
    var image_sum = 0.0;
    for (var j = 0u; j < plane; j++) { image_sum += doutput[base + j]; }
    sum += image_sum;
  }
  dbias[co] = sum;
}
