// Fully connected layer: input [batch, IN], weight [OUT, IN] as in PyTorch's nn.Linear.
//
//   forward          output[n,o]  = bias[o] + sum_i input[n,i] * weight[o,i]   (then ReLU with RELU)
//   backward         three independent parts in one dispatch, each a range of
//                    invocations that starts on a workgroup boundary:
//     input part     dinput[n,i]  = sum_o doutput[n,o] * weight[o,i]
//     weight part    dweight[o,i] = sum_n doutput[n,o] * input[n,i]
//     bias part      dbias[o]     = sum_n doutput[n,o]
//   backward_relu    the same, dinput times [input[n,i] > 0]: through the ReLU whose
//                    output is this layer's input
//   backward_params  the weight and bias parts alone (a layer whose input needs no gradient)
//
// Each is a small matrix product. One invocation computes a 4x4 block of its result
// in registers (four vec4 accumulators): per step of the summed index it loads 4 + 4
// values for 16 multiply-adds, where one invocation per element would load 2 for 1.
// With WIDE, an 8x8 block (four such): 8 + 8 values for 64 multiply-adds, which pays
// where every load is a gather (llvmpipe; src/gpu/tuning.ts chooses), and gives the
// same bits. Blocks on the ragged edge clamp their loads and skip their writes. The sums run in a fixed order:
// no atomics, bitwise reproducible. IN and OUT are override constants, so the loops
// have fixed trip counts and unroll.

override WG: u32 = 64;
override IN: u32;
override OUT: u32;
// forward applies ReLU to its output (bias + ReLU fused into one pass).
override RELU: bool = false;
// 8x8 blocks instead of 4x4.
override WIDE: bool = false;

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
@group(0) @binding(7) var<storage, read_write> dweight: array<f32>;
@group(0) @binding(8) var<storage, read_write> dbias: array<f32>;

fn invocation_index(id: vec3u, groups: vec3u) -> u32 {
  return id.x + id.y * groups.x * WG;
}

// The side of a block: 4, or 8 with WIDE.
fn side() -> u32 { return select(4u, 8u, WIDE); }

fn blocks(n: u32) -> u32 { return (n + side() - 1u) / side(); }

// The block of rows r0.. and columns c0.. of a rows x cols result for invocation i;
// false past the last block.
struct Block { r0: u32, c0: u32, ok: bool }

fn block_of(i: u32, rows: u32, cols: u32) -> Block {
  let cb = blocks(cols);
  return Block((i / cb) * side(), (i % cb) * side(), i < blocks(rows) * cb);
}

// A 4x4 block in four vec4 accumulators, one per row: no arrays, so every compiler
// (llvmpipe's, SwiftShader's) keeps it in registers.
struct Acc { r0: vec4f, r1: vec4f, r2: vec4f, r3: vec4f }

// The whole block: q00 rows 0-3 by columns 0-3; q01 rows 0-3 by columns 4-7, q10 rows
// 4-7 by columns 0-3, q11 rows 4-7 by columns 4-7 (these three with WIDE only).
struct Block8 { q00: Acc, q01: Acc, q10: Acc, q11: Acc }

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

// Element (r, j) of the block.
fn at(acc: Block8, r: u32, j: u32) -> f32 {
  var q = acc.q00;
  if (r < 4u && j >= 4u) { q = acc.q01; }
  if (r >= 4u && j < 4u) { q = acc.q10; }
  if (r >= 4u && j >= 4u) { q = acc.q11; }
  return row_of(q, r % 4u)[j % 4u];
}

// Four consecutive indices from `first`, each at most `last`.
fn four(first: u32, last: u32) -> vec4u {
  return min(first + vec4u(0u, 1u, 2u, 3u), vec4u(last));
}

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let batch = params.batch;
  let b = block_of(invocation_index(id, groups), batch, OUT);
  if (!b.ok) { return; }
  let x = four(b.r0, batch - 1u) * IN;
  let x2 = four(b.r0 + 4u, batch - 1u) * IN;
  let w = four(b.c0, OUT - 1u) * IN;
  let w2 = four(b.c0 + 4u, OUT - 1u) * IN;
  // One step of the summed index: a (rows 0-3) and a2 (rows 4-7) times c (columns
  // 0-3) and c2 (columns 4-7). Four locals, not a Block8 behind a pointer: naga's
  // SPIR-V backend panics on a pointer to a member of a pointed-to struct.
  var q00 = Acc();
  var q01 = Acc();
  var q10 = Acc();
  var q11 = Acc();
  for (var k = 0u; k < IN; k++) {
    let a = vec4f(input[x.x + k], input[x.y + k], input[x.z + k], input[x.w + k]);
    let c = vec4f(weight[w.x + k], weight[w.y + k], weight[w.z + k], weight[w.w + k]);
    fma_block(&q00, a, c);
    if (WIDE) {
      let a2 = vec4f(input[x2.x + k], input[x2.y + k], input[x2.z + k], input[x2.w + k]);
      let c2 = vec4f(weight[w2.x + k], weight[w2.y + k], weight[w2.z + k], weight[w2.w + k]);
      fma_block(&q01, a, c2);
      fma_block(&q10, a2, c);
      fma_block(&q11, a2, c2);
    }
  }
  for (var r = 0u; r < side(); r++) {
    let n = b.r0 + r;
    for (var j = 0u; j < side(); j++) {
      let o = b.c0 + j;
      if (n < batch && o < OUT) {
        let y = bias[o] + at(Block8(q00, q01, q10, q11), r, j);
        output[n * OUT + o] = select(y, max(y, 0.0), RELU);
      }
    }
  }
}

// The block of dinput = doutput . weight for invocation i.
fn input_block(i: u32) -> Block8 {
  let batch = params.batch;
  let b = block_of(i, batch, IN);
  let d = four(b.r0, batch - 1u) * OUT;
  let d2 = four(b.r0 + 4u, batch - 1u) * OUT;
  let w = four(b.c0, IN - 1u);
  let w2 = four(b.c0 + 4u, IN - 1u);
  // The block in four locals, as in forward.
  var q00 = Acc();
  var q01 = Acc();
  var q10 = Acc();
  var q11 = Acc();
  for (var o = 0u; o < OUT; o++) {
    let a = vec4f(doutput[d.x + o], doutput[d.y + o], doutput[d.z + o], doutput[d.w + o]);
    let row = o * IN;
    let c = vec4f(weight[row + w.x], weight[row + w.y], weight[row + w.z], weight[row + w.w]);
    fma_block(&q00, a, c);
    if (WIDE) {
      let a2 = vec4f(doutput[d2.x + o], doutput[d2.y + o], doutput[d2.z + o], doutput[d2.w + o]);
      let c2 = vec4f(weight[row + w2.x], weight[row + w2.y], weight[row + w2.z], weight[row + w2.w]);
      fma_block(&q01, a, c2);
      fma_block(&q10, a2, c);
      fma_block(&q11, a2, c2);
    }
  }
  return Block8(q00, q01, q10, q11);
}

fn input_part_size() -> u32 { return blocks(params.batch) * blocks(IN); }

// With relu, through the ReLU that made this layer's input: the gradient w.r.t. that
// ReLU's input, zero where input[n,i] (the ReLU's output) is not positive.
fn input_part(i: u32, relu: bool) {
  let b = block_of(i, params.batch, IN);
  let acc = input_block(i);
  for (var r = 0u; r < side(); r++) {
    for (var j = 0u; j < side(); j++) {
      let n = b.r0 + r;
      let k = b.c0 + j;
      if (n < params.batch && k < IN) {
        let v = at(acc, r, j);
        if (relu) {
          dinput[n * IN + k] = select(0.0, v, input[n * IN + k] > 0.0);
        } else {
          dinput[n * IN + k] = v;
        }
      }
    }
  }
}

fn weight_part_size() -> u32 { return blocks(OUT) * blocks(IN); }

fn weight_part(i: u32) {
  let batch = params.batch;
  let b = block_of(i, OUT, IN);
  let o = four(b.r0, OUT - 1u);
  let o2 = four(b.r0 + 4u, OUT - 1u);
  let c = four(b.c0, IN - 1u);
  let c2 = four(b.c0 + 4u, IN - 1u);
  // The block in four locals, as in forward.
  var q00 = Acc();
  var q01 = Acc();
  var q10 = Acc();
  var q11 = Acc();
  for (var n = 0u; n < batch; n++) {
    let drow = n * OUT;
    let xrow = n * IN;
    let a = vec4f(doutput[drow + o.x], doutput[drow + o.y], doutput[drow + o.z], doutput[drow + o.w]);
    let x = vec4f(input[xrow + c.x], input[xrow + c.y], input[xrow + c.z], input[xrow + c.w]);
    fma_block(&q00, a, x);
    if (WIDE) {
      let a2 = vec4f(doutput[drow + o2.x], doutput[drow + o2.y], doutput[drow + o2.z], doutput[drow + o2.w]);
      let x2 = vec4f(input[xrow + c2.x], input[xrow + c2.y], input[xrow + c2.z], input[xrow + c2.w]);
      fma_block(&q01, a, x2);
      fma_block(&q10, a2, x);
      fma_block(&q11, a2, x2);
    }
  }
  for (var r = 0u; r < side(); r++) {
    let row = b.r0 + r;
    for (var j = 0u; j < side(); j++) {
      let col = b.c0 + j;
      if (row < OUT && col < IN) { dweight[row * IN + col] = at(Block8(q00, q01, q10, q11), r, j); }
    }
  }
}

fn bias_part(o: u32) {
  var sum = 0.0;
  for (var n = 0u; n < params.batch; n++) { sum += doutput[n * OUT + o]; }
  dbias[o] = sum;
}

// Where a part starts: the end of the one before, rounded up to a whole workgroup.
fn aligned(n: u32) -> u32 { return (n + WG - 1u) / WG * WG; }

// The weight and bias parts, for invocation i counted from the weight part's start.
fn params_part(i: u32) {
  if (i < weight_part_size()) { weight_part(i); return; }
  let o = i - aligned(weight_part_size());
  if (o < OUT) { bias_part(o); }
}

@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = invocation_index(id, groups);
  if (i < input_part_size()) { input_part(i, false); return; }
  params_part(i - aligned(input_part_size()));
}

@compute @workgroup_size(WG)
fn backward_relu(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = invocation_index(id, groups);
  if (i < input_part_size()) { input_part(i, true); return; }
  params_part(i - aligned(input_part_size()));
}

@compute @workgroup_size(WG)
fn backward_params(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  params_part(invocation_index(id, groups));
}
