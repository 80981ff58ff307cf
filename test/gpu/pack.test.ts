// pack.wgsl, through its host side (src/ops/pack.ts), against the layouts conv2d.wgsl
// reads: every conv weight of a flat parameter buffer written to its by_tap (and
// by_tap_in) copy, four channels to a vec4, and nothing else written. On lenet5's
// convs at their offsets in its parameters, on channels past a block of four and of
// eight among other parameters, and past one row of 65,535 workgroups.
import * as assert from 'uvu/assert';
import type { Runtime } from '../../src/gpu/runtime';
import { LENET5 } from '../../src/model/network';
import { parameterTable } from '../../src/model/parameters';
import { PackedWeights, type PackedConv } from '../../src/ops/pack';
import { pastOneRow } from '../helpers/elementwise';
import { gpuSuite } from '../helpers/gpu';
import { stagesOf } from '../helpers/network';
import { checkOp } from '../helpers/op-harness';

const test = gpuSuite('pack');

/** A copy holds each tap's (or each output channel's tap's) channels in vec4s, a whole number of blocks of eight. */
const vec4sPerTap = (channels: number) => 2 * Math.ceil(channels / 8);

/**
 * The packed copies of `param`'s conv weights as conv2d.wgsl reads them, written over
 * `packed` (what the buffer held before) at each copy's offset in floats:
 *   by_tap[t * 2*blocks8(C_OUT) + b]                      = weight[4b..4b+3, t]
 *   by_tap_in[(co*K*K + ky*K + kx) * 2*blocks8(C_IN) + b] = weight[co, 4b..4b+3, ky, kx]
 * with t = (ci, ky, kx) a tap.
 */
function packedReference(
  convs: readonly PackedConv[],
  offsets: readonly { by_tap: number; by_tap_in: number | null }[],
  param: Float64Array,
  packed: Float64Array,
): Float64Array {
  const out = packed.slice();
  convs.forEach(({ shape: { inChannels, outChannels, kernel: K }, offset }, c) => {
    for (let co = 0; co < outChannels; co++) {
      for (let ci = 0; ci < inChannels; ci++) {
        for (let ky = 0; ky < K; ky++) {
          for (let kx = 0; kx < K; kx++) {
            const w = param[offset + ((co * inChannels + ci) * K + ky) * K + kx];
            const t = (ci * K + ky) * K + kx;
            out[offsets[c].by_tap + (t * vec4sPerTap(outChannels) + (co >> 2)) * 4 + (co & 3)] = w;
            const back = offsets[c].by_tap_in;
            if (back !== null) out[back + (((co * K + ky) * K + kx) * vec4sPerTap(inChannels) + (ci >> 2)) * 4 + (ci & 3)] = w;
          }
        }
      }
    }
  });
  return out;
}

async function check(rt: Runtime, convs: readonly PackedConv[], count: number, backward: boolean) {
  const pw = await PackedWeights.create(rt, convs, count, backward);
  // Where each copy lies: on a 256-byte boundary (a binding's offset), as long as the
  // layout, within the buffer, and apart from every other.
  const spans: [number, number][] = [];
  const offsets = convs.map(({ name, shape }) => {
    const { by_tap, by_tap_in } = pw.of(name);
    assert.is(by_tap_in === null, !backward, `${name}: by_tap_in with backward only`);
    const taps = shape.inChannels * shape.kernel ** 2;
    assert.is(by_tap.length, taps * vec4sPerTap(shape.outChannels) * 4, `${name}: by_tap's length`);
    if (by_tap_in) assert.is(by_tap_in.length, shape.outChannels * shape.kernel ** 2 * vec4sPerTap(shape.inChannels) * 4, `${name}: by_tap_in's length`);
    for (const v of by_tap_in ? [by_tap, by_tap_in] : [by_tap]) {
      assert.ok(v.buffer === pw.packed.buffer && v.offset % 256 === 0, `${name}: a copy at byte ${v.offset}`);
      spans.push([v.offset / 4, v.offset / 4 + v.length]);
    }
    return { by_tap: by_tap.offset / 4, by_tap_in: by_tap_in ? by_tap_in.offset / 4 : null };
  });
  spans.sort((a, b) => a[0] - b[0]);
  spans.forEach(([from, to], i) => assert.ok(to <= (spans[i + 1]?.[0] ?? pw.packed.length), `copies overlap or pass the buffer's end: ${JSON.stringify(spans)}`));
  // As made, the buffer is zero: the padding past a last channel, which nothing writes, is.
  assert.ok((await rt.read(pw.packed)).every((v) => v === 0), 'a new buffer of packed copies holds zeros');

  // Contents before the dispatch (not zeros), to show that pack writes the copies and nothing else.
  const { x, gpu, seed } = await checkOp(rt, {
    inputs: { param: [count] },
    outputs: { packed: { shape: [pw.packed.length], range: [2, 3] } },
    made: { packed: pw.packed },
    dispatches: (t) => [pw.pack(t.param)],
    reference: (x) => ({ packed: packedReference(convs, offsets, x.param, x.packed) }),
  });
  // A copy is exact, element by element (the harness's relative error is over the whole buffer).
  const want = packedReference(convs, offsets, x.param, x.packed);
  const differs = gpu.packed.findIndex((v, i) => v !== want[i]);
  assert.is(differs, -1, `packed[${differs}] is ${gpu.packed[differs]}, expected ${want[differs]} (seed ${seed})`);
}

const table = parameterTable(LENET5);
const lenetConvs = stagesOf(LENET5, 'conv2d').map(({ name, shape }) => ({ name, shape, offset: table.slot(`${name}.weight`).offset }));
for (const backward of [true, false]) {
  test(`lenet5's convs in its flat parameters${backward ? ', by_tap and by_tap_in' : ', by_tap alone'}: each weight in its slots, the rest as it was`, async ({ rt }) => {
    await check(rt, lenetConvs, table.flatLength, backward);
  });
}

// Channels past a block of four and of eight, one input channel, a 1x1 kernel; odd
// offsets with other parameters before, between and after.
const AWKWARD: PackedConv[] = [
  { name: 'a', shape: { inChannels: 3, outChannels: 9, height: 8, width: 8, kernel: 3 }, offset: 5 },
  { name: 'b', shape: { inChannels: 1, outChannels: 2, height: 6, width: 6, kernel: 2 }, offset: 5 + 243 + 7 },
  { name: 'c', shape: { inChannels: 13, outChannels: 5, height: 4, width: 4, kernel: 1 }, offset: 5 + 243 + 7 + 8 + 3 },
];
test('awkward channels and offsets among other parameters: each weight in its slots, the rest as it was', async ({ rt }) => {
  await check(rt, AWKWARD, 5 + 243 + 7 + 8 + 3 + 65 + 11, true);
});

test('past one row of 65,535 workgroups: the grid folds into y, and the last conv, at the end, is packed', async ({ rt }) => {
  const count = await pastOneRow(rt, 'pack', 'pack');
  if (count === null) return console.log('  (skipped: the grid cannot fold)');
  const shape = { inChannels: 2, outChannels: 3, height: 5, width: 5, kernel: 3 };
  await check(rt, [{ name: 'first', shape, offset: 0 }, { name: 'last', shape, offset: count - 54 }], count, true);
});

test('a conv outside the parameters is refused, naming it; so is an unknown name', async ({ rt }) => {
  const shape = { inChannels: 2, outChannels: 3, height: 5, width: 5, kernel: 3 };
  try {
    await PackedWeights.create(rt, [{ name: 'late', shape, offset: 50 }], 100, true);
    assert.unreachable('a conv past the parameters was taken');
  } catch (err) {
    assert.is((err as Error).message, 'packed weights: late (54 at 50) lies outside the 100 parameters');
  }
  const pw = await PackedWeights.create(rt, [{ name: 'conv', shape, offset: 0 }], 54, false);
  assert.throws(() => pw.of('other'), /^packed weights: no conv named "other" \(there are: conv\)$/);
});

test.run();
