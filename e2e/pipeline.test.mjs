// The whole pipeline, really started: bin/hekad (statsd input, host input,
// whisper output with its own metrics) writes whisper files, bin/whisperserver
// serves them, and the page in Chromium opens the host overview on first
// load and draws the "Dreamcatcher" dashboard from the real self-metric names.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromiumMissing, launch, watchConsole } from './lib/browser.mjs';
import { tempDir } from './lib/fixture.mjs';
import { skipReason } from './lib/prereq.mjs';
import { freePort, startServer, waitFor } from './lib/server.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const HEKAD = process.env.HEKAD || path.join(ROOT, 'bin', 'hekad');
const SKIP = skipReason([chromiumMissing(), fs.existsSync(HEKAD) ? '' : `${HEKAD} not found: run make`]);
const T = { timeout: 60000, skip: SKIP };
const ATTACHED = { state: 'attached' };
let base;
let hekad;
let server;
let browser;
let statsdPort;

function config(dir, port) {
  return `[hekad]
base_dir = "${dir}"
hostname = "e2e-host"

[DreamcatcherStatsdInput]
address = "127.0.0.1:${port}"
flush_interval = 1
legacy_namespace = true

[DreamcatcherHostInput]
interval = 1

[DreamcatcherWhisperOutput]
base_path = "whisper"
message_matcher = "Type == 'heka.statmetric'"
default_retentions = "1s:1h"
self_metrics = "dreamcatcher.whisper.{hostname}"
self_metrics_interval = 1
`;
}

function wspExists(name) {
  return fs.existsSync(path.join(base, 'whisper', ...name.split('.')) + '.wsp');
}

before(async () => {
  if (SKIP) return;
  base = tempDir('dc-e2e-pipeline-');
  statsdPort = await freePort();
  fs.writeFileSync(path.join(base, 'hekad.toml'), config(base, statsdPort));
  let log = '';
  hekad = spawn(HEKAD, ['-config', path.join(base, 'hekad.toml')], { stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (b) => { log = (log + b).slice(-20000); };
  hekad.stdout.on('data', keep);
  hekad.stderr.on('data', keep);
  // statsd traffic, good and bad lines, for 4 s (bounded).
  const sock = dgram.createSocket('udp4');
  for (let i = 0; i < 40; i++) {
    sock.send(`e2e.hits:1|c\ne2e.lat:${i}|ms\nnot a statsd line`, statsdPort, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 100));
  }
  sock.close();
  const want = ['hosts.e2e-host.cpu.total.user', 'hosts.e2e-host.memory.used', 'stats.statsd.packets_received',
    'stats.statsd.bad_lines_seen', 'dreamcatcher.whisper.e2e-host.points_written', 'dreamcatcher.whisper.e2e-host.cache.points'];
  await waitFor('hekad\'s whisper files', () => {
    if (hekad.exitCode !== null) throw new Error(`hekad exited: ${log.slice(-2000)}`);
    return want.every(wspExists);
  }, 30000, 250);
  // A few more collections so rates have two points.
  await new Promise((r) => setTimeout(r, 3000));
  server = await startServer(path.join(base, 'whisper'));
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
  if (hekad && hekad.exitCode === null) {
    hekad.kill('SIGTERM');
    await new Promise((r) => { const t = setTimeout(() => { hekad.kill('SIGKILL'); r(); }, 10000); hekad.on('exit', () => { clearTimeout(t); r(); }); });
  }
  if (base) fs.rmSync(base, { recursive: true, force: true });
});

describe('the real pipeline', () => {
  test('first load opens the host overview of the real host input, charts drawn', T, async () => {
    const page = await browser.context.newPage();
    const errors = watchConsole(page);
    await page.goto(`${server.url}?from=-15min`);
    await page.waitForURL(/d=%40host\.e2e-host/);
    const titles = await page.locator('.chart .chart-title').allTextContents();
    assert.deepEqual(titles, ['CPU', 'Load', 'Memory', 'Swap', 'Filesystems used', 'Disk I/O', 'Network', 'Processes']);
    // CPU, load, memory, filesystems, network and processes exist on any Linux host (disk I/O and
    // swap may be empty in a container).
    for (const i of [0, 1, 2, 4, 6, 7]) await page.waitForSelector(`.chart >> nth=${i} >> path.line`, ATTACHED);
    const cpu = await page.locator('.chart >> nth=0 >> .legend td.num').first().textContent();
    assert.match(cpu, / %$/);
    const mem = await page.locator('.chart >> nth=2 >> .axis-y .tick text').allTextContents();
    assert.ok(mem.some((t) => /iB$/.test(t)), `memory in IEC units: ${mem}`);
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('the Dreamcatcher dashboard draws the pipeline\'s own metrics', T, async () => {
    const page = await browser.context.newPage();
    await page.goto(`${server.url}?d=%40dreamcatcher&from=-15min`);
    // packets/lines, bad lines, points written, cache size.
    for (const i of [0, 1, 2, 3]) await page.waitForSelector(`.chart >> nth=${i} >> path.line`, ATTACHED);
    const rows = await page.locator('.chart >> nth=0 >> .legend tbody tr').evaluateAll((rs) => rs.map((r) => r.dataset.name));
    assert.deepEqual(rows.sort(), ['metrics_received/s', 'packets_received/s']);
    const bad = await page.locator('.chart >> nth=1 >> .legend td.num').first().textContent();
    assert.match(bad, /\/s$/);
    const written = await page.locator('.chart >> nth=2 >> .legend tbody tr').evaluateAll((rs) => rs.map((r) => r.dataset.name));
    assert.ok(written.includes('e2e-host'), `points written rows: ${written}`);
    await page.close();
  });
});
