/**
 * The dashboard page's script, served as `/assets/dashboard.<hash>.js` (a string here so the
 * build ships it with no bundler step; it is plain ES2020 for the browser, no DOM types in
 * this project's type-check). It follows `/stream` with an EventSource, keeps the last two
 * minutes of frames, draws them with uPlot (one chart per figure, one series per cache,
 * limiter or queue) and rewrites the page's numbers. Everything it writes into the page goes
 * through `textContent`, never HTML.
 */
export const CLIENT_SCRIPT = String.raw`'use strict';
(function () {
  var body = document.body;
  var base = body.getAttribute('data-base') || '';
  var KEEP = 120;
  var COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777'];
  var charts = {};
  var times = [];
  var frames = 0;

  function sum(obj, field) {
    var total = 0;
    for (var k in obj) total += obj[k][field] || 0;
    return total;
  }
  function fmt(n, digits) {
    if (n === null || n === undefined) return '\u2014';
    if (typeof n !== 'number') return String(n);
    return n.toLocaleString('en', { maximumFractionDigits: digits === undefined ? 1 : digits });
  }
  function pct(n) { return n === null || n === undefined ? '\u2014' : (n * 100).toFixed(1) + ' %'; }
  function set(id, text) { var el = document.getElementById(id); if (el) el.textContent = text; }

  /** One chart: series by label, values pulled from each frame by pick(frame) -> {label: value}. */
  function Chart(id, pick) {
    this.el = document.getElementById(id);
    this.pick = pick;
    this.labels = [];
    this.values = {};
    this.plot = null;
  }
  Chart.prototype.push = function (frame) {
    var got = this.pick(frame);
    var labels = Object.keys(got);
    var grew = false;
    for (var i = 0; i < labels.length; i++) {
      if (this.labels.indexOf(labels[i]) < 0) {
        this.labels.push(labels[i]);
        var filled = [];
        for (var j = 0; j < times.length - 1; j++) filled.push(null);
        this.values[labels[i]] = filled;
        grew = true;
      }
    }
    for (var l = 0; l < this.labels.length; l++) {
      var series = this.values[this.labels[l]];
      var v = got[this.labels[l]];
      series.push(v === undefined ? null : v);
      while (series.length > times.length) series.shift();
    }
    this.draw(grew);
  };
  Chart.prototype.data = function () {
    var out = [times.slice()];
    for (var i = 0; i < this.labels.length; i++) out.push(this.values[this.labels[i]].slice());
    return out;
  };
  Chart.prototype.draw = function (rebuild) {
    if (!this.el || typeof uPlot === 'undefined' || this.labels.length === 0) return;
    if (this.plot && !rebuild) { this.plot.setData(this.data()); return; }
    if (this.plot) this.plot.destroy();
    var series = [{}];
    for (var i = 0; i < this.labels.length; i++) {
      series.push({ label: this.labels[i], stroke: COLORS[i % COLORS.length], width: 2, spanGaps: true,
        points: { show: false } });
    }
    this.el.textContent = '';
    this.plot = new uPlot({ width: Math.max(240, this.el.clientWidth || 360), height: 160,
      series: series, scales: { x: { time: true } }, legend: { live: false } }, this.data(), this.el);
  };

  function byName(obj, field) {
    var out = {};
    for (var k in obj) out[k] = obj[k][field];
    return out;
  }
  var list = [
    new Chart('chart-hit-ratio', function (f) { return byName(f.caches, 'hitRatio'); }),
    new Chart('chart-ops', function (f) { return byName(f.caches, 'opsPerSec'); }),
    new Chart('chart-latency', function (f) {
      var out = {};
      for (var k in f.caches) { out[k + ' p50'] = f.caches[k].p50Ms; out[k + ' p99'] = f.caches[k].p99Ms; }
      return out;
    }),
    new Chart('chart-sessions', function (f) {
      return { 'loads/s': f.sessions.loadsPerSec, 'writes/s': f.sessions.writesPerSec };
    }),
    new Chart('chart-ratelimits', function (f) {
      return { 'allowed/s': sum(f.rateLimits, 'allowedPerSec'), 'denied/s': sum(f.rateLimits, 'deniedPerSec') };
    }),
    new Chart('chart-queues', function (f) {
      var out = {};
      for (var q in f.queues) out[q] = f.queues[q].waiting + f.queues[q].active + f.queues[q].delayed;
      return out;
    }),
    new Chart('chart-pubsub', function (f) {
      return { 'published/s': f.pubsub.publishedPerSec, 'delivered/s': f.pubsub.deliveredPerSec,
        'events/s': f.pubsub.eventsPerSec };
    }),
  ];

  function rows(id, entries, cells) {
    var tbody = document.getElementById(id);
    if (!tbody) return;
    tbody.textContent = '';
    for (var i = 0; i < entries.length; i++) {
      var tr = document.createElement('tr');
      var values = cells(entries[i]);
      for (var j = 0; j < values.length; j++) {
        var td = document.createElement(j === 0 ? 'th' : 'td');
        td.textContent = values[j];
        tr.appendChild(td);
      }
      tbody.appendChild(tr);
    }
  }
  function entries(obj) {
    return Object.keys(obj).sort().map(function (k) { return [k, obj[k]]; });
  }

  function show(frame) {
    times.push(frame.at / 1000);
    while (times.length > KEEP) times.shift();
    for (var i = 0; i < list.length; i++) list[i].push(frame);
    set('figure-at', new Date(frame.at).toLocaleTimeString());
    set('figure-interval', fmt(frame.intervalMs / 1000, 2) + ' s');
    set('figure-over', frames > 0 ? 'over the last' : 'averaged since the process started:');
    set('figure-session-count', fmt(frame.sessions.count, 0));
    set('figure-session-loads', fmt(frame.sessions.loadsPerSec));
    set('figure-session-writes', fmt(frame.sessions.writesPerSec));
    set('figure-allowed', fmt(sum(frame.rateLimits, 'allowedPerSec')));
    set('figure-denied', fmt(sum(frame.rateLimits, 'deniedPerSec')));
    set('figure-published', fmt(frame.pubsub.publishedPerSec));
    set('figure-delivered', fmt(frame.pubsub.deliveredPerSec));
    set('figure-events', fmt(frame.pubsub.eventsPerSec));
    set('figure-sse-clients', fmt(frame.pubsub.sseClients, 0));
    set('figure-dashboard-clients', fmt(frame.dashboardClients, 0));
    rows('cache-rows', entries(frame.caches), function (e) {
      var c = e[1];
      return [e[0], fmt(c.opsPerSec), pct(c.hitRatio), fmt(c.p50Ms, 3), fmt(c.p99Ms, 3), fmt(c.errorsPerSec),
        fmt(c.hits, 0), fmt(c.misses, 0)];
    });
    rows('ratelimit-rows', entries(frame.rateLimits), function (e) {
      return [e[0], fmt(e[1].allowedPerSec), fmt(e[1].deniedPerSec), fmt(e[1].degradedPerSec)];
    });
    rows('task-rows', entries(frame.tasks), function (e) {
      return [e[0], fmt(e[1].enqueuedPerSec), fmt(e[1].succeededPerSec), fmt(e[1].failedPerSec)];
    });
    rows('queue-rows', entries(frame.queues), function (e) {
      return [e[0], fmt(e[1].waiting, 0), fmt(e[1].active, 0), fmt(e[1].delayed, 0), fmt(e[1].failed, 0)];
    });
  }

  var source = new EventSource(base + '/stream');
  source.onopen = function () { set('figure-status', 'live'); };
  source.onerror = function () { set('figure-status', 'reconnecting\u2026'); };
  source.onmessage = function (event) {
    var frame;
    try { frame = JSON.parse(event.data); } catch (e) { return; }
    show(frame);
    frames++;
    body.setAttribute('data-frames', String(frames));
  };

  var form = document.getElementById('keys-form');
  if (form) {
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      var data = new FormData(form);
      var query = new URLSearchParams();
      data.forEach(function (value, key) { query.set(key, String(value)); });
      set('keys-status', 'sampling\u2026');
      fetch(base + '/keys?' + query.toString(), { headers: { accept: 'application/json' } })
        .then(function (res) { return res.json().then(function (json) { return { ok: res.ok, json: json }; }); })
        .then(function (out) {
          if (!out.ok) { set('keys-status', out.json.detail || 'failed'); return; }
          set('keys-status', out.json.sampled + ' keys sampled (' + out.json.measure + ')');
          rows('key-rows', out.json.keys.map(function (k) { return [k.key, k]; }), function (e) {
            return [e[0], fmt(e[1].bytes, 0), e[1].ttlSeconds === null ? 'none' : fmt(e[1].ttlSeconds, 0) + ' s'];
          });
        })
        .catch(function (error) { set('keys-status', String(error)); });
    });
  }
})();
`;
