// Tanh, elementwise.
//
//   forward    output[i] = tanh(input[i])
//   backward   dinput[i] = doutput[i] * (1 - y * y),  y = saved_output[i] (forward's output)
//              (PyTorch's tanh_backward, which takes the output), as (1 - y) (1 + y):
//              1 - y is exact for y >= 1/2, where 1 - y * y in float32 would cancel
//              (y = 0.9999 would keep 3 digits)
//
// Not WGSL's tanh builtin: WGSL leaves its precision to the implementation, and Tint
// and naga lower it differently, so Dawn and wgpu would not give the same bits. From
// exp of a non-positive argument instead, with a = |x| clamped to 16 (tanh(16) is 1
// in float32, and -2a cannot overflow for any finite x):
//
//   t = exp(-2a) in (0, 1],   tanh(x) = sign(x) (1 - t) / (1 + t)
//
// 1 - t cancels for small a (tanh(1e-4) would keep 3 digits, tanh(1e-8) would be 0),
// so below a = 0.375 tanh is its Taylor series to x^11 instead, within 1e-7 of the
// truth there (the terms fall by 4x²/π² <= 0.06 each; the next is 3e-8 of x at 0.375).

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

fn tanh_f32(x: f32) -> f32 {
  let a = min(abs(x), 16.0);
  if (a < 0.375) {
    // x + x^3 (-1/3 + x^2 (2/15 + x^2 (-17/315 + x^2 (62/2835 + x^2 (-1382/155925))))),
    // the coefficients rounded to float32.
    let x2 = x * x;
    var p = -0.00886323582;
    p = p * x2 + 0.0218694881;
    p = p * x2 - 0.0539682545;
    p = p * x2 + 0.13333334;
    p = p * x2 - 0.333333343;
    return x + x * (x2 * p);
  }
  let t = exp(-2.0 * a);
  let r = (1.0 - t) / (1.0 + t);
  return select(r, -r, x < 0.0);
}

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let first = invocation_index(id, groups) * PER;
  for (var i = first; i < min(first + PER, params.count); i++) {
    output[i] = tanh_f32(input[i]);
  }
}

@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let first = invocation_index(id, groups) * PER;
  for (var i = first; i < min(first + PER, params.count); i++) {
    let y = saved_output[i];
    dinput[i] = doutput[i] * ((1.0 - y) * (1.0 + y));
  }
}
