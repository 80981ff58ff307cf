// Log-softmax over the classes of each row: input [batch, classes].
//
//   forward    output[n,c] = input[n,c] - m - log(sum_j exp(input[n,j] - m)),  m = max_j input[n,j]
//              (subtracting the row max keeps exp() finite)
//   backward   dinput[n,c] = doutput[n,c] - exp(saved_output[n,c]) * sum_j doutput[n,j]
//              (saved_output: forward's output)
//
// One invocation per row.

override WG: u32 = 64;

struct Params {
  batch: u32,
  classes: u32,
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
  let n = invocation_index(id, groups);
  if (n >= params.batch) { return; }
  let base = n * params.classes;
  var m = input[base];
  for (var c = 1u; c < params.classes; c++) {
    m = max(m, input[base + c]);
  }
  var sum = 0.0;
  for (var c = 0u; c < params.classes; c++) {
    sum += exp(input[base + c] - m);
  }
  let shift = m + log(sum);
  for (var c = 0u; c < params.classes; c++) {
    output[base + c] = input[base + c] - shift;
  }
}

@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let n = invocation_index(id, groups);
  if (n >= params.batch) { return; }
  let base = n * params.classes;
  var sum = 0.0;
  for (var c = 0u; c < params.classes; c++) {
    sum += doutput[base + c];
  }
  for (var c = 0u; c < params.classes; c++) {
    dinput[base + c] = doutput[base + c] - exp(saved_output[base + c]) * sum;
  }
}
