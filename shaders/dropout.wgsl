// Dropout in training, elementwise: PyTorch's nn.Dropout(p), inverted (the kept
// elements scaled by 1 / (1 - p), so evaluation is the identity and needs no kernel).
//
//   forward    output[i] = keep(i) ? input[i] * scale : 0
//   backward   dinput[i] = keep(i) ? doutput[i] * scale : 0
//
//   keep(i)    = bits(seed, step, layer, i) >= threshold
//   bits       = mix(mix(mix(mix(seed) ^ step) ^ layer) ^ i)
//   mix(x)     : x ^= x >> 16; x *= 0x7feb352d; x ^= x >> 15; x *= 0x846ca68b; x ^= x >> 16  (u32, wrapping)
//
// seed: the run's; step: the Adam step being taken (1-based); layer: the dropout
// layer's position in the network's layers (0-based); i: the element's index in the
// batch's activation. threshold = floor(p * 2^32) (p in [0, 1); 0 keeps everything) and
// scale = f32(1 / (1 - p)) come from the host (src/util/dropout-mask.ts).
//
// A counter-based generator: the mask is stored nowhere, backward computes it again.
// mix (mix_u32 here: WGSL has a builtin mix) is Chris Wellons' lowbias32 hash.
// src/util/dropout-mask.ts is the same in JavaScript (the reference's mask), and the
// PyTorch twin has it in Python: change all three or none.

override WG: u32 = 64;
// Elements per invocation, consecutive (src/gpu/dispatch.ts: PER_INVOCATION): on
// llvmpipe an invocation costs time of its own besides its work.
override PER: u32 = 1u;

struct Params {
  count: u32,
  seed: u32,
  step: u32,
  layer: u32,
  threshold: u32,
  scale: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read_write> output: array<f32>;
@group(0) @binding(3) var<storage, read> doutput: array<f32>;
@group(0) @binding(4) var<storage, read_write> dinput: array<f32>;

fn invocation_index(id: vec3u, groups: vec3u) -> u32 {
  return id.x + id.y * groups.x * WG;
}

fn mix_u32(v: u32) -> u32 {
  var x = v;
  x ^= x >> 16u;
  x *= 0x7feb352du;
  x ^= x >> 15u;
  x *= 0x846ca68bu;
  x ^= x >> 16u;
  return x;
}

fn keep(i: u32) -> bool {
  let bits = mix_u32(mix_u32(mix_u32(mix_u32(params.seed) ^ params.step) ^ params.layer) ^ i);
  return bits >= params.threshold;
}

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let first = invocation_index(id, groups) * PER;
  for (var i = first; i < min(first + PER, params.count); i++) {
    output[i] = select(0.0, input[i] * params.scale, keep(i));
  }
}

@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let first = invocation_index(id, groups) * PER;
  for (var i = first; i < min(first + PER, params.count); i++) {
    dinput[i] = select(0.0, doutput[i] * params.scale, keep(i));
  }
}
