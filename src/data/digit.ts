/**
 * A photo (or canvas drawing) of one handwritten digit -> a 28x28 MNIST-style image,
 * made the way MNIST itself was made, so the trained LeNet-5 sees what it was trained on.
 * Pure code: no Node or DOM imports, so the page and the CLI share it (Node file
 * decoding is in image-file.ts).
 *
 * mnistDigit's steps:
 *  a. Polarity. MNIST is white ink on black. The background level is the median of the
 *     border pixels (a digit rarely touches all four edges, so most of the border is
 *     paper); if it is light, the image is inverted.
 *  b. Contrast. Subtract the background, scale so the brightest ink is 1, clamp to
 *     [0, 1], and zero everything below `threshold` (default 0.2): paper texture and
 *     JPEG noise go, the anti-aliased grey edges of the strokes stay.
 *  c. Crop to the bounding box of what is left. No ink at all (or less contrast than
 *     MIN_CONTRAST, which is noise on blank paper) -> Error('no digit found: ...').
 *  d. Resize the crop so its larger side is 20 pixels, keeping the aspect ratio: an
 *     area average (box filter) when shrinking, so a thin stroke becomes grey instead of
 *     vanishing between samples; bilinear when a tiny crop has to grow.
 *  e. Place it in a 28x28 black field with its centre of mass on pixel (14, 14), shifting
 *     by the rounded offset and clipping what falls outside. Real MNIST digits measure
 *     this way: their centres of mass lie in [13.5, 14.5] on both axes, with pixel i at
 *     coordinate i (LeCun et al.: "centered ... by computing the center of mass of the
 *     pixels, and translating the image so as to position this point at the center").
 *  f. Bytes 0..255, rounded.
 */

/** Grey levels 0 = black .. 1 = white, row-major. */
export interface GreyImage {
  width: number;
  height: number;
  data: Float32Array;
}

export interface DigitOptions {
  /** Ink below this fraction of the strongest ink is noise (step b). */
  threshold?: number;
}

export const MNIST_SIZE = 28;
/** The larger side of the digit's box inside the 28x28 field. */
export const MNIST_BOX = 20;
/** Where the centre of mass goes, in pixel-index coordinates. */
export const MNIST_CENTRE = 14;
/** Ink that differs from the background by less than this (of full scale) is not ink. */
export const MIN_CONTRAST = 0.08;
const DEFAULT_THRESHOLD = 0.2;

/** RGBA bytes -> grey. Luminance per ITU-R BT.601; alpha composited over white paper. */
export function toGrey(rgba: Uint8Array | Uint8ClampedArray, width: number, height: number): GreyImage {
  const n = width * height;
  if (rgba.length < n * 4) throw new Error(`toGrey: ${rgba.length} bytes is too few for ${width}x${height} RGBA`);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const lum = (0.299 * rgba[4 * i] + 0.587 * rgba[4 * i + 1] + 0.114 * rgba[4 * i + 2]) / 255;
    const a = rgba[4 * i + 3] / 255;
    data[i] = lum * a + (1 - a);
  }
  return { width, height, data };
}

export function mnistDigit(img: GreyImage, o: DigitOptions = {}): Uint8Array {
  const ink = inkLevels(img, o.threshold ?? DEFAULT_THRESHOLD);
  const box = inkBox(ink);
  if (!box) throw new Error('no digit found: the image is blank');
  const crop = cropImage(ink, box);
  const scale = MNIST_BOX / Math.max(crop.width, crop.height);
  const w = Math.max(1, Math.round(crop.width * scale));
  const h = Math.max(1, Math.round(crop.height * scale));
  const field = placeByCentreOfMass(resize(crop, w, h));
  return Uint8Array.from(field, (v) => Math.round(Math.min(1, Math.max(0, v)) * 255));
}

/** Centre of mass of a 28x28 byte image, pixel i at coordinate i; (NaN, NaN) if empty. */
export function centreOfMass(img28: Uint8Array): [x: number, y: number] {
  return massCentre(Float32Array.from(img28), MNIST_SIZE, MNIST_SIZE);
}

/** Steps a and b: white ink on black, 0..1, noise zeroed. */
function inkLevels(img: GreyImage, threshold: number): GreyImage {
  const background = median(borderPixels(img));
  const invert = background > 0.5;
  const data = img.data.map((g) => (invert ? background - g : g - background));
  let max = 0;
  for (const v of data) max = Math.max(max, v);
  if (max < MIN_CONTRAST) return { ...img, data: new Float32Array(data.length) };
  for (let i = 0; i < data.length; i++) {
    const v = Math.min(1, Math.max(0, data[i] / max));
    data[i] = v < threshold ? 0 : v;
  }
  return { ...img, data };
}

function borderPixels({ width, height, data }: GreyImage): Float32Array {
  const out: number[] = [];
  for (let x = 0; x < width; x++) {
    out.push(data[x]);
    if (height > 1) out.push(data[(height - 1) * width + x]);
  }
  for (let y = 1; y < height - 1; y++) {
    out.push(data[y * width]);
    if (width > 1) out.push(data[y * width + width - 1]);
  }
  return Float32Array.from(out);
}

function median(values: Float32Array): number {
  const sorted = values.slice().sort();
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

interface Box {
  x0: number;
  y0: number;
  x1: number; // exclusive
  y1: number; // exclusive
}

/** Step c: the bounding box of the non-zero pixels, or null if there are none. */
function inkBox({ width, height, data }: GreyImage): Box | null {
  const box = { x0: width, y0: height, x1: 0, y1: 0 };
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (data[y * width + x] === 0) continue;
      box.x0 = Math.min(box.x0, x);
      box.x1 = Math.max(box.x1, x + 1);
      box.y0 = Math.min(box.y0, y);
      box.y1 = Math.max(box.y1, y + 1);
    }
  }
  return box.x1 > box.x0 ? box : null;
}

function cropImage(img: GreyImage, { x0, y0, x1, y1 }: Box): GreyImage {
  const width = x1 - x0;
  const height = y1 - y0;
  const data = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    data.set(img.data.subarray((y0 + y) * img.width + x0, (y0 + y) * img.width + x1), y * width);
  }
  return { width, height, data };
}

/**
 * Step d. Both filters are separable, so resize the rows, transpose, resize the rows
 * again and transpose back: one 1-D resampler serves both axes.
 */
function resize(img: GreyImage, width: number, height: number): GreyImage {
  return transpose(resizeRows(transpose(resizeRows(img, width)), height));
}

/** Taps for one output sample: [source index, weight] pairs summing to 1. */
type Taps = Array<[number, number]>;

/** 1-D weights from m samples to n: box (area average) when shrinking, linear otherwise. */
function resampleTaps(m: number, n: number): Taps[] {
  const taps: Taps[] = [];
  const r = m / n;
  for (let i = 0; i < n; i++) {
    if (n < m) {
      // Output i covers source [i*r, (i+1)*r); each source pixel weighs by its overlap.
      const [a, b] = [i * r, (i + 1) * r];
      const t: Taps = [];
      for (let j = Math.floor(a); j < Math.min(m, Math.ceil(b)); j++) {
        t.push([j, (Math.min(b, j + 1) - Math.max(a, j)) / r]);
      }
      taps.push(t);
    } else {
      // Pixel centres line up: output centre i+0.5 maps to source coordinate (i+0.5)*r.
      const s = Math.min(m - 1, Math.max(0, (i + 0.5) * r - 0.5));
      const j = Math.floor(s);
      const f = s - j;
      taps.push(f > 0 ? [[j, 1 - f], [j + 1, f]] : [[j, 1]]);
    }
  }
  return taps;
}

function resizeRows(img: GreyImage, width: number): GreyImage {
  if (width === img.width) return img;
  const taps = resampleTaps(img.width, width);
  const data = new Float32Array(width * img.height);
  for (let y = 0; y < img.height; y++) {
    const row = y * img.width;
    for (let x = 0; x < width; x++) {
      let sum = 0;
      for (const [j, w] of taps[x]) sum += w * img.data[row + j];
      data[y * width + x] = sum;
    }
  }
  return { width, height: img.height, data };
}

function transpose({ width, height, data }: GreyImage): GreyImage {
  const out = new Float32Array(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) out[x * height + y] = data[y * width + x];
  return { width: height, height: width, data: out };
}

/** Step e: the digit on a 28x28 black field, centre of mass on (14, 14), clipped. */
function placeByCentreOfMass(digit: GreyImage): Float32Array {
  const [cx, cy] = massCentre(digit.data, digit.width, digit.height);
  const dx = Math.round(MNIST_CENTRE - cx);
  const dy = Math.round(MNIST_CENTRE - cy);
  const field = new Float32Array(MNIST_SIZE * MNIST_SIZE);
  for (let y = 0; y < digit.height; y++) {
    for (let x = 0; x < digit.width; x++) {
      const [fx, fy] = [x + dx, y + dy];
      if (fx < 0 || fy < 0 || fx >= MNIST_SIZE || fy >= MNIST_SIZE) continue;
      field[fy * MNIST_SIZE + fx] = digit.data[y * digit.width + x];
    }
  }
  return field;
}

function massCentre(data: Float32Array, width: number, height: number): [x: number, y: number] {
  let [mass, mx, my] = [0, 0, 0];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = data[y * width + x];
      mass += v;
      mx += v * x;
      my += v * y;
    }
  }
  return [mx / mass, my / mass];
}
