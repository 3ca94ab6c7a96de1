// United Stage Dashboard: plain ES module over /dashboard/api/*, Chart.js from /vendor (global Chart).
// Refreshes when the server's change stream says the warehouse changed; falls back to polling.

const $ = (id) => document.getElementById(id);
const STAGE_LABELS = {
  draft: 'Draft', briefed: 'Briefed', offer_ready: 'Offer ready', contracting: 'Contracting',
  running: 'Running', closing: 'Closing', closed: 'Closed', cancelled: 'Cancelled',
};
const FUNNEL_STAGES = ['draft', 'briefed', 'offer_ready', 'contracting', 'running', 'closing', 'closed'];
const POLL_MS = 5000;

const state = { filter: {}, key: sessionStorage.getItem('masterdeal.apiKey') || '', version: null, charts: {}, refreshing: null, again: false };

// ---------------------------------------------------------------- formatting

const nf = new Intl.NumberFormat('en-US');
const pct = (x) => `${Math.round(x * 100)}%`;
function duration(ms) {
  if (ms === null || ms === undefined) return '–';
  const h = ms / 3.6e6;
  if (h < 1) return `${Math.round(ms / 6e4)} min`;
  if (h < 48) return `${h.toFixed(h < 10 ? 1 : 0)} h`;
  return `${(h / 24).toFixed(1)} d`;
}
const share = (part, whole) => (whole > 0 ? pct(part / whole) : '–');

// ---------------------------------------------------------------- data

function query(extra = {}) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries({ ...state.filter, ...extra })) if (v) p.set(k, v);
  const s = p.toString();
  return s ? `?${s}` : '';
}

async function getJson(path) {
  const headers = state.key ? { 'x-api-key': state.key } : {};
  const res = await fetch(path, { headers });
  if (res.status === 401) {
    $('auth').hidden = false;
    throw new Error('this server needs an API key for reads');
  }
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.message || `${res.status} ${res.statusText}`);
  return body;
}

function showError(message) {
  const el = $('error');
  el.hidden = !message;
  el.textContent = message ? `Could not load data: ${message}` : '';
}

// ---------------------------------------------------------------- rendering

function renderKpis(o) {
  const t = o.totals;
  $('kpi-deals').textContent = nf.format(t.deals);
  $('kpi-deals-note').textContent = state.filter.industry || state.filter.budget_segment || state.filter.client_type ? 'in this segment' : 'all segments';
  $('kpi-open').textContent = nf.format(t.open);
  $('kpi-closed').textContent = nf.format(t.closed);
  $('kpi-closed-note').textContent = `${share(t.closed, t.deals)} of deals`;
  $('kpi-cancelled').textContent = nf.format(t.cancelled);
  $('kpi-cancelled-note').textContent = `${share(t.cancelled, t.deals)} of deals`;
  $('kpi-breached').textContent = nf.format(t.breached_deals);
  $('kpi-breached-note').textContent = `${share(t.breached_deals, t.deals)} of deals`;
  const b = o.bottleneck;
  $('kpi-bottleneck').textContent = b ? STAGE_LABELS[b.stage] || b.stage : '–';
  $('kpi-bottleneck-note').textContent = b ? `${pct(b.breach_rate)} of ${o.sla.find((s) => s.sla === b.sla)?.label ?? b.sla} breached · ${b.waiting} waiting` : 'no timers yet';
  $('bottleneck-text').replaceChildren();
  if (b) {
    const s = o.sla.find((x) => x.sla === b.sla);
    const strong = document.createElement('strong');
    strong.textContent = `Bottleneck: ${STAGE_LABELS[b.stage] || b.stage}. `;
    const p90 = s && s.p90_ms !== null ? `; p90 ${duration(s.p90_ms)} against a ${duration(s.target_ms)} target` : '';
    const text = `${pct(b.breach_rate)} of ${s?.label ?? b.sla} timers breached (${s?.breached ?? '?'} of ${s?.started ?? '?'}${p90}); ${b.waiting} deals waiting there now.`;
    $('bottleneck-text').append(strong, document.createTextNode(text));
  }
}

function renderFunnel(o) {
  const byStage = new Map(o.stages.map((s) => [s.stage, s]));
  const labels = FUNNEL_STAGES.map((s) => STAGE_LABELS[s]);
  const reached = FUNNEL_STAGES.map((s) => byStage.get(s)?.reached ?? 0);
  const now = FUNNEL_STAGES.map((s) => byStage.get(s)?.current ?? 0);
  const bottleneck = o.bottleneck?.stage;
  const nowColors = FUNNEL_STAGES.map((s) => (s === bottleneck ? '#d6423a' : '#2f6fde'));
  const chart = state.charts.funnel;
  if (chart) {
    chart.data.datasets[0].data = reached;
    chart.data.datasets[1].data = now;
    chart.data.datasets[1].backgroundColor = nowColors;
    chart.update();
    return;
  }
  state.charts.funnel = new Chart($('funnel-chart'), {
    type: 'bar',
    data: {
      labels,
      datasets: [
        { label: 'Reached', data: reached, backgroundColor: '#c9dafb', borderRadius: 4, barPercentage: 0.9, categoryPercentage: 0.8 },
        { label: 'Now in stage', data: now, backgroundColor: nowColors, borderRadius: 4, barPercentage: 0.9, categoryPercentage: 0.8 },
      ],
    },
    options: {
      indexAxis: 'y', maintainAspectRatio: false, animation: { duration: 300 },
      plugins: { legend: { position: 'bottom', labels: { boxWidth: 12 } } },
      scales: { x: { beginAtZero: true, ticks: { precision: 0 }, grid: { color: '#eef1f5' } }, y: { grid: { display: false } } },
    },
  });
}

function renderSla(o) {
  const tbody = $('sla-table').querySelector('tbody');
  tbody.replaceChildren();
  const scale = Math.max(...o.sla.map((s) => Math.max(s.p90_ms ?? 0, s.median_ms ?? 0) / s.target_ms), 1.2);
  for (const s of o.sla) {
    const tr = document.createElement('tr');
    tr.dataset.sla = s.sla;
    if (o.bottleneck?.sla === s.sla) tr.className = 'is-bottleneck';
    const cell = (text, cls) => {
      const td = document.createElement('td');
      if (cls) td.className = cls;
      td.textContent = text;
      tr.append(td);
      return td;
    };
    cell(s.label);
    cell(duration(s.target_ms));
    cell(duration(s.median_ms), 'median');
    cell(duration(s.p90_ms), 'p90');
    const barCell = cell('');
    const bar = document.createElement('div');
    bar.className = 'bar';
    bar.title = `median ${duration(s.median_ms)}, p90 ${duration(s.p90_ms)}, target ${duration(s.target_ms)}`;
    const seg = (cls, ms) => {
      const d = document.createElement('div');
      d.className = cls;
      d.style.width = `${Math.min(100, ((ms ?? 0) / s.target_ms / scale) * 100)}%`;
      return d;
    };
    const target = document.createElement('div');
    target.className = 'target';
    target.style.left = `${(1 / scale) * 100}%`;
    bar.append(seg('p90', s.p90_ms), seg('median', s.median_ms), target);
    barCell.append(bar);
    const rateCell = cell('');
    const pill = document.createElement('span');
    pill.className = `pill ${s.breach_rate >= 0.3 ? 'hi' : s.breach_rate >= 0.1 ? 'mid' : 'ok'}`;
    pill.textContent = s.started ? pct(s.breach_rate) : '–';
    pill.title = `${s.breached} of ${s.started} started timers breached`;
    rateCell.append(pill);
    cell(nf.format(s.open));
    tbody.append(tr);
  }
}

function renderTrend(t) {
  const unit = t.bucket === 'hour' ? 'hour' : 'day';
  $('trend-unit').textContent = `(per ${unit})`;
  $('trend-unit-2').textContent = unit;
  const labels = t.points.map((p) => (unit === 'hour' ? p.bucket.slice(5, 16).replace('T', ' ') : p.bucket.slice(0, 10)));
  const series = {
    created: t.points.map((p) => p.created),
    closed: t.points.map((p) => p.closed),
    cancelled: t.points.map((p) => p.cancelled),
    breaches: t.points.map((p) => p.breaches),
  };
  const chart = state.charts.trend;
  if (chart) {
    chart.data.labels = labels;
    chart.data.datasets.forEach((d) => (d.data = series[d.key]));
    chart.update();
    return;
  }
  // Counts per bucket as bars; breaches as a line on top, so sparse days read as they are.
  const bar = (key, label, color) => ({ key, label, type: 'bar', data: series[key], backgroundColor: color, borderRadius: 2, order: 2, barPercentage: 1, categoryPercentage: 0.85 });
  state.charts.trend = new Chart($('trend-chart'), {
    type: 'bar',
    data: {
      labels,
      datasets: [
        bar('created', 'Created', '#2f6fde'),
        bar('closed', 'Closed', '#1f9d63'),
        bar('cancelled', 'Cancelled', '#a3acb9'),
        { key: 'breaches', label: 'SLA breaches', type: 'line', data: series.breaches, borderColor: '#d6423a', backgroundColor: '#d6423a', borderWidth: 2, pointRadius: labels.length > 60 ? 0 : 2, tension: 0, order: 1 },
      ],
    },
    options: {
      maintainAspectRatio: false, animation: { duration: 300 }, interaction: { mode: 'index', intersect: false },
      plugins: { legend: { position: 'bottom', labels: { boxWidth: 12 } } },
      scales: { x: { grid: { display: false }, ticks: { maxTicksLimit: 14, maxRotation: 0 } }, y: { beginAtZero: true, ticks: { precision: 0 }, grid: { color: '#eef1f5' } } },
    },
  });
}

// ---------------------------------------------------------------- refresh cycle

async function refresh() {
  // One refresh at a time; a change during one schedules exactly one more.
  if (state.refreshing) {
    state.again = true;
    return state.refreshing;
  }
  state.refreshing = (async () => {
    try {
      const [overview, trend] = await Promise.all([getJson(`/dashboard/api/overview${query()}`), getJson(`/dashboard/api/trend${query()}`)]);
      renderKpis(overview);
      renderFunnel(overview);
      renderSla(overview);
      renderTrend(trend);
      state.version = overview.data_version;
      document.body.dataset.version = overview.data_version;
      $('as-of').textContent = `Updated ${new Date(overview.as_of).toLocaleTimeString()} · data version ${overview.data_version}`;
      showError('');
    } catch (err) {
      showError(err.message);
    } finally {
      state.refreshing = null;
      if (state.again) {
        state.again = false;
        void refresh();
      }
    }
  })();
  return state.refreshing;
}

function setLive(mode, text) {
  $('live').dataset.state = mode;
  $('live-text').textContent = text;
}

// Server-sent events read through fetch, so an API key can ride in a header.
async function followChanges() {
  for (;;) {
    try {
      const res = await fetch('/dashboard/api/stream', { headers: state.key ? { 'x-api-key': state.key } : {} });
      if (!res.ok || !res.body) throw new Error(`stream answered ${res.status}`);
      setLive('live', 'live');
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(frame)?.[1];
          const data = /^data: (.*)$/m.exec(frame)?.[1];
          if (event === 'change' && data) {
            const { version } = JSON.parse(data);
            if (version !== state.version) void refresh();
            setLive('live', `live · ${new Date().toLocaleTimeString()}`);
          }
        }
      }
    } catch {
      // Stream unavailable: poll instead, then try the stream again.
    }
    setLive('polling', 'polling');
    await new Promise((r) => setTimeout(r, POLL_MS));
    void refresh();
  }
}

// ---------------------------------------------------------------- filters

function readFilterFromUrl() {
  const p = new URLSearchParams(location.search);
  state.filter = { industry: p.get('industry') || '', budget_segment: p.get('budget_segment') || '', client_type: p.get('client_type') || '' };
}

function fillSelect(select, values, current) {
  for (const v of values) {
    const o = document.createElement('option');
    o.value = typeof v === 'string' ? v : v.segment;
    o.textContent = typeof v === 'string' ? v : `${v.segment} (${v.label})`;
    select.append(o);
  }
  select.value = current || '';
}

async function initFilters() {
  const f = await getJson('/dashboard/api/filters');
  fillSelect($('f-industry'), f.industries, state.filter.industry);
  fillSelect($('f-budget'), f.budget_segments, state.filter.budget_segment);
  fillSelect($('f-client-type'), f.client_types, state.filter.client_type);
  const apply = () => {
    state.filter = { industry: $('f-industry').value, budget_segment: $('f-budget').value, client_type: $('f-client-type').value };
    history.replaceState(null, '', `${location.pathname}${query()}`);
    void refresh();
  };
  for (const id of ['f-industry', 'f-budget', 'f-client-type']) $(id).addEventListener('change', apply);
  $('f-reset').addEventListener('click', () => {
    for (const id of ['f-industry', 'f-budget', 'f-client-type']) $(id).value = '';
    apply();
  });
}

$('auth').addEventListener('submit', (e) => {
  e.preventDefault();
  state.key = $('auth-key').value.trim();
  sessionStorage.setItem('masterdeal.apiKey', state.key);
  location.reload();
});

Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
Chart.defaults.color = '#4b5563';
readFilterFromUrl();
try {
  await initFilters();
  await refresh();
} catch (err) {
  showError(err.message);
}
void followChanges();
