// 2-D convolution, stride 1, no padding, NCHW; weight is [C_OUT, C_IN, K, K] as in
// PyTorch, and OH = H - K + 1, OW = W - K + 1. With t = (ci, ky, kx) one of the
// C_IN*K*K taps and p = (y, x) a position:
//
//   forward          output[n,co,p]    = bias[co] + sum_t weight[co,t] * input[n, ci, y+ky, x+kx]
//                                        (then max(., 0) with RELU: the ReLU fused in)
//   backward_input   dinput[n,ci,y,x]  = sum_{co,ky,kx} weight[co,ci,ky,kx] * doutput[n,co,y-ky,x-kx]
//                                        (only the terms with 0 <= y-ky < OH, 0 <= x-kx < OW)
//   backward_params  two independent parts in one dispatch, the second starting on a
//                    workgroup boundary (so no workgroup mixes them):
//     weight part    partial[n,co,t]   = sum_p doutput[n,co,p] * input[n, ci, y+ky, x+kx]
//     bias part      partial_bias[n,co] = sum_p doutput[n,co,p]
//   reduce           dweight[co,t] = sum_n partial[n,co,t], then dbias[co] = sum_n partial_bias[n,co]
//
// backward_input stays a dispatch of its own: in one with backward_params (as linear.wgsl
// does) llvmpipe ran the pair 1.5x slower than apart (bench/NOTES.md).
//
// The weights come packed four channels to a vec4 (one load per tap), in two layouts:
//   by_tap[t * 2*blocks8(C_OUT) + b]                  = weight[4b..4b+3, t]             (forward)
//   by_tap_in[(co*K*K + ky*K + kx) * 2*blocks8(C_IN) + b] = weight[co, 4b..4b+3, ky, kx] (input part)
// with zeros past the last channel. Nothing here packs them: the optimizer writes the
// packed copies as it updates the weights, and shaders/pack.wgsl packs weights set
// from the host (src/ops/conv2d.ts lays the slots out).
//
// Each is a matrix product over an implicit im2col matrix (nothing is copied). One
// invocation computes a 4x4 block of its result in four vec4 accumulators: 4
// channels by 4 columns of a row (forward, backward_input), or 4 channels by 4 taps
// (backward_weight). No arrays, no
// workgroup memory, no barriers: on CPU adapters (llvmpipe, SwiftShader) registers are
// what is fast, and on GPUs it is a plain register-blocked product. Blocks past the
// edge clamp their loads and skip their writes.
//
// Every result is computed whole by one invocation in a fixed order: bitwise
// reproducible without atomics; gradients are written, not accumulated. Batch sums
// add one image's sum at a time (reduce), which keeps float32
// rounding near that of a sum over one image and spreads backward_weight over
// batch x blocks invocations. No invocation loops over more than one image, or over
// the batch once: llvmpipe (Mesa's gallivm) silently ends an invocation's loops after
// 65,535 iterations in all, so a loop over batch x positions would stop early.
// Layer sizes are override constants: the loops have fixed trip counts once the
// pipeline is made.

override WG: u32 = 64;
override C_IN: u32;
override C_OUT: u32;
override H: u32;
override W: u32;
override K: u32;
// forward applies ReLU to its output (the layer's bias + ReLU fused into one pass).
override RELU: bool = false;
// Columns per invocation in forward or in backward_input (each pipeline its own): 4
// or 8. Eight load each weight once for twice the multiply-adds (faster where every
// load is a gather); four waste less on narrow rows. Either gives the same bits: every
// result is the same sum in the same order (src/gpu/tuning.ts picks per adapter).
override XB: u32 = 4u;
// backward_params takes all K kernel rows of a weight gradient in one invocation (K
// new inputs per step for K x K x 4 multiply-adds), or one row (fewer registers, K
// times the invocations). llvmpipe is faster with all; SwiftShader much slower.
// The same bits either way.
override ALL_ROWS: bool = false;
// forward and backward_input read the packed weights through a uniform binding (by_tap_u,
// by_tap_in_u), where they fit in UNIFORM_VEC4S vec4s: on llvmpipe a storage load is a
// gather with a bounds check per lane, a uniform one is not, and conv2 forward took
// 2.2x less time. The same values, so the same bits.
override UNIFORM_WEIGHTS: bool = false;
// 16 KiB: the least maxUniformBufferBindingSize WebGPU allows (compatibility mode).
const UNIFORM_VEC4S: u32 = 1024u;

// backward_params keeps its taps in registers, up to this many.
const MAX_K: u32 = 5u;

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
@group(0) @binding(8) var<storage, read_write> partial_bias: array<f32>;
@group(0) @binding(9) var<storage, read> saved_partial: array<f32>;
@group(0) @binding(10) var<storage, read> saved_partial_bias: array<f32>;
@group(0) @binding(11) var<storage, read_write> dweight: array<f32>;
@group(0) @binding(12) var<storage, read_write> dbias: array<f32>;
@group(0) @binding(13) var<storage, read> by_tap: array<vec4f>;
@group(0) @binding(14) var<storage, read> by_tap_in: array<vec4f>;
// The same packed weights (the first UNIFORM_VEC4S vec4s of their range), read through
// a uniform binding where UNIFORM_WEIGHTS says so.
@group(0) @binding(15) var<uniform> by_tap_u: array<vec4f, UNIFORM_VEC4S>;
@group(0) @binding(16) var<uniform> by_tap_in_u: array<vec4f, UNIFORM_VEC4S>;

// Packed weight w for forward and for backward_input.
fn tap(w: u32) -> vec4f {
  if (UNIFORM_WEIGHTS) { return by_tap_u[w]; }
  return by_tap[w];
}

fn tap_in(w: u32) -> vec4f {
  if (UNIFORM_WEIGHTS) { return by_tap_in_u[w]; }
  return by_tap_in[w];
}

const LANES = vec4u(0u, 1u, 2u, 3u);

fn invocation_index(id: vec3u, groups: vec3u) -> u32 {
  return id.x + id.y * groups.x * WG;
}

fn out_h() -> u32 { return H - K + 1u; }
fn out_w() -> u32 { return W - K + 1u; }
fn taps() -> u32 { return C_IN * K * K; }
fn blocks(n: u32) -> u32 { return (n + 3u) / 4u; }
fn blocks8(n: u32) -> u32 { return (n + 7u) / 8u; }

// A 4x4 block: rows r0..r0+3 of one matrix by columns c0..c0+3 of another.
struct Acc { r0: vec4f, r1: vec4f, r2: vec4f, r3: vec4f }

fn fma_block(acc: ptr<function, Acc>, a: vec4f, c: vec4f) {
  (*acc).r0 += a.x * c;
  (*acc).r1 += a.y * c;
  (*acc).r2 += a.z * c;
  (*acc).r3 += a.w * c;
}

fn row_of(acc: Acc, r: u32) -> vec4f {
  switch r {
    case 0u: { return acc.r0; }
    case 1u: { return acc.r1; }
    case 2u: { return acc.r2; }
    default: { return acc.r3; }
  }
}

// Block (image n, channels co0..co0+7, row y, columns x0..x0+XB-1): two (or, with XB
// = 8, four) 4x4 blocks that share their inputs. Along a kernel row the inputs slide
// by one column per tap, so each tap loads one new input and two vec4s of weights for
// 8 x XB multiply-adds.
@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let oh = out_h();
  let ow = out_w();
  let xblocks = (ow + XB - 1u) / XB;
  let cblocks = blocks8(C_OUT);
  let i = invocation_index(id, groups);
  if (i >= params.batch * cblocks * oh * xblocks) { return; }
  let x0 = (i % xblocks) * XB;
  let y = (i / xblocks) % oh;
  let b = (i / (xblocks * oh)) % cblocks;
  let n = i / (xblocks * oh * cblocks);

  // lo, hi: channels 0-3 and 4-7 of columns x0..x0+3; lo2, hi2: of x0+4..x0+7 (XB = 8).
  var lo = Acc();
  var hi = Acc();
  var lo2 = Acc();
  var hi2 = Acc();
  var w = 2u * b;
  for (var ci = 0u; ci < C_IN; ci++) {
    for (var ky = 0u; ky < K; ky++) {
      // Columns past the row's end (a ragged last block) read its last pixel: their
      // results are never written.
      let row = ((n * C_IN + ci) * H + y + ky) * W;
      let last = row + W - 1u;
      let x = min(row + x0 + LANES, vec4u(last));
      var c = vec4f(input[x.x], input[x.y], input[x.z], input[x.w]);
      var c2 = vec4f(0.0);
      if (XB == 8u) {
        let x2 = min(row + x0 + 4u + LANES, vec4u(last));
        c2 = vec4f(input[x2.x], input[x2.y], input[x2.z], input[x2.w]);
      }
      for (var kx = 0u; kx < K; kx++) {
        let wl = tap(w);
        let wh = tap(w + 1u);
        fma_block(&lo, wl, c);
        fma_block(&hi, wh, c);
        if (XB == 8u) {
          fma_block(&lo2, wl, c2);
          fma_block(&hi2, wh, c2);
          c = vec4f(c.yzw, c2.x);
          c2 = vec4f(c2.yzw, input[min(row + x0 + kx + 8u, last)]);
        } else {
          c = vec4f(c.yzw, input[min(row + x0 + kx + 4u, last)]);
        }
        w += 2u * cblocks;
      }
    }
  }
  for (var r = 0u; r < 8u; r++) {
    let co = 8u * b + r;
    let bv = bias[min(co, C_OUT - 1u)];
    var v = select(row_of(hi, r - 4u), row_of(lo, r), r < 4u) + bv;
    var v2 = select(row_of(hi2, r - 4u), row_of(lo2, r), r < 4u) + bv;
    if (RELU) {
      v = max(v, vec4f(0.0));
      v2 = max(v2, vec4f(0.0));
    }
    let out = ((n * C_OUT + co) * oh + y) * ow + x0;
    for (var j = 0u; j < 4u; j++) {
      if (co < C_OUT && x0 + j < ow) { output[out + j] = v[j]; }
      if (XB == 8u && co < C_OUT && x0 + 4u + j < ow) { output[out + 4u + j] = v2[j]; }
    }
  }
}

// The doutput value at column ox of an output row, or 0 off the row.
fn dout_at(row: u32, ox: i32, ow: u32) -> f32 {
  let v = doutput[row + u32(clamp(ox, 0, i32(ow) - 1))];
  return select(0.0, v, ox >= 0 && ox < i32(ow));
}

// Block (image n, input channels ci0..ci0+7, row y, columns x0..x0+XB-1): two (or
// four) 4x4 blocks sharing their doutput values. Output rows y - ky that do not exist
// are skipped whole; along a kernel row the doutput values slide by one column per
// tap, so each tap loads one (and two vec4s of weights) for 8 x XB multiply-adds.
fn input_part_size() -> u32 { return params.batch * blocks8(C_IN) * H * ((W + XB - 1u) / XB); }

fn input_part(i: u32) {
  let oh = out_h();
  let ow = out_w();
  let xblocks = (W + XB - 1u) / XB;
  let cblocks = blocks8(C_IN);
  let x0 = (i % xblocks) * XB;
  let y = (i / xblocks) % H;
  let b = (i / (xblocks * H)) % cblocks;
  let n = i / (xblocks * H * cblocks);

  let x = i32(x0);
  var lo = Acc();
  var hi = Acc();
  var lo2 = Acc();
  var hi2 = Acc();
  for (var co = 0u; co < C_OUT; co++) {
    let w_co = co * K * K;
    for (var ky = 0u; ky < K; ky++) {
      if (ky > y || y - ky >= oh) { continue; }
      let row = ((n * C_OUT + co) * oh + y - ky) * ow;
      // c[j] = doutput[.., x0 + j - kx] (c2: x0 + 4 + j - kx), starting at kx = 0.
      var c = vec4f(dout_at(row, x, ow), dout_at(row, x + 1, ow), dout_at(row, x + 2, ow), dout_at(row, x + 3, ow));
      var c2 = vec4f(0.0);
      if (XB == 8u) {
        c2 = vec4f(dout_at(row, x + 4, ow), dout_at(row, x + 5, ow), dout_at(row, x + 6, ow), dout_at(row, x + 7, ow));
      }
      for (var kx = 0u; kx < K; kx++) {
        let w = (w_co + ky * K + kx) * 2u * cblocks + 2u * b;
        let wl = tap_in(w);
        let wh = tap_in(w + 1u);
        fma_block(&lo, wl, c);
        fma_block(&hi, wh, c);
        if (XB == 8u) {
          fma_block(&lo2, wl, c2);
          fma_block(&hi2, wh, c2);
          c2 = vec4f(c.w, c2.xyz);
        }
        c = vec4f(dout_at(row, x - i32(kx) - 1, ow), c.xyz);
      }
    }
  }
  for (var r = 0u; r < 8u; r++) {
    let ci = 8u * b + r;
    let v = select(row_of(hi, r - 4u), row_of(lo, r), r < 4u);
    let v2 = select(row_of(hi2, r - 4u), row_of(lo2, r), r < 4u);
    let out = ((n * C_IN + ci) * H + y) * W + x0;
    for (var j = 0u; j < 4u; j++) {
      if (ci < C_IN && x0 + j < W) { dinput[out + j] = v[j]; }
      if (XB == 8u && ci < C_IN && x0 + 4u + j < W) { dinput[out + 4u + j] = v2[j]; }
    }
  }
}

// One invocation: image n, output channels co0..co0+3, input channel ci, kernel row
// ky, its K taps (K <= MAX_K). Walking along each row, the K inputs the taps need
// slide by one column per step: one new input and four doutput values per step feed
// K x 4 multiply-adds. The taps are named registers, not an array (arrays end up in
// memory on some CPU adapters); `K > j` is a constant once the pipeline is made, so
// the unused ones compile away.
fn weight_part_one_row(i: u32) {
  let oh = out_h();
  let ow = out_w();
  let cblocks = blocks(C_OUT);
  let ky = i % K;
  let ci = (i / K) % C_IN;
  let co0 = ((i / (K * C_IN)) % cblocks) * 4u;
  let n = i / (K * C_IN * cblocks);

  let d0 = (n * C_OUT + min(co0 + LANES, vec4u(C_OUT - 1u))) * oh * ow;
  var t0 = vec4f(0.0);
  var t1 = vec4f(0.0);
  var t2 = vec4f(0.0);
  var t3 = vec4f(0.0);
  var t4 = vec4f(0.0);
  for (var y = 0u; y < oh; y++) {
    let row = ((n * C_IN + ci) * H + y + ky) * W;
    // The window: inputs x+0 .. x+K-1 of this row.
    var i0 = input[row];
    var i1 = select(0.0, input[row + min(1u, W - 1u)], K > 1u);
    var i2 = select(0.0, input[row + min(2u, W - 1u)], K > 2u);
    var i3 = select(0.0, input[row + min(3u, W - 1u)], K > 3u);
    var i4 = 0.0;
    for (var x = 0u; x < ow; x++) {
      // Bring in input x + K - 1.
      let next = input[row + x + K - 1u];
      if (K == 1u) { i0 = next; }
      if (K == 2u) { i1 = next; }
      if (K == 3u) { i2 = next; }
      if (K == 4u) { i3 = next; }
      if (K == 5u) { i4 = next; }
      let p = y * ow + x;
      let a = vec4f(doutput[d0.x + p], doutput[d0.y + p], doutput[d0.z + p], doutput[d0.w + p]);
      t0 += a * i0;
      t1 += a * i1;
      t2 += a * i2;
      t3 += a * i3;
      t4 += a * i4;
      i0 = i1;
      i1 = i2;
      i2 = i3;
      i3 = i4;
    }
  }
  for (var r = 0u; r < 4u; r++) {
    let co = co0 + r;
    if (co >= C_OUT) { continue; }
    let out = ((n * C_OUT + co) * C_IN + ci) * K * K + ky * K;
    partial[out] = t0[r];
    if (K > 1u) { partial[out + 1u] = t1[r]; }
    if (K > 2u) { partial[out + 2u] = t2[r]; }
    if (K > 3u) { partial[out + 3u] = t3[r]; }
    if (K > 4u) { partial[out + 4u] = t4[r]; }
  }
}

// With ALL_ROWS, one invocation: image n, output channels co0..co0+3, input channel
// ci, all K x K taps, each kernel row with a window sliding as above: per step, K new
// inputs and four doutput values feed K x K x 4 multiply-adds. The taps and windows are
// arrays indexed by constants once the loops over K unroll.
fn weight_part_all_rows(i: u32) {
  let oh = out_h();
  let ow = out_w();
  let cblocks = blocks(C_OUT);
  let ci = i % C_IN;
  let co0 = ((i / C_IN) % cblocks) * 4u;
  let n = i / (C_IN * cblocks);

  let d0 = (n * C_OUT + min(co0 + LANES, vec4u(C_OUT - 1u))) * oh * ow;
  let plane = (n * C_IN + ci) * H;
  var acc: array<vec4f, MAX_K * MAX_K>;
  for (var y = 0u; y < oh; y++) {
    // win[ky * MAX_K + j]: input row y + ky, column x + j.
    var win: array<f32, MAX_K * MAX_K>;
    for (var ky = 0u; ky < K; ky++) {
      for (var j = 0u; j + 1u < K; j++) { win[ky * MAX_K + j] = input[(plane + y + ky) * W + j]; }
    }
    for (var x = 0u; x < ow; x++) {
      let p = y * ow + x;
      let a = vec4f(doutput[d0.x + p], doutput[d0.y + p], doutput[d0.z + p], doutput[d0.w + p]);
      for (var ky = 0u; ky < K; ky++) {
        win[ky * MAX_K + K - 1u] = input[(plane + y + ky) * W + x + K - 1u];
        for (var kx = 0u; kx < K; kx++) { acc[ky * MAX_K + kx] += a * win[ky * MAX_K + kx]; }
        for (var j = 0u; j + 1u < K; j++) { win[ky * MAX_K + j] = win[ky * MAX_K + j + 1u]; }
      }
    }
  }
  for (var r = 0u; r < 4u; r++) {
    let co = co0 + r;
    if (co >= C_OUT) { continue; }
    let out = ((n * C_OUT + co) * C_IN + ci) * K * K;
    for (var ky = 0u; ky < K; ky++) {
      for (var kx = 0u; kx < K; kx++) { partial[out + ky * K + kx] = acc[ky * MAX_K + kx][r]; }
    }
  }
}

// Invocations of the weight part: one per kernel row, or (ALL_ROWS) one for all K.
fn weight_part_size() -> u32 { return params.batch * blocks(C_OUT) * C_IN * select(K, 1u, ALL_ROWS); }

fn weight_part(i: u32) {
  if (ALL_ROWS) { weight_part_all_rows(i); } else { weight_part_one_row(i); }
}

// One invocation per (image, channel): the sum of that image's doutput plane.
fn bias_part_size() -> u32 { return params.batch * C_OUT; }

fn bias_part(i: u32) {
  let plane = out_h() * out_w();
  let base = i * plane; // (n * C_OUT + co) * plane
  var image_sum = 0.0;
  for (var j = 0u; j < plane; j++) { image_sum += doutput[base + j]; }
  partial_bias[i] = image_sum;
}

@compute @workgroup_size(WG)
fn backward_input(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = invocation_index(id, groups);
  if (i < input_part_size()) { input_part(i); }
}

// Where a part starts: the end of the one before, rounded up to a whole workgroup.
fn aligned(n: u32) -> u32 { return (n + WG - 1u) / WG * WG; }

@compute @workgroup_size(WG)
fn backward_params(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  var i = invocation_index(id, groups);
  if (i < weight_part_size()) { weight_part(i); return; }
  i -= aligned(weight_part_size());
  if (i < bias_part_size()) { bias_part(i); }
}

// dweight, then dbias: each the sum over the batch of per-image sums, image by image.
// The bias part starts on a workgroup boundary too: llvmpipe runs a SIMD group's
// invocations together and counts its loop iterations across both loops, so a group
// that held the last weights and the first bias would stop early at large batches.
@compute @workgroup_size(WG)
fn reduce(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let weights = C_OUT * taps();
  let i = invocation_index(id, groups);
  if (i < weights) {
    var sum = 0.0;
    for (var n = 0u; n < params.batch; n++) { sum += saved_partial[n * weights + i]; }
    dweight[i] = sum;
    return;
  }
  let co = i - aligned(weights);
  if (co < C_OUT) {
    var sum = 0.0;
    for (var n = 0u; n < params.batch; n++) { sum += saved_partial_bias[n * C_OUT + co]; }
    dbias[co] = sum;
  }
}
