// Browser test: tagged series (carbon 1.1's _tagged layout) are listed
// grouped by name with their tags, filterable with k=v terms in the filter
// box, never as _tagged path fragments; a click charts the series.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { chromiumMissing, launch, watchConsole } from './lib/browser.mjs';
import { series, tempDir, whisperPyMissing, writeMetrics } from './lib/fixture.mjs';
import { skipReason } from './lib/prereq.mjs';
import { startServer } from './lib/server.mjs';

const SKIP = skipReason([chromiumMissing(), whisperPyMissing()]);
const T = { timeout: 30000, skip: SKIP };
const TAGGED = ['app.req;dc=eu;env=prod', 'app.req;dc=us;env=dev', 'app.lat;env=prod;host=web.1'];
let browser;
let server;
let dir;

// taggedPath is carbon's TaggedSeries.encode (TAG_HASH_FILENAMES = False)
// as writeMetrics' dotted name: _tagged.<h[0:3]>.<h[3:6]>.<name, . as _DOT_>.
function taggedPath(name) {
  const h = crypto.createHash('sha256').update(name).digest('hex');
  return ['_tagged', h.slice(0, 3), h.slice(3, 6), name.replaceAll('.', '_DOT_')].join('.');
}

before(async () => {
  if (SKIP) return;
  dir = tempDir('dc-e2e-tags-');
  const arch = [[60, 1440]];
  const m = (name, points) => ({ name, archives: arch, xff: 0.5, agg: 'average', points });
  writeMetrics(dir, [
    m('plain.metric', series(30, 60, (i) => i)),
    ...TAGGED.map((n, k) => m(taggedPath(n), series(30, 60, (i) => i * (k + 1)))),
  ]);
  server = await startServer(dir);
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

async function taggedRows(page) {
  return page.$$eval('#tagged-list .tgroup', (groups) => groups.map((g) => ({
    name: g.querySelector('.tgroup-name').firstChild.textContent,
    rows: [...g.querySelectorAll('.trow')].map((r) => [...r.querySelectorAll('.tag')].map((t) => t.textContent).join(' ')),
  })));
}

describe('with tagged series in carbon\'s _tagged layout', () => {
  test('grouped by name with their tags, filterable by env=prod, not path fragments', T, async () => {
    const page = await browser.context.newPage();
    const errors = watchConsole(page);
    await page.goto(server.url);
    await page.waitForSelector('#tagged-list .trow');
    const labels = await page.$$eval('.mrow .mrow-label', (els) => els.map((e) => e.textContent));
    assert.ok(!labels.some((l) => l.includes('_tagged')), `no _tagged fragment in the tree: ${labels}`);
    assert.deepEqual(await taggedRows(page), [
      { name: 'app.lat', rows: ['env=prod host=web.1'] },
      { name: 'app.req', rows: ['dc=eu env=prod', 'dc=us env=dev'] },
    ]);
    await page.fill('#filter', 'env=prod');
    assert.deepEqual(await taggedRows(page), [
      { name: 'app.lat', rows: ['env=prod host=web.1'] },
      { name: 'app.req', rows: ['dc=eu env=prod'] },
    ]);
    await page.fill('#filter', 'req env=dev');
    assert.deepEqual(await taggedRows(page), [{ name: 'app.req', rows: ['dc=us env=dev'] }]);
    await page.fill('#filter', 'env=staging');
    assert.ok(await page.isHidden('#tagged-list'));
    await page.fill('#filter', 'host=web.1');
    await page.click('#tagged-list .trow');
    await page.waitForSelector('.legend-name');
    assert.equal(await page.textContent('.legend-name >> nth=0'), 'app.lat;env=prod;host=web.1');
    assert.deepEqual(errors, []);
    await page.close();
  });
});
