// Packed copies of parameters: some kernels read a weight in a layout of their own
// (conv2d's by_tap and by_tap_in, four channels to a vec4), and each parameter has up
// to two slots in a buffer of such copies. The slots are laid out on the host
// (src/ops/conv2d.ts) and come as one pair per parameter:
//
//   pack   packed[slots[i].x] = param[i], packed[slots[i].y] = param[i]   (NONE: no copy)
//
// Slots no parameter names (the zero padding past a last channel) are never written,
// and stay as the buffer was made: zero. Adam writes the same copies as it updates
// (shaders/adam.wgsl, step_and_pack); this runs where the host sets the weights.

override WG: u32 = 64;
const NONE: u32 = 0xffffffffu;

struct Params {
  count: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> param: array<f32>;
@group(0) @binding(2) var<storage, read> slots: array<vec2u>;
@group(0) @binding(3) var<storage, read_write> packed: array<f32>;

fn invocation_index(id: vec3u, groups: vec3u) -> u32 {
  return id.x + id.y * groups.x * WG;
}

@compute @workgroup_size(WG)
fn pack(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = invocation_index(id, groups);
  if (i >= params.count) { return; }
  let s = slots[i];
  if (s.x != NONE) { packed[s.x] = param[i]; }
  if (s.y != NONE) { packed[s.y] = param[i]; }
}
