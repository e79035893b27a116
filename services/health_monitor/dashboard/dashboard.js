// The Horizons dashboard: plain SVG charts of the health monitor's evaluations, kept live by its
// Server-Sent Events stream (/api/stream, one message per evaluation); no library, no framework.
// Loads /api/history once, then appends each streamed evaluation; /api/jobs/{id} on a search.
'use strict'

const SVG = 'http://www.w3.org/2000/svg'
// Okabe-Ito, without its yellow (too light on white); each series also gets a dash pattern and a marker.
const COLOURS = ['#0072B2', '#E69F00', '#009E73', '#D55E00', '#CC79A7', '#000000', '#56B4E9']
const DASHES = ['', '6 3', '2 3', '9 3 2 3', '4 4', '1 3', '12 4']
const MARKERS = ['circle', 'square', 'triangle', 'diamond', 'cross', 'circle', 'square']
const JOB_STATES = ['SUBMITTED', 'QUEUED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED']
const STATUS_TEXT = { ok: '✓ OK', degraded: '▲ DEGRADED', down: '✖ DOWN' }

const state = { points: [], capacity: 300, sseMessages: 0 }
window.horizonsDashboard = state

const $ = id => document.getElementById(id)
function el (name, attrs = {}, text) {
  const node = name.startsWith('svg:') ? document.createElementNS(SVG, name.slice(4)) : document.createElement(name)
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v)
  if (text !== undefined) node.textContent = text
  return node
}
function fmt (x, digits = 0) {
  if (x === null || x === undefined || Number.isNaN(x)) return '–'
  return Number(x).toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 })
}
function timeOf (iso) { return iso ? new Date(iso).toLocaleTimeString('en-GB') : '–' }

function marker (shape, x, y, colour) {
  const s = 3.5
  const common = { fill: colour, stroke: colour }
  switch (shape) {
    case 'square': return el('svg:rect', { ...common, x: x - s, y: y - s, width: 2 * s, height: 2 * s })
    case 'triangle': return el('svg:polygon', { ...common, points: `${x},${y - s - 1} ${x - s - 1},${y + s} ${x + s + 1},${y + s}` })
    case 'diamond': return el('svg:polygon', { ...common, points: `${x},${y - s - 1} ${x + s + 1},${y} ${x},${y + s + 1} ${x - s - 1},${y}` })
    case 'cross': return el('svg:path', { stroke: colour, 'stroke-width': 2, d: `M${x - s},${y - s}L${x + s},${y + s}M${x - s},${y + s}L${x + s},${y - s}` })
    default: return el('svg:circle', { ...common, cx: x, cy: y, r: s })
  }
}

// series: [{name, values: [number|null per point]}]; times: ms per point.
function lineChart (svgId, legendId, times, series, unit) {
  const svg = $(svgId)
  const width = Math.max(svg.clientWidth || 600, 300)
  const height = svg.clientHeight || 190
  const pad = { left: 52, right: 14, top: 20, bottom: 24 }
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`)
  svg.replaceChildren()
  const values = series.flatMap(s => s.values.filter(v => v !== null && v !== undefined))
  svg.dataset.series = String(series.length)
  svg.dataset.points = String(values.length)
  const legend = $(legendId)
  legend.replaceChildren()
  if (times.length === 0 || values.length === 0) {
    svg.appendChild(el('svg:text', { x: width / 2, y: height / 2, 'text-anchor': 'middle', class: 'empty' }, 'no data yet'))
    return
  }
  const t0 = times[0]; const t1 = Math.max(times[times.length - 1], t0 + 1000)
  const yMax = Math.max(1, ...values) * 1.1
  const x = t => pad.left + (t - t0) / (t1 - t0) * (width - pad.left - pad.right)
  const y = v => height - pad.bottom - v / yMax * (height - pad.top - pad.bottom)
  for (let i = 0; i <= 4; i++) {
    const v = yMax * i / 4
    svg.appendChild(el('svg:line', { class: 'grid', x1: pad.left, x2: width - pad.right, y1: y(v), y2: y(v) }))
    svg.appendChild(el('svg:text', { x: pad.left - 4, y: y(v) + 4, 'text-anchor': 'end' }, fmt(v, v < 10 ? 1 : 0)))
  }
  svg.appendChild(el('svg:line', { class: 'axis', x1: pad.left, x2: pad.left, y1: pad.top, y2: height - pad.bottom }))
  svg.appendChild(el('svg:line', { class: 'axis', x1: pad.left, x2: width - pad.right, y1: height - pad.bottom, y2: height - pad.bottom }))
  for (const [t, anchor] of [[t0, 'start'], [(t0 + t1) / 2, 'middle'], [t1, 'end']]) {
    svg.appendChild(el('svg:text', { x: x(t), y: height - 6, 'text-anchor': anchor }, new Date(t).toLocaleTimeString('en-GB')))
  }
  svg.appendChild(el('svg:text', { x: 4, y: 10 }, unit))
  series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length]
    let d = ''; let pen = 'M'; let last = null
    s.values.forEach((v, j) => {
      if (v === null || v === undefined) { pen = 'M'; return }
      d += `${pen}${x(times[j]).toFixed(1)},${y(v).toFixed(1)}`
      pen = 'L'; last = j
    })
    const group = el('svg:g', { 'data-series': s.name })
    group.appendChild(el('svg:title', {}, s.name))
    group.appendChild(el('svg:path', { d, fill: 'none', stroke: colour, 'stroke-width': 2, 'stroke-dasharray': DASHES[i % DASHES.length] }))
    if (last !== null) group.appendChild(marker(MARKERS[i % MARKERS.length], x(times[last]), y(s.values[last]), colour))
    svg.appendChild(group)
    const item = el('li', { 'data-series': s.name })
    const sample = el('svg:svg', { viewBox: '0 0 28 12', 'aria-hidden': 'true' })
    sample.appendChild(el('svg:line', { x1: 0, x2: 28, y1: 6, y2: 6, stroke: colour, 'stroke-width': 2, 'stroke-dasharray': DASHES[i % DASHES.length] }))
    sample.appendChild(marker(MARKERS[i % MARKERS.length], 14, 6, colour))
    item.append(sample, el('span', { class: 'name' }, s.name), ': ',
      el('span', { class: 'value' }, fmt(last === null ? null : s.values[last], 1)))
    legend.appendChild(item)
  })
}

function drawCharts () {
  const points = state.points.filter(p => p.t)
  const times = points.map(p => Date.parse(p.t))
  lineChart('jobs-chart', 'jobs-legend', times,
    JOB_STATES.map(name => ({ name, values: points.map(p => p.jobs[name] ?? null) })), 'jobs')
  const lagNames = [...new Set(points.flatMap(p => p.lag.map(l => `${l.group} on ${l.topic}`)))]
  lineChart('lag-chart', 'lag-legend', times, lagNames.map(name => ({
    name,
    values: points.map(p => { const l = p.lag.find(l => `${l.group} on ${l.topic}` === name); return l ? l.messages : null })
  })), 'messages')
  const topics = [...new Set(points.flatMap(p => Object.keys(p.events_per_s)))]
  lineChart('rate-chart', 'rate-legend', times,
    topics.map(name => ({ name, values: points.map(p => p.events_per_s[name] ?? null) })), 'events/s')
}

function fillTable (id, rows) {
  const body = $(id).tBodies[0]
  body.replaceChildren(...rows.map(cells => {
    const tr = el('tr')
    for (const c of cells) tr.appendChild(typeof c === 'object' ? el('td', { class: c.cls || '' }, c.text) : el('td', {}, c))
    return tr
  }))
}

function showOverview (o) {
  const badge = $('status')
  badge.className = `badge ${o.status}`
  badge.textContent = o.checked_at ? STATUS_TEXT[o.status] || o.status : 'waiting for the first evaluation'
  if (o.reasons && o.reasons.length && o.checked_at) badge.title = o.reasons.join('\n')
  $('evaluation').textContent = String(o.evaluation)
  $('checked-at').textContent = timeOf(o.checked_at)
  if (!o.checked_at) return
  fillTable('lag-table', o.groups.map(g => [g.group, g.topic, { cls: `verdict ${g.status}`, text: g.status.toUpperCase() },
    { cls: 'num', text: fmt(g.lag_messages) }, { cls: 'num', text: fmt(g.lag_seconds, 1) }]))
  $('lag-reasons').replaceChildren(...o.groups.filter(g => g.status !== 'ok')
    .map(g => el('li', {}, `${g.group} on ${g.topic}: ${g.status.toUpperCase()}: ${g.reason}`)))
  fillTable('topic-table', o.topics.map(t => [t.topic, { cls: 'num', text: fmt(t.events_total) },
    { cls: 'num', text: fmt(t.events_per_s, 1) },
    ...['p50_ms', 'p95_ms', 'p99_ms', 'max_ms'].map(k => ({ cls: 'num', text: t.latency_samples ? fmt(t[k], 1) : '–' }))]))
  fillTable('dlq-table', Object.entries(o.dead_letters).map(([topic, n]) => [topic, { cls: 'num', text: fmt(n) }]))
  const b = o.brokers
  const dl = $('brokers')
  dl.replaceChildren()
  for (const [term, value] of [['status', b.status.toUpperCase()], ['brokers up', `${b.up} of ${b.expected}`],
    ['under-replicated partitions', fmt(b.under_replicated_partitions)], ['leaderless partitions', fmt(b.leaderless_partitions)],
    ['unreachable leaders', fmt(b.leader_unreachable_partitions)], ['detail', b.detail]]) {
    dl.append(el('dt', {}, term), el('dd', {}, value))
  }
  const alerts = $('alerts')
  alerts.replaceChildren()
  if (o.recent_alerts.length === 0) alerts.appendChild(el('li', {}, 'none since the monitor started'))
  for (const a of [...o.recent_alerts].reverse()) {
    const li = el('li')
    li.append(el('span', { class: `sev ${a.severity || a.action}` }, `${a.action === 'raised' ? '▲ ' + a.severity : '✓ resolved'}`),
      ` ${timeOf(a.at)} ${a.alert_id}: ${a.message}`)
    alerts.appendChild(li)
  }
}

function addPoint (p) {
  const last = state.points[state.points.length - 1]
  if (last && p.evaluation <= last.evaluation) return
  state.points.push(p)
  while (state.points.length > state.capacity) state.points.shift()
}

async function getJson (url) {
  const response = await fetch(url, { cache: 'no-store' })
  const body = await response.json()
  return { ok: response.ok, status: response.status, body }
}

async function start () {
  const history = await getJson('/api/history')
  state.capacity = history.body.capacity
  state.points = history.body.points.slice()
  const overview = await getJson('/api/overview')
  showOverview(overview.body)
  if (overview.body.point) addPoint(overview.body.point)
  drawCharts()
  const stream = new EventSource('/api/stream')
  stream.onopen = () => { $('stream-state').textContent = 'live' }
  stream.onerror = () => { $('stream-state').textContent = 'reconnecting' }
  stream.addEventListener('evaluation', message => {
    const o = JSON.parse(message.data)
    state.sseMessages++
    $('sse-count').textContent = String(state.sseMessages)
    document.body.dataset.sseMessages = String(state.sseMessages)
    showOverview(o)
    if (o.point) addPoint(o.point)
    drawCharts()
  })
  window.addEventListener('resize', drawCharts)
}

let suggestTimer = null
$('job-id').addEventListener('input', () => {
  clearTimeout(suggestTimer)
  suggestTimer = setTimeout(async () => {
    const prefix = $('job-id').value.trim()
    if (prefix.length < 3) return
    const found = await getJson(`/api/jobs?prefix=${encodeURIComponent(prefix)}&limit=20`)
    if (found.ok) $('job-ids').replaceChildren(...found.body.jobs.map(id => el('option', { value: id })))
  }, 250)
})

$('job-form').addEventListener('submit', async event => {
  event.preventDefault()
  const id = $('job-id').value.trim()
  const message = $('job-message')
  const body = $('job-timeline').tBodies[0]
  body.replaceChildren()
  if (!id) { message.textContent = 'Type a job id.'; return }
  message.textContent = `Looking up ${id}…`
  const job = await getJson(`/api/jobs/${encodeURIComponent(id)}`)
  if (!job.ok) { message.textContent = job.body.error || `HTTP ${job.status}`; return }
  message.textContent = `${job.body.events.length} events of ${job.body.job_id}, in topic order`
  fillTable('job-timeline', job.body.events.map((e, i) => [String(i + 1), timeOf(e.occurred_at), e.event_type,
    { cls: 'status', text: e.status }, e.detail]))
  job.body.events.forEach((e, i) => { body.rows[i].dataset.eventId = e.event_id })
})

start().catch(error => { $('status').textContent = `cannot load: ${error.message}` })
