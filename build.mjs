// Builds everything with esbuild. WGSL files load as text, so the Node bundles and
// the browser page compile the very same shader sources.
//
//   node build.mjs            Node programs (dist/cli), tests (dist/test), the page (dist/demo)
//   node build.mjs --watch    rebuild on change
import * as esbuild from 'esbuild';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const watch = process.argv.includes('--watch');

function files(dir, suffix, deep = true) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      if (deep) out.push(...files(path, suffix));
    } else if (name.endsWith(suffix)) out.push(path);
  }
  return out;
}

const common = {
  bundle: true,
  loader: { '.wgsl': 'text' },
  sourcemap: 'linked',
  logLevel: 'warning',
};

const node = {
  ...common,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  outdir: 'dist',
  // src/cli/train.ts -> dist/cli/train.js (src/cli/shared/ holds what they share), test/gpu/x.test.ts -> dist/test/gpu/x.test.js
  entryPoints: [...files('src/cli', '.ts', false), ...files('test', '.test.ts')].map((path) => ({
    in: path,
    out: path.replace(/^src\//, '').replace(/\.ts$/, ''),
  })),
};

const builds = [node];

if (watch) {
  for (const options of builds) await (await esbuild.context(options)).watch();
  console.log('watching for changes');
} else {
  await Promise.all(builds.map((options) => esbuild.build(options)));
}
