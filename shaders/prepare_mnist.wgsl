// Input preparation: gathers a batch of MNIST images (uint8 28x28, four to a u32
// word, as the IDX file stores them) and their labels, and makes the network's
// input [batch, 1, 32, 32]:
//
//   v = interpolate(image / 255, size=32, mode='bilinear', align_corners=False)
//   output = (v - mean) / stddev, mirrored left-right where the sample's flip bit is set
//
// Bilinear with half-pixel centres, as torch.nn.functional.interpolate computes it:
//   src = max((dst + 0.5) * 28/32 - 0.5, 0),  i0 = floor(src),  i1 = min(i0 + 1, 27),
//   value = lerp(p[i0], p[i1], src - i0), separably in y and x.
// batch_indices[n] = image index | (flip << 31).

override WG: u32 = 64;

const SRC: u32 = 28u;
const DST: u32 = 32u;

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
  return byte_at(image * SRC * SRC, y * SRC + x) / 255.0;
}

fn label_of(index: u32) -> u32 {
  return (all_labels[index / 4u] >> (8u * (index % 4u))) & 0xffu;
}

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = invocation_index(id, groups);
  if (i >= params.batch * DST * DST) { return; }
  let n = i / (DST * DST);
  let oy = (i / DST) % DST;
  var ox = i % DST;
  let entry = batch_indices[n];
  let image = entry & 0x7fffffffu;
  if ((entry >> 31u) != 0u) { ox = DST - 1u - ox; }
  let scale = f32(SRC) / f32(DST);
  let sy = max((f32(oy) + 0.5) * scale - 0.5, 0.0);
  let sx = max((f32(ox) + 0.5) * scale - 0.5, 0.0);
  let y0 = u32(sy);
  let x0 = u32(sx);
  let y1 = min(y0 + 1u, SRC - 1u);
  let x1 = min(x0 + 1u, SRC - 1u);
  let ly = sy - f32(y0);
  let lx = sx - f32(x0);
  let top = (1.0 - lx) * pixel(image, y0, x0) + lx * pixel(image, y0, x1);
  let bottom = (1.0 - lx) * pixel(image, y1, x0) + lx * pixel(image, y1, x1);
  let v = (1.0 - ly) * top + ly * bottom;
  output[i] = (v - params.mean) / params.stddev;
  if (oy == 0u && i % DST == 0u) {
    labels[n] = label_of(image);
  }
}
