// Sigmoid, elementwise.
//
//   forward    output[i] = 1 / (1 + exp(-input[i]))
//   backward   dinput[i] = doutput[i] * (1 - y) * y,  y = saved_output[i] (forward's output)
//              (PyTorch's sigmoid_backward, which takes the output, in its order)
//
// From exp of a non-positive argument, so nothing overflows for any finite x, with
// a = |x| clamped to 110 (exp(-110) is 0 in float32, and sigmoid(110) is 1):
//
//   e = exp(-a) in (0, 1],   sigmoid(x) = 1 / (1 + e) for x >= 0,  e / (1 + e) for x < 0
//
// Neither form cancels: 1 + e is in [1, 2], and for x < 0 the result has exp's relative
// precision down to the smallest floats.

override WG: u32 = 64;
// Elements per invocation, consecutive (src/gpu/dispatch.ts: PER_INVOCATION): on
// llvmpipe an invocation costs time of its own besides its work.
override PER: u32 = 1u;

struct Params {
  count: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read_write> output: array<f32>;
@group(0) @binding(3) var<storage, read> saved_output: array<f32>;
@group(0) @binding(4) var<storage, read> doutput: array<f32>;
@group(0) @binding(5) var<storage, read_write> dinput: array<f32>;

fn invocation_index(id: vec3u, groups: vec3u) -> u32 {
  return id.x + id.y * groups.x * WG;
}

fn sigmoid_f32(x: f32) -> f32 {
  let e = exp(-min(abs(x), 110.0));
  return select(1.0, e, x < 0.0) / (1.0 + e);
}

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let first = invocation_index(id, groups) * PER;
  for (var i = first; i < min(first + PER, params.count); i++) {
    output[i] = sigmoid_f32(input[i]);
  }
}

@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let first = invocation_index(id, groups) * PER;
  for (var i = first; i < min(first + PER, params.count); i++) {
    let y = saved_output[i];
    dinput[i] = doutput[i] * (1.0 - y) * y;
  }
}
