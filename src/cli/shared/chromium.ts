// Headless Chromium for the page's tests and benchmark: Debian's chromium (installed
// by scripts/install-deps.sh), driven by playwright-core, which downloads no browser
// of its own. Without a GPU, Chromium's WebGPU runs on SwiftShader.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/** LENET_CHROMIUM overrides the browser binary. */
export const CHROMIUM = process.env.LENET_CHROMIUM ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--enable-unsafe-webgpu', // WebGPU on Linux, where Chromium does not enable it by default
  '--no-sandbox', // CI runs as root
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
];

export interface Browser {
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

export function chromiumMissing(): string | null {
  return existsSync(CHROMIUM) ? null : `${CHROMIUM} not found: install it with scripts/install-deps.sh (or set LENET_CHROMIUM)`;
}

/** A headless Chromium with a fresh profile, and its first page. */
export async function launchChromium(viewport = { width: 1280, height: 900 }): Promise<Browser> {
  const missing = chromiumMissing();
  if (missing) throw new Error(missing);
  const profile = mkdtempSync(join(tmpdir(), 'lenet-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport,
    acceptDownloads: true,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    close: async () => {
      await context.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
