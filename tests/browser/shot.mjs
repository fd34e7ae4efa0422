// tests/browser/shot.mjs URL OUT.png [WIDTHxHEIGHT] [WAIT_SELECTOR] - one
// screenshot with Debian's Chromium, printing the page's console errors.
// A helper for looking at the dashboard by hand.
import { chromium } from 'playwright-core';

const [url, out, size = '1280x860', wait] = process.argv.slice(2);
const [width, height] = size.split('x').map(Number);
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'] });
const page = await browser.newPage({ viewport: { width, height } });
page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') console.log('console.' + m.type() + ':', m.text()); });
page.on('pageerror', (e) => console.log('pageerror:', e.message));
await page.goto(url);
if (wait) await page.waitForSelector(wait, { timeout: 10000 });
await page.waitForTimeout(800);
await page.screenshot({ path: out, fullPage: true });
await browser.close();
