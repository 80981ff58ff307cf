// Batch normalisation as PyTorch's nn.BatchNorm2d (NCHW) and nn.BatchNorm1d on [N, F]:
// the input is [N, C, S], S = H*W (or 1 for [N, F], C = F). Per channel c, over the
// M = N*S values x[n,c,s]:
//
//   training   mean[c] = sum x / M,   var[c] = sum (x - mean)^2 / M (biased),
//              invstd[c] = 1 / sqrt(var + eps)
//              y = (x - mean) * invstd * weight[c] + bias[c]
//              running_mean = (1 - momentum) running_mean + momentum mean
//              running_var  = (1 - momentum) running_var  + momentum var M / (M - 1)
//   eval       y = (x - running_mean) / sqrt(running_var + eps) * weight + bias
//   backward   training mode (the batch statistics depend on x), xhat = (x - mean) invstd:
//              dbias[c]   = sum dy
//              dweight[c] = sum dy xhat
//              dx = weight invstd / M (M dy - dbias - xhat dweight)
//
// The entry points, in a training step's order:
//   image_stats      per (n, c): the image's mean and M2 = sum_s (x - mean)^2, in two
//                    passes: a first mean, then the deviations d from it, whose sum
//                    corrects it and M2 = sum d^2 - (sum d)^2 / S (Chan, Golub and
//                    LeVeque's corrected two-pass algorithm: no large sum of squares
//                    minus a square, so a mean far from 0 costs no precision).
//   batch_stats      per c: the images' (mean, M2) merged in order by Chan et al.'s
//                    formula (the means as offsets from the first image's), then
//                    stats[c] = (mean, invstd) and the running statistics
//                    updated (read and written here only: weight and bias are not bound,
//                    so all four may be ranges of one parameter buffer).
//   batch_stats_1d   the same, S = 1, from the input itself (an image's mean is its one
//                    value, its M2 is 0: Welford's update): no image_stats dispatch.
//   forward          y from stats, RUN values per invocation (as forward_eval, backward_input).
//   forward_eval     y from the running statistics.
//   image_grads      per (n, c): sum_s dy and sum_s dy (x - mean).
//   backward_params  per c: both summed over the images in order; dbias, dweight =
//                    invstd * the second, and the same pair in grad_sums for backward_input.
//   backward_params_1d  the same, S = 1, from doutput and the input: no image_grads dispatch.
//   backward_input   dx, from stats and grad_sums.
//
// Every result is computed whole by one invocation in a fixed order: no atomics,
// bitwise reproducible. No invocation loops over more than one image (image_stats:
// two loops of S) or over the batch once (batch_stats, backward_params): llvmpipe
// silently ends an invocation's loops after 65,535 iterations in all, so one loop over
// N x S values would stop early (64 images of 28x28 are 50,176 already).
// C and S are override constants; the batch, eps and momentum are uniforms.

override WG: u32 = 64;
override C: u32;
override S: u32;
// The elementwise kernels (forward, forward_eval, backward_input) give each invocation
// a run of up to RUN values of one image's channel, so it loads the channel's numbers
// once (on llvmpipe, RUN = 16 took ~3x less time than one value per invocation). The
// same bits for any RUN.
override RUN: u32 = 16u;

struct Params {
  batch: u32,
  eps: f32,
  momentum: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read_write> output: array<f32>;
@group(0) @binding(3) var<storage, read> weight: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read_write> running_mean: array<f32>;
@group(0) @binding(6) var<storage, read_write> running_var: array<f32>;
// The running statistics read-only, for forward_eval (which binds weight and bias too).
@group(0) @binding(7) var<storage, read> saved_running_mean: array<f32>;
@group(0) @binding(8) var<storage, read> saved_running_var: array<f32>;
// Per (n, c), [N, C]: (mean, M2) from image_stats, (sum dy, sum dy (x - mean)) from image_grads.
@group(0) @binding(9) var<storage, read_write> partial: array<vec2f>;
@group(0) @binding(10) var<storage, read> saved_partial: array<vec2f>;
// Per c: (mean, invstd) of the batch, from batch_stats.
@group(0) @binding(11) var<storage, read_write> stats: array<vec2f>;
@group(0) @binding(12) var<storage, read> saved_stats: array<vec2f>;
@group(0) @binding(13) var<storage, read> doutput: array<f32>;
@group(0) @binding(14) var<storage, read_write> dinput: array<f32>;
@group(0) @binding(15) var<storage, read_write> dweight: array<f32>;
@group(0) @binding(16) var<storage, read_write> dbias: array<f32>;
// Per c: (dbias, dweight), from backward_params, for backward_input.
@group(0) @binding(17) var<storage, read_write> grad_sums: array<vec2f>;
@group(0) @binding(18) var<storage, read> saved_grad_sums: array<vec2f>;

fn invocation_index(id: vec3u, groups: vec3u) -> u32 {
  return id.x + id.y * groups.x * WG;
}

// Values per channel: M.
fn count() -> f32 { return f32(params.batch * S); }

// Chan et al.'s merge of one more image (mean b.x, M2 b.y, S values) into the (mean,
// M2) of the k images before it. The means are kept as offsets from the first image's
// (the shift): small numbers, so the rounding of each step is small next to the
// spread, however far from 0 the mean lies.
fn merge(acc: vec2f, b: vec2f, k: u32) -> vec2f {
  let delta = b.x - acc.x;
  let kf = f32(k);
  let mean = acc.x + delta / (kf + 1.0);
  let m2 = acc.y + b.y + delta * delta * f32(S) * (kf / (kf + 1.0));
  return vec2f(mean, m2);
}

// The batch's statistics of channel c from its (mean, M2): stats[c] = (mean, invstd),
// and the running statistics' update (running_var with the unbiased variance).
fn finish_stats(c: u32, shift: f32, acc: vec2f) {
  let m = count();
  let mean = shift + acc.x;
  let variance = acc.y / m;
  stats[c] = vec2f(mean, inverseSqrt(variance + params.eps));
  let keep = 1.0 - params.momentum;
  running_mean[c] = keep * running_mean[c] + params.momentum * mean;
  running_var[c] = keep * running_var[c] + params.momentum * (acc.y / (m - 1.0));
}

@compute @workgroup_size(WG)
fn image_stats(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = invocation_index(id, groups);
  if (i >= params.batch * C) { return; }
  let base = i * S;
  var sum = 0.0;
  for (var s = 0u; s < S; s++) { sum += input[base + s]; }
  let rough = sum / f32(S);
  // The deviations from the first pass's mean, and their squares: their sum corrects
  // that mean, and M2 = sum d^2 - (sum d)^2 / S.
  var sum_d = 0.0;
  var sum_d2 = 0.0;
  for (var s = 0u; s < S; s++) {
    let d = input[base + s] - rough;
    sum_d += d;
    sum_d2 += d * d;
  }
  let correction = sum_d / f32(S);
  partial[i] = vec2f(rough + correction, max(sum_d2 - sum_d * correction, 0.0));
}

@compute @workgroup_size(WG)
fn batch_stats(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let c = invocation_index(id, groups);
  if (c >= C) { return; }
  let shift = saved_partial[c].x;
  var acc = vec2f(0.0);
  for (var n = 0u; n < params.batch; n++) {
    let b = saved_partial[n * C + c];
    acc = merge(acc, vec2f(b.x - shift, b.y), n);
  }
  finish_stats(c, shift, acc);
}

@compute @workgroup_size(WG)
fn batch_stats_1d(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let c = invocation_index(id, groups);
  if (c >= C) { return; }
  let shift = input[c];
  var acc = vec2f(0.0);
  for (var n = 0u; n < params.batch; n++) { acc = merge(acc, vec2f(input[n * C + c] - shift, 0.0), n); }
  finish_stats(c, shift, acc);
}

// Run r of (image n, channel c) covers s in [r RUN, min((r + 1) RUN, S)).
struct Run { base: u32, len: u32, c: u32, ok: bool }

fn run_of(i: u32) -> Run {
  let runs = (S + RUN - 1u) / RUN;
  let row = i / runs;
  let s0 = (i % runs) * RUN;
  return Run(row * S + s0, min(RUN, S - s0), row % C, i < params.batch * C * runs);
}

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let r = run_of(invocation_index(id, groups));
  if (!r.ok) { return; }
  let st = saved_stats[r.c];
  let scale = st.y * weight[r.c];
  let shift = bias[r.c];
  for (var j = 0u; j < r.len; j++) { output[r.base + j] = (input[r.base + j] - st.x) * scale + shift; }
}

@compute @workgroup_size(WG)
fn forward_eval(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let r = run_of(invocation_index(id, groups));
  if (!r.ok) { return; }
  let mean = saved_running_mean[r.c];
  let scale = inverseSqrt(saved_running_var[r.c] + params.eps) * weight[r.c];
  let shift = bias[r.c];
  for (var j = 0u; j < r.len; j++) { output[r.base + j] = (input[r.base + j] - mean) * scale + shift; }
}

@compute @workgroup_size(WG)
fn image_grads(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = invocation_index(id, groups);
  if (i >= params.batch * C) { return; }
  let mean = saved_stats[i % C].x;
  let base = i * S;
  var sum_dy = 0.0;
  var sum_dyx = 0.0;
  for (var s = 0u; s < S; s++) {
    let dy = doutput[base + s];
    sum_dy += dy;
    sum_dyx += dy * (input[base + s] - mean);
  }
  partial[i] = vec2f(sum_dy, sum_dyx);
}

// dbias and dweight of channel c from sum dy and sum dy (x - mean).
fn finish_params(c: u32, sum_dy: f32, sum_dyx: f32) {
  let dw = sum_dyx * saved_stats[c].y;
  dbias[c] = sum_dy;
  dweight[c] = dw;
  grad_sums[c] = vec2f(sum_dy, dw);
}

@compute @workgroup_size(WG)
fn backward_params(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let c = invocation_index(id, groups);
  if (c >= C) { return; }
  var sum = vec2f(0.0);
  for (var n = 0u; n < params.batch; n++) { sum += saved_partial[n * C + c]; }
  finish_params(c, sum.x, sum.y);
}

@compute @workgroup_size(WG)
fn backward_params_1d(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let c = invocation_index(id, groups);
  if (c >= C) { return; }
  let mean = saved_stats[c].x;
  var sum_dy = 0.0;
  var sum_dyx = 0.0;
  for (var n = 0u; n < params.batch; n++) {
    let dy = doutput[n * C + c];
    sum_dy += dy;
    sum_dyx += dy * (input[n * C + c] - mean);
  }
  finish_params(c, sum_dy, sum_dyx);
}

// dx = weight invstd (dy - dbias / M - xhat dweight / M).
@compute @workgroup_size(WG)
fn backward_input(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let r = run_of(invocation_index(id, groups));
  if (!r.ok) { return; }
  let st = saved_stats[r.c];
  let g = saved_grad_sums[r.c] / count();
  let scale = weight[r.c] * st.y;
  for (var j = 0u; j < r.len; j++) {
    let xhat = (input[r.base + j] - st.x) * st.y;
    dinput[r.base + j] = scale * (doutput[r.base + j] - g.x - xhat * g.y);
  }
}
