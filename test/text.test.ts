// Messages that quote other messages end each sentence once.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sentence } from '../src/util/text';

test('a sentence gets a full stop only where it has none', () => {
  assert.is(sentence('downloading x.gz failed: HTTP 404 Not Found'), 'downloading x.gz failed: HTTP 404 Not Found.');
  assert.is(sentence('downloading x.gz failed: NetworkError when attempting to fetch resource.'), 'downloading x.gz failed: NetworkError when attempting to fetch resource.');
  assert.is(sentence('is it? '), 'is it?');
  assert.is(sentence('it failed!'), 'it failed!');
  assert.is(sentence('no adapter (see the log).'), 'no adapter (see the log).');
});

test.run();
