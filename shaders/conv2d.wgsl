// 2-D convolution, stride 1, no padding, NCHW; weight is [out_channels, in_channels, k, k]
// as in PyTorch, and H' = H - k + 1, W' = W - k + 1.
//
//   forward          output[n,co,y,x]    = bias[co] + sum_{ci,ky,kx} weight[co,ci,ky,kx] * input[n,ci,y+ky,x+kx]
//   backward_input   dinput[n,ci,y,x]    = sum_{co,ky,kx} weight[co,ci,ky,kx] * doutput[n,co,y-ky,x-kx]
//                                          (only the terms with 0 <= y-ky < H', 0 <= x-kx < W')
//   backward_weight  dweight[co,ci,ky,kx] = sum_{n,y,x} doutput[n,co,y,x] * input[n,ci,y+ky,x+kx]
//   backward_bias    dbias[co]           = sum_{n,y,x} doutput[n,co,y,x]
//
// Every output element is computed whole by one invocation (a gather): gradients are
// written, not accumulated, and the sums run in a fixed order, so results are bitwise
// reproducible without atomics. The batch sums add one image's partial sum at a
// time, which keeps float32 rounding error near that of a sum over one image.

override WG: u32 = 64;

struct Params {
  batch: u32,
  in_channels: u32,
  out_channels: u32,
  height: u32,
  width: u32,
  kernel: u32,
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
  let oh = p.height - p.kernel + 1u;
  let ow = p.width - p.kernel + 1u;
  let i = invocation_index(id, groups);
  if (i >= p.batch * p.out_channels * oh * ow) { return; }
  let x = i % ow;
  let y = (i / ow) % oh;
  let co = (i / (ow * oh)) % p.out_channels;
  let n = i / (ow * oh * p.out_channels);
  var sum = bias[co];
  for (var ci = 0u; ci < p.in_channels; ci++) {
    let in_base = ((n * p.in_channels + ci) * p.height + y) * p.width + x;
    let w_base = (co * p.in_channels + ci) * p.kernel * p.kernel;
    for (var ky = 0u; ky < p.kernel; ky++) {
      for (var kx = 0u; kx < p.kernel; kx++) {
        sum += weight[w_base + ky * p.kernel + kx] * input[in_base + ky * p.width + kx];
      }
    }
  }
  output[i] = sum;
}

@compute @workgroup_size(WG)
fn backward_input(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let p = params;
  let oh = p.height - p.kernel + 1u;
  let ow = p.width - p.kernel + 1u;
  let i = invocation_index(id, groups);
  if (i >= p.batch * p.in_channels * p.height * p.width) { return; }
  let x = i % p.width;
  let y = (i / p.width) % p.height;
  let ci = (i / (p.width * p.height)) % p.in_channels;
  let n = i / (p.width * p.height * p.in_channels);
  // Output rows y-ky that exist: ky in [max(0, y-oh+1), min(k-1, y)].
  let ky0 = select(0u, y + 1u - oh, y + 1u > oh);
  let ky1 = min(p.kernel - 1u, y);
  let kx0 = select(0u, x + 1u - ow, x + 1u > ow);
  let kx1 = min(p.kernel - 1u, x);
  var sum = 0.0;
  for (var co = 0u; co < p.out_channels; co++) {
    let out_base = (n * p.out_channels + co) * oh * ow;
    let w_base = (co * p.in_channels + ci) * p.kernel * p.kernel;
    for (var ky = ky0; ky <= ky1; ky++) {
      for (var kx = kx0; kx <= kx1; kx++) {
        sum += weight[w_base + ky * p.kernel + kx] * doutput[out_base + (y - ky) * ow + (x - kx)];
      }
    }
  }
  dinput[i] = sum;
}

@compute @workgroup_size(WG)
fn backward_weight(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let p = params;
  let oh = p.height - p.kernel + 1u;
  let ow = p.width - p.kernel + 1u;
  let i = invocation_index(id, groups);
  let kk = p.kernel * p.kernel;
  if (i >= p.out_channels * p.in_channels * kk) { return; }
  let kx = i % p.kernel;
  let ky = (i / p.kernel) % p.kernel;
  let ci = (i / kk) % p.in_channels;
  let co = i / (kk * p.in_channels);
  var sum = 0.0;
  for (var n = 0u; n < p.batch; n++) {
    let out_base = (n * p.out_channels + co) * oh * ow;
    let in_base = ((n * p.in_channels + ci) * p.height + ky) * p.width + kx;
    var image_sum = 0.0;
    for (var y = 0u; y < oh; y++) {
      for (var x = 0u; x < ow; x++) {
        image_sum += doutput[out_base + y * ow + x] * input[in_base + y * p.width + x];
      }
    }
    sum += image_sum;
  }
  dweight[i] = sum;
}

@compute @workgroup_size(WG)
fn backward_bias(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let p = params;
  let plane = (p.height - p.kernel + 1u) * (p.width - p.kernel + 1u);
  let co = invocation_index(id, groups);
  if (co >= p.out_channels) { return; }
  var sum = 0.0;
  for (var n = 0u; n < p.batch; n++) {
    let base = (n * p.out_channels + co) * plane;
    var image_sum = 0.0;
    for (var j = 0u; j < plane; j++) {
      image_sum += doutput[base + j];
    }
    sum += image_sum;
  }
  dbias[co] = sum;
}
