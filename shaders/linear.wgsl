// Fully connected layer: input [batch, in_features], weight [out_features, in_features]
// as in PyTorch's nn.Linear.
//
//   forward          output[n,o]  = bias[o] + sum_i input[n,i] * weight[o,i]
//   backward_input   dinput[n,i]  = sum_o doutput[n,o] * weight[o,i]
//   backward_weight  dweight[o,i] = sum_n doutput[n,o] * input[n,i]
//   backward_bias    dbias[o]     = sum_n doutput[n,o]
//
// One invocation per output element, fixed summation order: no atomics, bitwise
// reproducible.

override WG: u32 = 64;

struct Params {
  batch: u32,
  in_features: u32,
  out_features: u32,
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

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let p = params;
  let i = invocation_index(id, groups);
  if (i >= p.batch * p.out_features) { return; }
  let o = i % p.out_features;
  let n = i / p.out_features;
  var sum = bias[o];
  for (var k = 0u; k < p.in_features; k++) {
    sum += input[n * p.in_features + k] * weight[o * p.in_features + k];
  }
  output[i] = sum;
}

@compute @workgroup_size(WG)
fn backward_input(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let p = params;
  let i = invocation_index(id, groups);
  if (i >= p.batch * p.in_features) { return; }
  let k = i % p.in_features;
  let n = i / p.in_features;
  var sum = 0.0;
  for (var o = 0u; o < p.out_features; o++) {
    sum += doutput[n * p.out_features + o] * weight[o * p.in_features + k];
  }
  dinput[i] = sum;
}

@compute @workgroup_size(WG)
fn backward_weight(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let p = params;
  let i = invocation_index(id, groups);
  if (i >= p.out_features * p.in_features) { return; }
  let k = i % p.in_features;
  let o = i / p.in_features;
  var sum = 0.0;
  for (var n = 0u; n < p.batch; n++) {
    sum += doutput[n * p.out_features + o] * input[n * p.in_features + k];
  }
  dweight[i] = sum;
}

@compute @workgroup_size(WG)
fn backward_bias(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let p = params;
  let o = invocation_index(id, groups);
  if (o >= p.out_features) { return; }
  var sum = 0.0;
  for (var n = 0u; n < p.batch; n++) {
    sum += doutput[n * p.out_features + o];
  }
  dbias[o] = sum;
}
