// check.mjs REPORT.html SHOT.png: opens the report in Debian's headless
// Chromium, fails on any console error, page error or failed request, checks
// that every chart is drawn (an inline SVG with content and a size), and saves
// a full-page screenshot.
import { chromium } from 'playwright-core';
import { pathToFileURL } from 'node:url';
import path from 'node:path';

const [report, shot] = process.argv.slice(2);
if (!report || !shot) {
  console.error('usage: node check.mjs REPORT.html SHOT.png');
  process.exit(2);
}
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const problems = [];
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}: ${r.failure()?.errorText}`));
  page.on('request', (r) => {
    if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) problems.push(`network request: ${r.url()}`);
  });
  await page.goto(pathToFileURL(path.resolve(report)).href, { waitUntil: 'load' });
  const charts = await page.$$eval('svg', (svgs) => svgs.map((s) => {
    const r = s.getBoundingClientRect();
    return { w: r.width, h: r.height, shapes: s.querySelectorAll('path, line, polyline, rect, circle, text').length };
  }));
  if (charts.length === 0) problems.push('no chart (inline svg) in the page');
  charts.forEach((c, i) => {
    if (c.w < 100 || c.h < 100 || c.shapes < 10) problems.push(`chart ${i + 1} not drawn: ${JSON.stringify(c)}`);
  });
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`report-check: ${report}: ${charts.length} charts drawn, screenshot ${shot}`);
} finally {
  await browser.close();
}
if (problems.length > 0) {
  for (const p of problems) console.error(`report-check: ${p}`);
  process.exit(1);
}
