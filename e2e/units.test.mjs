// Unit tests of the page's pure modules (tree and filter, address-bar
// state, units and formatting), run in node against the same files the
// browser loads.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as d3 from 'd3';

globalThis.window = { d3 };
const { NameTree, Filter, terms } = await import('../static/js/tree.js');
const { parseState, formatState, resolveTime, endsNow } = await import('../static/js/url-state.js');
const fmt = await import('../static/js/format.js');

test('NameTree: folders, leaves, a node that is both, names sorting around "."', () => {
  const names = ['a.b', 'a.b-x', 'a.b.c', 'a.b.d', 'z'].sort();
  const t = new NameTree(names);
  assert.deepEqual(t.rows.map((n) => n.path), ['a', 'z']);
  const ab = t.find('a.b');
  assert.equal(ab.leaf, true);
  assert.deepEqual(ab.children.map((c) => c.name), ['c', 'd']);
  assert.equal(t.find('a').children.length, 2, 'a.b and a.b-x, no duplicate a.b');
  assert.equal(t.reveal('a.b.d'), 3);
  assert.deepEqual(t.rows.map((n) => n.path), ['a', 'a.b', 'a.b.c', 'a.b.d', 'a.b-x', 'z']);
  assert.deepEqual(t.expandedPaths().sort(), ['a', 'a.b']);
  const again = new NameTree(names);
  again.setExpanded(['a', 'nope', 'a.b-x']);
  assert.deepEqual(again.rows.map((n) => n.path), ['a', 'a.b', 'a.b-x', 'z']);
});

test('Filter: every term must match, case-insensitive; refining scans only the last matches', () => {
  const names = [];
  for (let h = 0; h < 50; h++) for (const m of ['cpu.user', 'cpu.System', 'mem.used', 'Disk.io']) names.push(`host${h}.${m}`);
  names.sort();
  const t = new NameTree(names);
  const f = new Filter(t);
  const brute = (q) => names.filter((n) => terms(q).every((x) => n.toLowerCase().includes(x)));
  // Random queries typed, extended and cut back, against a brute-force filter.
  let seed = 7;
  const rnd = (n) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const alphabet = 'host1234.cpusermdiky SY';
  let q = '';
  for (let i = 0; i < 2000; i++) {
    if (rnd(3) === 0 && q) q = q.slice(0, -1 - rnd(3));
    else q += alphabet[rnd(alphabet.length)];
    const got = f.run(q);
    const want = brute(q);
    if (terms(q).length === 0) assert.equal(got, null);
    else assert.deepEqual(got.map((i2) => names[i2]), want, `query ${JSON.stringify(q)}`);
  }
});

test('URL state: round trip, names with commas, defaults left out', () => {
  const st = parseState('');
  assert.deepEqual(st, { charts: [], from: '-1h', until: 'now', zoom: null, refresh: 10, q: '', mdp: null, dashboard: null, units: [] });
  assert.equal(formatState(st), '');
  const full = {
    charts: [['a.b.c', 'odd,name.x', 'sp ace'], ['x.y']], from: '-6h', until: 'now', zoom: [1700000000, 1700003600],
    refresh: 0, q: 'cpu web', mdp: 'off', dashboard: null, units: [],
  };
  const s = formatState(full);
  assert.match(s, /^\?c=a\.b\.c,odd%2Cname\.x,sp%20ace&c=x\.y&from=-6h&zoom=1700000000_1700003600&refresh=off&mdp=off&q=cpu%20web$/);
  assert.deepEqual(parseState(s), full);
  assert.equal(endsNow(full), false);
  // A dashboard: its name stands for its charts.
  assert.equal(formatState({ ...full, dashboard: 'mine' }), '?d=mine&from=-6h&zoom=1700000000_1700003600&refresh=off&mdp=off&q=cpu%20web');
  assert.equal(parseState('?d=%40host.vm').dashboard, '@host.vm');
  assert.equal(parseState('?d=../etc').dashboard, null);
  // Units picked by hand, one per chart.
  const u = parseState('?c=a&c=b&c=c&units=,B%2Fs,furlong');
  assert.deepEqual(u.units, ['', 'B/s', '']);
  assert.equal(formatState(u), '?c=a&c=b&c=c&units=,B/s,');
});

test('URL state: junk is ignored, never thrown', () => {
  const st = parseState('?c=&from=rm%20-rf&until=all&zoom=9_3&refresh=-1&mdp=0&%E0%A4%A=1&c=%E0%A4%A&q=%');
  assert.deepEqual(st.charts, [['%E0%A4%A']]);
  assert.equal(st.from, '-1h');
  assert.equal(st.until, 'now');
  assert.equal(st.zoom, null);
  assert.equal(st.refresh, 10);
  assert.equal(st.mdp, null);
  assert.equal(st.q, '%');
  let seed = 1;
  for (let i = 0; i < 3000; i++) {
    let s = '?';
    const n = i % 40;
    for (let k = 0; k < n; k++) {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      s += '?&=,%_-cfromuntilzoq0123456789AZ%E0'[seed % 35];
    }
    const p = parseState(s);
    assert.ok(Array.isArray(p.charts));
    assert.equal(typeof formatState(p), 'string');
  }
});

test('resolveTime: Graphite-style relative times, epoch, now, whole retention', () => {
  const now = 1700000000;
  assert.equal(resolveTime('now', now), now);
  assert.equal(resolveTime('-15min', now), now - 900);
  assert.equal(resolveTime('-1h', now), now - 3600);
  assert.equal(resolveTime('-7d', now), now - 7 * 86400);
  assert.equal(resolveTime('-2w', now), now - 14 * 86400);
  assert.equal(resolveTime('-90s', now), now - 90);
  assert.equal(resolveTime('1690000000', now), 1690000000);
  assert.equal(resolveTime('all', now, 31536000), now - 31536000);
});

test('units implied by names (Etsy statsd and common suffixes)', () => {
  const cases = {
    'stats.timers.api.login.mean': 'ms', 'stats.timers.api.login.upper_90': 'ms', 'stats.timers.api.login.count': '',
    'stats.timers.api.login.count_ps': '/s', 'stats.timers.api.login.sum_squares': '', 'stats.gauges.queue': '',
    'stats.api.hits': '/s', 'stats.counters.api.hits.rate': '/s', 'stats.counters.api.hits.count': '', 'stats_counts.api.hits': '',
    'db.query_ms': 'ms', 'web.memory.used_bytes': 'B', 'disk.free_pct': '%', 'app.uptime': 's', 'host.cpu.user': '',
  };
  for (const [name, unit] of Object.entries(cases)) assert.equal(fmt.unitFor(name), unit, name);
  assert.equal(fmt.commonUnit(['a.x_ms', 'b.y_ms']), 'ms');
  assert.equal(fmt.commonUnit(['a.x_ms', 'b.bytes']), '');
});

test('formatting: values with units, durations, sizes', () => {
  assert.equal(fmt.formatValue(12.5, 'ms'), '12.5 ms');
  assert.equal(fmt.formatValue(1500, 'ms'), '1.5 s');
  assert.equal(fmt.formatValue(90000, 'ms'), '1.5 min');
  assert.equal(fmt.formatValue(0.25, 'ms'), '250 µs');
  assert.equal(fmt.formatValue(3 * 2 ** 30, 'B'), '3 GiB');
  assert.equal(fmt.formatValue(42, '%'), '42 %');
  assert.equal(fmt.formatValue(2500000, ''), '2.5 M');
  assert.equal(fmt.formatValue(0.1234567, ''), '0.1235');
  assert.equal(fmt.formatValue(null, ''), '—');
  assert.equal(fmt.formatDuration(10), '10 s');
  assert.equal(fmt.formatDuration(60), '1 min');
  assert.equal(fmt.formatDuration(86400), '1 d');
  assert.equal(fmt.formatDuration(604800), '1 w');
  assert.equal(fmt.formatDuration(31536000), '1 y');
  assert.equal(fmt.formatDuration(90), '90 s');
  assert.equal(fmt.formatDuration(5400), '90 min');
  assert.equal(fmt.formatDuration(100000), '1.16 d');
  assert.equal(fmt.formatDuration(30 * 86400), '30 d');
  assert.equal(fmt.formatBytes(1234567), '1.18 MiB');
  assert.equal(fmt.formatBytes(512), '512 B');
  const y = d3.scaleLinear().domain([0, 2000]);
  const f = fmt.axisFormatter(y, 'ms', 5);
  assert.deepEqual(y.ticks(5).map(f), ['0', '0.5 s', '1.0 s', '1.5 s', '2.0 s']);
});

test('axis ticks: distinct and true at every scale from 1e-3 to 1e12, every unit', () => {
  // The defect: 0, 5 G, 10 G, 20 G, 20 G, 30 G (15 G read as "20 G").
  const mem = d3.scaleLinear().domain([0, 30e9]);
  assert.deepEqual(mem.ticks(6).map(fmt.axisFormatter(mem, '', 6)), ['0', '5 G', '10 G', '15 G', '20 G', '25 G', '30 G']);
  for (const unit of fmt.UNITS) {
    for (let e = -3; e <= 12; e++) {
      for (const [a, b] of [[0, 1], [0, 3], [1, 1.2], [0.5, 7.5], [-2, 2], [9.9, 10.1]]) {
        for (const n of [3, 5, 8]) {
          const y = d3.scaleLinear().domain([a * 10 ** e, b * 10 ** e]).nice(n);
          const ticks = y.ticks(n);
          const labels = ticks.map(fmt.axisFormatter(y, unit, n));
          assert.equal(new Set(labels).size, ticks.length, `unit ${JSON.stringify(unit)}, [${y.domain()}], ${n}: ${labels.join(' | ')}`);
          for (const l of labels) assert.ok(l.length <= 14, `short label: ${l}`);
        }
      }
    }
  }
  // Labels say the value: for plain numbers, read back within half a step.
  const y = d3.scaleLinear().domain([0, 1.5e12]).nice(5);
  const prefix = { '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, m: 1e-3, 'µ': 1e-6 };
  for (const t of y.ticks(5)) {
    const l = fmt.axisFormatter(y, '', 5)(t);
    const m = /^(-?[\d.,]+)(?: ([kMGTmµ]))?$/.exec(l);
    assert.ok(m, l);
    assert.ok(Math.abs(+m[1].replace(/,/g, '') * prefix[m[2] || ''] - t) < 1e-6 * Math.max(1, t), `${l} is ${t}`);
  }
  const b = d3.scaleLinear().domain([0, 3 * 2 ** 20]);
  assert.equal(fmt.axisFormatter(b, 'B/s', 4)(2 ** 20), '1.0 MiB/s');
});

test('units: host input metrics (plugins/host/README.md), statsd histograms and distributions', () => {
  const cases = {
    'hosts.vm.cpu.total.user': '%', 'hosts.vm.cpu.total.iowait': '%', 'hosts.vm.load.load1': '',
    'hosts.vm.memory.used': 'B', 'hosts.vm.memory.used_percent': '%', 'hosts.vm.swap.free': 'B', 'hosts.vm.swap.in': 'B/s',
    'hosts.vm.disk.root.used': 'B', 'hosts.vm.disk.root.used_percent': '%', 'hosts.vm.disk.root.inodes_used': '',
    'hosts.vm.diskio.sda.read_bytes': 'B/s', 'hosts.vm.diskio.sda.reads': '/s', 'hosts.vm.diskio.sda.read_await': 'ms',
    'hosts.vm.diskio.sda.util': '%', 'hosts.vm.net.eth0.bytes_recv': 'B/s', 'hosts.vm.net.eth0.packets_sent': '/s',
    'hosts.vm.processes.total': '', 'hosts.vm.processes.forks': '/s',
    'stats.timers.api.payload_size.mean': '', 'stats.timers.upload.bytes.upper': 'B', 'stats.timers.queue.histogram.mean': '',
    'stats.timers.api.distribution.p99.mean': '', 'stats.timers.db.query.mean': 'ms',
  };
  for (const [name, unit] of Object.entries(cases)) assert.equal(fmt.unitFor(name), unit, name);
  assert.equal(fmt.formatValue(600 * 1024, 'B/s'), '600 KiB/s');
  assert.equal(fmt.formatValue(80, '%'), '80 %');
});

test('NameTree: a folder counts the metrics inside it, not its direct children', () => {
  const names = ['collectd.a.cpu.user', 'collectd.a.cpu.system', 'collectd.a.mem.used', 'collectd.b.load', 'x'];
  const t = new NameTree(names.sort());
  assert.equal(t.find('collectd').count, 4);
  assert.equal(t.find('collectd.a').count, 3);
  assert.equal(t.find('collectd.a.cpu').count, 2);
  assert.equal(t.find('collectd').children.length, 2);
});

test('chart titles: the common prefix, then what differs', async () => {
  const { chartTitle } = await import('../static/js/chart.js');
  assert.equal(chartTitle(['hosts.vm.cpu.total.user', 'hosts.vm.cpu.total.system', 'hosts.vm.cpu.total.iowait']),
    'hosts.vm.cpu.total: user, system, iowait');
  assert.equal(chartTitle(['a.b']), 'a.b');
  assert.equal(chartTitle(['a.b', 'c.d']), 'a.b, c.d');
  assert.equal(chartTitle(['a.b', 'a.b.c']), 'a: b, b.c');
});

test('units of Graphite expressions: from the paths inside, unless the function changes them', () => {
  const cases = {
    'sumSeries(stats.timers.api.*.mean)': 'ms', 'aliasByNode(hosts.vm.diskio.*.{read_bytes,write_bytes}, 3, 4)': 'B/s',
    'aliasByNode(hosts.vm.disk.*.used_percent, 3)': '%', 'sumSeries(stats.api.*.hits)': '/s',
    'alias(hosts.vm.memory.used, "mem (GiB)")': 'B', 'countSeries(hosts.*.memory.used)': '', 'derivative(hosts.vm.memory.used)': '',
    'asPercent(a.b, c.d)': '%', 'sumSeries(hosts.vm.memory.used, hosts.vm.cpu.total.user)': '',
  };
  for (const [t, u] of Object.entries(cases)) assert.equal(fmt.unitForTarget(t), u, t);
});
