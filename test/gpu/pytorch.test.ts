// PyTorch as the outside oracle, where this machine has it (Debian's python3-torch;
// scripts/install-deps.sh --pytorch installs it): each preset and a network of every
// layer kind, 10 Adam steps from PyTorch's initialisation, as close to PyTorch's
// float64 run as PyTorch's own float32 run is (bench/pytorch_steps.py); and PyTorch's
// eval-mode accuracy and loss on a model the engine saved equal `eval`'s. PyTorch runs
// on the CPU whatever the adapter, so this runs on Dawn's llvmpipe (or the adapter
// chosen when none is named) only, not once per adapter.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { program } from '../helpers/programs';

const test = suite('pytorch');
const PYTHON = '/usr/bin/python3';
const adapter = process.env.LENET_ADAPTER;
const why =
  'Deno' in globalThis || (adapter !== undefined && adapter !== 'llvmpipe')
    ? `runs on Dawn's llvmpipe only (here: ${'Deno' in globalThis ? 'wgpu' : adapter})`
    : spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' }).status !== 0
      ? `no PyTorch here (${PYTHON} cannot import torch; scripts/install-deps.sh --pytorch installs it)`
      : null;

let dir: string;
test.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'lenet-pytorch-'));
});
test.after(() => rmSync(dir, { recursive: true, force: true }));

function run(command: string, args: string[]): string {
  const r = spawnSync(command, args, { encoding: 'utf8', env: process.env, timeout: 600_000 });
  assert.is(r.status, 0, `${command} ${args.join(' ')}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

const engine = (name: string, args: string[]) => run(...program(name, args));

if (why) {
  test(`PyTorch comparisons skipped: ${why}`, () => {
    // CI installs PyTorch and says so: there, a missing one is a failure, not a skip.
    if (process.env.LENET_REQUIRE_PYTORCH && why.startsWith('no PyTorch')) assert.unreachable(`LENET_REQUIRE_PYTORCH is set, but ${why}`);
    console.log(`  (PyTorch comparisons skipped: ${why})`);
  });
} else {
  for (const net of ['lenet5', 'lenet5-relu', 'lenet5-classic', 'lenet5-pad', 'lenet5-bn', 'every-layer']) {
    test(`${net}: 10 Adam steps as close to PyTorch's float64 run as PyTorch's float32 run`, () => {
      const file = `bench/networks/${net}.json`;
      const [init, trained] = [join(dir, `${net}-init.safetensors`), join(dir, `${net}-trained.safetensors`)];
      run(PYTHON, ['bench/pytorch_steps.py', file, init, '--make-init']);
      engine('train', ['--init', init, '--epochs', '1', '--limit', '160', '--batch-size', '16', '--no-shuffle', '--test-limit', '64', '--out', trained]);
      const out = run(PYTHON, ['bench/pytorch_steps.py', file, init, trained, '--float64']);
      // "worst not *" where some tensors are only float32 rounding (a bias a batchnorm follows), else "worst".
      const line = out.split('\n').find((l) => l.startsWith('worst not *')) ?? out.split('\n').find((l) => l.startsWith('worst '));
      assert.ok(line, out);
      const [engine64, , torch32] = line!.match(/\d\.\d+e[-+]\d+/g)!.map(Number);
      assert.ok(engine64 <= 3 * torch32 + 1e-6, `${net}: the engine is ${engine64} from float64, PyTorch's float32 ${torch32}\n${out}`);
      console.log(`  ${net}: engine ${engine64.toExponential(2)}, PyTorch float32 ${torch32.toExponential(2)} from float64`);
    });
  }

  test("PyTorch's eval-mode accuracy and loss on the engine's model of every layer kind equal eval's", () => {
    const model = join(dir, 'every.safetensors');
    engine('train', ['--arch', 'bench/networks/every-layer.json', '--epochs', '1', '--limit', '640', '--test-limit', '100', '--out', model]);
    const e = /Test set: Average loss: ([\d.]+), Accuracy: (\d+)\/10000/.exec(engine('eval', [model]));
    const t = /accuracy ([\d.]+) loss ([\d.]+)/.exec(run(PYTHON, ['bench/pytorch_eval.py', model, 'bench/networks/every-layer.json']));
    assert.ok(e && t, 'both print their figures');
    assert.is((Number(e![2]) / 10000).toFixed(4), t![1], 'accuracy');
    assert.ok(Math.abs(Number(e![1]) - Number(t![2])) <= 1e-4, `loss: engine ${e![1]}, PyTorch ${t![2]}`);
  });
}

test.run();
