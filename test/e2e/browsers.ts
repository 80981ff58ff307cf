// The browsers the page's test drives, behind one small interface, so that one test
// runs unchanged in each: Debian's chromium through playwright-core (as
// src/cli/shared/chromium.ts launches it) and Firefox ESR through puppeteer-core over
// WebDriver BiDi. Neither library downloads a browser here: both start the system's.
//
// Without a GPU, Chromium's WebGPU runs on SwiftShader (its own). Firefox's runs on a
// Vulkan driver only: we point it at Chromium's SwiftShader where that is installed, so
// the page computes on the very driver Node's `--adapter swiftshader` does, and leave it
// to the system's drivers (Mesa's lavapipe) otherwise.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page as PlaywrightPage } from 'playwright-core';
import puppeteer, { type Browser as PuppeteerBrowser, type Page as PuppeteerPage } from 'puppeteer-core';
import { chromiumMissing, launchChromium } from '../../src/cli/shared/chromium';

export const BROWSERS = ['chromium', 'firefox'] as const;
export type BrowserName = (typeof BROWSERS)[number];

/** LENET_FIREFOX overrides the browser binary. */
const FIREFOX = process.env.LENET_FIREFOX ?? '/usr/bin/firefox-esr';
const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
const VIEWPORT = { width: 1280, height: 900 };

/** What the test does with a page, in either browser. */
// The libraries' own types for evaluate differ (handles, serialisation); the test passes
// only JSON-like values, so both are called through this one plain signature.
export interface TestPage {
  goto(url: string): Promise<void>;
  evaluate<R, A = undefined>(fn: (arg: A) => R | Promise<R>, arg?: A): Promise<R>;
  click(selector: string): Promise<void>;
  /** Replaces an input's value by typing `text` into it. */
  type(selector: string, text: string): Promise<void>;
  mouse: { move(x: number, y: number, steps?: number): Promise<void>; down(): Promise<void>; up(): Promise<void> };
  /** Gives a file input one file, as the file picker does. */
  setFile(selector: string, name: string, bytes: Uint8Array): Promise<void>;
  /** Clicks `selector` and returns the file the page saves. */
  download(selector: string): Promise<{ filename: string; bytes: Uint8Array }>;
  /** Fails every request whose URL ends with `suffix` as a dropped connection (null: none). */
  failRequests(suffix: string | null): Promise<void>;
  screenshot(path: string): Promise<void>;
  close(): Promise<void>;
}

export interface TestBrowser {
  name: BrowserName;
  /** The browser's version, and for Firefox the Vulkan driver its WebGPU runs on. */
  version: string;
  /**
   * A new page. `webgpu: false`: one without WebGPU (Chromium: navigator.gpu hidden by
   * a script; Firefox: a second Firefox with dom.webgpu.enabled off, closed with it).
   * Uncaught errors of every page go to `onError`.
   */
  newPage(options?: { webgpu?: boolean }): Promise<TestPage>;
  close(): Promise<void>;
}

/** Why `name` cannot run here, or null. */
export function browserMissing(name: BrowserName): string | null {
  if (name === 'chromium') return chromiumMissing();
  return existsSync(FIREFOX) ? null : `${FIREFOX} not found: install firefox-esr with scripts/install-deps.sh (or set LENET_FIREFOX)`;
}

export function launchBrowser(name: BrowserName, onError: (message: string) => void): Promise<TestBrowser> {
  return name === 'chromium' ? launchChromiumForTest(onError) : launchFirefox(onError);
}

// ------------------------------------------------------------ Chromium (playwright-core)

async function launchChromiumForTest(onError: (message: string) => void): Promise<TestBrowser> {
  const browser = await launchChromium(VIEWPORT);
  const wrap = (page: PlaywrightPage): TestPage => {
    page.on('pageerror', (e) => onError(e.message));
    return chromiumPage(page);
  };
  let first: PlaywrightPage | null = browser.page;
  return {
    name: 'chromium',
    version: `Chromium ${browser.context.browser()?.version() ?? ''}`.trim(),
    async newPage({ webgpu = true } = {}) {
      const page = first ?? (await browser.context.newPage());
      first = null;
      if (!webgpu) await page.addInitScript(() => Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined }));
      return wrap(page);
    },
    close: () => browser.close(),
  };
}

function chromiumPage(page: PlaywrightPage): TestPage {
  let failing: string | null = null;
  const route = (url: URL) => failing !== null && url.pathname.endsWith(failing);
  return {
    goto: async (url) => void (await page.goto(url)),
    evaluate: (fn, arg) => page.evaluate(fn as (a: unknown) => unknown, arg) as never,
    click: (selector) => page.click(selector),
    type: (selector, text) => page.fill(selector, text),
    mouse: {
      move: (x, y, steps) => page.mouse.move(x, y, steps ? { steps } : undefined),
      down: () => page.mouse.down(),
      up: () => page.mouse.up(),
    },
    setFile: (selector, name, bytes) => page.setInputFiles(selector, { name, mimeType: 'application/octet-stream', buffer: Buffer.from(bytes) }),
    async download(selector) {
      const [download] = await Promise.all([page.waitForEvent('download'), page.click(selector)]);
      return { filename: download.suggestedFilename(), bytes: readFileSync(await download.path()) };
    },
    async failRequests(suffix) {
      if (suffix === null) await page.unroute(route);
      else await page.route(route, (r) => r.abort('connectionfailed'));
      failing = suffix;
    },
    screenshot: async (path) => void (await page.screenshot({ path, fullPage: true })),
    close: () => page.close(),
  };
}

// ------------------------------------------------------------ Firefox (puppeteer-core, WebDriver BiDi)

async function launchFirefox(onError: (message: string) => void): Promise<TestBrowser> {
  const missing = browserMissing('firefox');
  if (missing) throw new Error(missing);
  const home = mkdtempSync(join(tmpdir(), 'lenet-firefox-'));
  const downloads = join(home, 'downloads');
  mkdirSync(downloads);
  const vulkan = existsSync(SWIFTSHADER_ICD) ? 'SwiftShader' : "the system's Vulkan drivers";
  const start = (webgpu: boolean) =>
    puppeteer.launch({
      browser: 'firefox',
      executablePath: FIREFOX,
      headless: true,
      defaultViewport: VIEWPORT,
      extraPrefsFirefox: { 'dom.webgpu.enabled': webgpu, 'gfx.webgpu.ignore-blocklist': true },
      // Firefox writes to $HOME and wants a runtime directory: give it throwaway ones.
      env: {
        ...process.env,
        HOME: home,
        XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? tmpdir(),
        ...(existsSync(SWIFTSHADER_ICD) ? { VK_ICD_FILENAMES: SWIFTSHADER_ICD } : {}),
      },
    });
  const browser = await start(true);
  // Downloads land in a folder of ours only in a context that says so.
  const context = await browser.createBrowserContext({ downloadBehavior: { policy: 'allow', downloadPath: downloads } });
  const others: PuppeteerBrowser[] = [];
  const wrap = (page: PuppeteerPage, owner: PuppeteerBrowser | null): TestPage => {
    page.on('pageerror', (e) => onError(e instanceof Error ? e.message : String(e)));
    return firefoxPage(page, downloads, home, owner);
  };
  return {
    name: 'firefox',
    version: `${(await browser.version()).replace('firefox/', 'Firefox ')} on ${vulkan}`,
    async newPage({ webgpu = true } = {}) {
      if (webgpu) return wrap(await context.newPage(), null);
      const other = await start(false);
      others.push(other);
      return wrap(await other.newPage(), other);
    },
    async close() {
      for (const b of [...others, browser]) await b.close().catch(() => {});
      rmSync(home, { recursive: true, force: true });
    },
  };
}

function firefoxPage(page: PuppeteerPage, downloads: string, home: string, owner: PuppeteerBrowser | null): TestPage {
  let failing: string | null = null;
  let intercepting = false;
  return {
    goto: async (url) => void (await page.goto(url)),
    evaluate: (fn, arg) => page.evaluate(fn as (a: unknown) => unknown, arg) as never,
    click: (selector) => page.click(selector),
    type: (selector, text) => page.locator(selector).fill(text),
    mouse: {
      move: (x, y, steps) => page.mouse.move(x, y, steps ? { steps } : undefined),
      down: () => page.mouse.down(),
      up: () => page.mouse.up(),
    },
    async setFile(selector, name, bytes) {
      // WebDriver BiDi sets files by path: the bytes go to a file of that name first.
      const dir = mkdtempSync(join(home, 'upload-'));
      writeFileSync(join(dir, name), bytes);
      const input = await page.$(selector);
      if (!input) throw new Error(`setFile: no ${selector} on the page`);
      await (input as unknown as { uploadFile(path: string): Promise<void> }).uploadFile(join(dir, name));
    },
    async download(selector) {
      for (const f of readdirSync(downloads)) rmSync(join(downloads, f), { force: true });
      await page.click(selector);
      // Firefox writes NAME.part (or a file of a random name), then renames it to NAME
      // when the download is complete: a name seen twice in a row that still reads is it.
      const deadline = Date.now() + 30_000;
      let seen: string | null = null;
      for (;;) {
        const files = readdirSync(downloads);
        const done = files.filter((f) => !f.endsWith('.part'));
        const name = done.length === 1 && files.length === 1 ? done[0] : null;
        if (name !== null && name === seen) {
          try {
            return { filename: name, bytes: readFileSync(join(downloads, name)) };
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err; // renamed meanwhile: look again
          }
        }
        seen = name;
        if (Date.now() > deadline) throw new Error(`download: nothing saved within 30 s of clicking ${selector} (${downloads}: ${files.join(', ') || 'empty'})`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async failRequests(suffix) {
      failing = suffix;
      if (intercepting) return;
      intercepting = true;
      await page.setRequestInterception(true);
      page.on('request', (r) => {
        if (r.isInterceptResolutionHandled()) return;
        if (failing !== null && new URL(r.url()).pathname.endsWith(failing)) void r.abort('connectionfailed');
        else void r.continue();
      });
    },
    screenshot: async (path) => void (await page.screenshot({ path, fullPage: true })),
    async close() {
      await page.close();
      if (owner) await owner.close();
    },
  };
}
