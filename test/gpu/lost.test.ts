// A device lost in the middle of a run (a driver reset, a GPU unplugged, the page's
// device destroyed) ends the run with an error, never a hang.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { defaultMnistDir, loadMnist } from '../../src/data/mnist';
import { DEFAULT_CONFIG } from '../../src/train/options';
import { runTraining } from '../../src/train/run';
import { Trainer } from '../../src/train/trainer';
import { openRuntime } from '../helpers/gpu';

const test = suite('lost device');

test('a device destroyed mid-epoch rejects the run with "device lost" within seconds', async () => {
  const rt = await openRuntime();
  const train = loadMnist(defaultMnistDir(), 'train');
  const trainer = await Trainer.create(rt, { ...DEFAULT_CONFIG, limit: 64 * 40, epochs: 1, logEvery: 5 }, train, null);
  let steps = 0;
  const started = performance.now();
  let error: Error | null = null;
  try {
    await runTraining(trainer, { steps: [], epochs: [] }, {
      shouldStop: () => {
        if (++steps === 12) rt.gpu.device.destroy();
        return false;
      },
    });
  } catch (err) {
    error = err as Error;
  }
  const seconds = (performance.now() - started) / 1000;
  assert.ok(error, `the run ended without an error after a lost device (${steps} steps)`);
  console.log(`  lost at step 12: "${error!.message}" after ${seconds.toFixed(1)} s`);
  assert.match(error!.message, /lost|destroyed/i);
  rt.destroy();
});

test.run();
