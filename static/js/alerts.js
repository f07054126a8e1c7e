// Alerts on the page (docs/alerting.md): a list of the alerts that are
// not ok, and on each chart showing a rule's series the rule's threshold
// as a dashed line and the periods it was firing shaded. It polls
// /api/alerts; main.js hands it the charts to decorate (Chart's onDrawn
// hook) and redraws them when the alerts change.

const POLL_MS = 5000;
const ORDER = { firing: 0, pending: 1, resolved: 2, ok: 3 };

export class Alerts {
  // el: the list's container; onChange: called when what the charts
  // show of the alerts changed (main.js redraws them).
  constructor(el, onChange) {
    this.el = el;
    this.onChange = onChange;
    this.data = null;
    this.key = '';
    this.timer = null;
  }

  start() {
    this.poll();
  }

  async poll() {
    clearTimeout(this.timer);
    try {
      const res = await fetch('api/alerts', { cache: 'no-store', headers: { Accept: 'application/json' } });
      if (res.ok) this.update(await res.json());
    } catch { /* the page's banner reports an unreachable server */ }
    this.timer = setTimeout(() => this.poll(), POLL_MS);
  }

  update(data) {
    if (!data || !data.enabled) {
      this.el.hidden = true;
      this.data = null;
      return;
    }
    this.data = data;
    this.renderList();
    const key = JSON.stringify([data.rules.map((r) => [r.name, r.target, r.above, r.below]), data.periods,
      data.alerts.map((a) => [a.rule, a.series, a.state])]);
    if (key !== this.key) {
      this.key = key;
      if (this.onChange) this.onChange();
    }
  }

  renderList() {
    const d = this.data;
    const shown = d.alerts.filter((a) => a.state !== 'ok')
      .sort((a, b) => (ORDER[a.state] - ORDER[b.state]) || a.rule.localeCompare(b.rule) || a.series.localeCompare(b.series));
    const errors = d.rules.filter((r) => r.last_error);
    this.el.hidden = false;
    this.el.replaceChildren();
    const h = document.createElement('h2');
    h.className = 'alerts-title';
    const firing = shown.filter((a) => a.state === 'firing').length;
    h.textContent = firing ? `Alerts: ${firing} firing` : 'Alerts';
    this.el.append(h);
    const ul = document.createElement('ul');
    ul.className = 'alert-list';
    for (const a of shown) {
      const li = document.createElement('li');
      li.className = `alert-item state-${a.state}`;
      li.dataset.rule = a.rule;
      li.dataset.series = a.series;
      li.dataset.state = a.state;
      const badge = document.createElement('span');
      badge.className = 'alert-state';
      badge.textContent = a.state;
      const name = document.createElement('span');
      name.className = 'alert-rule';
      name.textContent = a.rule;
      const series = document.createElement('span');
      series.className = 'alert-series';
      series.textContent = a.series;
      const sum = document.createElement('span');
      sum.className = 'alert-summary';
      sum.textContent = a.summary;
      li.title = `since ${new Date(a.since).toLocaleString()}`;
      li.append(badge, name, series, sum);
      ul.append(li);
    }
    for (const r of errors) {
      const li = document.createElement('li');
      li.className = 'alert-item state-error';
      li.dataset.rule = r.name;
      li.textContent = `${r.name}: ${r.last_error}`;
      ul.append(li);
    }
    if (!shown.length && !errors.length) {
      const li = document.createElement('li');
      li.className = 'alert-item none';
      li.textContent = `All ${d.rules.length} rule${d.rules.length === 1 ? '' : 's'} ok.`;
      ul.append(li);
    }
    this.el.append(ul);
  }

  // rulesFor returns the rules whose alerts are about a series name: an
  // alert for that series, or the rule's target is that very name.
  rulesFor(name) {
    const d = this.data;
    if (!d) return [];
    const names = new Set(d.alerts.filter((a) => a.series === name).map((a) => a.rule));
    for (const r of d.rules) if (r.target === name) names.add(r.name);
    return d.rules.filter((r) => names.has(r.name));
  }

  // decorate draws, into a chart's plot area g with its scales sc
  // ({x, y, plotW, plotH, series}), the thresholds and firing periods of
  // the rules about its series. Called by Chart after it drew the lines.
  decorate(g, sc) {
    if (!this.data || !sc) return;
    const layer = g.insert('g', '.lines').attr('class', 'alert-marks');
    const [y0, y1] = sc.y.domain();
    const [t0, t1] = sc.x.domain().map((d) => d.getTime());
    const now = Date.now();
    for (const s of sc.series) {
      for (const r of this.rulesFor(s.name)) {
        const th = r.above ?? r.below;
        if (th >= Math.min(y0, y1) && th <= Math.max(y0, y1)) {
          layer.append('line').attr('class', 'alert-threshold')
            .attr('data-rule', r.name).attr('data-threshold', th)
            .attr('x1', 0).attr('x2', sc.plotW).attr('y1', sc.y(th)).attr('y2', sc.y(th))
            .append('title').text(`${r.name}: ${r.above !== undefined && r.above !== null ? 'above' : 'below'} ${th}`);
        }
        const key = r.target === s.name ? null : s.name;
        for (const p of this.data.periods) {
          if (p.rule !== r.name || (key !== null && p.series !== key)) continue;
          const from = Math.max(Date.parse(p.from), t0);
          const until = Math.min(p.until ? Date.parse(p.until) : now, t1);
          if (!(until > from)) continue;
          layer.append('rect').attr('class', 'alert-firing')
            .attr('data-rule', r.name).attr('data-series', p.series)
            .attr('data-from', Date.parse(p.from) / 1000).attr('data-until', p.until ? Date.parse(p.until) / 1000 : '')
            .attr('x', sc.x(new Date(from))).attr('width', Math.max(1, sc.x(new Date(until)) - sc.x(new Date(from))))
            .attr('y', 0).attr('height', sc.plotH);
        }
      }
    }
  }
}
