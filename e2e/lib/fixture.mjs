// Whisper fixtures made by Graphite's own whisper.py (Debian python3-whisper,
// run with /usr/bin/python3: the python3 on PATH may not see Debian's
// modules), with known values the tests compare the page against.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const PYTHON = '/usr/bin/python3';

const SCRIPT = `
import json, os, sys, whisper
spec = json.load(sys.stdin)
for m in spec["metrics"]:
    p = os.path.join(spec["dir"], *m["name"].split(".")) + ".wsp"
    if os.path.exists(p) and not m.get("append"):
        os.remove(p)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    if not os.path.exists(p):
        whisper.create(p, [tuple(a) for a in m["archives"]], xFilesFactor=m["xff"], aggregationMethod=m["agg"])
    pts = [(t, v) for t, v in m["points"] if v is not None]
    if pts:
        whisper.update_many(p, pts)
`;

// whisperPyMissing says why Graphite's whisper module cannot be used, or
// returns ''.
export function whisperPyMissing() {
  try {
    execFileSync(PYTHON, ['-c', 'import whisper'], { stdio: 'pipe' });
    return '';
  } catch (err) {
    return `${PYTHON} cannot import whisper (install Debian's python3-whisper): ${err.stderr || err.message}`;
  }
}

// checkWhisperPy fails clearly when Graphite's whisper module is missing.
export function checkWhisperPy() {
  const missing = whisperPyMissing();
  if (missing) throw new Error(missing);
}

// writeMetrics creates (or, with append, updates) whisper files in dir.
// metrics: [{name, archives: [[secondsPerPoint, points]...], xff, agg, points: [[t, v|null]...]}]
export function writeMetrics(dir, metrics) {
  execFileSync(PYTHON, ['-c', SCRIPT], { input: JSON.stringify({ dir, metrics }), stdio: ['pipe', 'pipe', 'pipe'] });
}

export function tempDir(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

// series makes n points at step ending one step before now (aligned), with
// value f(i) and null where gap(i).
export function series(n, step, f, gap = () => false) {
  const now = Math.floor(Date.now() / 1000);
  const last = Math.floor(now / step) * step - step;
  const pts = [];
  for (let i = 0; i < n; i++) {
    const t = last - (n - 1 - i) * step;
    pts.push([t, gap(i) ? null : f(i)]);
  }
  return pts;
}

// The standard fixture: six metrics, minute points over the last hour.
export function standardFixture() {
  const min = (f, gap) => series(60, 60, f, gap);
  const arch = [[60, 1440], [3600, 720]];
  return [
    { name: 'servers.web1.cpu.user', archives: arch, xff: 0.5, agg: 'average',
      points: min((i) => 10 + (i % 7) * 3 + i / 4, (i) => i >= 20 && i < 25) },
    { name: 'servers.web2.cpu.user', archives: arch, xff: 0.5, agg: 'average', points: min((i) => 50 - i / 2) },
    { name: 'servers.web1.memory.used_bytes', archives: arch, xff: 0.5, agg: 'max', points: min((i) => 1.5e9 + i * 1e7) },
    { name: 'stats.timers.api.login.mean', archives: [[10, 8640], [60, 10080], [600, 52560]], xff: 0.3, agg: 'average',
      points: series(360, 10, (i) => 120 + 80 * Math.sin(i / 20)) },
    { name: 'stats_counts.api.hits', archives: arch, xff: 0, agg: 'sum', points: min((i) => (i * 37) % 100) },
    { name: 'hello.world', archives: arch, xff: 0.5, agg: 'sum', points: min((i) => (i % 2 ? 1 : null)) },
  ];
}
