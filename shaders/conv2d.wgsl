// 2-D convolution, NCHW, as PyTorch's Conv2d with a K x K kernel, stride S (STRIDE) and
// P zeros of padding on every side (PAD); weight is [C_OUT, C_IN, K, K] as in PyTorch,
// and OH = floor((H + 2P - K) / S) + 1, OW = floor((W + 2P - K) / S) + 1. With
// t = (ci, ky, kx) one of the C_IN*K*K taps, p = (y, x) a position, and
// in[n,ci,iy,ix] the input there, or 0 outside it (the padding):
//
//   forward          output[n,co,p]    = bias[co] + sum_t weight[co,t] * in[n, ci, y*S+ky-P, x*S+kx-P]
//                                        (then max(., 0) with RELU: the ReLU fused in)
//   backward_input   dinput[n,ci,y,x]  = sum_{co,ky,kx} weight[co,ci,ky,kx] * doutput[n,co,(y+P-ky)/S,(x+P-kx)/S]
//                                        (only the terms where S divides y+P-ky and x+P-kx,
//                                        0 <= (y+P-ky)/S < OH and 0 <= (x+P-kx)/S < OW)
//   backward_weight  partial[n,co,t]   = sum_p doutput[n,co,p] * in[n, ci, y*S+ky-P, x*S+kx-P]
//   backward_bias    partial_bias[n,co] = sum_p doutput[n,co,p]
//   reduce           dweight[co,t] = sum_n partial[n,co,t], then dbias[co] = sum_n partial_bias[n,co]
//
// The three gradients are separate dispatches: llvmpipe compiles a dispatch's entry point
// as one function that every invocation runs with a lane mask, so a part costs time
// even to invocations that do not take it. The weight and bias parts in one dispatch
// took 1.2-1.3x as long as the two apart (lenet5's conv1 and conv2, Mesa 22.3.6 and
// 25.0.7), though the bias part alone takes a tenth of the weight part's time; with the
// input part too, 1.5x (bench/NOTES.md). reduce keeps its bias part: a loop over the
// batch either way.
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
// With stride 1 the inputs (doutput values in backward_input) a block needs slide by
// one column per tap, so each tap loads one new one; with a stride they do not, and
// each tap loads a whole block's. A term that meets the padding (or, in
// backward_input, a position the stride skips) is a zero: a kernel may skip it
// (a whole row of them) or add it, the bits are the same (x + 0 = x for finite
// values, and no sum starts at -0). With STRIDE = 1 and PAD = 0 the kernels are the
// stride-1, unpadded ones term for term.
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
// The stride and the zeros of padding on each side, as PyTorch's Conv2d.
override STRIDE: u32 = 1u;
override PAD: u32 = 0u;
// forward applies ReLU to its output (the layer's bias + ReLU fused into one pass).
override RELU: bool = false;
// Columns per invocation in forward or in backward_input (each pipeline its own): 4,
// 8 or 16. More load each weight once for more multiply-adds and spread each tap's
// fixed costs (its loop trip, its loads and their index arithmetic) over more of them:
// on llvmpipe those, not the multiply-adds, were most of the time, and 16 columns took
// conv2 forward and backward_input 1.8x less than eight (bench/NOTES.md). Fewer waste
// less on narrow rows. Every choice gives the same bits: every result is the same sum
// in the same order (src/gpu/tuning.ts picks per adapter).
override XB: u32 = 4u;
// backward_weight takes all K kernel rows of a weight gradient in one invocation (K
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

// backward_weight keeps its taps in registers, up to this many.
const MAX_K: u32 = 7u;

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

fn out_h() -> u32 { return (H + 2u * PAD - K) / STRIDE + 1u; }
fn out_w() -> u32 { return (W + 2u * PAD - K) / STRIDE + 1u; }
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

// The input at column ix of the input row starting at `row`, 0 in the padding (ix as
// u32: a column left of the image wraps round past W). Without padding the columns past
// the row's end are those of a ragged last block's lanes, whose results are never
// written: they read the row's last pixel.
fn in_row(row: u32, ix: u32) -> f32 {
  let v = input[row + min(ix, W - 1u)];
  if (PAD == 0u) { return v; }
  return select(0.0, v, ix < W);
}

fn in4(row: u32, ix: vec4u) -> vec4f {
  return vec4f(in_row(row, ix.x), in_row(row, ix.y), in_row(row, ix.z), in_row(row, ix.w));
}

// Block (image n, channels co0..co0+7, row y, columns x0..x0+XB-1): XB / 2 4x4 blocks
// that share their inputs (two, four or eight). With stride 1, along a kernel row the
// inputs slide by one column per tap, so each tap loads one new input and two vec4s of
// weights for 8 x XB multiply-adds; with a stride each tap loads XB inputs.
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

  // lo, hi: channels 0-3 and 4-7 of columns x0..x0+3; lo2, hi2: of x0+4..x0+7 (XB >=
  // 8); lo3, hi3 and lo4, hi4: of x0+8..x0+11 and x0+12..x0+15 (XB = 16).
  var lo = Acc();
  var hi = Acc();
  var lo2 = Acc();
  var hi2 = Acc();
  var lo3 = Acc();
  var hi3 = Acc();
  var lo4 = Acc();
  var hi4 = Acc();
  var w = 2u * b;
  for (var ci = 0u; ci < C_IN; ci++) {
    for (var ky = 0u; ky < K; ky++) {
      // Input row y*S + ky - P: a row of the padding adds nothing (above the image, as
      // u32, it wraps round past H).
      let iy = y * STRIDE + ky - PAD;
      if (PAD > 0u && iy >= H) {
        w += 2u * cblocks * K;
        continue;
      }
      let row = ((n * C_IN + ci) * H + iy) * W;
      // Lane j's column at tap kx: x[j] + kx (c2's, c3's, c4's lanes: x[j] + 4 S + kx,
      // x[j] + 8 S + kx, x[j] + 12 S + kx).
      let x = (x0 + LANES) * STRIDE - PAD;
      var c = vec4f(0.0);
      var c2 = vec4f(0.0);
      var c3 = vec4f(0.0);
      var c4 = vec4f(0.0);
      if (STRIDE == 1u) {
        c = in4(row, x);
        if (XB >= 8u) { c2 = in4(row, x + 4u); }
        if (XB == 16u) {
          c3 = in4(row, x + 8u);
          c4 = in4(row, x + 12u);
        }
      }
      for (var kx = 0u; kx < K; kx++) {
        if (STRIDE > 1u) {
          c = in4(row, x + kx);
          if (XB >= 8u) { c2 = in4(row, x + 4u * STRIDE + kx); }
          if (XB == 16u) {
            c3 = in4(row, x + 8u * STRIDE + kx);
            c4 = in4(row, x + 12u * STRIDE + kx);
          }
        }
        let wl = tap(w);
        let wh = tap(w + 1u);
        fma_block(&lo, wl, c);
        fma_block(&hi, wh, c);
        if (XB >= 8u) {
          fma_block(&lo2, wl, c2);
          fma_block(&hi2, wh, c2);
        }
        if (XB == 16u) {
          fma_block(&lo3, wl, c3);
          fma_block(&hi3, wh, c3);
          fma_block(&lo4, wl, c4);
          fma_block(&hi4, wh, c4);
        }
        // Slide the window one column right: one new input, the block's last.
        if (STRIDE == 1u) {
          let next = in_row(row, x0 + kx + XB - PAD);
          if (XB == 4u) { c = vec4f(c.yzw, next); }
          if (XB == 8u) {
            c = vec4f(c.yzw, c2.x);
            c2 = vec4f(c2.yzw, next);
          }
          if (XB == 16u) {
            c = vec4f(c.yzw, c2.x);
            c2 = vec4f(c2.yzw, c3.x);
            c3 = vec4f(c3.yzw, c4.x);
            c4 = vec4f(c4.yzw, next);
          }
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
    var v3 = select(row_of(hi3, r - 4u), row_of(lo3, r), r < 4u) + bv;
    var v4 = select(row_of(hi4, r - 4u), row_of(lo4, r), r < 4u) + bv;
    if (RELU) {
      v = max(v, vec4f(0.0));
      v2 = max(v2, vec4f(0.0));
      v3 = max(v3, vec4f(0.0));
      v4 = max(v4, vec4f(0.0));
    }
    let out = ((n * C_OUT + co) * oh + y) * ow + x0;
    for (var j = 0u; j < 4u; j++) {
      if (co < C_OUT && x0 + j < ow) { output[out + j] = v[j]; }
      if (XB >= 8u && co < C_OUT && x0 + 4u + j < ow) { output[out + 4u + j] = v2[j]; }
      if (XB == 16u && co < C_OUT && x0 + 8u + j < ow) { output[out + 8u + j] = v3[j]; }
      if (XB == 16u && co < C_OUT && x0 + 12u + j < ow) { output[out + 12u + j] = v4[j]; }
    }
  }
}

// The doutput value at column sx / S of an output row, where S divides sx and that
// column is on the row; 0 otherwise (with stride 1: column sx, or 0 off the row).
// Unsigned: a column left of the row (sx < 0) wraps round past every real one. With
// signed division and remainder, SwiftShader compiled backward_input with 16 columns
// (17 calls a kernel row) in more memory than the machine had; unsigned, in 0.3 GB.
fn dout_at(row: u32, sx: i32, ow: u32) -> f32 {
  let u = u32(sx);
  let ox = u / STRIDE;
  let v = doutput[row + min(ox, ow - 1u)];
  return select(0.0, v, u % STRIDE == 0u && ox < ow);
}

fn dout4(row: u32, sx: i32, ow: u32) -> vec4f {
  return vec4f(dout_at(row, sx, ow), dout_at(row, sx + 1, ow), dout_at(row, sx + 2, ow), dout_at(row, sx + 3, ow));
}

// Block (image n, input channels ci0..ci0+7, row y, columns x0..x0+XB-1): XB / 2 4x4
// blocks sharing their doutput values. Output rows (y + P - ky) / S that do
// not exist are skipped whole; with stride 1, along a kernel row the doutput values
// slide by one column per tap, so each tap loads one (and two vec4s of weights) for
// 8 x XB multiply-adds; with a stride each tap loads XB, of which about one in S is
// not a zero.
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

  // Lane j meets output column (x + j - kx) / S at tap kx.
  let x = i32(x0 + PAD);
  var lo = Acc();
  var hi = Acc();
  var lo2 = Acc();
  var hi2 = Acc();
  var lo3 = Acc();
  var hi3 = Acc();
  var lo4 = Acc();
  var hi4 = Acc();
  for (var co = 0u; co < C_OUT; co++) {
    let w_co = co * K * K;
    for (var ky = 0u; ky < K; ky++) {
      // Output row (y + P - ky) / S.
      let sy = y + PAD - ky;
      if (ky > y + PAD || sy % STRIDE != 0u || sy / STRIDE >= oh) { continue; }
      let row = ((n * C_OUT + co) * oh + sy / STRIDE) * ow;
      // c[j] = doutput[.., (x + j - kx) / S] (c2, c3, c4: x + 4 + j - kx, x + 8 + j - kx,
      // x + 12 + j - kx), starting at kx = 0.
      var c = vec4f(0.0);
      var c2 = vec4f(0.0);
      var c3 = vec4f(0.0);
      var c4 = vec4f(0.0);
      if (STRIDE == 1u) {
        c = dout4(row, x, ow);
        if (XB >= 8u) { c2 = dout4(row, x + 4, ow); }
        if (XB == 16u) {
          c3 = dout4(row, x + 8, ow);
          c4 = dout4(row, x + 12, ow);
        }
      }
      for (var kx = 0u; kx < K; kx++) {
        if (STRIDE > 1u) {
          c = dout4(row, x - i32(kx), ow);
          if (XB >= 8u) { c2 = dout4(row, x + 4 - i32(kx), ow); }
          if (XB == 16u) {
            c3 = dout4(row, x + 8 - i32(kx), ow);
            c4 = dout4(row, x + 12 - i32(kx), ow);
          }
        }
        let w = (w_co + ky * K + kx) * 2u * cblocks + 2u * b;
        let wl = tap_in(w);
        let wh = tap_in(w + 1u);
        fma_block(&lo, wl, c);
        fma_block(&hi, wh, c);
        if (XB >= 8u) {
          fma_block(&lo2, wl, c2);
          fma_block(&hi2, wh, c2);
        }
        if (XB == 16u) {
          fma_block(&lo3, wl, c3);
          fma_block(&hi3, wh, c3);
          fma_block(&lo4, wl, c4);
          fma_block(&hi4, wh, c4);
        }
        // Slide the window one column left: one new doutput value, the block's first.
        if (STRIDE == 1u) {
          if (XB == 16u) {
            c4 = vec4f(c3.w, c4.xyz);
            c3 = vec4f(c2.w, c3.xyz);
          }
          if (XB >= 8u) { c2 = vec4f(c.w, c2.xyz); }
          c = vec4f(dout_at(row, x - i32(kx) - 1, ow), c.xyz);
        }
      }
    }
  }
  for (var r = 0u; r < 8u; r++) {
    let ci = 8u * b + r;
    let v = select(row_of(hi, r - 4u), row_of(lo, r), r < 4u);
    let v2 = select(row_of(hi2, r - 4u), row_of(lo2, r), r < 4u);
    let v3 = select(row_of(hi3, r - 4u), row_of(lo3, r), r < 4u);
    let v4 = select(row_of(hi4, r - 4u), row_of(lo4, r), r < 4u);
    let out = ((n * C_IN + ci) * H + y) * W + x0;
    for (var j = 0u; j < 4u; j++) {
      if (ci < C_IN && x0 + j < W) { dinput[out + j] = v[j]; }
      if (XB >= 8u && ci < C_IN && x0 + 4u + j < W) { dinput[out + 4u + j] = v2[j]; }
      if (XB == 16u && ci < C_IN && x0 + 8u + j < W) { dinput[out + 8u + j] = v3[j]; }
      if (XB == 16u && ci < C_IN && x0 + 12u + j < W) { dinput[out + 12u + j] = v4[j]; }
    }
  }
}

// The input at (iy, ix) of the plane that starts at row `plane` (a position of the
// padded image: iy < H + P, ix < W + P), or 0 in the padding (a row or column before
// the image wraps round, as u32, past H or W). Without padding every such position
// is inside.
fn padded(plane: u32, iy: u32, ix: u32) -> f32 {
  if (PAD == 0u) { return input[(plane + iy) * W + ix]; }
  let v = input[(plane + min(iy, H - 1u)) * W + min(ix, W - 1u)];
  return select(0.0, v, iy < H && ix < W);
}

// One invocation: image n, output channels co0..co0+3, input channel ci, kernel row
// ky, its K taps (K <= MAX_K). With stride 1, walking along each row, the K inputs the
// taps need slide by one column per step: one new input and four doutput values per
// step feed K x 4 multiply-adds; with a stride each step loads K inputs. The taps are
// named registers, not an array (arrays end up in memory on some CPU adapters);
// `K > j` is a constant once the pipeline is made, so the unused ones compile away.
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
  var t5 = vec4f(0.0);
  var t6 = vec4f(0.0);
  let plane = (n * C_IN + ci) * H;
  for (var y = 0u; y < oh; y++) {
    // Input row y*S + ky - P: a row of the padding adds nothing.
    let iy = y * STRIDE + ky - PAD;
    if (PAD > 0u && iy >= H) { continue; }
    // The window: columns x*S - P + 0 .. K-1 of this row.
    var i0 = 0.0;
    var i1 = 0.0;
    var i2 = 0.0;
    var i3 = 0.0;
    var i4 = 0.0;
    var i5 = 0.0;
    var i6 = 0.0;
    if (STRIDE == 1u) {
      i0 = padded(plane, iy, 0u - PAD);
      i1 = select(0.0, padded(plane, iy, 1u - PAD), K > 1u);
      i2 = select(0.0, padded(plane, iy, 2u - PAD), K > 2u);
      i3 = select(0.0, padded(plane, iy, 3u - PAD), K > 3u);
      i4 = select(0.0, padded(plane, iy, 4u - PAD), K > 5u);
      i5 = select(0.0, padded(plane, iy, 5u - PAD), K > 6u);
    }
    for (var x = 0u; x < ow; x++) {
      if (STRIDE == 1u) {
        // Bring in column x + K - 1 - P.
        let next = padded(plane, iy, x + K - 1u - PAD);
        if (K == 1u) { i0 = next; }
        if (K == 2u) { i1 = next; }
        if (K == 3u) { i2 = next; }
        if (K == 4u) { i3 = next; }
        if (K == 5u) { i4 = next; }
        if (K == 6u) { i5 = next; }
        if (K == 7u) { i6 = next; }
      } else {
        let sx = x * STRIDE - PAD;
        i0 = padded(plane, iy, sx);
        i1 = select(0.0, padded(plane, iy, sx + 1u), K > 1u);
        i2 = select(0.0, padded(plane, iy, sx + 2u), K > 2u);
        i3 = select(0.0, padded(plane, iy, sx + 3u), K > 3u);
        i4 = select(0.0, padded(plane, iy, sx + 4u), K > 4u);
        i5 = select(0.0, padded(plane, iy, sx + 5u), K > 5u);
        i6 = select(0.0, padded(plane, iy, sx + 6u), K > 6u);
      }
      let p = y * ow + x;
      let a = vec4f(doutput[d0.x + p], doutput[d0.y + p], doutput[d0.z + p], doutput[d0.w + p]);
      t0 += a * i0;
      t1 += a * i1;
      t2 += a * i2;
      t3 += a * i3;
      t4 += a * i4;
      t5 += a * i5;
      t6 += a * i6;
      if (STRIDE == 1u) {
        i0 = i1;
        i1 = i2;
        i2 = i3;
        i3 = i4;
        i4 = i5;
        i5 = i6;
      }
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
    if (K > 5u) { partial[out + 5u] = t5[r]; }
    if (K > 6u) { partial[out + 6u] = t6[r]; }
  }
}

// With ALL_ROWS, one invocation: image n, output channels co0..co0+3, input channel
// ci, all K x K taps, each kernel row with a window sliding as above: per step, K new
// inputs (K x K with a stride) and four doutput values feed K x K x 4 multiply-adds.
// The taps and windows are arrays indexed by constants once the loops over K unroll.
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
    // win[ky * MAX_K + j]: input row y*S + ky - P, column x*S + j - P.
    var win: array<f32, MAX_K * MAX_K>;
    if (STRIDE == 1u) {
      for (var ky = 0u; ky < K; ky++) {
        for (var j = 0u; j + 1u < K; j++) { win[ky * MAX_K + j] = padded(plane, y + ky - PAD, j - PAD); }
      }
    }
    for (var x = 0u; x < ow; x++) {
      let p = y * ow + x;
      let a = vec4f(doutput[d0.x + p], doutput[d0.y + p], doutput[d0.z + p], doutput[d0.w + p]);
      for (var ky = 0u; ky < K; ky++) {
        let iy = y * STRIDE + ky - PAD;
        if (STRIDE == 1u) {
          win[ky * MAX_K + K - 1u] = padded(plane, iy, x + K - 1u - PAD);
        } else {
          for (var kx = 0u; kx < K; kx++) { win[ky * MAX_K + kx] = padded(plane, iy, x * STRIDE + kx - PAD); }
        }
        for (var kx = 0u; kx < K; kx++) { acc[ky * MAX_K + kx] += a * win[ky * MAX_K + kx]; }
        if (STRIDE == 1u) {
          for (var j = 0u; j + 1u < K; j++) { win[ky * MAX_K + j] = win[ky * MAX_K + j + 1u]; }
        }
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

@compute @workgroup_size(WG)
fn backward_input(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = invocation_index(id, groups);
  if (i < input_part_size()) { input_part(i); }
}

// Invocations of the weight part: one per kernel row, or (ALL_ROWS) one for all K.
fn weight_part_size() -> u32 { return params.batch * blocks(C_OUT) * C_IN * select(K, 1u, ALL_ROWS); }

@compute @workgroup_size(WG)
fn backward_weight(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = invocation_index(id, groups);
  if (i >= weight_part_size()) { return; }
  if (ALL_ROWS) { weight_part_all_rows(i); } else { weight_part_one_row(i); }
}

// One invocation per (image, channel): the sum of that image's doutput plane.
@compute @workgroup_size(WG)
fn backward_bias(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = invocation_index(id, groups);
  if (i >= params.batch * C_OUT) { return; }
  let plane = out_h() * out_w();
  let base = i * plane; // (n * C_OUT + co) * plane
  // Eight terms a trip, in order: llvmpipe's loops cost time of their own (conv1's
  // 784 terms: 362 -> 209 us). The same sum, term by term.
  var image_sum = 0.0;
  var j = 0u;
  for (; j + 8u <= plane; j += 8u) {
    let at = base + j;
    image_sum += doutput[at];
    image_sum += doutput[at + 1u];
    image_sum += doutput[at + 2u];
    image_sum += doutput[at + 3u];
    image_sum += doutput[at + 4u];
    image_sum += doutput[at + 5u];
    image_sum += doutput[at + 6u];
    image_sum += doutput[at + 7u];
  }
  for (; j < plane; j++) { image_sum += doutput[base + j]; }
  partial_bias[i] = image_sum;
}

// Where a part starts: the end of the one before, rounded up to a whole workgroup.
fn aligned(n: u32) -> u32 { return (n + WG - 1u) / WG * WG; }

// dweight, then dbias: each the sum over the batch of per-image sums, image by image.
// The bias part starts on a workgroup boundary too: llvmpipe runs a SIMD group's
// invocations together and counts its loop iterations across both loops, so a group
// that held the last weights and the first bias would stop early at large batches.
@compute @workgroup_size(WG)
fn reduce(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let weights = C_OUT * taps();
  let i = invocation_index(id, groups);
  if (i < weights) {
    dweight[i] = batch_sum(i, weights);
    return;
  }
  let co = i - aligned(weights);
  if (co < C_OUT) { dbias[co] = batch_sum_bias(co); }
}

// sum_n saved_partial[n * stride + i], image by image, four terms a trip as in
// backward_bias (written out, not an inner loop: llvmpipe's loop limit counts every
// trip, src/ops/conv2d.ts's batchLoopIterations).
fn batch_sum(i: u32, stride: u32) -> f32 {
  var sum = 0.0;
  var n = 0u;
  for (; n + 4u <= params.batch; n += 4u) {
    let at = n * stride + i;
    sum += saved_partial[at];
    sum += saved_partial[at + stride];
    sum += saved_partial[at + 2u * stride];
    sum += saved_partial[at + 3u * stride];
  }
  for (; n < params.batch; n++) { sum += saved_partial[n * stride + i]; }
  return sum;
}

fn batch_sum_bias(co: u32) -> f32 {
  var sum = 0.0;
  var n = 0u;
  for (; n + 4u <= params.batch; n += 4u) {
    let at = n * C_OUT + co;
    sum += saved_partial_bias[at];
    sum += saved_partial_bias[at + C_OUT];
    sum += saved_partial_bias[at + 2u * C_OUT];
    sum += saved_partial_bias[at + 3u * C_OUT];
  }
  for (; n < params.batch; n++) { sum += saved_partial_bias[n * C_OUT + co]; }
  return sum;
}
