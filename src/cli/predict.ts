// npm run predict -- IMAGE...: reads handwritten digits from PNG or JPEG photos.
// Each photo is made into an MNIST-style 28x28 digit (src/data/digit.ts), then
// resized and normalised like the model's training images (the normalisation its file
// names), and the model gives the ten probabilities. An image that cannot be read is reported; the others still get
// their answers, and the exit code says something failed. With --explain, a picture of
// what the network made of each photo is written beside it: the digit as the model
// sees it, the feature maps of its conv layers, and the probabilities.
import { basename, extname } from 'node:path';
import { renderExplanation } from '../chart/pictures';
import { MNIST } from '../data/dataset';
import { readDigit } from '../data/image-file';
import { loadModel } from '../model/safetensors';
import { featureMapPicture, Predictor } from '../train/inference';
import { parseOptions } from './shared/args';
import { checkDistinct, checkOutput, writeFileAtomic } from '../util/files';
import { archOption, DEFAULT_MODEL, lockOutputs, openRuntime, run, trainHint } from './shared/common';

const HELP = `usage: npm run predict -- [--model FILE] [--json] [--explain [--out FILE]] IMAGE...

Predicts the digit in each PNG or JPEG photo of a handwritten digit (dark on light
or light on dark; one digit per image), printing the ten probabilities.
  --model FILE    a .safetensors model (default ${DEFAULT_MODEL})
  --json          one JSON object per image instead of text
  --explain       also writes, beside each image (photo.png: photo.explain.svg), a
                  picture of the 28x28 digit the model sees, the feature maps of its
                  conv layers for it, and the ten probabilities
  --out FILE      where --explain writes its picture (one image only)
  --arch NAME     the network; must agree with the one the model file names
  --adapter NAME  auto, hardware, llvmpipe or swiftshader`;

async function main(): Promise<number> {
  const { values: o, positionals: images } = parseOptions({
    allowPositionals: true,
    options: {
      model: { type: 'string', default: DEFAULT_MODEL },
      json: { type: 'boolean', default: false },
      explain: { type: 'boolean', default: false },
      out: { type: 'string' },
      arch: { type: 'string' },
      adapter: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (o.help) {
    console.log(HELP);
    return 0;
  }
  if (images.length === 0) throw new Error('no image given: npm run predict -- photo.png [more.jpg ...]');
  if (o.out !== undefined && !o.explain) throw new Error('--out is where --explain writes its picture: give --explain too');
  if (o.out !== undefined && images.length > 1) throw new Error(`--out names one file, but ${images.length} images were given: leave --out out to write each picture beside its image`);
  // No picture may replace an input (an image, the model) or another picture: before any work.
  if (o.explain) {
    checkDistinct(
      [{ path: o.model!, what: 'the model' }, ...(o.arch?.endsWith('.json') ? [{ path: o.arch, what: 'the --arch network file' }] : []), ...images.map((path) => ({ path, what: 'the image' }))],
      images.map((path) => ({ path: o.out ?? explainPath(path), what: o.out !== undefined ? '--out' : `the picture of ${path}` })),
    );
  }
  const arch = o.arch === undefined ? undefined : archOption(o.arch);
  const model = await loadModel(o.model!, trainHint(o.model!), arch);

  const digits: { path: string; digit?: Uint8Array; error?: string; picture?: string }[] = images.map((path) => {
    try {
      return { path, digit: readDigit(path) };
    } catch (e) {
      return { path, error: (e as Error).message };
    }
  });
  const readable = digits.filter((d) => d.digit);
  const pictures = readable.map((d) => o.out ?? explainPath(d.path));
  if (o.explain) {
    for (const path of pictures) await checkOutput(path, '--explain');
    lockOutputs(pictures.map((path) => [path, '--explain']));
  }
  let probabilities: Float32Array[] = [];
  if (readable.length > 0) {
    const rt = await openRuntime(o.adapter);
    const predictor = await Predictor.create(rt, model.network, model.normalization, { params: model.params });
    if (!o.explain) probabilities = await predictor.predict(readable.map((d) => d.digit!));
    // With --explain, each digit's own forward pass gives its probabilities and its maps.
    for (const [i, d] of o.explain ? readable.entries() : []) {
      const { probabilities: p, maps } = await predictor.explain(d.digit!);
      probabilities.push(p);
      const svg = renderExplanation({
        title: `${basename(d.path)}: ${model.network.name}`,
        digit: { width: MNIST.image.cols, height: MNIST.image.rows, values: d.digit! },
        maps: maps.map((m) => featureMapPicture(m)),
        probabilities: p,
      });
      await writeFileAtomic(pictures[i], svg);
      d.picture = pictures[i];
    }
    rt.destroy();
  }
  let k = 0;
  for (const d of digits) {
    if (d.error) {
      if (o.json) console.log(JSON.stringify({ image: d.path, error: d.error }));
      else console.error(`${d.path}: error: ${d.error.replace(`${d.path}: `, '')}`);
      continue;
    }
    const p = Array.from(probabilities[k++]);
    const digit = p.indexOf(Math.max(...p));
    if (o.json) {
      console.log(JSON.stringify({ image: d.path, digit, probabilities: p.map((x) => Number(x.toFixed(6))), ...(d.picture ? { explanation: d.picture } : {}) }));
    } else {
      console.log(`${d.path}: ${digit} (${(100 * p[digit]).toFixed(1)}%)`);
      p.forEach((x, i) => console.log(`  ${i}  ${(100 * x).toFixed(2).padStart(6)}%  ${'#'.repeat(Math.round(40 * x))}`));
      if (d.picture) console.log(`  what the network saw: ${d.picture}`);
    }
  }
  return digits.some((d) => d.error) ? 1 : 0;
}

/** photo.png -> photo.explain.svg, beside it. */
function explainPath(image: string): string {
  const ext = extname(image);
  return `${ext ? image.slice(0, -ext.length) : image}.explain.svg`;
}

run(main);
