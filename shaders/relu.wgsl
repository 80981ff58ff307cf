// ReLU, elementwise.
//
//   forward    output[i] = max(input[i], 0)
//   backward   dinput[i] = doutput[i] if saved_output[i] > 0, else 0  (saved_output: forward's output)
//              (PyTorch's threshold_backward on the result)

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

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let first = invocation_index(id, groups) * PER;
  for (var i = first; i < min(first + PER, params.count); i++) {
    output[i] = max(input[i], 0.0);
  }
}

@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let first = invocation_index(id, groups) * PER;
  for (var i = first; i < min(first + PER, params.count); i++) {
    dinput[i] = select(0.0, doutput[i], saved_output[i] > 0.0);
  }
}
