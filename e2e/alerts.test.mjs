// Browser test of the alerts on the page (static/js/alerts.js): the real
// whisperserver with a rules file and a state folder, over whisper files
// made by whisper.py; the page in headless Chromium lists the firing
// alert, and the chart of the rule's series draws the threshold line at
// the threshold and shades the firing periods at their times.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { chromiumMissing, launch, watchConsole } from './lib/browser.mjs';
import { series, tempDir, whisperPyMissing, writeMetrics } from './lib/fixture.mjs';
import { skipReason } from './lib/prereq.mjs';
import { SCREENSHOTS, startServer, waitFor } from './lib/server.mjs';

const SKIP = skipReason([chromiumMissing(), whisperPyMissing()]);
const T = { timeout: 40000, skip: SKIP };
const NAME = 'app.queue.depth';
let browser;
let server;
let dir;
let past; // the firing period the state file holds: [from, until] (seconds)

before(async () => {
  if (SKIP) return;
  dir = tempDir('dc-e2e-alerts-');
  const whisper = path.join(dir, 'whisper');
  // 10 s points over the last hour: 40 except the last 6 points (150).
  const pts = series(360, 10, (i) => (i >= 354 ? 150 : 40 + (i % 5)));
  writeMetrics(whisper, [{ name: NAME, archives: [[10, 8640]], xff: 0, agg: 'average', points: pts }]);
  fs.writeFileSync(path.join(dir, 'alerts.toml'), `
[[rule]]
name = "QueueTooLong"
target = "${NAME}"
above = 100
every = "1s"
window = "2m"
summary = "queue at {{value}}"
`);
  // An earlier firing period, 40 to 25 minutes ago, as a previous run
  // of whisperserver left it in the state folder.
  const now = Math.floor(Date.now() / 1000);
  past = [now - 2400, now - 1500];
  const state = path.join(dir, 'state');
  fs.mkdirSync(state);
  const ev = (id, when, from, to) => ({ id, when, what: `QueueTooLong ${to}: ${NAME}`, data: 'queue at 150',
    tags: ['alert', 'QueueTooLong', to], rule: 'QueueTooLong', series: NAME, from, state: to, value: 150 });
  fs.writeFileSync(path.join(state, 'alerts-state.json'), JSON.stringify({
    version: 1, saved: new Date().toISOString(), alerts: {},
    events: [ev(1, past[0], 'ok', 'firing'), ev(2, past[1], 'firing', 'resolved')],
  }));
  server = await startServer(whisper, 0, { args: ['-alerts', path.join(dir, 'alerts.toml'), '-alerts-state-dir', state] });
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('the alert list shows the firing alert; the chart draws the threshold and the firing periods', T, async () => {
  const page = await browser.context.newPage();
  const errors = watchConsole(page);
  await page.goto(`${server.url}?c=${NAME}&from=-1h`);
  const item = page.locator(`.alert-item[data-rule="QueueTooLong"][data-series="${NAME}"]`);
  await waitFor('the firing alert in the list', async () => (await item.getAttribute('data-state')) === 'firing');
  assert.equal(await page.textContent('.alerts-title'), 'Alerts: 1 firing');
  assert.match(await item.textContent(), /queue at 150/);

  const svg = page.locator('.chart svg.plot');
  const line = page.locator('.chart line.alert-threshold[data-rule="QueueTooLong"]');
  await line.waitFor({ state: 'attached' });
  // The axes and the marks are read in one go: an auto-refresh redraws
  // the chart 10 s further on.
  const read = () => svg.evaluate((s) => ({
    ax: { from: +s.dataset.from, until: +s.dataset.until, ymin: +s.dataset.yMin, ymax: +s.dataset.yMax,
      w: +s.dataset.plotWidth, h: +s.dataset.plotHeight },
    y: +s.querySelector('line.alert-threshold[data-rule="QueueTooLong"]').getAttribute('y1'),
    rects: [...s.querySelectorAll('rect.alert-firing')].map((r) => ({
      x: +r.getAttribute('x'), w: +r.getAttribute('width'), until: r.dataset.until })),
  }));
  let { ax, y } = await read();
  const v = ax.ymax - (y / ax.h) * (ax.ymax - ax.ymin);
  assert.ok(Math.abs(v - 100) < (ax.ymax - ax.ymin) / ax.h + 1e-9, `threshold line at ${v}, want 100`);

  // Two shaded periods: the one from the state file, and the live one
  // (fired at start, still firing: it reaches the right edge).
  await waitFor('two firing periods', async () => (await page.locator('.chart rect.alert-firing').count()) === 2);
  let rects;
  ({ ax, rects } = await read());
  const t = (px) => ax.from + (px / ax.w) * (ax.until - ax.from);
  const tol = 2 * (ax.until - ax.from) / ax.w;
  const old = rects.find((r) => r.until !== '');
  assert.ok(old, `a closed period among ${JSON.stringify(rects)}`);
  assert.ok(Math.abs(t(old.x) - past[0]) <= tol, `period starts at ${t(old.x)}, want ${past[0]}`);
  assert.ok(Math.abs(t(old.x + old.w) - past[1]) <= tol, `period ends at ${t(old.x + old.w)}, want ${past[1]}`);
  const live = rects.find((r) => r.until === '');
  assert.ok(live && live.x + live.w >= ax.w - 2 * tol / ((ax.until - ax.from) / ax.w) - 2,
    `the live period reaches the right edge: ${JSON.stringify(live)} of ${ax.w}`);
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, 'alerts-chart.png') });
  assert.deepEqual(errors, []);
  await page.close();
});
