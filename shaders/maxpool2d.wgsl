// Max-pooling, 2x2 window, stride 2, floor mode (PyTorch's default), NCHW.
// Planes are (n, c) pairs; H' = floor(H / 2), W' = floor(W / 2).
//
//   forward    output[p,y,x] = max_{dy,dx in {0,1}} input[p, 2y+dy, 2x+dx]
//              argmax[p,y,x] = (2y+dy)*W + (2x+dx) of that maximum, the first in scan
//                              order on ties (as PyTorch's CPU kernel)
//   backward   dinput[p,iy,ix] = doutput[p, iy/2, ix/2] if saved_argmax there is iy*W+ix, else 0
//   backward_relu  the same, and 0 where saved_output (the window's max) is not > 0:
//              the gradient through a ReLU before the pool as well
//
// Windows do not overlap, so backward writes each input element exactly once, from
// the one window it belongs to (rows and columns left over by floor mode get 0): no
// atomics, no accumulation.

override WG: u32 = 64;

struct Params {
  planes: u32,
  height: u32,
  width: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read_write> output: array<f32>;
@group(0) @binding(3) var<storage, read_write> argmax: array<u32>;
@group(0) @binding(4) var<storage, read> saved_argmax: array<u32>;
@group(0) @binding(5) var<storage, read> doutput: array<f32>;
@group(0) @binding(6) var<storage, read_write> dinput: array<f32>;
@group(0) @binding(7) var<storage, read> saved_output: array<f32>;

fn invocation_index(id: vec3u, groups: vec3u) -> u32 {
  return id.x + id.y * groups.x * WG;
}

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let p = params;
  let oh = p.height / 2u;
  let ow = p.width / 2u;
  let i = invocation_index(id, groups);
  if (i >= p.planes * oh * ow) { return; }
  let x = i % ow;
  let y = (i / ow) % oh;
  let plane = i / (ow * oh);
  let base = plane * p.height * p.width;
  var best = 2u * y * p.width + 2u * x;
  var value = input[base + best];
  for (var dy = 0u; dy < 2u; dy++) {
    for (var dx = 0u; dx < 2u; dx++) {
      let at = (2u * y + dy) * p.width + 2u * x + dx;
      let v = input[base + at];
      if (v > value) {
        value = v;
        best = at;
      }
    }
  }
  output[i] = value;
  argmax[i] = best;
}

// One invocation per window: its gradient g goes to the argmax, zeros to the other three
// inputs. Rows and columns left over by floor mode belong to no window: the first
// windows of each plane's last row and column also zero them.
fn scatter_window(o: u32, g: f32) {
  let p = params;
  let oh = p.height / 2u;
  let ow = p.width / 2u;
  let x = o % ow;
  let y = (o / ow) % oh;
  let plane = o / (ow * oh);
  let base = plane * p.height * p.width;
  let top_left = 2u * y * p.width + 2u * x;
  let at = saved_argmax[o];
  for (var dy = 0u; dy < 2u; dy++) {
    for (var dx = 0u; dx < 2u; dx++) {
      let i = top_left + dy * p.width + dx;
      dinput[base + i] = select(0.0, g, i == at);
    }
  }
  // Leftovers: an odd last column (right of the last window), an odd last row.
  if (x + 1u == ow && p.width % 2u == 1u) {
    dinput[base + 2u * y * p.width + p.width - 1u] = 0.0;
    dinput[base + (2u * y + 1u) * p.width + p.width - 1u] = 0.0;
  }
  if (y + 1u == oh && p.height % 2u == 1u) {
    let last = base + (p.height - 1u) * p.width;
    dinput[last + 2u * x] = 0.0;
    dinput[last + 2u * x + 1u] = 0.0;
    if (x + 1u == ow && p.width % 2u == 1u) { dinput[last + p.width - 1u] = 0.0; }
  }
}

@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let o = invocation_index(id, groups);
  if (o >= params.planes * (params.height / 2u) * (params.width / 2u)) { return; }
  scatter_window(o, doutput[o]);
}

// backward through the ReLU that made the pool's input as well: the maximum of a
// window is the ReLU output at its argmax, so the gradient passes where it is > 0.
@compute @workgroup_size(WG)
fn backward_relu(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let o = invocation_index(id, groups);
  if (o >= params.planes * (params.height / 2u) * (params.width / 2u)) { return; }
  scatter_window(o, select(0.0, doutput[o], saved_output[o] > 0.0));
}
