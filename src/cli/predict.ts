// npm run predict -- IMAGE...: reads handwritten digits from PNG or JPEG photos.
// Each photo is made into an MNIST-style 28x28 digit (src/data/digit.ts), then
// resized and normalised like the model's training images (the normalisation its file
// names), and the model gives the ten probabilities. An image that cannot be read is reported; the others still get
// their answers, and the exit code says something failed.
import { readDigit } from '../data/image-file';
import { expectNetwork, loadModel } from '../model/safetensors';
import { Predictor } from '../train/inference';
import { parseOptions } from './shared/args';
import { archOption, DEFAULT_MODEL, openRuntime, run, trainHint } from './shared/common';

const HELP = `usage: npm run predict -- [--model FILE] [--json] IMAGE...

Predicts the digit in each PNG or JPEG photo of a handwritten digit (dark on light
or light on dark; one digit per image), printing the ten probabilities.
  --model FILE    a .safetensors model (default ${DEFAULT_MODEL})
  --json          one JSON object per image instead of text
  --arch NAME     the network; must agree with the one the model file names
  --adapter NAME  auto, hardware, llvmpipe or swiftshader`;

async function main(): Promise<number> {
  const { values: o, positionals: images } = parseOptions({
    allowPositionals: true,
    options: {
      model: { type: 'string', default: DEFAULT_MODEL },
      json: { type: 'boolean', default: false },
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
  const arch = o.arch === undefined ? undefined : archOption(o.arch);
  const model = await loadModel(o.model!, trainHint(o.model!));
  expectNetwork(model.network, arch, o.model!);

  const digits: { path: string; digit?: Uint8Array; error?: string }[] = images.map((path) => {
    try {
      return { path, digit: readDigit(path) };
    } catch (e) {
      return { path, error: (e as Error).message };
    }
  });
  const readable = digits.filter((d) => d.digit);
  let probabilities: Float32Array[] = [];
  if (readable.length > 0) {
    const rt = await openRuntime(o.adapter);
    probabilities = await (await Predictor.create(rt, model.network, model.normalization, { params: model.params })).predict(readable.map((d) => d.digit!));
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
      console.log(JSON.stringify({ image: d.path, digit, probabilities: p.map((x) => Number(x.toFixed(6))) }));
    } else {
      console.log(`${d.path}: ${digit} (${(100 * p[digit]).toFixed(1)}%)`);
      p.forEach((x, i) => console.log(`  ${i}  ${(100 * x).toFixed(2).padStart(6)}%  ${'#'.repeat(Math.round(40 * x))}`));
    }
  }
  return digits.some((d) => d.error) ? 1 : 0;
}

run(main);
