// One chart card: several series on a local-time axis, y scaled to the
// data with the unit the names imply, gaps for nulls, a hover crosshair
// with time and values, drag to zoom, double-click to reset, a legend.
import { axisFormatter, commonUnit, formatClock, formatDuration, formatTime, formatValue, timeTick, unitFor, unitForTarget } from './format.js';

// The unit picker's choices: [value, label] (dashboards' "unit" key).
const UNIT_CHOICES = [['auto', 'Unit: auto'], ['none', 'number'], ['ms', 'ms'], ['s', 's'], ['B', 'bytes'],
  ['B/s', 'bytes/s'], ['%', '%'], ['/s', 'per second']];

const d3 = window.d3;
const MARGIN = { top: 10, right: 16, bottom: 26 };
const PALETTE = 10;

export class Chart {
  constructor(parent, handlers) {
    this.h = handlers;
    this.names = [];
    this.result = null;
    this.info = new Map();
    this.el = document.createElement('section');
    this.el.className = 'chart card';
    this.el.innerHTML = `
      <header class="chart-head">
        <h2 class="chart-title"></h2>
        <div class="chart-actions">
          <select class="unit-pick" title="The values' unit (auto: from the metric names)" aria-label="Unit of this chart">${
  UNIT_CHOICES.map(([v, l]) => `<option value="${v}">${l}</option>`).join('')}</select>
          <button type="button" class="btn small icon close-chart" title="Close this chart" aria-label="Close this chart">✕</button>
        </div>
        <p class="chart-meta"></p>
      </header>
      <div class="chart-body">
        <svg class="plot" role="img"></svg>
        <div class="chart-msg" role="status"></div>
        <div class="tooltip" hidden></div>
      </div>
      <table class="legend"><thead><tr>
        <th scope="col">Series</th><th scope="col" class="num">Last</th><th scope="col" class="num wide">Min</th>
        <th scope="col" class="num wide">Avg</th><th scope="col" class="num wide">Max</th><th scope="col"><span class="sr-only">Actions</span></th>
      </tr></thead><tbody></tbody></table>`;
    parent.append(this.el);
    this.svg = d3.select(this.el.querySelector('svg'));
    this.body = this.el.querySelector('.chart-body');
    this.msg = this.el.querySelector('.chart-msg');
    this.tip = this.el.querySelector('.tooltip');
    this.el.querySelector('.close-chart').addEventListener('click', () => this.h.onClose(this));
    this.el.querySelector('.unit-pick').addEventListener('change', (e) => this.h.onUnit && this.h.onUnit(this, e.target.value));
    this.el.addEventListener('pointerdown', () => this.h.onActivate(this), true);
    this.el.addEventListener('focusin', () => this.h.onActivate(this));
    this.el.querySelector('tbody').addEventListener('click', (e) => {
      const b = e.target.closest('button');
      if (!b) return;
      if (b.dataset.action === 'info') this.h.onInfo(b.dataset.name);
      if (b.dataset.action === 'remove') this.h.onRemove(this, b.dataset.name);
    });
    this.width = 0;
    this.ro = new ResizeObserver(() => {
      const w = this.body.clientWidth;
      if (w && Math.abs(w - this.width) > 1) {
        this.width = w;
        this.draw();
      }
    });
    this.ro.observe(this.body);
  }

  destroy() {
    this.ro.disconnect();
    this.el.remove();
  }

  // plotWidth is the number of pixels the time axis spans (the data
  // request's maxDataPoints).
  plotWidth() {
    return Math.max(50, Math.floor((this.body.clientWidth || 600) - 70 - MARGIN.right));
  }

  setActive(on) { this.el.classList.toggle('active', on); }

  setZoomed(on) { this.el.classList.toggle('zoomed', on); }

  // setUnit overrides the unit the names imply ('' plain, null: automatic).

  // unitOf: the unit of one series (the chart's own unit when it has one).
  unitOf(name) {
    if (this.unit !== null && this.unit !== undefined) return this.unit;
    // An expression's series are named by the server (aliases…): the
    // unit comes from the paths in the targets.
    return this.expr ? this.exprUnit() : unitFor(name);
  }

  exprUnit() {
    const units = new Set(this.names.map(unitForTarget));
    return units.size === 1 ? [...units][0] : '';
  }

  // setOptions: a dashboard chart's title, unit, yAxis, yMin, yMax.
  setOptions(meta) {
    this.opts = meta;
    this.customTitle = meta.title || '';
    const u = meta.unit;
    this.unit = u === undefined || u === '' || u === 'auto' ? null : u === 'none' ? '' : u;
    this.el.querySelector('.unit-pick').value = u === undefined || u === '' ? 'auto' : u;
  }

  // setMetrics: the chart's targets; expr: some are Graphite expressions
  // (drawn from the render API, one legend row per series it returns).
  setMetrics(names, expr = false) {
    this.names = names;
    this.expr = expr;
    const title = this.el.querySelector('.chart-title');
    title.textContent = this.customTitle || chartTitle(names);
    title.title = names.join('\n');
    this.el.setAttribute('aria-label', `Chart of ${names.join(', ')}`);
  }

  setInfo(name, info) { this.info.set(name, info); }

  setLoading(on) {
    this.el.classList.toggle('loading', on);
    if (on && !this.result) this.message('loading', 'Loading…');
  }

  message(kind, text) {
    this.msg.className = `chart-msg ${kind || ''}`;
    this.msg.textContent = text || '';
    this.el.dataset.state = kind || 'ok';
  }

  // setResult draws an /api/data answer; domain = [from, until] in seconds.
  setResult(result) {
    this.result = result;
    // An auto-refresh must not pull the chart from under a drag: draw
    // when the drag ends.
    if (this.brushing) this.pending = true;
    else this.draw();
  }

  draw() {
    const r = this.result;
    if (!r) return;
    const W = this.body.clientWidth || 600;
    const H = W < 500 ? 220 : 280;
    const series = r.series.filter((s) => !s.error && Array.isArray(s.values));
    const failed = r.series.filter((s) => s.error);
    const unit = this.unit !== null && this.unit !== undefined ? this.unit
      : this.expr ? this.exprUnit() : commonUnit(series.map((s) => s.name));

    // y domain from the values inside the x domain.
    let lo = Infinity;
    let hi = -Infinity;
    let count = 0;
    for (const s of series) {
      for (let i = 0; i < s.values.length; i++) {
        const v = s.values[i];
        if (v === null || !Number.isFinite(v)) continue;
        const t = s.start + i * s.step;
        if (t < r.from - s.step || t > r.until) continue;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
        count++;
      }
    }
    if (count === 0) {
      lo = 0;
      hi = 1;
    } else if (lo === hi) {
      // A flat line sits in the middle (from 0 when it is positive).
      if (lo > 0) {
        hi = lo * 2;
        lo = 0;
      } else if (lo < 0) {
        lo *= 2;
        hi = 0;
      } else {
        lo = -1;
        hi = 1;
      }
    } else if (lo > 0 && lo <= hi - lo) {
      lo = 0;
    } else if (hi < 0 && -hi <= hi - lo) {
      hi = 0;
    }
    const meta = this.opts || {};
    if (count > 0 && meta.yAxis === 'zero') {
      if (lo > 0) lo = 0;
      if (hi < 0) hi = 0;
    }
    if (meta.yAxis === 'percent') {
      lo = Math.min(0, lo);
      hi = Math.max(100, count ? hi : 100);
    }
    if (count > 0 && hi > lo && meta.yAxis !== 'percent') {
      // Headroom, so the top of a line is not glued to the frame.
      const room = (hi - lo) * 0.05;
      if (hi !== 0) hi += room;
      if (lo !== 0) lo -= room;
    }
    const plotH = H - MARGIN.top - MARGIN.bottom;
    const yTicks = Math.max(3, Math.round(plotH / 45));
    const y = d3.scaleLinear().range([plotH, 0]);
    const div = unitDivisor(unit, Math.max(Math.abs(lo), Math.abs(hi)));
    if (div !== 1) {
      // Binary units: round ticks in the unit shown (1.5 GiB, not 1.49).
      const [a, b] = d3.nice(lo / div, hi / div, yTicks);
      y.domain([a * div, b * div]);
      const base = y.ticks;
      y.ticks = (n) => d3.ticks(a, b, n).map((t) => t * div);
      y.ticks.base = base;
    } else {
      y.domain([lo, hi]).nice(yTicks);
    }
    if (Number.isFinite(meta.yMin) || Number.isFinite(meta.yMax)) {
      const [a, b] = y.domain();
      y.domain([Number.isFinite(meta.yMin) ? meta.yMin : a, Number.isFinite(meta.yMax) ? meta.yMax : b]);
    }
    const yFmt = axisFormatter(y, unit, yTicks);
    const labelW = d3.max(y.ticks(yTicks), (t) => yFmt(t).length) || 1;
    const left = Math.max(36, Math.ceil(labelW * 7.2) + 14);
    const plotW = Math.max(50, W - left - MARGIN.right);
    const x = d3.scaleTime().domain([new Date(r.from * 1000), new Date(r.until * 1000)]).range([0, plotW]);
    this.scales = { x, y, plotW, plotH, left, unit, series };

    const svg = this.svg;
    svg.selectAll('*').remove();
    svg.attr('hidden', count === 0 ? '' : null);
    svg.attr('width', W).attr('height', H).attr('viewBox', `0 0 ${W} ${H}`)
      .attr('aria-label', `Line chart of ${this.names.join(', ')} from ${formatTime(x.domain()[0])} to ${formatTime(x.domain()[1])}`)
      .attr('data-from', r.from).attr('data-until', r.until)
      .attr('data-y-min', y.domain()[0]).attr('data-y-max', y.domain()[1])
      .attr('data-plot-width', plotW).attr('data-plot-height', plotH);
    const clipId = `clip-${Math.random().toString(36).slice(2)}`;
    svg.append('clipPath').attr('id', clipId).append('rect').attr('width', plotW).attr('height', plotH + 1).attr('y', -0.5);
    const g = svg.append('g').attr('class', 'plot-area').attr('transform', `translate(${left},${MARGIN.top})`);

    g.append('g').attr('class', 'grid')
      .call(d3.axisLeft(y).ticks(yTicks).tickSize(-plotW).tickFormat(''))
      .call((a) => a.select('.domain').remove());
    g.append('g').attr('class', 'axis axis-x').attr('transform', `translate(0,${plotH})`)
      .call(d3.axisBottom(x).ticks(Math.max(2, Math.floor(plotW / 90))).tickFormat(timeTick).tickSizeOuter(0));
    g.append('g').attr('class', 'axis axis-y')
      .call(d3.axisLeft(y).ticks(yTicks).tickFormat(yFmt).tickSizeOuter(0))
      .call((a) => a.select('.domain').remove());

    const lines = g.append('g').attr('class', 'lines').attr('clip-path', `url(#${clipId})`);
    // One pass per series: the path (a new run after each null, so gaps
    // stay gaps) and the lone points, which a line would not show.
    const kx = plotW / (r.until - r.from);
    for (const s of series) {
      let d = '';
      let run = 0;
      let px = 0;
      let py = 0;
      const lone = [];
      for (let i = 0; i < s.values.length; i++) {
        const v = s.values[i];
        if (v === null || !Number.isFinite(v)) {
          if (run === 1) lone.push([px, py]);
          run = 0;
          continue;
        }
        px = (s.start + i * s.step - r.from) * kx;
        py = y(v);
        d += `${run === 0 ? 'M' : 'L'}${px.toFixed(2)},${py.toFixed(2)}`;
        run++;
      }
      if (run === 1) lone.push([px, py]);
      const color = `s${this.colorIndex(s.name) % PALETTE}`;
      lines.append('path').attr('class', `line ${color}`).attr('data-name', s.name)
        .attr('data-step', s.step).attr('data-start', s.start).attr('data-archive', s.archive)
        .attr('d', d);
      lines.selectAll(null).data(lone).join('circle').attr('class', `lone ${color}`)
        .attr('cx', (p) => p[0]).attr('cy', (p) => p[1]).attr('r', 2.5);
    }
    if (this.h.onDrawn) this.h.onDrawn(this, g); // alerts.js: thresholds, firing periods
    if (count === 0) {
      if (failed.length && !series.length) this.message('gone', '');
      else this.noData(series);
    } else {
      this.message('', '');
    }

    // Crosshair + brush.
    const cross = g.append('g').attr('class', 'crosshair').style('display', 'none');
    cross.append('line').attr('y1', 0).attr('y2', plotH);
    this.cross = cross;
    const brush = d3.brushX().extent([[0, 0], [plotW, plotH]])
      .on('start', (e) => {
        this.hideTip(cross);
        if (e.sourceEvent) this.brushing = true;
      })
      .on('end', (e) => {
        if (!e.sourceEvent) return;
        this.brushing = false;
        const redraw = this.pending;
        this.pending = false;
        if (!e.selection) {
          if (redraw) this.draw();
          return;
        }
        const [a, b] = e.selection.map((px) => x.invert(px).getTime() / 1000);
        gb.call(brush.move, null);
        if (e.selection[1] - e.selection[0] < 4) {
          if (redraw) this.draw();
          return;
        }
        this.h.onZoom(Math.floor(a), Math.ceil(b));
      });
    const gb = g.append('g').attr('class', 'brush').call(brush);
    gb.on('dblclick', () => this.h.onReset());
    gb.on('pointermove', (e) => {
      this.lastPointer = e;
      this.hover(e, cross);
    }).on('pointerleave', () => {
      this.lastPointer = null;
      this.hideTip(cross);
    });
    // Redrawn under a resting mouse (auto-refresh): keep the crosshair.
    if (this.lastPointer && series.length) this.hover(this.lastPointer, cross);

    this.legend(series, failed, unit, r);
    this.meta(series, failed);
  }

  // noData: nothing in the range; say when the last point was and offer
  // to show it (handlers.onJump(from, until)).
  noData(series) {
    let last = null;
    for (const s of series) {
      const info = this.info.get(s.name);
      for (const a of (info && info.archives) || []) {
        if (Number.isFinite(a.newest) && (last === null || a.newest > last)) last = a.newest;
      }
    }
    this.message('nodata', '');
    const p = document.createElement('span');
    if (last === null) {
      p.textContent = 'No data in this range.';
      this.msg.append(p);
      this.el.dataset.lastData = '';
      return;
    }
    const d = new Date(last * 1000);
    const today = new Date().toDateString() === d.toDateString();
    p.textContent = `No data since ${today ? formatClock(d).slice(0, 5) : formatTime(d).slice(0, 16)}. `;
    this.el.dataset.lastData = String(last);
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'btn small jump-last';
    b.textContent = 'Show the last data';
    const span = Math.max(3600, (this.result.until - this.result.from));
    b.addEventListener('click', () => this.h.onJump && this.h.onJump(Math.floor(last - span * 0.9), Math.ceil(last + span * 0.1)));
    this.msg.append(p, b);
  }

  // rowNames: the legend's rows (the targets, or for expressions the
  // series the server returned).
  rowNames() {
    if (!this.expr) return this.names;
    return this.result ? this.result.series.map((s) => s.name) : [];
  }

  colorIndex(name) {
    const i = this.rowNames().indexOf(name);
    return i < 0 ? 0 : i;
  }

  hover(e, cross) {
    const sc = this.scales;
    if (!sc || !sc.series.length || e.buttons) return;
    const [mx] = d3.pointer(e, this.svg.select('.plot-area').node());
    const t = sc.x.invert(mx).getTime() / 1000;
    const rows = [];
    let snap = null;
    for (const s of sc.series) {
      const i = Math.max(0, Math.min(s.values.length - 1, Math.round((t - s.start) / s.step)));
      const ts = s.start + i * s.step;
      if (snap === null) snap = ts;
      rows.push({ s, v: s.values[i], ts });
    }
    const px = sc.x(snap * 1000);
    if (this.h.onHover) this.h.onHover(this, snap);
    cross.style('display', null);
    cross.select('line').attr('x1', px).attr('x2', px);
    cross.selectAll('circle').data(rows.filter((r) => r.v !== null)).join('circle')
      .attr('class', (r) => `s${this.colorIndex(r.s.name) % PALETTE}`).attr('r', 3.5)
      .attr('cx', (r) => sc.x(r.ts * 1000)).attr('cy', (r) => sc.y(r.v));
    const tip = this.tip;
    tip.replaceChildren();
    const head = document.createElement('div');
    head.className = 'tip-time';
    head.textContent = formatTime(new Date(snap * 1000));
    tip.append(head);
    for (const r of rows) {
      const row = document.createElement('div');
      row.className = 'tip-row';
      const sw = document.createElement('span');
      sw.className = `swatch s${this.colorIndex(r.s.name) % PALETTE}`;
      const nm = document.createElement('span');
      nm.className = 'tip-name';
      nm.textContent = r.s.name;
      const val = document.createElement('span');
      val.className = 'tip-val';
      val.textContent = r.v === null ? 'no data' : formatValue(r.v, this.unitOf(r.s.name));
      row.append(sw, nm, val);
      tip.append(row);
    }
    tip.hidden = false;
    const bw = this.body.clientWidth;
    const tw = tip.offsetWidth;
    let left = sc.left + px + 14;
    if (left + tw > bw - 4) left = Math.max(4, sc.left + px - tw - 14);
    tip.style.left = `${left}px`;
    tip.style.top = `${MARGIN.top + 4}px`;
  }

  hideTip(cross) {
    cross.style('display', 'none');
    this.tip.hidden = true;
    if (this.h.onHover) this.h.onHover(this, null);
  }

  // showTime draws the crosshair line only, at time t (seconds) or hides
  // it (null): the other charts follow the one under the mouse.
  showTime(t) {
    const sc = this.scales;
    if (!sc || !this.cross) return;
    const px = t === null ? NaN : sc.x(t * 1000);
    if (!(px >= 0 && px <= sc.plotW)) {
      this.cross.style('display', 'none');
      return;
    }
    this.cross.style('display', null).selectAll('circle').remove();
    this.cross.select('line').attr('x1', px).attr('x2', px);
  }

  legend(series, failed, unit, r) {
    const tbody = this.el.querySelector('tbody');
    tbody.replaceChildren();
    for (const name of this.rowNames()) {
      const s = series.find((x) => x.name === name);
      const f = failed.find((x) => x.name === name);
      const tr = document.createElement('tr');
      tr.dataset.name = name;
      const td0 = document.createElement('td');
      const cell = document.createElement('span');
      cell.className = 'legend-name';
      const sw = document.createElement('span');
      sw.className = `swatch s${this.colorIndex(name) % PALETTE}`;
      const info = document.createElement(this.expr ? 'span' : 'button');
      if (!this.expr) {
        info.type = 'button';
        info.className = 'link';
        info.dataset.action = 'info';
        info.dataset.name = name;
        info.title = 'Show the metric info (whisper header)';
      }
      info.textContent = name;
      cell.append(sw, info);
      td0.append(cell);
      tr.append(td0);
      if (f || !s) {
        tr.className = 'failed';
        const td = document.createElement('td');
        td.colSpan = 4;
        td.className = 'legend-error';
        td.textContent = f ? describeError(f.error) : 'not in the answer';
        tr.append(td);
      } else {
        const u = this.unitOf(name);
        let last = null;
        let mn = Infinity;
        let mx = -Infinity;
        let sum = 0;
        let n = 0;
        for (let i = 0; i < s.values.length; i++) {
          const v = s.values[i];
          if (v === null) continue;
          last = v;
          if (v < mn) mn = v;
          if (v > mx) mx = v;
          sum += v;
          n++;
        }
        for (const [v, cls] of [[last, 'num'], [n ? mn : null, 'num wide'], [n ? sum / n : null, 'num wide'], [n ? mx : null, 'num wide']]) {
          const td = document.createElement('td');
          td.className = cls;
          td.textContent = formatValue(v, u);
          tr.append(td);
        }
      }
      const tdx = document.createElement('td');
      tdx.className = 'legend-actions';
      const rm = document.createElement('button');
      rm.type = 'button';
      rm.className = 'btn icon small';
      rm.dataset.action = 'remove';
      rm.dataset.name = name;
      rm.title = `Remove ${name} from this chart`;
      rm.setAttribute('aria-label', `Remove ${name} from this chart`);
      rm.textContent = '✕';
      if (!this.expr) tdx.append(rm);
      tr.append(tdx);
      tbody.append(tr);
    }
    void unit;
    void r;
  }

  // meta: a short subtitle, the point step (once, however many series)
  // when it is coarser than the finest archive, "consolidated" when points
  // were merged for the width; the full archive detail is in the title
  // attribute and the info panel.
  meta(series, failed) {
    const steps = new Set();
    let merged = false;
    const detail = [];
    for (const s of series) {
      steps.add(s.step);
      const info = this.info.get(s.name);
      const arch = info && info.archives ? info.archives.find((a) => a.index === s.archive) : null;
      const spp = arch ? arch.secondsPerPoint : null;
      if (spp && s.step > spp) merged = true;
      let text = `${s.name}: archive ${s.archive}`;
      if (spp) text += ` (${formatDuration(spp)} per point, ${formatDuration(arch.retention)})`;
      if (spp && s.step > spp) text += `, consolidated to ${formatDuration(s.step)} per point by ${s.aggregationMethod || 'average'}`;
      detail.push(text);
    }
    const gone = failed.map((f) => f.name);
    const el = this.el.querySelector('.chart-meta');
    // The step matters when it is not the finest the files have: a coarser
    // archive, or points merged to fit the width.
    const coarse = merged || series.some((x) => x.archive > 0);
    el.textContent = steps.size === 0 || !coarse ? ''
      : `${[...steps].map(formatDuration).join(', ')} per point${merged ? ' (consolidated)' : ''}`;
    el.title = detail.join('\n');
    if (gone.length && !series.length) {
      const only = gone.length === 1 ? gone[0] : `${gone.length} metrics`;
      this.message('gone', `${only}: ${describeError(failed[0].error)}. Remove it from the chart or pick another metric.`);
    }
    this.el.dataset.archive = series.map((s) => s.archive).join(',');
  }
}

// unitDivisor: for bytes, the binary multiple the axis is labelled in.
function unitDivisor(unit, maxAbs) {
  if (unit !== 'B' && unit !== 'B/s') return 1;
  for (const p of [40, 30, 20, 10]) if (maxAbs >= 2 ** p) return 2 ** p;
  return 1;
}

// chartTitle: one name as is; several as their common dotted prefix and
// the rest of each (hosts.vm.cpu.total: user, system, iowait).
export function chartTitle(names) {
  if (names.length === 0) return 'New chart';
  if (names.length === 1) return names[0];
  const split = names.map((n) => n.split('.'));
  let k = 0;
  const min = Math.min(...split.map((p) => p.length - 1));
  while (k < min && split.every((p) => p[k] === split[0][k])) k++;
  if (k === 0) return names.join(', ');
  return `${split[0].slice(0, k).join('.')}: ${split.map((p) => p.slice(k).join('.')).join(', ')}`;
}

export function describeError(msg) {
  if (/not found|no such|does not exist|unknown metric/i.test(msg || '')) {
    return 'metric gone — no such whisper file any more (deleted or renamed)';
  }
  return `cannot read it: ${msg}`;
}
