// Input preparation: gathers a batch of grey images (uint8 SRC_H x SRC_W, four to a
// u32 word, as an IDX file stores them) and their labels, and makes the network's
// input [batch, 1, DST_H, DST_W]:
//
//   v = interpolate(image / 255, size=(DST_H, DST_W), mode='bilinear', align_corners=False)
//   output = (v - mean) / stddev, mirrored left-right where the sample's flip bit is set
//
// Bilinear with half-pixel centres, as torch.nn.functional.interpolate computes it,
// along each axis (SRC, DST: that axis's sizes):
//   src = max((dst + 0.5) * SRC/DST - 0.5, 0),  i0 = floor(src),  i1 = min(i0 + 1, SRC - 1),
//   value = lerp(p[i0], p[i1], src - i0), separably in y and x.
// batch_indices[n] = image index | (flip << 31). The sizes are override constants
// (MNIST into LeNet-5: 28x28 -> 32x32); the normalisation is a uniform.

override WG: u32 = 64;
override SRC_H: u32;
override SRC_W: u32;
override DST_H: u32;
override DST_W: u32;
// Output values per invocation, consecutive (src/gpu/dispatch.ts: PER_INVOCATION): on
// llvmpipe an invocation costs time of its own besides its work.
override PER: u32 = 1u;

struct Params {
  batch: u32,
  mean: f32,
  stddev: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> images: array<u32>;
@group(0) @binding(2) var<storage, read> all_labels: array<u32>;
@group(0) @binding(3) var<storage, read> batch_indices: array<u32>;
@group(0) @binding(4) var<storage, read_write> output: array<f32>;
@group(0) @binding(5) var<storage, read_write> labels: array<u32>;

fn invocation_index(id: vec3u, groups: vec3u) -> u32 {
  return id.x + id.y * groups.x * WG;
}

fn byte_at(words_base: u32, i: u32) -> f32 {
  let b = words_base + i;
  return f32((images[b / 4u] >> (8u * (b % 4u))) & 0xffu);
}

fn pixel(image: u32, y: u32, x: u32) -> f32 {
  return byte_at(image * SRC_H * SRC_W, y * SRC_W + x) / 255.0;
}

fn label_of(index: u32) -> u32 {
  return (all_labels[index / 4u] >> (8u * (index % 4u))) & 0xffu;
}

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let first = invocation_index(id, groups) * PER;
  for (var i = first; i < min(first + PER, params.batch * DST_H * DST_W); i++) { prepare(i); }
}

// Output value i: image n's pixel (oy, ox), and n's label with its first pixel.
fn prepare(i: u32) {
  let n = i / (DST_H * DST_W);
  let oy = (i / DST_W) % DST_H;
  var ox = i % DST_W;
  let entry = batch_indices[n];
  let image = entry & 0x7fffffffu;
  if ((entry >> 31u) != 0u) { ox = DST_W - 1u - ox; }
  let scale_y = f32(SRC_H) / f32(DST_H);
  let scale_x = f32(SRC_W) / f32(DST_W);
  let sy = max((f32(oy) + 0.5) * scale_y - 0.5, 0.0);
  let sx = max((f32(ox) + 0.5) * scale_x - 0.5, 0.0);
  let y0 = u32(sy);
  let x0 = u32(sx);
  let y1 = min(y0 + 1u, SRC_H - 1u);
  let x1 = min(x0 + 1u, SRC_W - 1u);
  let ly = sy - f32(y0);
  let lx = sx - f32(x0);
  let top = (1.0 - lx) * pixel(image, y0, x0) + lx * pixel(image, y0, x1);
  let bottom = (1.0 - lx) * pixel(image, y1, x0) + lx * pixel(image, y1, x1);
  let v = (1.0 - ly) * top + ly * bottom;
  output[i] = (v - params.mean) / params.stddev;
  if (i % (DST_H * DST_W) == 0u) {
    labels[n] = label_of(image);
  }
}
