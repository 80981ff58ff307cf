// Adam, as torch.optim.Adam with its defaults (no weight decay, no amsgrad):
// https://pytorch.org/docs/stable/generated/torch.optim.Adam.html
// PER consecutive parameters per invocation, over all parameters at once (they live
// in one flat buffer). The host works out the bias corrections for step t in float64, as
// PyTorch does in Python, and so are 1 - beta1 and 1 - beta2 (in float32, 1 - 0.999
// would be off by 1.3e-5 relative):
//   step_size = lr / (1 - beta1^t),  bias_correction2_sqrt = sqrt(1 - beta2^t)
//
//   exp_avg    = exp_avg + (grad - exp_avg) * one_minus_beta1        (lerp)
//   exp_avg_sq = exp_avg_sq * beta2 + one_minus_beta2 * grad * grad
//   param     -= step_size * exp_avg / (sqrt(exp_avg_sq) / bias_correction2_sqrt + eps)
//
// step_and_pack also writes the new value into the parameter's packed copies, as
// shaders/pack.wgsl does (its slots, NONE for none): the kernels that read packed
// weights then need no packing pass of their own per step.

override WG: u32 = 64;
// Parameters per invocation, consecutive (src/gpu/dispatch.ts: PER_INVOCATION): on
// llvmpipe an invocation costs time of its own besides its work.
override PER: u32 = 1u;

struct Params {
  count: u32,
  step_size: f32,
  one_minus_beta1: f32,
  beta2: f32,
  one_minus_beta2: f32,
  eps: f32,
  bias_correction2_sqrt: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> exp_avg: array<f32>;
@group(0) @binding(4) var<storage, read_write> exp_avg_sq: array<f32>;
@group(0) @binding(5) var<storage, read> slots: array<vec2u>;
@group(0) @binding(6) var<storage, read_write> packed: array<f32>;

const NONE: u32 = 0xffffffffu;

fn invocation_index(id: vec3u, groups: vec3u) -> u32 {
  return id.x + id.y * groups.x * WG;
}

// Parameter i after this step (and its moments, written).
fn update(i: u32) -> f32 {
  let p = params;
  let g = grad[i];
  let m = exp_avg[i] + (g - exp_avg[i]) * p.one_minus_beta1;
  let v = exp_avg_sq[i] * p.beta2 + p.one_minus_beta2 * g * g;
  exp_avg[i] = m;
  exp_avg_sq[i] = v;
  return param[i] - p.step_size * m / (sqrt(v) / p.bias_correction2_sqrt + p.eps);
}

@compute @workgroup_size(WG)
fn step(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let first = invocation_index(id, groups) * PER;
  for (var i = first; i < min(first + PER, params.count); i++) {
    param[i] = update(i);
  }
}

@compute @workgroup_size(WG)
fn step_and_pack(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let first = invocation_index(id, groups) * PER;
  for (var i = first; i < min(first + PER, params.count); i++) {
    let value = update(i);
    param[i] = value;
    let s = slots[i];
    if (s.x != NONE) { packed[s.x] = value; }
    if (s.y != NONE) { packed[s.y] = value; }
  }
}
