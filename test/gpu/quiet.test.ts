// Dawn's adapter probing stays off the user's terminal: the programs print on stderr
// only Dawn's two notices about llvmpipe's limits, which no program can silence (see
// src/gpu/node.ts), and, under DEBUG, which adapters were not probed and why.
import { spawnSync } from 'node:child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { program } from '../helpers/programs';

const test = suite('quiet probing');
const NOTICE = /^Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced /;

function adapters(env: Record<string, string | undefined>) {
  // Without the driver list an earlier test's SwiftShader set in this process: as a user runs it.
  const { VK_ICD_FILENAMES: _, ...rest } = process.env;
  const r = spawnSync(...program('adapters', ['--json']), { encoding: 'utf8', env: { ...rest, ...env } });
  return { code: r.status, found: r.status === 0 ? (JSON.parse(r.stdout) as string[]) : [], err: r.stderr.split('\n').filter((l) => l !== '' && !NOTICE.test(l)) };
}

test('probing every adapter prints nothing on stderr but the llvmpipe notices', () => {
  const r = adapters({ DEBUG: '' });
  assert.is(r.code, 0);
  assert.ok(r.found.length > 0, 'an adapter is found');
  assert.equal(r.err, []);
});

test('DEBUG says which adapters were not probed and why, and nothing else', () => {
  const r = adapters({ DEBUG: '1' });
  assert.is(r.code, 0);
  for (const line of r.err) assert.match(line, /^adapter (hardware|swiftshader): not probed: (no Vulkan driver is installed|the Vulkan loader|no GPU device node)/);
});

test.run();
