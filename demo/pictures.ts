/**
 * The page's pictures: the drawing pad and the bars of what the model makes of the
 * digit drawn, the feature maps of its conv layers for it, the first layer's
 * filters, and the last test pass's confusion matrix and most confident mistakes
 * (click one to put it on the pad). What they show comes from the session's
 * predictions (./predictions.ts) and figures (./figures.ts).
 */
import { renderConfusion, renderFeatureMaps, renderFilters, renderMistakes } from '../src/chart/pictures';
import { featureMapPicture, type Explanation } from '../src/train/inference';
import { $ } from './dom';
import type { TestPicture } from './figures';
import { DrawingPad, showDigit } from './pad';
import type { Filters } from './predictions';
import type { Session } from './session';

export class PictureView {
  readonly pad: DrawingPad;
  /** Whether the filters and the feature maps follow the weights while training (the checkbox). */
  readonly live = $<HTMLInputElement>('live');
  /** The probabilities shown for the drawing (null: none). */
  drawn: number[] | null = null;
  /** The feature maps last drawn for the pad's digit (null: none). */
  shownMaps: { name: string; values: number[] }[] | null = null;
  /** How many times the filters have been drawn. */
  filtersShown = 0;
  /** The predictions in flight for the drawing. */
  drawing: Promise<void> = Promise.resolve();
  /** The test pass whose pictures are shown. */
  private shownTest: TestPicture | null = null;
  private readonly bars = $('bars');
  private predicting = false;
  private again = false;
  /** The weights changed since the filters were last read. */
  private filtersStale = true;

  constructor(private readonly session: Session) {
    this.bars.replaceChildren(
      ...Array.from({ length: 10 }, (_, digit) => {
        const li = document.createElement('li');
        li.innerHTML = `<span class="digit">${digit}</span><span class="bar"><span></span></span><span class="value"></span>`;
        return li;
      }),
    );
    this.pad = new DrawingPad($<HTMLCanvasElement>('pad'), () => void this.predictDrawing());
    $('clear').addEventListener('click', () => this.pad.clear());
    this.live.addEventListener('change', () => {
      if (this.live.checked) void this.predictDrawing();
    });
    // A confusion cell's count, on hover and on tap.
    const showCell = (e: Event) => {
      const cell = (e.target as Element).closest?.('.cell');
      if (!cell) return;
      for (const c of Array.from($('confusion').querySelectorAll('.cell.chosen'))) c.classList.remove('chosen');
      cell.classList.add('chosen');
      $('confusion-cell').textContent = cell.querySelector('title')?.textContent ?? '';
    };
    $('confusion').addEventListener('pointerover', showCell);
    $('confusion').addEventListener('click', showCell);
    $('mistakes').addEventListener('click', (e) => {
      const tile = (e.target as Element).closest?.('[data-index]');
      const m = tile && this.shownTest?.mistakes.find((x) => x.index === Number(tile.getAttribute('data-index')));
      if (m) this.pad.show(m.pixels, m.rows, m.cols);
    });
  }

  /** The model's weights changed: the filters are stale, the drawing is predicted again. */
  weightsChanged(): void {
    this.filtersStale = true;
    void this.predictDrawing();
  }

  /** Shows a new test pass's pictures. */
  render(): void {
    const test = this.session.figures.lastTest;
    if (test !== this.shownTest) this.showTestPictures(test);
  }

  /**
   * Redraws what depends on the drawing and the weights: the bars, the feature maps and,
   * when the weights changed, the filters, all read back at one sync point (a wait the
   * training loop shares). While one runs, the latest strokes wait for the next.
   */
  predictDrawing(): Promise<void> {
    if (this.predicting) {
      this.again = true;
      return this.drawing;
    }
    this.predicting = true;
    this.drawing = (async () => {
      const { session } = this;
      try {
        do {
          this.again = false;
          const digit = this.pad.digit();
          showDigit($<HTMLCanvasElement>('seen'), digit);
          if (!session.model.hasModel || !session.adapter) {
            this.drawn = null;
            this.showMaps(null);
            this.showFilters(null);
            this.showBars(null, !session.adapter ? 'Predictions need WebGPU.' : 'Train or load a model to see what it makes of your digit.');
            continue;
          }
          // The pictures follow the weights always, but while training only when asked to.
          const pictures = this.live.checked || !session.running;
          const filters = pictures && this.filtersStale;
          this.filtersStale &&= !filters;
          if (pictures && (digit || filters)) {
            const r = await session.predictions.pictures(digit, filters);
            if (r.filters) this.showFilters(r.filters);
            this.drawn = r.explanation && Array.from(r.explanation.probabilities);
            if (!this.again) this.showMaps(r.explanation?.maps ?? null);
          } else {
            this.drawn = digit && Array.from((await session.predictions.predict([digit]))[0]);
          }
          if (!this.again) this.showBars(this.drawn, 'Draw a digit in the box.');
        } while (this.again);
      } catch (err) {
        this.drawn = null;
        this.filtersStale = true;
        this.showBars(null, `Could not predict: ${(err as Error).message}`);
      } finally {
        this.predicting = false;
      }
    })();
    return this.drawing;
  }

  private showBars(p: number[] | null, note?: string): void {
    const best = p ? p.indexOf(Math.max(...p)) : -1;
    Array.from(this.bars.children).forEach((li, digit) => {
      li.classList.toggle('best', digit === best);
      (li.querySelector('.bar > span') as HTMLElement).style.width = `${p ? 100 * p[digit] : 0}%`;
      li.querySelector('.value')!.textContent = p ? `${(100 * p[digit]).toFixed(1)}%` : '';
    });
    $('guess').textContent = p ? `It looks like a ${best} (${(100 * p[best]).toFixed(1)}%).` : (note ?? '');
    $('guess').dataset.digit = p ? String(best) : '';
  }

  /** The first conv layer's filters (null: no model). */
  private showFilters(f: Filters | null): void {
    const box = $('filters');
    if (!f) {
      box.innerHTML = '<p class="note">Train or load a model to see its filters.</p>';
      return;
    }
    box.innerHTML = renderFilters(f.weights, f.shape, { title: `${f.layer}: ${f.shape[0]} filters of ${f.shape[2]}×${f.shape[3]} (light: positive, dark: negative)` });
    this.filtersShown++;
  }

  private showMaps(maps: Explanation['maps'] | null): void {
    const box = $('maps');
    if (!maps) {
      this.shownMaps = null;
      box.innerHTML = '<p class="note">The conv layers\' feature maps for your digit.</p>';
      return;
    }
    this.shownMaps = maps.map((m) => ({ name: m.name, values: Array.from(m.values) }));
    box.innerHTML = renderFeatureMaps(maps.map((m) => featureMapPicture(m, `${m.label}: ${m.shape.join(' × ')}`)));
  }

  private showTestPictures(t: TestPicture | null): void {
    this.shownTest = t;
    $('confusion').innerHTML = t ? renderConfusion(t.confusion, { title: `after epoch ${t.epoch}` }) : '<p class="note">Shown after each epoch\'s test pass.</p>';
    $('mistakes').innerHTML = t ? renderMistakes(t.mistakes, { columns: 6, title: `${t.missed} of ${t.confusion.flat().reduce((a, b) => a + b, 0)} test images missed` }) : '';
    $('confusion-cell').textContent = 'Point at a cell, or tap it, for its count.';
  }
}
