// The pure parts of an evaluation: the misclassified images in the order the gallery
// and MODEL.eval.json list them, and the accuracy per class of a confusion matrix.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { misclassified, perClassAccuracy } from '../src/train/evaluation';

test('misclassified: only the wrong ones, the most confident first, the lower index first among equals', () => {
  const labels = [3, 1, 4, 1, 5, 9];
  const e = { predicted: Uint32Array.from([3, 7, 4, 2, 6, 2]), confidence: Float32Array.from([0.9, 0.5, 0.99, 0.8, 0.5, 0.8]) };
  assert.equal(
    misclassified(e, labels).map((m) => [m.index, m.label, m.predicted]),
    [
      [3, 1, 2],
      [5, 9, 2],
      [1, 1, 7],
      [4, 5, 6],
    ],
  );
  assert.equal(misclassified({ predicted: new Uint32Array(0), confidence: new Float32Array(0) }, []), []);
});

test('perClassAccuracy: the diagonal over each row, null for a class with no images', () => {
  assert.equal(
    perClassAccuracy([
      [3, 1, 0],
      [0, 0, 0],
      [2, 0, 2],
    ]),
    [0.75, null, 0.5],
  );
});

test.run();
