// Negative log-likelihood loss, mean over the batch, on log-probabilities
// log_probs [batch, classes] (log-softmax output) and integer labels [batch];
// with log-softmax before it, this is PyTorch's cross-entropy.
//
//   forward           loss = -(1/batch) * sum_n log_probs[n, labels[n]]
//   backward          dlog_probs[n,c] = -1/batch if c == labels[n], else 0      (d loss = 1)
//   backward_fused    dlogits[n,c] = (exp(log_probs[n,c]) - [c == labels[n]]) / batch
//                     the gradient through log-softmax and the loss in one pass
//   accumulate        metrics += (sum_n -log_probs[n, labels[n]], #correct, batch):
//                     running totals for logging, kept on the GPU and read rarely
//   loss_backward     all a training step needs from the logits on, in one dispatch:
//                     log_probs from logits (log-softmax, as log_softmax.wgsl's forward
//                     computes it, to the bit), then accumulate, dlogits as backward_fused,
//                     and loss (the batch mean of accumulate's loss sum)
//
// The sums over the batch run in a fixed order, without atomics: bitwise reproducible.
// forward's runs in one invocation. accumulate's looks at every class of every sample,
// and llvmpipe (Mesa's gallivm) silently ends an invocation's loops after 65,535
// iterations in all: one invocation looping over batch x classes stopped early from a
// batch of 5,462 on. So LANES invocations share the samples (lane l takes l, l + LANES,
// ...), and lane 0 adds their sums in lane order.

override WG: u32 = 64;
const LANES: u32 = 64u;

struct Params {
  batch: u32,
  classes: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> log_probs: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read_write> loss: array<f32>;
@group(0) @binding(4) var<storage, read_write> dlog_probs: array<f32>;
@group(0) @binding(5) var<storage, read_write> dlogits: array<f32>;
@group(0) @binding(6) var<storage, read_write> metrics: array<f32>;
@group(0) @binding(7) var<storage, read> logits: array<f32>;
@group(0) @binding(8) var<storage, read_write> log_probs_out: array<f32>;

fn invocation_index(id: vec3u, groups: vec3u) -> u32 {
  return id.x + id.y * groups.x * WG;
}

fn loss_sum() -> f32 {
  var sum = 0.0;
  for (var n = 0u; n < params.batch; n++) {
    sum -= log_probs[n * params.classes + labels[n]];
  }
  return sum;
}

@compute @workgroup_size(1)
fn forward() {
  loss[0] = loss_sum() / f32(params.batch);
}

@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = invocation_index(id, groups);
  if (i >= params.batch * params.classes) { return; }
  let c = i % params.classes;
  let n = i / params.classes;
  dlog_probs[i] = select(0.0, -1.0 / f32(params.batch), c == labels[n]);
}

@compute @workgroup_size(WG)
fn backward_fused(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = invocation_index(id, groups);
  if (i >= params.batch * params.classes) { return; }
  let c = i % params.classes;
  let n = i / params.classes;
  let target_prob = select(0.0, 1.0, c == labels[n]);
  dlogits[i] = (exp(log_probs[i]) - target_prob) / f32(params.batch);
}

var<workgroup> lane_loss: array<f32, LANES>;
var<workgroup> lane_correct: array<u32, LANES>;

// This lane's share of the batch (samples lane, lane + LANES, ...): its summed loss
// and correct predictions.
fn lane_share(lane: u32) {
  var sum = 0.0;
  var hits = 0u;
  for (var n = lane; n < params.batch; n += LANES) {
    let base = n * params.classes;
    var best = 0u;
    for (var c = 1u; c < params.classes; c++) {
      if (log_probs[base + c] > log_probs[base + best]) { best = c; }
    }
    sum -= log_probs[base + labels[n]];
    hits += select(0u, 1u, best == labels[n]);
  }
  lane_loss[lane] = sum;
  lane_correct[lane] = hits;
}

// The lanes' shares added in lane order, into the metrics; returns the loss sum.
fn add_lanes() -> f32 {
  var total_loss = 0.0;
  var total_correct = 0u;
  for (var l = 0u; l < LANES; l++) {
    total_loss += lane_loss[l];
    total_correct += lane_correct[l];
  }
  metrics[0] += total_loss;
  metrics[1] += f32(total_correct);
  metrics[2] += f32(params.batch);
  return total_loss;
}

@compute @workgroup_size(LANES)
fn accumulate(@builtin(local_invocation_index) lane: u32) {
  lane_share(lane);
  workgroupBarrier();
  if (lane == 0u) { add_lanes(); }
}

// log_probs_out for sample n: log_softmax.wgsl's forward, the same operations in the same order.
fn log_softmax_row(base: u32) {
  var m = logits[base];
  for (var c = 1u; c < params.classes; c++) {
    m = max(m, logits[base + c]);
  }
  var sum = 0.0;
  for (var c = 0u; c < params.classes; c++) {
    sum += exp(logits[base + c] - m);
  }
  let shift = m + log(sum);
  for (var c = 0u; c < params.classes; c++) {
    log_probs_out[base + c] = logits[base + c] - shift;
  }
}

// accumulate, with log_probs_out and dlogits written for each sample on the way: each
// lane reads back only what it wrote itself.
@compute @workgroup_size(LANES)
fn loss_backward(@builtin(local_invocation_index) lane: u32) {
  var sum = 0.0;
  var hits = 0u;
  for (var n = lane; n < params.batch; n += LANES) {
    let base = n * params.classes;
    log_softmax_row(base);
    var best = 0u;
    for (var c = 1u; c < params.classes; c++) {
      if (log_probs_out[base + c] > log_probs_out[base + best]) { best = c; }
    }
    for (var c = 0u; c < params.classes; c++) {
      let target_prob = select(0.0, 1.0, c == labels[n]);
      dlogits[base + c] = (exp(log_probs_out[base + c]) - target_prob) / f32(params.batch);
    }
    sum -= log_probs_out[base + labels[n]];
    hits += select(0u, 1u, best == labels[n]);
  }
  lane_loss[lane] = sum;
  lane_correct[lane] = hits;
  workgroupBarrier();
  if (lane == 0u) { loss[0] = add_lanes() / f32(params.batch); }
}
