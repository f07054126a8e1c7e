// Browser tests of dashboards (issue 19): the host overview on first load,
// a dashboard file opened by URL with a Graphite expression drawn through
// the render API, export → file → reopen, the picker, a broken file. The
// real whisperserver with -dashboards over whisper.py files, in Chromium.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromiumMissing, launch, watchConsole } from './lib/browser.mjs';
import { series, tempDir, whisperPyMissing, writeMetrics } from './lib/fixture.mjs';
import { skipReason } from './lib/prereq.mjs';
import { SCREENSHOTS, startServer } from './lib/server.mjs';

const SKIP = skipReason([chromiumMissing(), whisperPyMissing()]);
const T = { timeout: 40000, skip: SKIP };
const ATTACHED = { state: 'attached' };
let browser;
let server;
let dir;
let dashDir;

const HOST = {
  'cpu.total.user': (i) => 30 + (i % 10), 'cpu.total.system': () => 8, 'cpu.total.iowait': (i) => i % 3, 'cpu.total.steal': () => 0,
  'load.load1': (i) => 0.5 + (i % 4) / 10, 'load.load5': () => 0.6, 'load.load15': () => 0.7,
  'memory.used': (i) => 3e9 + i * 1e6, 'memory.cached': () => 1e9, 'memory.buffers': () => 2e8, 'memory.available': () => 5e9,
  'swap.used': () => 1e8, 'swap.free': () => 9e8,
  'disk.root.used_percent': () => 42, 'disk.var.used_percent': () => 71,
  'diskio.sda.read_bytes': (i) => 2e5 + i * 100, 'diskio.sda.write_bytes': () => 5e5,
  'net.eth0.bytes_recv': (i) => 6e5 + i * 10, 'net.eth0.bytes_sent': () => 1e5,
  'processes.total': () => 210, 'processes.running': () => 2, 'processes.blocked': () => 0,
};
const A = (i) => i;
const B = (i) => 100 + 2 * i;

before(async () => {
  if (SKIP) return;
  dir = tempDir('dc-e2e-dash-');
  dashDir = tempDir('dc-e2e-dashfiles-');
  const metrics = Object.entries(HOST).map(([k, f]) => ({ name: `hosts.vm.${k}`, archives: [[60, 1440]], xff: 0, agg: 'average', points: series(60, 60, f) }));
  metrics.push({ name: 'stats.api.a.hits', archives: [[60, 1440]], xff: 0, agg: 'average', points: series(60, 60, A) });
  metrics.push({ name: 'stats.api.b.hits', archives: [[60, 1440]], xff: 0, agg: 'average', points: series(60, 60, B) });
  writeMetrics(dir, metrics);
  fs.writeFileSync(path.join(dashDir, 'mine.json'), JSON.stringify({
    title: 'My API',
    charts: [
      { title: 'All hits', targets: ['sumSeries(stats.api.*.hits)'], unit: '/s', yAxis: 'zero' },
      { title: 'Hits of a', targets: ['stats.api.a.hits'] },
      // No unit: guessed from the paths in the expression (bytes/s).
      { title: 'Disk', targets: ['aliasByNode(hosts.vm.diskio.*.{read_bytes,write_bytes}, 3, 4)'] },
    ],
  }));
  fs.writeFileSync(path.join(dashDir, 'broken.json'), '{"title": "Broken", "charts": [{"targets": []}]}');
  server = await startServer(dir, 0, { args: ['-dashboards', dashDir] });
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
  for (const d of [dir, dashDir]) if (d) fs.rmSync(d, { recursive: true, force: true });
});

async function chartTitles(page) {
  return page.locator('.chart .chart-title').allTextContents();
}

describe('dashboards', () => {
  test('first load with host data opens the host overview, every chart drawn', T, async () => {
    const page = await browser.context.newPage();
    const errors = watchConsole(page);
    await page.goto(server.url);
    await page.waitForURL(/[?&]d=%40host\.vm/);
    assert.deepEqual(await chartTitles(page),
      ['CPU', 'Load', 'Memory', 'Swap', 'Filesystems used', 'Disk I/O', 'Network', 'Processes']);
    for (let i = 0; i < 8; i++) await page.waitForSelector(`.chart >> nth=${i} >> path.line`, ATTACHED);
    await page.waitForFunction(() => [...document.querySelectorAll('.chart')].every((c) => c.dataset.state === 'ok'));
    // Globbed targets through the render API: one line per filesystem, aliased.
    const fsRows = await page.locator('.chart >> nth=4 >> .legend tbody tr').evaluateAll((rs) => rs.map((r) => r.dataset.name));
    assert.deepEqual(fsRows.sort(), ['root', 'var']);
    const cpuTicks = await page.locator('.chart >> nth=0 >> .axis-y .tick text').allTextContents();
    assert.ok(cpuTicks.includes('100 %') && cpuTicks.every((t) => t === '0' || / %$/.test(t)), `cpu axis: ${cpuTicks}`);
    const net = await page.locator('.chart >> nth=6 >> .legend td.num').first().textContent();
    assert.match(net, / KiB\/s$/);
    const mem = await page.locator('.chart >> nth=2 >> .axis-y .tick text').allTextContents();
    assert.ok(mem.some((t) => / GiB$/.test(t)), `memory axis ${mem}`);
    assert.equal(await page.inputValue('#dashboard'), '@host.vm');
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SCREENSHOTS, '20-host-overview.png'), fullPage: true });
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('a dashboard file opens by URL and draws a sumSeries chart', T, async () => {
    const page = await browser.context.newPage();
    const errors = watchConsole(page);
    await page.goto(`${server.url}?d=mine`);
    await page.waitForSelector('.chart >> nth=1 >> path.line', ATTACHED);
    assert.deepEqual(await chartTitles(page), ['All hits', 'Hits of a', 'Disk']);
    await page.waitForSelector('.chart >> nth=0 >> path.line', ATTACHED);
    const row = page.locator('.chart >> nth=0 >> .legend tbody tr');
    assert.equal(await row.getAttribute('data-name'), 'sumSeries(stats.api.*.hits)');
    // The last point is the sum of the two files' last points.
    const last = A(59) + B(59);
    assert.equal(await row.locator('td.num').first().textContent(), `${last}/s`);
    assert.equal(await page.title(), 'My API — Dreamcatcher');
    await page.waitForSelector('.chart >> nth=2 >> path.line', ATTACHED);
    assert.match(await page.locator('.chart >> nth=2 >> .legend td.num').first().textContent(), / KiB\/s$/);
    await page.waitForFunction(() => [...document.querySelectorAll('.chart')].every((c) => c.dataset.state === 'ok'));
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('export → file → reopen gives the same charts', T, async () => {
    const page = await browser.context.newPage();
    await page.goto(`${server.url}?d=mine`);
    await page.waitForSelector('.chart >> nth=1 >> path.line', ATTACHED);
    const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#export')]);
    assert.equal(dl.suggestedFilename(), 'mine.json');
    const saved = path.join(dashDir, 'copy.json');
    await dl.saveAs(saved);
    const file = JSON.parse(fs.readFileSync(saved, 'utf8'));
    const orig = JSON.parse(fs.readFileSync(path.join(dashDir, 'mine.json'), 'utf8'));
    assert.deepEqual(file.charts, orig.charts);
    // A view made in the browser exports too (titles from the common prefix).
    await page.goto(`${server.url}?c=hosts.vm.cpu.total.user,hosts.vm.cpu.total.system&c=stats.api.a.hits`);
    await page.waitForSelector('.chart >> nth=1 >> path.line', ATTACHED);
    const [dl2] = await Promise.all([page.waitForEvent('download'), page.click('#export')]);
    const saved2 = path.join(dashDir, 'adhoc.json');
    await dl2.saveAs(saved2);
    const adhoc = JSON.parse(fs.readFileSync(saved2, 'utf8'));
    assert.deepEqual(adhoc.charts.map((c) => c.targets), [['hosts.vm.cpu.total.user', 'hosts.vm.cpu.total.system'], ['stats.api.a.hits']]);
    assert.equal(adhoc.charts[0].title, 'hosts.vm.cpu.total: user, system');
    for (const [name, want] of [['copy', ['All hits', 'Hits of a', 'Disk']], ['adhoc', ['hosts.vm.cpu.total: user, system', 'stats.api.a.hits']]]) {
      await page.goto(`${server.url}?d=${name}`);
      await page.waitForSelector('.chart >> nth=1 >> path.line', ATTACHED);
      assert.deepEqual(await chartTitles(page), want);
    }
    await page.close();
  });

  test('the picker lists built-in and file dashboards; a broken file says why', T, async () => {
    const page = await browser.context.newPage();
    await page.goto(`${server.url}?d=mine`);
    await page.waitForSelector('.chart >> nth=1 >> path.line', ATTACHED);
    await page.focus('#dashboard');
    await page.waitForSelector('#dashboard option[value="broken"]', ATTACHED);
    const opts = await page.$$eval('#dashboard option', (os) => os.map((o) => [o.value, o.textContent, o.disabled]));
    assert.ok(opts.some(([v, , d]) => v === 'broken' && d), JSON.stringify(opts));
    assert.ok(opts.some(([v]) => v === '@host.vm'));
    assert.ok(opts.some(([v]) => v === '@dreamcatcher'));
    await page.selectOption('#dashboard', '@host.vm');
    await page.waitForURL(/d=%40host\.vm/);
    await page.waitForSelector('.chart >> nth=7 >> path.line', ATTACHED);
    await page.goto(`${server.url}?d=broken`);
    await page.waitForSelector('#dash-error:not(:empty)');
    assert.match(await page.textContent('#dash-error'), /broken\.json.*"targets" is missing/);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(await page.locator('.chart').count(), 0, 'no other dashboard replaces the broken one');
    assert.match(await page.textContent('#dash-error'), /broken/);
    await page.goto(`${server.url}?d=%40dreamcatcher`);
    await page.waitForSelector('.chart >> nth=5', ATTACHED);
    assert.equal((await chartTitles(page))[0], 'statsd packets and lines per second');
    await page.close();
  });
});
