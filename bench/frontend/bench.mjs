// Front-end speed in headless Chromium against the real whisperserver:
//   - time per keystroke when filtering 100,000 metric names (target < 50 ms)
//   - time from selecting a metric to its chart drawn with 10,000 points (target < 200 ms)
// Usage: node bench/frontend/bench.mjs [--names 100000] [--runs 15]
// (npm run bench -- --names 100000). Needs bin/whisperserver (make) and
// Debian's chromium and python3-whisper. Prints a Markdown table.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { launch, watchConsole } from '../../e2e/lib/browser.mjs';
import { PYTHON, checkWhisperPy, tempDir } from '../../e2e/lib/fixture.mjs';
import { startServer, waitFor } from '../../e2e/lib/server.mjs';

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? +process.argv[i + 1] : def;
};
const NAMES = arg('names', 100000);
const RUNS = arg('runs', 15);
const POINTS = 10000;
const STEP = 10;

// Many small files fast: one header + one 1-point archive each, via whisper.py.
const MAKE = `
import os, sys, time, whisper
d, n, points, step = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
made = 0
h = 0
while made < n:
    for s in range(10):
        for k in range(10):
            if made >= n: break
            p = os.path.join(d, "bench", "host%04d" % h, "svc%d" % s, "m%d.wsp" % k)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            whisper.create(p, [(60, 1)])
            made += 1
    h += 1
now = int(time.time())
last = now - now % step - step
for name in ("a", "b"):
    p = os.path.join(d, "bench10k", name + ".wsp")
    os.makedirs(os.path.dirname(p), exist_ok=True)
    whisper.create(p, [(step, points + 60)], xFilesFactor=0, aggregationMethod="average")
    pts = [(last - i * step, 100 + (i % 97) * (1 if name == "a" else -1)) for i in range(points)]
    whisper.update_many(p, pts)
print(last)
`;

function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { n: s.length, median: q(0.5), p90: q(0.9), max: s[s.length - 1] };
}
const ms = (v) => `${v.toFixed(1)} ms`;

async function main() {
  checkWhisperPy();
  const dir = tempDir('dc-bench-fe-');
  let server;
  let browser;
  try {
    const t0 = Date.now();
    const last = +execFileSync(PYTHON, ['-c', MAKE, dir, String(NAMES), String(POINTS), String(STEP)]).toString().trim();
    console.error(`fixture: ${NAMES} names + 2 × ${POINTS}-point metrics in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    server = await startServer(dir);
    browser = await launch();
    const page = await browser.context.newPage();
    const errors = watchConsole(page);
    const total = NAMES + 2;

    // Page load until the list of all names is ready.
    const l0 = Date.now();
    await page.goto(server.url);
    await waitFor('all names listed', async () => (await page.textContent('#count')) === `${total.toLocaleString('en-US')} metrics`, 120000, 50);
    const loadMs = Date.now() - l0;

    // Filtering: type queries character by character, then delete them.
    const keystroke = (q) => page.evaluate(async (value) => {
      const input = document.querySelector('#filter');
      const t = performance.now();
      input.value = value;
      input.dispatchEvent(new Event('input', { bubbles: true }));
      const sync = performance.now() - t;
      await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
      return { sync, frame: performance.now() - t };
    }, q);
    const typing = [];
    const deleting = [];
    for (const query of ['host0042 svc3 m7', 'svc9 m1', 'bench host09']) {
      for (let i = 1; i <= query.length; i++) typing.push(await keystroke(query.slice(0, i)));
      for (let i = query.length - 1; i >= 0; i--) deleting.push(await keystroke(query.slice(0, i)));
    }
    const check = await keystroke('host0042 svc3 m7');
    void check;
    const matched = await page.textContent('#count');

    // Select → chart drawn, 10,000 points (mdp=off: no consolidation) and
    // the default (maxDataPoints = the chart's width in pixels).
    const from = last - (POINTS - 1) * STEP - 1;
    const until = last + 1;
    const select = async (mdp) => {
      await page.goto(`${server.url}?from=${from}&until=${until}&q=bench10k${mdp ? `&mdp=${mdp}` : ''}`);
      await page.waitForSelector('.mrow[data-path="bench10k.b"]');
      const times = [];
      let points = 0;
      for (let i = 0; i < RUNS; i++) {
        const name = i % 2 ? 'bench10k.b' : 'bench10k.a';
        const r = await page.evaluate(async (n) => {
          const row = document.querySelector(`.mrow[data-path="${n}"] .mrow-label`);
          const t = performance.now();
          const drawn = new Promise((resolve) => {
            const look = () => document.querySelector(`path.line[data-name="${n}"]`);
            const done = () => requestAnimationFrame(() => setTimeout(resolve, 0));
            const obs = new MutationObserver(() => {
              if (look()) {
                obs.disconnect();
                done();
              }
            });
            obs.observe(document.querySelector('#charts'), { childList: true, subtree: true });
          });
          row.click();
          await drawn;
          const d = document.querySelector(`path.line[data-name="${n}"]`).getAttribute('d');
          return { ms: performance.now() - t, points: (d.match(/[ML]/g) || []).length };
        }, name);
        times.push(r.ms);
        points = r.points;
      }
      return { ...stats(times.slice(1)), first: times[0], points };
    };
    const raw = await select('off');
    const fitted = await select(null);
    if (errors.length) console.error('console errors:', errors);

    const ty = stats(typing.map((k) => k.frame));
    const de = stats(deleting.map((k) => k.frame));
    const tys = stats(typing.map((k) => k.sync));
    const des = stats(deleting.map((k) => k.sync));
    console.log(`Front end, headless Chromium (${NAMES.toLocaleString('en-US')} names), ${new Date().toISOString()}`);
    console.log('');
    console.log('| what | median | p90 | max | target |');
    console.log('|---|---|---|---|---|');
    console.log(`| filter keystroke → next frame, typing (${ty.n} keys over ${total.toLocaleString('en-US')} names) | ${ms(ty.median)} | ${ms(ty.p90)} | ${ms(ty.max)} | < 50 ms |`);
    console.log(`| filter keystroke → next frame, deleting (${de.n} keys: full rescans) | ${ms(de.median)} | ${ms(de.p90)} | ${ms(de.max)} | < 50 ms |`);
    console.log(`| of which the input handler (filter + list rows), typing | ${ms(tys.median)} | ${ms(tys.p90)} | ${ms(tys.max)} | |`);
    console.log(`| of which the input handler (filter + list rows), deleting | ${ms(des.median)} | ${ms(des.p90)} | ${ms(des.max)} | |`);
    console.log(`| select → chart drawn, ${raw.points.toLocaleString('en-US')} points drawn (mdp=off, ${raw.n} runs) | ${ms(raw.median)} | ${ms(raw.p90)} | ${ms(raw.max)} | < 200 ms |`);
    console.log(`| select → chart drawn, 10,000 stored points fitted to the chart width (${fitted.points} drawn, ${fitted.n} runs) | ${ms(fitted.median)} | ${ms(fitted.p90)} | ${ms(fitted.max)} | < 200 ms |`);
    console.log('');
    console.log(`page load until all names are listed: ${loadMs} ms; first select (header not cached): ${ms(raw.first)}; last filter: ${matched}`);
  } finally {
    if (browser) await browser.close();
    if (server) await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
