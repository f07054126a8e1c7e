// Headless Chromium (Debian's /usr/bin/chromium) driven by playwright-core,
// with a fresh profile per launch. Shared by the browser tests and
// bench/frontend.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

const ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

// chromiumMissing says why Chromium cannot run here, or returns ''.
export function chromiumMissing() {
  return fs.existsSync(CHROMIUM) ? '' : `${CHROMIUM} not found: install Debian's chromium package (apt-get install chromium)`;
}

// launch starts Chromium with a fresh user-data-dir; close() also removes it.
export async function launch({ colorScheme = 'light', viewport = { width: 1280, height: 860 } } = {}) {
  const missing = chromiumMissing();
  if (missing) throw new Error(missing);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'dc-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport,
    colorScheme,
    timezoneId: process.env.E2E_TZ || 'Europe/Berlin',
    locale: 'en-GB',
  });
  // Fail a step with its own message well before the test's timeout.
  context.setDefaultTimeout(10000);
  context.setDefaultNavigationTimeout(30000);
  return {
    context,
    async close() {
      await context.close().catch(() => {});
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

// watchConsole records console errors and page errors of a page.
export function watchConsole(page) {
  const errors = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`console: ${msg.text()}`);
  });
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  return errors;
}
