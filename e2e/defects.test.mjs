// Browser tests of issue 19's defects: units for host metrics, titles from
// the common prefix, a flat line inside the frame, "No data since", one
// "Reset zoom", folder badges counting metrics, a failed refresh said so.
// The real whisperserver over whisper.py files, the page in Chromium.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { chromiumMissing, launch, watchConsole } from './lib/browser.mjs';
import { series, tempDir, whisperPyMissing, writeMetrics } from './lib/fixture.mjs';
import { skipReason } from './lib/prereq.mjs';
import { startServer, waitFor } from './lib/server.mjs';

const SKIP = skipReason([chromiumMissing(), whisperPyMissing()]);
const T = { timeout: 40000, skip: SKIP };
const ATTACHED = { state: 'attached' };
const ARCH = [[60, 1440]];
let browser;
let server;
let dir;

function m(name, f, opts = {}) {
  return { name, archives: ARCH, xff: 0, agg: 'average', points: series(opts.n || 60, 60, f, opts.gap), ...opts.extra };
}

before(async () => {
  if (SKIP) return;
  dir = tempDir('dc-e2e-defects-');
  writeMetrics(dir, [
    m('hosts.vm.cpu.total.user', (i) => 40 + (i % 5)),
    m('hosts.vm.cpu.total.system', (i) => 10 + (i % 3)),
    m('hosts.vm.cpu.total.iowait', (i) => 2 + (i % 2)),
    m('hosts.vm.memory.used', (i) => 15e9 + i * 1e8),
    m('hosts.vm.net.eth0.bytes_recv', (i) => 600e3 + i * 1000),
    m('flat.metric', () => 5),
    // A ramp to 100, then flat at 100: the flat part is a line on the axis top.
    m('ramp.metric', (i) => (i < 10 ? i * 10 : 100)),
    // Points only between 5 and 4 hours ago.
    m('old.metric', (i) => i, { n: 300, gap: (i) => i >= 60 }),
  ]);
  // Every scale from 1e-3 to 1e12: a narrow band (1 to 1.3 × 10^e) and a ramp from 0 to 3 × 10^e.
  const scales = [];
  for (let e = -3; e <= 12; e++) {
    scales.push(m(`scale.narrow.e${e + 3}`, (i) => 10 ** e * (1 + (0.3 * i) / 59)));
    scales.push(m(`scale.ramp.e${e + 3}`, (i) => 10 ** e * ((3 * i) / 59)));
  }
  writeMetrics(dir, scales);
  for (let i = 0; i < 12; i++) writeMetrics(dir, [m(`collectd.h${i % 3}.cpu${i}.idle`, () => i)]);
  server = await startServer(dir);
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

async function axisLabels(page, chart = 0) {
  return page.locator('.chart').nth(chart).locator('.axis-y .tick text').allTextContents();
}

describe('issue 19 defects', () => {
  test('host CPU in %, network in B/s, memory in GiB: axis, legend and tooltip', T, async () => {
    const page = await browser.context.newPage();
    const errors = watchConsole(page);
    const c = ['hosts.vm.cpu.total.user', 'hosts.vm.cpu.total.system', 'hosts.vm.cpu.total.iowait'].join(',');
    await page.goto(`${server.url}?c=${c}&c=hosts.vm.net.eth0.bytes_recv&c=hosts.vm.memory.used`);
    await page.waitForSelector('.chart >> nth=2 >> path.line', ATTACHED);
    await page.waitForFunction(() => document.querySelectorAll('.chart .legend td.num').length >= 5);
    await page.waitForFunction(() => [...document.querySelectorAll('.chart')].every((c) => c.dataset.state === 'ok'));
    const cpu = await axisLabels(page, 0);
    assert.ok(cpu.length >= 3 && cpu.every((l) => l === '0' || / %$/.test(l)), `cpu axis: ${cpu}`);
    assert.equal(new Set(cpu).size, cpu.length, `distinct: ${cpu}`);
    assert.match(await page.locator('.chart').nth(0).locator('.legend td.num').first().textContent(), /^\d+(\.\d+)? %$/);
    assert.equal(await page.textContent('.chart >> nth=0 >> .chart-title'), 'hosts.vm.cpu.total: user, system, iowait');
    const net = await axisLabels(page, 1);
    assert.ok(net.some((l) => / KiB\/s$/.test(l)), `network axis: ${net}`);
    assert.match(await page.locator('.chart').nth(1).locator('.legend td.num').first().textContent(), / KiB\/s$/);
    const mem = await axisLabels(page, 2);
    assert.ok(mem.some((l) => / GiB$/.test(l)), `memory axis: ${mem}`);
    assert.equal(new Set(mem).size, mem.length, `distinct: ${mem}`);
    // Tooltip.
    const box = await page.locator('.chart >> nth=1 >> .brush .overlay').boundingBox();
    await page.mouse.move(box.x + box.width * 0.8, box.y + box.height / 2);
    await page.waitForSelector('.chart >> nth=1 >> .tooltip:not([hidden])');
    assert.match(await page.textContent('.chart >> nth=1 >> .tip-val'), / KiB\/s$/);
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('every axis has distinct tick labels, values from 1e-3 to 1e12', T, async () => {
    const page = await browser.context.newPage();
    const errors = watchConsole(page);
    for (const kind of ['narrow', 'ramp']) {
      const cs = [];
      for (let e = 0; e <= 15; e++) cs.push(`c=scale.${kind}.e${e}`);
      await page.goto(`${server.url}?${cs.join('&')}`);
      await page.waitForFunction(() => document.querySelectorAll('.chart path.line').length === 16, null, { timeout: 20000 });
      const all = await page.$$eval('.chart', (cs2) => cs2.map((c) => ({
        name: c.querySelector('.chart-title').textContent,
        ticks: [...c.querySelectorAll('.axis-y .tick')].map((t) => ({ y: t.getAttribute('transform'), label: t.textContent })),
        ymin: +c.querySelector('svg.plot').dataset.yMin, ymax: +c.querySelector('svg.plot').dataset.yMax,
      })));
      for (const c of all) {
        const labels = c.ticks.map((t) => t.label);
        assert.ok(labels.length >= 3, `${c.name}: ${labels}`);
        assert.equal(new Set(labels).size, labels.length, `${c.name} [${c.ymin}, ${c.ymax}]: ${labels.join(' | ')}`);
      }
    }
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('the unit is overridable per chart, and kept in the address', T, async () => {
    const page = await browser.context.newPage();
    const errors = watchConsole(page);
    await page.goto(`${server.url}?c=hosts.vm.memory.used`);
    await page.waitForSelector('path.line', ATTACHED);
    assert.ok((await axisLabels(page)).some((l) => / GiB$/.test(l)));
    await page.selectOption('.chart .unit-pick', 'none');
    await page.waitForURL(/[?&]units=none/);
    await page.waitForFunction(() => [...document.querySelectorAll('.axis-y .tick text')].some((t) => / G$/.test(t.textContent)));
    await page.reload();
    await page.waitForSelector('path.line', ATTACHED);
    assert.equal(await page.inputValue('.chart .unit-pick'), 'none');
    const labels = await axisLabels(page);
    assert.ok(labels.every((l) => !/iB/.test(l)) && labels.some((l) => / G$/.test(l)), `${labels}`);
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('a flat series is drawn inside the frame, not along its top', T, async () => {
    const page = await browser.context.newPage();
    await page.goto(`${server.url}?c=flat.metric`);
    await page.waitForSelector('path.line', ATTACHED);
    const { d, h } = await page.$eval('svg.plot', (s) => ({ d: s.querySelector('path.line').getAttribute('d'), h: +s.dataset.plotHeight }));
    const ys = [...d.matchAll(/[ML][\d.]+,([\d.]+)/g)].map((x) => +x[1]);
    assert.ok(ys.length > 10);
    for (const y of ys) assert.ok(y > h * 0.2 && y < h * 0.8, `y ${y} of ${h}`);
    await page.goto(`${server.url}?c=ramp.metric`);
    await page.waitForSelector('path.line', ATTACHED);
    const r = await page.$eval('svg.plot', (s) => ({ d: s.querySelector('path.line').getAttribute('d'), h: +s.dataset.plotHeight }));
    const top = Math.min(...[...r.d.matchAll(/[ML][\d.]+,([\d.]+)/g)].map((x) => +x[1]));
    assert.ok(top >= r.h * 0.04, `the flat top at 100 is drawn below the frame's top edge (y ${top} of ${r.h})`);
    await page.close();
  });

  test('no data in the range: "No data since HH:MM" and a button that shows it, no made-up axis', T, async () => {
    const page = await browser.context.newPage();
    const errors = watchConsole(page);
    await page.goto(`${server.url}?c=old.metric&from=-1h`);
    await page.waitForSelector('.chart[data-state="nodata"]');
    const text = await page.textContent('.chart-msg');
    const last = +(await page.getAttribute('.chart', 'data-last-data'));
    const hhmm = await page.evaluate((t) => window.d3.timeFormat('%H:%M')(new Date(t * 1000)), last);
    assert.ok(text.includes(`No data since ${hhmm}`) || /No data since \d{4}-/.test(text), text);
    assert.equal(await page.isVisible('svg.plot'), false, 'no 0–1 axis is drawn');
    await page.click('.jump-last');
    await page.waitForSelector('path.line', ATTACHED);
    const until = +(await page.getAttribute('svg.plot', 'data-until'));
    assert.ok(until >= last && until - last < 3600, `the range ends at the last data (${until} vs ${last})`);
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('zoomed: one "Reset zoom" button, not one per chart too', T, async () => {
    const page = await browser.context.newPage();
    const now = Math.floor(Date.now() / 1000);
    await page.goto(`${server.url}?c=flat.metric&c=hosts.vm.memory.used&zoom=${now - 1800}_${now - 600}`);
    await page.waitForSelector('.chart >> nth=1 >> path.line', ATTACHED);
    const visible = await page.locator('button:has-text("Reset zoom"):visible').count();
    assert.equal(visible, 1);
    await page.close();
  });

  test('folder badges count the metrics inside, not the direct children', T, async () => {
    const page = await browser.context.newPage();
    await page.goto(server.url);
    await page.waitForSelector('.mrow[data-path="collectd"]');
    assert.equal(await page.textContent('.mrow[data-path="collectd"] .mrow-count'), '12');
    assert.equal(await page.textContent('.mrow[data-path="hosts"] .mrow-count'), '5');
    await page.close();
  });

  test('a failed refresh is reported as failed, not as "updated"', T, async () => {
    const d = tempDir('dc-e2e-fail-');
    writeMetrics(d, [m('a.b', (i) => i)]);
    const srv = await startServer(d);
    const page = await browser.context.newPage();
    try {
      await page.goto(`${srv.url}?c=a.b&refresh=1`);
      await page.waitForSelector('path.line', ATTACHED);
      await waitFor('updated', async () => /^updated \d\d:\d\d:\d\d$/.test(await page.textContent('#updated')));
      assert.equal(await page.getAttribute('#updated', 'data-status'), 'ok');
      await srv.stop();
      await page.waitForSelector('#updated[data-status="failed"]', { timeout: 15000 });
      assert.match(await page.textContent('#updated'), /^refresh failed at \d\d:\d\d:\d\d; last update \d\d:\d\d:\d\d$/);
    } finally {
      await page.close();
      await srv.stop();
      fs.rmSync(d, { recursive: true, force: true });
    }
  });
});
