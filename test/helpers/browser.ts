/**
 * A headless chromium for the browser tests (Debian's package, driven by
 * playwright-core), and where their screenshots go (.screenshots/, gitignored).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { ROOT } from './harness.js';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SCREENSHOTS = join(ROOT, '.screenshots');

/**
 * A reason to skip the browser tests, or false when chromium is there. In CI a
 * missing chromium is an error, never a skip: .ci/run installs it.
 */
export const NO_BROWSER: string | false = existsSync(CHROMIUM)
  ? false
  : `no chromium at ${CHROMIUM} (apt-get install -y chromium)`;
if (NO_BROWSER && process.env.CI) throw new Error(`browser tests: ${NO_BROWSER}`);

/** `extraArgs`: e.g. for pages served by page.route, which chromium's local-network checks treat as public. */
export function launchBrowser(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...extraArgs,
    ],
  });
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}
