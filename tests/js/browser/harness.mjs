// Helpers of the browser tests: start an example binary on an ephemeral port, launch Debian's
// chromium through playwright-core, and save screenshots when a step fails.
//
// The binary comes from an environment variable (set by ctest), else build-ex/bin/NAME or
// build/bin/NAME. Chromium is /usr/bin/chromium (scripts/install-deps.sh installs it; Playwright's
// own browser downloads are not used) or $NEXIOS_CHROMIUM. The machine has no network, so
// chromium runs with everything that would look something up turned off.

import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

import { HOST, startServer, withTimeout } from '../server.mjs';

export { HOST, startServer, withTimeout };

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..', '..');

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

/** The example binary NAME: $envVar, else build-ex/bin/NAME or build/bin/NAME. */
export function exampleBinary(name, envVar) {
  if (process.env[envVar]) return process.env[envVar];
  for (const dir of ['build-ex', 'build']) {
    const candidate = join(root, dir, 'bin', name);
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(`${name} binary not found: set ${envVar}`);
}

/** Where screenshots of failures go: $NEXIOS_ARTIFACTS_DIR (ctest: the build dir), else the temp dir. */
export function artifactsDir() {
  const dir = process.env.NEXIOS_ARTIFACTS_DIR || join(tmpdir(), 'nexios-browser-artifacts');
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * Launches headless chromium. Playwright gives it a fresh temporary profile (--user-data-dir) and
 * removes it on close; every browser context is a separate, empty session.
 */
export async function launchChromium() {
  const executablePath = process.env.NEXIOS_CHROMIUM || '/usr/bin/chromium';
  if (!existsSync(executablePath)) {
    throw new Error(`${executablePath} not found: run scripts/install-deps.sh (Debian's chromium package)`);
  }
  return chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS, timeout: 30000 });
}

/** Saves a full-page screenshot of each page as <dir>/<label>-<name>.png (best effort). */
export async function screenshotAll(pages, label) {
  const dir = artifactsDir();
  const saved = [];
  for (const [name, page] of Object.entries(pages)) {
    if (!page || page.isClosed()) continue;
    const path = join(dir, `${label.replace(/[^A-Za-z0-9_-]+/g, '_')}-${name}.png`);
    try {
      await page.screenshot({ path, fullPage: true, timeout: 5000 });
      saved.push(path);
    } catch {
      // the page may be gone; the original error matters more
    }
  }
  return saved;
}
