// The training options' table (src/train/options.ts) and what reads it: train's
// --help and parser, the checks and their one-line errors (named as the value's source
// names it: flag, page field, config field), old checkpoints' missing fields, steps
// per epoch and the model file's metadata. No GPU: train.js is run only as far as it
// gets before opening one.
import { spawnSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { finiteNumber, nonNegativeInt, parseTrainOptions, positiveInt, positiveNumber } from '../src/cli/shared/args';
import { MNIST } from '../src/data/dataset';
import { LENET5 } from '../src/model/network';
import { parameterTable } from '../src/model/parameters';
import { decodeSafetensors, encodeSafetensors } from '../src/model/safetensors-codec';
import { decodeCheckpoint, encodeCheckpoint } from '../src/train/checkpoint';
import { checkConfig, DEFAULT_CONFIG, epochBatches, FLAG_ROWS, OPTION_ROWS, parseText, resumedConfig, stepsPerEpoch, type TrainConfig } from '../src/train/options';
import { modelMetadata } from '../src/train/run';
import { Rng } from '../src/util/rng';

function train(args: string[]) {
  const r = spawnSync(process.execPath, ['dist/cli/train.js', ...args], { encoding: 'utf8' });
  const errors = r.stderr.split('\n').filter((l) => l.startsWith('error'));
  return { code: r.status, out: r.stdout, errors };
}

/** The error `fn` throws (it must throw). */
function thrown(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return (err as Error).message;
  }
  assert.unreachable('expected an error');
  return '';
}

const numeric = FLAG_ROWS.filter((r) => r.type === 'int' || r.type === 'number');

test('the table: one row per TrainConfig field, the defaults pass their own checks', () => {
  assert.equal(Object.keys(DEFAULT_CONFIG), OPTION_ROWS.map((r) => r.key));
  checkConfig(DEFAULT_CONFIG);
  // Rows without a flag are set by train itself, from --data and --mean/--std: a new one is a decision.
  assert.equal(
    OPTION_ROWS.filter((r) => r.flag === null).map((r) => r.key),
    ['dataset', 'normalization'],
  );
  for (const r of FLAG_ROWS) assert.ok(r.help, `${r.key} has help text`);
  const flags = FLAG_ROWS.map((r) => r.flag);
  assert.is(new Set(flags).size, flags.length, 'no flag twice');
});

test('--help lists every row with a flag: its flag, help text and default, in the table order', () => {
  const r = train(['--help']);
  assert.is(r.code, 0, r.errors.join('\n'));
  const lines = r.out.split('\n');
  let last = -1;
  for (const row of FLAG_ROWS) {
    const [first, ...more] = row.help!.split('\n');
    const at = lines.findIndex((l) => l.startsWith(`  ${row.flag} `));
    assert.ok(at >= 0, `${row.flag} in --help:\n${r.out}`);
    assert.ok(at > last, `${row.flag} after the row before it`);
    last = at;
    const line = lines[at];
    assert.is(line.slice(21), row.type === 'boolean' ? first : `${first} (default ${row.default})`, `${row.flag}'s line`);
    assert.is(line.slice(2, 21).trimEnd(), row.type === 'boolean' ? row.flag : `${row.flag} ${{ int: 'N', number: 'X', string: 'NAME' }[row.type]}`);
    more.forEach((text, k) => assert.is(lines[at + 1 + k], `${' '.repeat(21)}${text}`, `${row.flag}'s line ${k + 2}`));
  }
  for (const own of ['--data DIR', '--mean X --std Y', '--init FILE', '--resume FILE', '--out FILE', '--adapter NAME', '-h, --help']) {
    assert.ok(lines.some((l) => l.startsWith(`  ${own} `)), `${own} in --help`);
  }
  assert.match(r.out, /--resume FILE +continue a checkpoint \(its settings; --epochs and --log-every may change\)/);
});

test("every row's default, written as a flag's value (or a switch left off), parses back to itself", () => {
  const given: string[] = [];
  for (const r of FLAG_ROWS) {
    if (r.type === 'boolean') {
      assert.equal(parseTrainOptions({}, []).config, {}, `${r.flag} left off: the default`);
      assert.equal(parseTrainOptions({}, [r.flag]).config, { [r.key]: !r.default }, `${r.flag} turns the default around`);
      continue;
    }
    given.push(r.flag, String(r.default));
    assert.equal(parseTrainOptions({}, [r.flag, String(r.default)]).config, { [r.key]: r.default }, r.flag);
    // The page's form writes String(value) into its field and reads it back the same way.
    if (r.page) assert.is(parseText(r, String(r.default), r.page.label), r.default, `${r.page.label} on the page`);
  }
  const all = parseTrainOptions({}, given).config;
  assert.equal({ ...DEFAULT_CONFIG, ...all }, DEFAULT_CONFIG);
  const withOwn = parseTrainOptions({ out: { type: 'string' } }, ['--out', 'a.safetensors', '--epochs', '2']);
  assert.equal(withOwn.config, { epochs: 2 });
  assert.is(withOwn.values.out, 'a.safetensors', "the program's own flags");
});

test('one number syntax for every numeric option: decimal or exponent notation', () => {
  for (const r of numeric) {
    for (const good of ['1', '1e0', '1.0', '+1', '10e-1']) assert.is(parseTrainOptions({}, [r.flag, good]).config[r.key], 1, `${r.flag} ${good}`);
    for (const bad of ['0x1', '0b1', '0o1', '1_000', ' 1', '1 ', 'Infinity', 'NaN', '1e', '.', '1e400', 'one']) {
      const message = thrown(() => parseTrainOptions({}, [r.flag, bad]));
      assert.ok(message.startsWith(`${r.flag} must be `) && message.endsWith(`, got "${bad}"`) && !message.includes('\n'), `${r.flag} ${bad}: ${message}`);
    }
  }
  assert.is(parseTrainOptions({}, ['--lr', '.5']).config.lr, 0.5);
  assert.is(parseTrainOptions({}, ['--epochs', '1e2']).config.epochs, 100);
  // The other programs' number options share it (bench --steps, demo --port...).
  assert.is(positiveInt('2e3', '--steps'), 2000);
  assert.is(thrown(() => positiveInt('0x10', '--steps')), '--steps must be a positive integer, got "0x10"');
  assert.is(thrown(() => nonNegativeInt('-1', '--port')), '--port must be a non-negative integer, got "-1"');
  assert.is(thrown(() => positiveNumber('0', '--std')), '--std must be a positive number, got "0"');
  assert.is(finiteNumber('-0.5', '--mean'), -0.5);
  assert.is(thrown(() => finiteNumber('0x1', '--mean')), '--mean must be a number, got "0x1"');
});

test('bad values are one-line errors naming the flag, the page field or the config field', () => {
  const cases: [keyof TrainConfig, string, number | string, string][] = [
    ['epochs', '0', 0, 'a positive integer'],
    ['batchSize', '6.5', 6.5, 'a positive integer'],
    ['lr', '0', 0, 'a positive number at most 1000'],
    ['lr', '-1e-3', -1e-3, 'a positive number at most 1000'],
    ['lr', '1e4', 1e4, 'a positive number at most 1000'],
    ['limit', '-1', -1, 'a non-negative integer'],
    ['testLimit', '2.5', 2.5, 'a non-negative integer'],
    ['seed', '4294967296', 2 ** 32, 'an integer from 0 to 4294967295'],
    ['logEvery', '0', 0, 'a positive integer'],
  ];
  for (const [key, text, value, expected] of cases) {
    const r = OPTION_ROWS.find((o) => o.key === key)!;
    assert.is(thrown(() => parseTrainOptions({}, [`${r.flag}=${text}`])), `${r.flag} must be ${expected}, got "${text}"`);
    if (r.page && r.type !== 'boolean' && r.type !== 'normalization') assert.is(thrown(() => parseText(r, text, r.page!.label)), `${r.page.label} must be ${expected}, got "${text}"`);
    assert.is(thrown(() => checkConfig({ ...DEFAULT_CONFIG, [key]: value } as TrainConfig)), `${key} must be ${expected}, got ${value}`);
  }
  assert.is(thrown(() => parseTrainOptions({}, ['--arch='])), '--arch needs a value, got an empty one');
  assert.is(thrown(() => checkConfig({ ...DEFAULT_CONFIG, hflip: 'yes' as never })), 'hflip must be true or false, got "yes"');
  assert.is(thrown(() => checkConfig({ ...DEFAULT_CONFIG, dataset: '' })), 'dataset must be a name, got ""');
  assert.is(thrown(() => checkConfig({ ...DEFAULT_CONFIG, normalization: { mean: 0, std: -1 } })), 'normalization std must be positive, got -1');
  assert.is(thrown(() => checkConfig({ ...DEFAULT_CONFIG, normalization: { mean: NaN, std: 1 } })), 'normalization mean must be a finite number, got NaN');
  assert.is(thrown(() => checkConfig({ ...DEFAULT_CONFIG, normalization: { mean: -1e39, std: 1 } })), "normalization mean is -1e+39, past float32's range (it ends at 3.4e38)");
  assert.is(thrown(() => checkConfig({ ...DEFAULT_CONFIG, normalization: { mean: 0.5, std: 1e-31 } })), 'normalization std is 1e-31, below 1e-30: 1/std would overflow float32');
  assert.ok(thrown(() => checkConfig({ ...DEFAULT_CONFIG, normalization: { mean: -1e31, std: 2 } })).startsWith('normalization mean -1e+31 with normalization std 2 makes inputs (pixel/255 - mean)/std of 5.00e+30, past 1e+30'));
  // At the limits, still a normalisation: the smallest std, the largest mean and inputs.
  checkConfig({ ...DEFAULT_CONFIG, normalization: { mean: 0.5, std: 1e-30 } });
  checkConfig({ ...DEFAULT_CONFIG, normalization: { mean: 3e38, std: 3e8 } });
  assert.is(thrown(() => checkConfig({ ...DEFAULT_CONFIG, arch: '' })), 'arch must be a name, got ""');

  // As the program prints them: one line, before any GPU work.
  for (const [args, message] of [
    [['--lr', '0x1'], 'error: --lr must be a positive number at most 1000, got "0x1"'],
    [['--lr', '1e4'], 'error: --lr must be a positive number at most 1000, got "1e4"'],
    [['--mean', '1e39', '--std', '1'], "error: --mean is 1e+39, past float32's range (it ends at 3.4e38)"],
    [['--mean', '0', '--std', '1e-50'], 'error: --std is 1e-50, below 1e-30: 1/std would overflow float32'],
    [['--mean', '2', '--std', '1e-30'], 'error: --mean 2 with --std 1e-30 makes inputs (pixel/255 - mean)/std of 2.00e+30, past 1e+30: float32 (which ends at 3.4e38) cannot train on them'],
    [['--batch-size', '0x10'], 'error: --batch-size must be a positive integer, got "0x10"'],
    [['--resume', 'x.ckpt.safetensors', '--lr', '1', '--hflip'], 'error: --lr, --hflip and --resume exclude each other: a checkpoint has its own settings (--epochs and --log-every may change)'],
  ] as const) {
    const r = train([...args]);
    assert.is(r.code, 1, args.join(' '));
    assert.equal(r.errors, [message]);
  }
});

/** A checkpoint's bytes with its config's JSON edited by `edit`. */
function checkpointWith(edit: (config: Record<string, unknown>) => void): Uint8Array {
  const table = parameterTable(LENET5);
  const zeros = () => new Float32Array(table.flatLength);
  const bytes = encodeCheckpoint({
    network: LENET5,
    params: table.init(new Rng(1)),
    adam: { expAvg: zeros(), expAvgSq: zeros(), step: 0 },
    position: { step: 0, epoch: 0, stepInEpoch: 0, rngState: new Rng(1).state },
    config: { ...DEFAULT_CONFIG, dataset: 'fashion', normalization: { mean: 0.3, std: 0.35 } },
    data: null,
    history: { steps: [], epochs: [] },
  });
  const { tensors, metadata } = decodeSafetensors(bytes, 'x');
  const config = JSON.parse(metadata.config);
  edit(config);
  return encodeSafetensors(tensors, { ...metadata, config: JSON.stringify(config) });
}

test("an older checkpoint's missing fields get the table's legacy values; a field without one is refused by name", () => {
  assert.equal(decodeCheckpoint(checkpointWith(() => {}), 'new.ckpt').config.normalization, { mean: 0.3, std: 0.35 }, 'a field present is kept');
  for (const r of OPTION_ROWS) {
    const bytes = checkpointWith((c) => delete c[r.key]);
    if (r.legacy !== undefined) {
      assert.equal(decodeCheckpoint(bytes, 'old.ckpt').config[r.key], r.legacy, `${r.key}: the legacy value`);
    } else {
      assert.is(thrown(() => decodeCheckpoint(bytes, 'old.ckpt')), `old.ckpt: checkpoint metadata "config": has no "${r.key}"`);
    }
  }
  // From before data sets had descriptions: MNIST, as its name and normalisation.
  const old = decodeCheckpoint(
    checkpointWith((c) => {
      delete c.dataset;
      delete c.normalization;
    }),
    'old.ckpt',
  ).config;
  assert.equal({ dataset: old.dataset, normalization: old.normalization }, { dataset: MNIST.name, normalization: MNIST.normalization });
  assert.is(thrown(() => decodeCheckpoint(checkpointWith((c) => (c.batchSize = 0)), 'bad.ckpt')), 'bad.ckpt: checkpoint metadata "config": batchSize must be a positive integer, got 0');
});

test('a resumed run takes from the flags or the form only the rows marked so', () => {
  const checkpoint: TrainConfig = { ...DEFAULT_CONFIG, epochs: 2, lr: 0.01, logEvery: 7 };
  assert.equal(resumedConfig(checkpoint, { epochs: 5, lr: 0.5, batchSize: 8 }), { ...checkpoint, epochs: 5 });
  assert.equal(resumedConfig(checkpoint, { logEvery: 3 }), { ...checkpoint, logEvery: 3 });
  assert.equal(resumedConfig(checkpoint, {}), checkpoint);
  assert.equal(
    OPTION_ROWS.filter((r) => r.resume).map((r) => r.key),
    ['epochs', 'logEvery'],
  );
});

test('steps per epoch: the first `limit` images (all for 0), in batches, the last partial one dropped if asked', () => {
  const c = (limit: number, batchSize: number, dropLast: boolean) => ({ limit, batchSize, dropLast });
  assert.is(stepsPerEpoch(c(0, 64, false), 640), 10);
  assert.is(stepsPerEpoch(c(0, 64, false), 641), 11);
  assert.is(stepsPerEpoch(c(0, 64, true), 641), 10);
  assert.is(stepsPerEpoch(c(100, 64, false), 60000), 2);
  assert.is(stepsPerEpoch(c(100, 64, true), 60000), 1);
  assert.is(stepsPerEpoch(c(100_000, 64, false), 640), 10, 'a limit past the data set is all of it');
  assert.is(stepsPerEpoch(c(0, 64, true), 63), 0);
  assert.equal(epochBatches(c(200, 64, false), 1000), [64, 64, 64, 8]);
});

test("the model file's metadata: the run's seed, epochs and last test accuracy, and the adapter", () => {
  const config = { ...DEFAULT_CONFIG, seed: 7 };
  const history = { steps: [], epochs: [{ epoch: 1, trainLoss: 1, trainAccuracy: 0.5, testLoss: 0.5, testAccuracy: 0.91234 }] };
  assert.equal(modelMetadata({ config, epochs: 1, history }, 'llvmpipe'), { seed: '7', epochs: '1', test_accuracy: '0.9123', adapter: 'llvmpipe' });
  assert.equal(modelMetadata({ config, epochs: 0, history: { steps: [], epochs: [] } }, null, { source: 'page' }), { source: 'page', seed: '7', epochs: '0' });
  assert.equal(modelMetadata(null, 'swiftshader', { source: 'page' }), { source: 'page', adapter: 'swiftshader' });
});

test.run();
