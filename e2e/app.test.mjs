// Browser tests: the real whisperserver (bin/whisperserver) over whisper
// files made by Graphite's whisper.py, the page in headless Chromium.
// Screenshots of each main state go to .build/screenshots/ (SCREENSHOTS=).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromiumMissing, launch, watchConsole } from './lib/browser.mjs';
import { series, standardFixture, tempDir, whisperPyMissing, writeMetrics } from './lib/fixture.mjs';
import { skipReason } from './lib/prereq.mjs';
import { SCREENSHOTS, startServer, waitFor } from './lib/server.mjs';

const SKIP = skipReason([chromiumMissing(), whisperPyMissing()]);
const T = { timeout: 30000, skip: SKIP };
// A flat line has an empty bounding box, which Playwright calls hidden.
const ATTACHED = { state: 'attached' };
let browser;
let server;
let fixture;
let dir;

async function shot(page, name) {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: false });
  return file;
}

async function rowLabels(page) {
  return page.$$eval('.mrow', (rows) => rows
    .sort((a, b) => a.dataset.index - b.dataset.index)
    .map((r) => r.querySelector('.mrow-label').textContent));
}

// drawnPoints reads a series' SVG path and maps it back through the axes
// the chart publishes: [{t, v}] plus the number of separate runs (gaps).
async function drawnPoints(page, name, chart = 0) {
  const c = page.locator('.chart').nth(chart);
  const ax = await c.locator('svg.plot').evaluate((s) => ({
    from: +s.dataset.from, until: +s.dataset.until, ymin: +s.dataset.yMin, ymax: +s.dataset.yMax,
    w: +s.dataset.plotWidth, h: +s.dataset.plotHeight,
  }));
  const d = await c.locator(`path.line[data-name="${name}"]`).getAttribute('d');
  const lone = await c.locator('circle.lone').evaluateAll((cs) => cs.map((e) => [+e.getAttribute('cx'), +e.getAttribute('cy')]));
  const pts = [];
  let runs = 0;
  for (const m of d.matchAll(/([ML])\s*(-?[\d.]+(?:e-?\d+)?)[ ,](-?[\d.]+(?:e-?\d+)?)/g)) {
    if (m[1] === 'M') runs++;
    pts.push([+m[2], +m[3]]);
  }
  const inv = ([x, y]) => ({ t: ax.from + (x / ax.w) * (ax.until - ax.from), v: ax.ymax - (y / ax.h) * (ax.ymax - ax.ymin) });
  return { ax, runs, d, points: pts.map(inv), lone: lone.map(inv) };
}

// assertMatchesFixture: every drawn point is a fixture point (time within
// half a step, value within a pixel), and every fixture point well inside
// the range is drawn.
function assertMatchesFixture(drawn, fx, step) {
  const { ax } = drawn;
  const tolV = (ax.ymax - ax.ymin) / ax.h + 1e-9;
  const tolT = Math.max(step / 2, (ax.until - ax.from) / ax.w);
  const known = fx.points.filter(([, v]) => v !== null);
  assert.ok(drawn.points.length > 0, 'the path has points');
  for (const p of drawn.points) {
    const f = known.find(([t]) => Math.abs(t - p.t) <= tolT);
    assert.ok(f, `drawn point at ${p.t} (${p.v}) has no fixture point near it`);
    assert.ok(Math.abs(f[1] - p.v) <= tolV, `at ${f[0]}: drawn ${p.v}, fixture ${f[1]} (tolerance ${tolV})`);
  }
  const inside = known.filter(([t]) => t >= ax.from + step && t <= ax.until - step);
  for (const [t, v] of inside) {
    assert.ok(drawn.points.some((p) => Math.abs(p.t - t) <= tolT), `fixture point ${t}=${v} inside the range is not drawn`);
  }
  return inside.length;
}

function metric(name) {
  return fixture.find((m) => m.name === name);
}

before(async () => {
  if (SKIP) return;
  fs.rmSync(SCREENSHOTS, { recursive: true, force: true });
  dir = tempDir('dc-e2e-');
  fixture = standardFixture();
  writeMetrics(dir, fixture);
  server = await startServer(dir);
  browser = await launch();
  console.log(`# screenshots: ${SCREENSHOTS}`);
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('with a whisper folder of six metrics', () => {
  test('the list shows the fixture names as a tree, without console errors', T, async () => {
    const page = await browser.context.newPage();
    const errors = watchConsole(page);
    await page.goto(server.url);
    await page.waitForSelector('.mrow');
    assert.deepEqual(await rowLabels(page), ['hello', 'servers', 'stats', 'stats_counts']);
    assert.equal(await page.textContent('#count'), '6 metrics');
    assert.equal(await page.getAttribute('body', 'data-view'), 'landing');
    await page.click('.mrow[data-path="servers"]');
    await page.click('.mrow[data-path="servers.web1"]');
    assert.deepEqual(await rowLabels(page), ['hello', 'servers', 'web1', 'cpu', 'memory', 'web2', 'stats', 'stats_counts']);
    assert.equal(await page.getAttribute('.mrow[data-path="servers.web1"]', 'aria-expanded'), 'true');
    await shot(page, '01-landing-tree');
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('the filter narrows the list; every term must match', T, async () => {
    const page = await browser.context.newPage();
    const errors = watchConsole(page);
    await page.goto(server.url);
    await page.waitForSelector('.mrow');
    await page.fill('#filter', 'cpu');
    assert.deepEqual(await rowLabels(page), ['servers.web1.cpu.user', 'servers.web2.cpu.user']);
    assert.equal(await page.textContent('#count'), '2 of 6 match');
    await page.fill('#filter', 'CPU web1');
    assert.deepEqual(await rowLabels(page), ['servers.web1.cpu.user']);
    assert.equal(await page.textContent('.mrow mark >> nth=0'), 'web1');
    await shot(page, '02-filter');
    await page.fill('#filter', 'cpu nothing-like-this');
    assert.deepEqual(await rowLabels(page), []);
    assert.ok(await page.isVisible('#no-match'));
    await page.fill('#filter', '');
    assert.equal((await rowLabels(page)).length, 4);
    // The filter is kept in the address (replaceState, after a short pause).
    await page.fill('#filter', 'hits');
    await page.waitForURL(/[?&]q=hits/);
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('selecting a metric draws a line whose points match the whisper file', T, async () => {
    const page = await browser.context.newPage();
    const errors = watchConsole(page);
    // Everything the page loads comes from whisperserver (works offline).
    const foreign = [];
    page.on('request', (req) => {
      if (!req.url().startsWith(server.url) && !req.url().startsWith('data:')) foreign.push(req.url());
    });
    await page.goto(server.url);
    await page.fill('#filter', 'web1 cpu');
    await page.click('.mrow[data-path="servers.web1.cpu.user"]');
    await page.waitForSelector('path.line[data-name="servers.web1.cpu.user"]', ATTACHED);
    await page.waitForURL(/[?&]c=servers\.web1\.cpu\.user/);
    const fx = metric('servers.web1.cpu.user');
    const drawn = await drawnPoints(page, fx.name);
    const n = assertMatchesFixture(drawn, fx, 60);
    assert.ok(n >= 50, `only ${n} fixture points inside the range`);
    assert.equal(drawn.runs, 2, 'the five null points make a gap: two runs');
    assert.ok(Math.abs(drawn.ax.until - drawn.ax.from - 3600) <= 5, 'default range is the last hour');
    // Archive the server chose, legend values, y axis scaled to the data.
    // A short subtitle; the archive detail only in its title (and the info panel).
    assert.equal(await page.textContent('.chart-meta'), '', 'the finest archive, nothing merged: no subtitle');
    assert.match(await page.getAttribute('.chart-meta', 'title'), /archive 0 \(1 min per point, 1 d\)/);
    const known = fx.points.filter(([, v]) => v !== null);
    const last = known[known.length - 1][1];
    assert.equal(await page.textContent('.legend tbody tr td.num >> nth=0'), String(+last.toPrecision(4)));
    const maxV = Math.max(...known.map(([, v]) => v));
    assert.ok(drawn.ax.ymax >= maxV && drawn.ax.ymax < maxV * 1.5, `y axis top ${drawn.ax.ymax} fits the data max ${maxV}`);
    // Hover: the crosshair tooltip shows the time and the value under the mouse.
    const box = await page.locator('.brush .overlay').boundingBox();
    const target = known[known.length - 10];
    const x = box.x + ((target[0] - drawn.ax.from) / (drawn.ax.until - drawn.ax.from)) * box.width;
    await page.mouse.move(x, box.y + box.height / 2);
    await page.waitForSelector('.tooltip:not([hidden])');
    const timeText = await page.evaluate((t) => window.d3.timeFormat('%Y-%m-%d %H:%M:%S')(new Date(t * 1000)), target[0]);
    assert.equal(await page.textContent('.tip-time'), timeText);
    assert.equal(await page.textContent('.tip-val'), String(+target[1].toPrecision(4)));
    await shot(page, '03-chart-hover');
    assert.deepEqual(foreign, [], 'requests to other origins');
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('drag to zoom changes the range; double-click resets; back restores the zoom', T, async () => {
    const page = await browser.context.newPage();
    const errors = watchConsole(page);
    await page.goto(`${server.url}?c=servers.web1.cpu.user`);
    await page.waitForSelector('path.line', ATTACHED);
    const before = await drawnPoints(page, 'servers.web1.cpu.user');
    const box = await page.locator('.brush .overlay').boundingBox();
    await page.mouse.move(box.x + box.width * 0.3, box.y + 40);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.5, box.y + 60, { steps: 5 });
    await page.mouse.move(box.x + box.width * 0.7, box.y + 60, { steps: 5 });
    await page.mouse.up();
    await page.waitForURL(/[?&]zoom=\d+_\d+/);
    await waitFor('the zoomed chart', () => page.$eval('svg.plot', (s) => +s.dataset.until - +s.dataset.from < 3000));
    const zoomed = await drawnPoints(page, 'servers.web1.cpu.user');
    const span = before.ax.until - before.ax.from;
    const want = [before.ax.from + 0.3 * span, before.ax.from + 0.7 * span];
    assert.ok(Math.abs(zoomed.ax.from - want[0]) < span / 100, `zoom from ${zoomed.ax.from}, want about ${want[0]}`);
    assert.ok(Math.abs(zoomed.ax.until - want[1]) < span / 100, `zoom until ${zoomed.ax.until}, want about ${want[1]}`);
    assertMatchesFixture(zoomed, metric('servers.web1.cpu.user'), 60);
    assert.ok(await page.isVisible('#reset-zoom'));
    assert.match(await page.textContent('#refresh-status'), /does not end now/);
    await shot(page, '04-zoomed');
    const zoomURL = page.url();
    await page.dblclick('.brush .overlay');
    await page.waitForURL((u) => !/zoom=/.test(u.search));
    await waitFor('the full hour again', () => page.$eval('svg.plot', (s) => +s.dataset.until - +s.dataset.from > 3500));
    await page.goBack();
    await page.waitForURL(zoomURL);
    await waitFor('the zoom back', () => page.$eval('svg.plot', (s) => +s.dataset.until - +s.dataset.from < 3000));
    const again = await drawnPoints(page, 'servers.web1.cpu.user');
    assert.equal(again.ax.from, zoomed.ax.from);
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('reloading the URL restores the view (charts, metrics, range)', T, async () => {
    const page = await browser.context.newPage();
    const errors = watchConsole(page);
    await page.goto(server.url);
    await page.fill('#filter', 'cpu');
    await page.click('.mrow[data-path="servers.web1.cpu.user"]');
    await page.click('.mrow[data-path="servers.web2.cpu.user"]', { modifiers: ['Shift'] });
    await page.click('#presets button:has-text("6 h")');
    await page.click('#new-chart');
    await page.fill('#filter', 'login');
    await page.click('.mrow[data-path="stats.timers.api.login.mean"]');
    await page.waitForSelector('.chart:nth-child(2) path.line', ATTACHED);
    await waitFor('two lines in chart 1', async () => (await page.locator('.chart').nth(0).locator('path.line').count()) === 2);
    const url = page.url();
    assert.match(url, /c=servers\.web1\.cpu\.user,servers\.web2\.cpu\.user&c=stats\.timers\.api\.login\.mean&from=-6h/);
    const view = async () => ({
      charts: await page.$$eval('.chart', (cs) => cs.map((c) => [...c.querySelectorAll('path.line')].map((p) => p.dataset.name))),
      pressed: await page.$$eval('#presets [aria-pressed="true"]', (bs) => bs.map((b) => b.textContent)),
      span: await page.$eval('svg.plot', (s) => +s.dataset.until - +s.dataset.from),
      yTicks: await page.locator('.chart').nth(1).locator('.axis-y .tick text').allTextContents(),
    });
    const v1 = await view();
    assert.deepEqual(v1.charts, [['servers.web1.cpu.user', 'servers.web2.cpu.user'], ['stats.timers.api.login.mean']]);
    assert.deepEqual(v1.pressed, ['6 h']);
    assert.ok(Math.abs(v1.span - 6 * 3600) <= 5);
    assert.ok(v1.yTicks.every((t) => t === '0' || / ms$/.test(t)), `timer axis in ms: ${v1.yTicks}`);
    await shot(page, '05-two-charts');
    await page.reload();
    await page.waitForSelector('.chart:nth-child(2) path.line', ATTACHED);
    await waitFor('two lines in chart 1', async () => (await page.locator('.chart').nth(0).locator('path.line').count()) === 2);
    const v2 = await view();
    assert.deepEqual(v2.charts, v1.charts);
    assert.deepEqual(v2.pressed, v1.pressed);
    assert.equal(page.url(), url);
    // The crosshair is shared: hovering chart 1 shows the time on chart 2.
    const box = await page.locator('.chart').nth(0).locator('.brush .overlay').boundingBox();
    await page.mouse.move(box.x + box.width * 0.9, box.y + box.height / 2);
    await page.waitForSelector('.chart >> nth=0 >> .tooltip:not([hidden])');
    await waitFor('the crosshair on chart 2', () => page.locator('.chart').nth(1).locator('.crosshair')
      .evaluate((g) => g.style.display !== 'none'));
    // Closing the first chart leaves the second one as it was.
    await page.locator('.chart').nth(0).locator('.close-chart').click();
    await page.waitForURL((u) => u.search.startsWith('?c=stats.timers.api.login.mean&'));
    assert.equal(await page.locator('.chart').count(), 1);
    assert.deepEqual(await page.$$eval('path.line', (ps) => ps.map((p) => p.dataset.name)), ['stats.timers.api.login.mean']);
    // Back walks through the steps: the two charts, then the view before the second chart.
    await page.goBack();
    await waitFor('two charts again', async () => (await page.locator('path.line').count()) === 3);
    await page.goBack();
    await waitFor('one chart', async () => (await page.locator('.chart').count()) === 1);
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('the metric info panel shows the whisper header in human units', T, async () => {
    const page = await browser.context.newPage();
    const errors = watchConsole(page);
    await page.goto(`${server.url}?c=stats.timers.api.login.mean`);
    await page.waitForSelector('path.line', ATTACHED);
    await page.click('.legend button.link');
    await page.waitForSelector('#info-panel .archives tbody tr');
    const text = await page.textContent('#info-panel');
    assert.match(text, /Aggregation method\s*average/);
    assert.match(text, /xFilesFactor\s*0\.3 — a rolled-up point needs 30 % of its points known/);
    assert.match(text, /Max retention\s*1 y/);
    assert.match(text, /milliseconds/);
    const rows = await page.$$eval('#info-panel .archives tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
    assert.deepEqual(rows.map((r) => r.slice(0, 4)), [
      ['0', '10 s per point', '1 d', '8,640'],
      ['1', '1 min per point', '1 w', '10,080'],
      ['2', '10 min per point', '1 y', '52,560'],
    ]);
    const fx = metric('stats.timers.api.login.mean');
    const lastT = fx.points[fx.points.length - 1][0];
    const firstT = fx.points[0][0];
    const fmt = (t) => page.evaluate((x) => window.d3.timeFormat('%Y-%m-%d %H:%M:%S')(new Date(x * 1000)), t);
    assert.ok(rows[0][5].startsWith(await fmt(lastT)), `most recent ${rows[0][5]}`);
    assert.ok(rows[0][4].startsWith(await fmt(firstT)), `oldest ${rows[0][4]}`);
    await shot(page, '06-info-panel');
    await page.keyboard.press('Escape');
    assert.ok(await page.isHidden('#info-panel'));
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('keyboard only: / to filter, arrows and Enter to chart', T, async () => {
    const page = await browser.context.newPage();
    const errors = watchConsole(page);
    await page.goto(server.url);
    await page.waitForSelector('.mrow');
    await page.keyboard.press('/');
    await page.keyboard.type('hits');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    await page.waitForSelector('path.line[data-name="stats_counts.api.hits"]', ATTACHED);
    assertMatchesFixture(await drawnPoints(page, 'stats_counts.api.hits'), metric('stats_counts.api.hits'), 60);
    // Isolated points (null neighbours) are drawn as dots.
    await page.keyboard.press('Escape');
    await page.fill('#filter', 'hello');
    await page.focus('#filter');
    await page.keyboard.press('Enter');
    await page.waitForSelector('path.line[data-name="hello.world"]', ATTACHED);
    const hello = await drawnPoints(page, 'hello.world');
    assert.doesNotMatch(hello.d, /L/, 'no line between isolated points');
    assert.ok(hello.lone.length >= 25, `lone points drawn as dots: ${hello.lone.length}`);
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('range presets and a custom range; "All" shows the archive the server chose', T, async () => {
    const page = await browser.context.newPage();
    const errors = watchConsole(page);
    await page.goto(`${server.url}?c=servers.web1.cpu.user`);
    await page.waitForSelector('path.line', ATTACHED);
    await page.click('#presets button:has-text("All")');
    await page.waitForURL(/from=all/);
    // Max retention of the file: 720 points of 1 h = 30 days, served from archive 1.
    await waitFor('the 30-day range', () => page.$eval('svg.plot', (s) => Math.abs(+s.dataset.until - +s.dataset.from - 30 * 86400) < 10));
    await waitFor('archive 1 shown', async () => /archive 1 \(1 h per point, 30 d\)/.test(await page.getAttribute('.chart-meta', 'title')));
    assert.match(await page.textContent('.chart-meta'), /^1 h per point/);
    await page.click('#presets button:has-text("15 min")');
    await waitFor('15 minutes', () => page.$eval('svg.plot', (s) => Math.abs(+s.dataset.until - +s.dataset.from - 900) < 10));
    assert.match(await page.getAttribute('.chart-meta', 'title'), /archive 0/);
    // Custom: the half hour that ended 10 minutes ago, in local time.
    const fx = metric('servers.web1.cpu.user');
    const lastT = fx.points[fx.points.length - 1][0];
    const until = lastT - (lastT % 60) - 600;
    const from = until - 1800;
    const local = (t) => page.evaluate((x) => {
      const d = new Date(x * 1000);
      const p = (n) => String(n).padStart(2, '0');
      return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
    }, t);
    await page.click('#custom-toggle');
    await page.fill('#custom-from', await local(from));
    await page.fill('#custom-until', await local(until));
    await page.click('#custom-form button[type=submit]');
    await page.waitForURL(new RegExp(`from=${from}&until=${until}`));
    await waitFor('the custom range', () => page.$eval('svg.plot', (s) => [+s.dataset.from, +s.dataset.until]).then(([f, u]) => f === from && u === until));
    assertMatchesFixture(await drawnPoints(page, fx.name), fx, 60);
    assert.match(await page.textContent('#refresh-status'), /does not end now/);
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('phone width and dark scheme, wide screen', T, async () => {
    const page = await browser.context.newPage();
    const errors = watchConsole(page);
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${server.url}?c=servers.web1.cpu.user,servers.web2.cpu.user`);
    await page.waitForSelector('path.line', ATTACHED);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `no horizontal scrolling at phone width (${overflow}px too wide)`);
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const [r, g, b] = bg.match(/\d+/g).map(Number);
    assert.ok(r + g + b < 150, `dark background, got ${bg}`);
    await shot(page, '07-phone-dark');
    await page.setViewportSize({ width: 1920, height: 1080 });
    await page.goto(`${server.url}?c=servers.web1.cpu.user,servers.web2.cpu.user&c=stats.timers.api.login.mean&c=servers.web1.memory.used_bytes&from=-6h`);
    await waitFor('three charts drawn', async () => (await page.locator('path.line').count()) === 4);
    const bytesTicks = await page.locator('.chart').nth(2).locator('.axis-y .tick text').allTextContents();
    assert.ok(bytesTicks.some((t) => / GiB$/.test(t)), `bytes axis in GiB: ${bytesTicks}`);
    await shot(page, '08-wide-dark');
    // The colour scheme can be forced (and is remembered): auto → light → dark.
    await page.click('#theme');
    assert.equal(await page.getAttribute('html', 'data-theme'), 'light');
    const light = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.notEqual(light, bg);
    await page.click('#theme');
    await page.reload();
    await page.waitForSelector('path.line', ATTACHED);
    assert.equal(await page.getAttribute('html', 'data-theme'), 'dark');
    await page.click('#theme');
    assert.equal(await page.getAttribute('html', 'data-theme'), null);
    assert.deepEqual(errors, []);
    await page.close();
  });
});

describe('states', () => {
  test('empty folder: says how to send the first metric, then shows it', T, async () => {
    const empty = tempDir('dc-e2e-empty-');
    const srv = await startServer(empty);
    const page = await browser.context.newPage();
    const errors = watchConsole(page);
    try {
      await page.goto(srv.url);
      await page.waitForSelector('#empty:not([hidden])');
      assert.equal(await page.getAttribute('body', 'data-view'), 'empty');
      assert.equal(await page.textContent('#first-metric'), 'echo "hello.world:1|c" | nc -u -w1 127.0.0.1 8125');
      await shot(page, '09-empty');
      writeMetrics(empty, [{ name: 'hello.world', archives: [[10, 360]], xff: 0.5, agg: 'sum', points: series(3, 10, () => 1) }]);
      await waitFor('whisperserver to list the new metric', async () => {
        const r = await (await fetch(`${srv.url}api/metrics`)).json();
        return r.metrics.includes('hello.world');
      }, 20000);
      await page.waitForSelector('.mrow[data-path="hello"]', { timeout: 15000 });
      assert.ok(await page.isHidden('#empty'));
      assert.deepEqual(errors, []);
    } finally {
      await page.close();
      await srv.stop();
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });

  test('loading: names and chart say so while the server is slow', T, async () => {
    const page = await browser.context.newPage();
    const errors = watchConsole(page);
    // Hold the real server's answers back for a moment (no data is made up).
    let release;
    const held = new Promise((r) => { release = r; });
    await page.route(/\/api\//, async (route) => {
      await held;
      await route.continue();
    });
    await page.goto(`${server.url}?c=servers.web2.cpu.user`);
    await page.waitForSelector('#list-status:has-text("Loading metric names")');
    await page.waitForSelector('.chart-msg.loading:has-text("Loading")');
    assert.equal(await page.getAttribute('.chart', 'data-state'), 'loading');
    await shot(page, '00-loading');
    release();
    await page.waitForSelector('path.line', ATTACHED);
    assert.ok(await page.isHidden('#list-status'));
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('auto-refresh picks up new points; pause stops it', T, async () => {
    const live = tempDir('dc-e2e-live-');
    const arch = [[1, 600]];
    writeMetrics(live, [{ name: 'live.counter', archives: arch, xff: 0, agg: 'sum', points: series(30, 1, () => 5) }]);
    const srv = await startServer(live);
    const page = await browser.context.newPage();
    const errors = watchConsole(page);
    try {
      await page.goto(`${srv.url}?c=live.counter&from=-5min&refresh=1`);
      await page.waitForSelector('path.line', ATTACHED);
      assert.equal(await page.textContent('.legend td.num >> nth=0'), '5');
      const now = Math.floor(Date.now() / 1000);
      writeMetrics(live, [{ name: 'live.counter', archives: arch, xff: 0, agg: 'sum', append: true, points: [[now, 42]] }]);
      await waitFor('the new point in the legend', async () => (await page.textContent('.legend td.num >> nth=0')) === '42', 15000);
      await page.click('#pause');
      await page.waitForURL(/refresh=off/);
      assert.match(await page.textContent('#refresh-status'), /paused/);
      assert.deepEqual(errors, []);
    } finally {
      await page.close();
      await srv.stop();
      fs.rmSync(live, { recursive: true, force: true });
    }
  });

  test('metric gone: a deleted whisper file is reported, the others still drawn', T, async () => {
    const d = tempDir('dc-e2e-gone-');
    const m = (name) => ({ name, archives: [[60, 1440]], xff: 0.5, agg: 'average', points: series(30, 60, (i) => i) });
    writeMetrics(d, [m('tmp.gone'), m('tmp.stays')]);
    const srv = await startServer(d);
    const page = await browser.context.newPage();
    try {
      await page.goto(`${srv.url}?c=tmp.gone,tmp.stays&c=tmp.gone&refresh=1`);
      await waitFor('both charts drawn', async () => (await page.locator('path.line').count()) === 3);
      fs.rmSync(path.join(d, 'tmp', 'gone.wsp'));
      await page.waitForSelector('.chart >> nth=0 >> tr.failed', { timeout: 15000 });
      assert.match(await page.textContent('.chart >> nth=0 >> tr.failed'), /metric gone/);
      assert.equal(await page.locator('.chart').nth(0).locator('path.line').count(), 1);
      await page.waitForSelector('.chart >> nth=1 >> .chart-msg.gone');
      assert.match(await page.textContent('.chart >> nth=1 >> .chart-msg'), /tmp\.gone: metric gone/);
      await shot(page, '10-metric-gone');
    } finally {
      await page.close();
      await srv.stop();
      fs.rmSync(d, { recursive: true, force: true });
    }
  });

  test('server unreachable: a clear banner, and recovery when it is back', T, async () => {
    const d = tempDir('dc-e2e-down-');
    writeMetrics(d, [{ name: 'a.b', archives: [[60, 1440]], xff: 0.5, agg: 'average', points: series(30, 60, (i) => i) }]);
    let srv = await startServer(d);
    const page = await browser.context.newPage();
    try {
      await page.goto(`${srv.url}?c=a.b&refresh=1`);
      await page.waitForSelector('path.line', ATTACHED);
      await srv.stop();
      await page.waitForSelector('#banner:not([hidden])', { timeout: 15000 });
      assert.match(await page.textContent('#banner'), /Cannot reach whisperserver at 127\.0\.0\.1:\d+/);
      assert.equal(await page.getAttribute('body', 'data-view'), 'unreachable');
      assert.equal(await page.locator('path.line').count(), 1, 'the last chart stays on screen');
      await shot(page, '11-unreachable');
      srv = await startServer(d, srv.port);
      await page.waitForSelector('#banner', { state: 'hidden', timeout: 20000 });
    } finally {
      await page.close();
      await srv.stop();
      fs.rmSync(d, { recursive: true, force: true });
    }
  });
});
