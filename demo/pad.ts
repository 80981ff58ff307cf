/**
 * A canvas to draw a digit on, with a mouse, a pen or a finger (pointer events), and
 * what it holds as a 28x28 MNIST digit: the canvas's pixels go through toGrey and
 * mnistDigit (src/data/digit.ts), the steps `npm run predict` applies to a photo.
 */
import { mnistDigit, toGrey } from '../src/data/digit';

/** Stroke width in canvas pixels: about 2 MNIST pixels once the digit is scaled to its 20-pixel box. */
const PEN_WIDTH = 20;
const INK = '#111';
const PAPER = '#fff';

export class DrawingPad {
  private readonly ctx: CanvasRenderingContext2D;
  private last: { x: number; y: number } | null = null;
  private inked = false;

  /** `changed` runs after every stroke segment and after clear() (not for the blank start). */
  constructor(
    readonly canvas: HTMLCanvasElement,
    private readonly changed: () => void,
  ) {
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    if (!ctx) throw new Error('this browser cannot draw on a canvas');
    this.ctx = ctx;
    this.paint();
    canvas.addEventListener('pointerdown', (e) => this.down(e));
    canvas.addEventListener('pointermove', (e) => this.move(e));
    for (const type of ['pointerup', 'pointercancel', 'lostpointercapture'] as const) canvas.addEventListener(type, () => (this.last = null));
  }

  get empty(): boolean {
    return !this.inked;
  }

  clear(): void {
    this.paint();
    this.changed();
  }

  private paint(): void {
    this.ctx.fillStyle = PAPER;
    this.ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    this.inked = false;
    this.last = null;
  }

  /**
   * Puts a 28x28 MNIST digit (white ink on black) on the pad, scaled up, as dark ink on
   * paper, as if it had been drawn there; drawing on goes on from it.
   */
  show(digit: ArrayLike<number>, rows = 28, cols = 28): void {
    const { width, height } = this.canvas;
    const small = new ImageData(cols, rows);
    for (let i = 0; i < rows * cols; i++) {
      const v = 255 - digit[i];
      small.data.set([v, v, v, 255], 4 * i);
    }
    const scratch = document.createElement('canvas');
    scratch.width = cols;
    scratch.height = rows;
    scratch.getContext('2d')!.putImageData(small, 0, 0);
    this.paint();
    this.ctx.imageSmoothingEnabled = true;
    this.ctx.drawImage(scratch, 0, 0, width, height);
    this.inked = true;
    this.changed();
  }

  /** The drawing as MNIST bytes (white ink on black), or null while nothing is drawn. */
  digit(): Uint8Array | null {
    if (!this.inked) return null;
    const { width, height } = this.canvas;
    try {
      return mnistDigit(toGrey(this.ctx.getImageData(0, 0, width, height).data, width, height));
    } catch {
      return null; // "no digit found": a stroke too faint to count
    }
  }

  private down(e: PointerEvent): void {
    if (e.button !== 0) return;
    e.preventDefault();
    this.canvas.setPointerCapture(e.pointerId);
    this.last = this.at(e);
    this.segment(this.last, this.last); // a tap leaves a dot
  }

  private move(e: PointerEvent): void {
    if (!this.last) return;
    e.preventDefault();
    // Coalesced events keep fast strokes smooth where the browser batches them.
    const events = e.getCoalescedEvents?.() ?? [];
    for (const c of events.length ? events : [e]) {
      const p = this.at(c);
      this.segment(this.last, p);
      this.last = p;
    }
  }

  private segment(from: { x: number; y: number }, to: { x: number; y: number }): void {
    const c = this.ctx;
    c.strokeStyle = INK;
    c.lineWidth = PEN_WIDTH;
    c.lineCap = 'round';
    c.lineJoin = 'round';
    c.beginPath();
    c.moveTo(from.x, from.y);
    c.lineTo(to.x, to.y);
    c.stroke();
    this.inked = true;
    this.changed();
  }

  /** The event's position in canvas pixels (the canvas may be shown scaled). */
  private at(e: PointerEvent): { x: number; y: number } {
    const r = this.canvas.getBoundingClientRect();
    return { x: ((e.clientX - r.left) * this.canvas.width) / r.width, y: ((e.clientY - r.top) * this.canvas.height) / r.height };
  }
}

/** Shows a 28x28 digit on a 28x28 canvas (scaled up by CSS), as the model sees it. */
export function showDigit(canvas: HTMLCanvasElement, digit: Uint8Array | null): void {
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const image = ctx.createImageData(28, 28);
  for (let i = 0; i < 784; i++) {
    const v = digit ? digit[i] : 0;
    image.data.set([v, v, v, 255], 4 * i);
  }
  ctx.putImageData(image, 0, 0);
}
