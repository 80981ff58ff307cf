// Fully connected layer: input [batch, IN], weight [OUT, IN] as in PyTorch's nn.Linear.
//
//   forward          output[n,o]  = bias[o] + sum_i input[n,i] * weight[o,i]
//   backward_input   dinput[n,i]  = sum_o doutput[n,o] * weight[o,i]
//   backward_weight  dweight[o,i] = sum_n doutput[n,o] * input[n,i]
//   backward_bias    dbias[o]     = sum_n doutput[n,o]
//
// Each is a small matrix product. One invocation computes a 4x4 block of its result
// in registers: per step of the summed index it loads 4 + 4 values for 16
// multiply-adds, where one invocation per element would load 2 for 1. Blocks on the
// ragged edge clamp their loads and skip their writes. The sums run in a fixed order:
// no atomics, bitwise reproducible. IN and OUT are override constants, so the loops
// have fixed trip counts and unroll.

override WG: u32 = 64;
override IN: u32;
override OUT: u32;

const B: u32 = 4u;

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

fn blocks(n: u32) -> u32 { return (n + B - 1u) / B; }

// The block of rows r0.. and columns c0.. of a rows x cols result for invocation i;
// false past the last block.
struct Block { r0: u32, c0: u32, ok: bool }

fn block_of(i: u32, rows: u32, cols: u32) -> Block {
  let cb = blocks(cols);
  return Block((i / cb) * B, (i % cb) * B, i < blocks(rows) * cb);
}

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let batch = params.batch;
  let b = block_of(invocation_index(id, groups), batch, OUT);
  if (!b.ok) { return; }
  var acc: array<f32, 16>;
  var x: array<u32, 4>;
  var w: array<u32, 4>;
  for (var r = 0u; r < B; r++) {
    x[r] = min(b.r0 + r, batch - 1u) * IN;
    w[r] = min(b.c0 + r, OUT - 1u) * IN;
  }
  for (var k = 0u; k < IN; k++) {
    let a = vec4f(input[x[0] + k], input[x[1] + k], input[x[2] + k], input[x[3] + k]);
    let c = vec4f(weight[w[0] + k], weight[w[1] + k], weight[w[2] + k], weight[w[3] + k]);
    for (var r = 0u; r < B; r++) {
      for (var j = 0u; j < B; j++) { acc[r * B + j] += a[r] * c[j]; }
    }
  }
  for (var r = 0u; r < B; r++) {
    for (var j = 0u; j < B; j++) {
      let n = b.r0 + r;
      let o = b.c0 + j;
      if (n < batch && o < OUT) { output[n * OUT + o] = bias[o] + acc[r * B + j]; }
    }
  }
}

@compute @workgroup_size(WG)
fn backward_input(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let batch = params.batch;
  let b = block_of(invocation_index(id, groups), batch, IN);
  if (!b.ok) { return; }
  var acc: array<f32, 16>;
  var d: array<u32, 4>;
  var w: array<u32, 4>;
  for (var r = 0u; r < B; r++) {
    d[r] = min(b.r0 + r, batch - 1u) * OUT;
    w[r] = min(b.c0 + r, IN - 1u);
  }
  for (var o = 0u; o < OUT; o++) {
    let a = vec4f(doutput[d[0] + o], doutput[d[1] + o], doutput[d[2] + o], doutput[d[3] + o]);
    let c = vec4f(weight[o * IN + w[0]], weight[o * IN + w[1]], weight[o * IN + w[2]], weight[o * IN + w[3]]);
    for (var r = 0u; r < B; r++) {
      for (var j = 0u; j < B; j++) { acc[r * B + j] += a[r] * c[j]; }
    }
  }
  for (var r = 0u; r < B; r++) {
    for (var j = 0u; j < B; j++) {
      let n = b.r0 + r;
      let i = b.c0 + j;
      if (n < batch && i < IN) { dinput[n * IN + i] = acc[r * B + j]; }
    }
  }
}

@compute @workgroup_size(WG)
fn backward_weight(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let batch = params.batch;
  let b = block_of(invocation_index(id, groups), OUT, IN);
  if (!b.ok) { return; }
  var acc: array<f32, 16>;
  var o: array<u32, 4>;
  var i: array<u32, 4>;
  for (var r = 0u; r < B; r++) {
    o[r] = min(b.r0 + r, OUT - 1u);
    i[r] = min(b.c0 + r, IN - 1u);
  }
  for (var n = 0u; n < batch; n++) {
    let a = vec4f(doutput[n * OUT + o[0]], doutput[n * OUT + o[1]], doutput[n * OUT + o[2]], doutput[n * OUT + o[3]]);
    let c = vec4f(input[n * IN + i[0]], input[n * IN + i[1]], input[n * IN + i[2]], input[n * IN + i[3]]);
    for (var r = 0u; r < B; r++) {
      for (var j = 0u; j < B; j++) { acc[r * B + j] += a[r] * c[j]; }
    }
  }
  for (var r = 0u; r < B; r++) {
    for (var j = 0u; j < B; j++) {
      let row = b.r0 + r;
      let col = b.c0 + j;
      if (row < OUT && col < IN) { dweight[row * IN + col] = acc[r * B + j]; }
    }
  }
}

@compute @workgroup_size(WG)
fn backward_bias(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let o = invocation_index(id, groups);
  if (o >= OUT) { return; }
  var sum = 0.0;
  for (var n = 0u; n < params.batch; n++) { sum += doutput[n * OUT + o]; }
  dbias[o] = sum;
}
