// check.mjs REPORT.html SHOT.png: opens the report in Debian's headless
// Chromium, fails on any console error, page error or failed request, checks
// that every chart is drawn (an inline SVG with content and a size), that no
// two texts of a chart overlap (titles, axis and tick labels, row labels,
// legend entries: their boxes as the browser lays them out, in the fonts it
// has) and that none spills out of its chart, that the choosing table
// sorts by every column both ways, that every row's worst fault is on the
// first screen at 1280×900, and saves a full-page screenshot (SHOT) and
// one of the first screen (SHOT's name with -first).
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
  // Overlapping and spilling text, per chart. Two boxes overlap when they
  // share more than half a pixel both ways: glyph boxes include the
  // font's ascent and descent, so touching rows do not count.
  const texts = await page.$$eval('svg', (svgs) => svgs.map((s) => {
    const r = s.getBoundingClientRect();
    const items = [...s.querySelectorAll('text')].map((t) => {
      const b = t.getBoundingClientRect();
      return { text: t.textContent.trim(), x0: b.left, y0: b.top, x1: b.right, y1: b.bottom };
    }).filter((t) => t.text !== '' && t.x1 > t.x0 && t.y1 > t.y0);
    return { box: { x0: r.left, y0: r.top, x1: r.right, y1: r.bottom }, items };
  }));
  const slack = 0.5;
  let compared = 0;
  texts.forEach((c, i) => {
    const name = `chart ${i + 1} (${JSON.stringify(c.items[0]?.text ?? '')})`;
    const found = [];
    for (const t of c.items) {
      if (t.x0 < c.box.x0 - slack || t.y0 < c.box.y0 - slack || t.x1 > c.box.x1 + slack || t.y1 > c.box.y1 + slack) {
        found.push(`${name}: text ${JSON.stringify(t.text)} spills out of its chart`);
      }
    }
    for (let a = 0; a < c.items.length; a++) {
      for (let b = a + 1; b < c.items.length; b++) {
        const p = c.items[a], q = c.items[b];
        compared++;
        const w = Math.min(p.x1, q.x1) - Math.max(p.x0, q.x0);
        const h = Math.min(p.y1, q.y1) - Math.max(p.y0, q.y0);
        if (w > slack && h > slack) {
          found.push(`${name}: text ${JSON.stringify(p.text)} overlaps text ${JSON.stringify(q.text)} (${w.toFixed(1)}×${h.toFixed(1)} px)`);
        }
      }
    }
    problems.push(...found.slice(0, 10));
    if (found.length > 10) problems.push(`${name}: ${found.length - 10} more overlapping or spilling texts`);
  });
  // The choosing table sorts by any column: click each heading, once
  // for ascending and once for descending, and read the column back:
  // numbers by data-value, words by text, cells without a value last.
  const sorted = await page.$$eval('#choosing thead th', async (heads) => {
    const table = document.getElementById('choosing');
    const out = [];
    for (let col = 0; col < heads.length; col++) {
      const th = heads[col];
      const numeric = th.getAttribute('data-type') === 'number';
      for (const want of ['ascending', 'descending']) {
        th.querySelector('button').click();
        if (th.getAttribute('aria-sort') !== want) {
          out.push(`choosing table, column ${JSON.stringify(th.textContent)}: aria-sort ${th.getAttribute('aria-sort')} after a click, want ${want}`);
          continue;
        }
        const vals = [...table.tBodies[0].rows].map((r) => r.cells[col].getAttribute('data-value'));
        const have = vals.filter((v) => v !== null);
        if (vals.slice(0, have.length).some((v) => v === null)) {
          out.push(`choosing table, column ${JSON.stringify(th.textContent)} (${want}): a cell without a value sorts before one with`);
        }
        for (let i = 1; i < have.length; i++) {
          let d = numeric ? parseFloat(have[i - 1]) - parseFloat(have[i]) : have[i - 1].localeCompare(have[i]);
          if (want === 'descending') d = -d;
          if (d > 0) {
            out.push(`choosing table, column ${JSON.stringify(th.textContent)} (${want}): ${have[i - 1]} before ${have[i]}`);
            break;
          }
        }
      }
    }
    return { columns: heads.length, problems: out };
  });
  problems.push(...sorted.problems);
  // The first screen as a reader sees it (the choosing table in its
  // first order: reload), then the whole page. On it, every row of the
  // choosing table shows its worst fault (what a bad plugin can do to
  // the host), in full view, with each fault's detail on hover.
  await page.reload({ waitUntil: 'load' });
  const firstScreen = await page.evaluate(({ w, h }) => {
    const table = document.getElementById('choosing');
    if (!table) return { rows: 0, problems: [] };
    const head = table.querySelector('thead th[data-key="safety"]');
    if (!head) return { rows: 0, problems: ['choosing table: no worst-fault column (data-key="safety")'] };
    const col = [...head.parentElement.children].indexOf(head);
    const out = [];
    const rows = [...table.tBodies[0].rows];
    for (const r of rows) {
      const name = JSON.stringify(r.cells[0].textContent.trim());
      const c = r.cells[col];
      const b = c.getBoundingClientRect();
      if (c.textContent.trim() === '') out.push(`first screen: the worst fault of ${name} is empty`);
      if (b.left < 0 || b.top < 0 || b.right > w || b.bottom > h) {
        out.push(`first screen: the worst fault of ${name} is off the first screen at ${w}×${h} (at ${Math.round(b.left)},${Math.round(b.top)})`);
      }
      if (c.hasAttribute('data-value') && !c.title) out.push(`first screen: the worst fault of ${name} has no detail on hover`);
    }
    return { rows: rows.length, problems: out };
  }, { w: 1280, h: 900 });
  problems.push(...firstScreen.problems.slice(0, 10));
  await page.screenshot({ path: shot.replace(/\.png$/, '') + '-first.png' });
  await page.screenshot({ path: shot, fullPage: true });
  const ntext = texts.reduce((n, c) => n + c.items.length, 0);
  console.log(`report-check: ${report}: ${charts.length} charts drawn, ${ntext} texts, ${compared} pairs compared, ` +
    `${sorted.columns} columns of the choosing table sorted each way and read back, ` +
    `the worst fault of ${firstScreen.rows} rows on the first screen, screenshots ${shot} and its -first.png`);
} finally {
  await browser.close();
}
if (problems.length > 0) {
  for (const p of problems) console.error(`report-check: ${p}`);
  process.exit(1);
}
