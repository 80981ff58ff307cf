/**
 * MNIST for the page: the gzipped IDX files that build.mjs puts in dist/demo/data
 * (the files MNIST's description, src/data/mnist.json, names, with .gz appended),
 * fetched with progress, gunzipped with the browser's DecompressionStream and parsed
 * by src/data/idx.ts, the parser the Node loader uses. Each file may hold at most
 * MAX_IDX_BYTES, downloaded or decompressed: bytes are counted as they stream and the
 * stream cancelled past the cap, before a decompression bomb takes the tab's memory.
 */
import { MNIST } from '../src/data/dataset';
import { MAX_IDX_BYTES, mnistSplit, overIdxLimit, type MnistSplit } from '../src/data/idx';

export interface Progress {
  loaded: number;
  /** 0 while unknown. */
  total: number;
}

/** Both splits; `onProgress` gets the bytes downloaded so far over all four files. */
export async function fetchMnist(base: URL, onProgress?: (p: Progress) => void): Promise<{ train: MnistSplit; test: MnistSplit }> {
  const { train, test } = MNIST.files;
  const names = [train.images, train.labels, test.images, test.labels].map((name) => `${name}.gz`);
  const progress = names.map(() => ({ loaded: 0, total: 0 }));
  const report = () => onProgress?.({ loaded: sum(progress.map((p) => p.loaded)), total: sum(progress.map((p) => p.total)) });
  const [trainImages, trainLabels, testImages, testLabels] = await Promise.all(
    names.map((name, i) =>
      fetchIdx(new URL(name, base), (p) => {
        progress[i] = p;
        report();
      }),
    ),
  );
  return {
    train: mnistSplit(MNIST, trainImages, trainLabels, names[0], names[1]),
    test: mnistSplit(MNIST, testImages, testLabels, names[2], names[3]),
  };
}

/**
 * One IDX file's bytes. It is gunzipped here if it starts with gzip's magic 1f 8b:
 * a server that sends .gz files with Content-Encoding: gzip has the browser do it
 * already, and the bytes then start with the IDX magic. `maxBytes` is a parameter for the tests.
 */
export async function fetchIdx(url: URL, onProgress?: (p: Progress) => void, maxBytes = MAX_IDX_BYTES): Promise<Uint8Array> {
  const name = url.pathname.split('/').pop() ?? String(url);
  let response: Response;
  try {
    response = await fetch(url);
  } catch (err) {
    throw new Error(`downloading ${name} failed: ${(err as Error).message}`);
  }
  if (!response.ok) throw new Error(`downloading ${name} failed: HTTP ${response.status} ${response.statusText}`.trim());
  const bytes = await readBody(response, name, maxBytes, onProgress);
  if (bytes.length < 2 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  let out: Uint8Array | null;
  try {
    out = await readAll(new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip')), maxBytes);
  } catch (err) {
    throw new Error(`${name}: gzip data does not decompress (${(err as Error).message})`);
  }
  if (!out) throw overIdxLimit(`${name}: gzip data decompresses to`, maxBytes);
  return out;
}

/** The body (at most `maxBytes`: it may be an IDX file the browser gunzipped), with progress. */
async function readBody(response: Response, name: string, maxBytes: number, onProgress?: (p: Progress) => void): Promise<Uint8Array<ArrayBuffer>> {
  const total = Number(response.headers.get('content-length') ?? 0);
  if (!response.body) return new Uint8Array(await response.arrayBuffer());
  let loaded = 0;
  let body: Uint8Array<ArrayBuffer> | null;
  try {
    body = await readAll(response.body, maxBytes, (n) => {
      loaded = n;
      // With Content-Encoding the header counts compressed bytes: never report more than all.
      onProgress?.({ loaded, total: Math.max(total, loaded) });
    });
  } catch (err) {
    throw new Error(`downloading ${name} failed after ${loaded} bytes: ${(err as Error).message}`);
  }
  if (!body) throw overIdxLimit(`downloading ${name}: it holds`, maxBytes);
  return body;
}

/** All of a stream's bytes, or null (and the stream cancelled) as soon as they pass `limit`. */
async function readAll(stream: ReadableStream<Uint8Array>, limit: number, onChunk?: (loaded: number) => void): Promise<Uint8Array<ArrayBuffer> | null> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    loaded += value.length;
    if (loaded > limit) {
      await reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(value);
    onChunk?.(loaded);
  }
  const out = new Uint8Array(loaded);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function sum(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}
