// Evaluation's tally, for each sample n of a batch of log-probabilities
// log_probs [batch, classes] (log-softmax's output), with its label and its image's
// index in the data set (batch_indices[n] = image | flip << 31, as prepare_input reads it):
//
//   p = argmax_c log_probs[n, c]         the first of equal maxima: a hit exactly when
//                                        nll_loss's accumulate counts one
//   confusion[labels[n], p] += 1         rows: the true class, columns: the predicted one
//   predicted[image] = p
//   confidence[image] = exp(log_probs[n, p])   the predicted class's probability
//
// One invocation per sample, no loops over the batch. The counts are added with
// integer atomics: integer addition is exact, so the counts do not depend on the order
// the samples arrive in and are the same every time (float atomics would not be).
// There is no backward: nothing trains through a count.

override WG: u32 = 64;

struct Params {
  batch: u32,
  classes: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> log_probs: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read> batch_indices: array<u32>;
@group(0) @binding(4) var<storage, read_write> confusion: array<atomic<u32>>;
@group(0) @binding(5) var<storage, read_write> predicted: array<u32>;
@group(0) @binding(6) var<storage, read_write> confidence: array<f32>;

const FLIP_BIT: u32 = 0x80000000u;

fn invocation_index(id: vec3u, groups: vec3u) -> u32 {
  return id.x + id.y * groups.x * WG;
}

@compute @workgroup_size(WG)
fn accumulate(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let n = invocation_index(id, groups);
  if (n >= params.batch) { return; }
  let base = n * params.classes;
  var best = 0u;
  for (var c = 1u; c < params.classes; c++) {
    if (log_probs[base + c] > log_probs[base + best]) { best = c; }
  }
  atomicAdd(&confusion[labels[n] * params.classes + best], 1u);
  let image = batch_indices[n] & ~FLIP_BIT;
  predicted[image] = best;
  confidence[image] = exp(log_probs[base + best]);
}
