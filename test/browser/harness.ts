import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { AxeBuilder } from '@axe-core/playwright';

/** Debian's Chromium (installed by .ci/run), with the flags that keep it quiet on this machine. */
export const CHROMIUM = process.env.GATEHOUSE_CHROMIUM ?? '/usr/bin/chromium';
export const ARTIFACTS = join(import.meta.dirname, '..', '..', 'test-artifacts', 'console');

/** A launched Chromium with a fresh profile. */
export interface TestBrowser {
  readonly browser: Browser;
  /** A new context (own cookie jar) whose pages carry the XSS and CSP traps. */
  context(): Promise<BrowserContext>;
  close(): Promise<void>;
}

/** Runs before any page script (browser-side source, as text: this file is compiled for Node). */
const TRAPS = `
  window.__xss = 0;
  window.__csp = [];
  document.addEventListener('securitypolicyviolation', (e) => { window.__csp.push(e.violatedDirective + ' ' + e.blockedURI); });
`;

export async function launchBrowser(): Promise<TestBrowser> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--no-first-run'], // playwright gives it a fresh temporary profile (--user-data-dir) and removes it
  });
  return {
    browser,
    async context() {
      const ctx = await browser.newContext({ viewport: { width: 1360, height: 900 } });
      // Page-level traps: a payload that ran would set window.__xss; CSP violations are kept.
      await ctx.addInitScript({ content: TRAPS });
      return ctx;
    },
    async close() {
      await browser.close();
    },
  };
}

/** Console errors and CSP reports collected from a page (checked to be empty at the end). */
export function watch(page: Page): { errors: string[] } {
  const errors: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => { errors.push(`pageerror: ${e.message}`); });
  return { errors };
}

/** The traps' state: XSS executions and CSP violations seen by the page. */
export async function traps(page: Page): Promise<{ xss: number; csp: string[] }> {
  return page.evaluate('({ xss: window.__xss, csp: window.__csp })');
}

/** axe-core on the current page: the serious and critical violations (id: help). */
export async function seriousA11y(page: Page): Promise<string[]> {
  const r = await new AxeBuilder({ page }).analyze();
  return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.help} (${v.nodes.length})`);
}

/** Saves a full-page screenshot as a test artifact; returns its path. */
export async function shot(page: Page, name: string): Promise<string> {
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
