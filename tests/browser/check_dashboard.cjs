'use strict'
// The health monitor's dashboard in a real browser: Debian's Chromium driven by playwright-core
// (pinned in tools/peers/package.json; never a downloaded browser) against a `horizons run
// --dashboard` in progress, on an embedded cluster started by `horizons up`.
//
//   NODE_PATH=build/peers/node/node_modules node tests/browser/check_dashboard.cjs \
//       HORIZONS_BINARY OUTPUT_DIR [--self-test]
//
// What it proves (each a check that prints PASS or FAIL):
//   console   the page loads and runs with no console error and no uncaught exception
//   live      Server-Sent Events arrive and a shown value changes after a message (the evaluation
//             number at once, a job count while the workload runs)
//   charts    the jobs chart and the lag chart have data
//   timeline  a job search shows that job's events, in topic order, exactly as
//             `horizons consume job-lifecycle --json` reads them from the cluster (event ids)
// and writes OUTPUT_DIR/dashboard.png (the whole page, after the search).
// --self-test: the same checks against a sabotaged page (the stream blocked, a console error
// injected, the timeline of one job compared with another's events): passes only if each of
// console, live and timeline fails, so the checks above can fail (charts is only reported: without
// the stream the page keeps what it loaded, possibly before the first evaluation).
// Exit 0 when every expectation holds, 1 otherwise.

const { spawn } = require('child_process')
const fs = require('fs')
const os = require('os')
const path = require('path')
const readline = require('readline')
const { chromium } = require('playwright-core')

const [BINARY, OUT_DIR, ...flags] = process.argv.slice(2)
const SELF_TEST = flags.includes('--self-test')
const JOBS = SELF_TEST ? 60 : 150
const RATE = 10

const failures = []
function expect (cond, message) {
  console.log(`${cond ? 'PASS' : 'FAIL'}: ${message}`)
  if (!cond) failures.push(message)
  return Boolean(cond)
}
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

// The children's environment, without anything that could point them at another cluster.
const baseEnv = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => !/^(KAFKA_|SCHEMA_REGISTRY_)/.test(name)))
const children = []

// Spawns BINARY args; `lines` calls back per stdout line; resolves nothing (the caller waits on what it needs).
function start (args, env, onLine) {
  const child = spawn(BINARY, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  child.stderrText = ''
  child.stderr.on('data', d => { child.stderrText += d })
  readline.createInterface({ input: child.stdout }).on('line', onLine)
  return child
}

function waitFor (what, predicate, timeoutMs, child) {
  return new Promise((resolve, reject) => {
    const started = Date.now()
    const poll = () => {
      const value = predicate()
      if (value) return resolve(value)
      if (child && child.exitCode !== null) return reject(new Error(`${what}: the process exited ${child.exitCode}: ${child.stderrText.trim()}`))
      if (Date.now() - started > timeoutMs) return reject(new Error(`${what}: not within ${timeoutMs / 1000} s`))
      setTimeout(poll, 100)
    }
    poll()
  })
}

function run (args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(BINARY, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''; let stderr = ''
    child.stdout.on('data', d => { stdout += d })
    child.stderr.on('data', d => { stderr += d })
    child.on('close', code => code === 0 ? resolve(stdout) : reject(new Error(`horizons ${args[0]} exited ${code}: ${stderr}`)))
  })
}

// The status each job-lifecycle event leaves its job in, as the dashboard shows it.
function statusAfter (e) {
  switch (e.event_type) {
    case 'job.submitted': return 'SUBMITTED'
    case 'job.status.changed': return e.payload.new_status
    case 'job.completed': return 'COMPLETED'
    case 'job.failed': return 'FAILED'
    case 'job.cancelled': return 'CANCELLED'
    default: return '?'
  }
}

async function pageState (page) {
  return page.evaluate(() => ({
    sse: Number(document.body.dataset.sseMessages || 0),
    evaluation: document.getElementById('evaluation').textContent,
    jobs: [...document.querySelectorAll('#jobs-legend li')].map(li => li.textContent).join(' | '),
    jobsPoints: Number(document.getElementById('jobs-chart').dataset.points || 0),
    lagSeries: Number(document.getElementById('lag-chart').dataset.series || 0),
    lagPoints: Number(document.getElementById('lag-chart').dataset.points || 0)
  }))
}

// live: after an SSE message the evaluation shown changed, and within a few messages a job count did.
async function checkLive (page) {
  try {
    await page.waitForFunction(() => Number(document.body.dataset.sseMessages || 0) >= 1, null, { timeout: 20000 })
    const before = await pageState(page)
    await page.waitForFunction(n => Number(document.body.dataset.sseMessages || 0) > n, before.sse, { timeout: 10000 })
    const after = await pageState(page)
    if (after.evaluation === before.evaluation) return { ok: false, why: `evaluation stayed ${before.evaluation} after an SSE message` }
    // Up to 20 messages (40 s): on a loaded machine the services may take a while to start the workload.
    for (let i = 0; i < 20; i++) {
      const now = await pageState(page)
      if (now.jobs !== before.jobs && now.sse > before.sse) {
        return { ok: true, why: `evaluation ${before.evaluation} -> ${after.evaluation}; jobs "${before.jobs}" -> "${now.jobs}" after ${now.sse - before.sse} messages` }
      }
      await page.waitForFunction(n => Number(document.body.dataset.sseMessages || 0) > n, now.sse, { timeout: 10000 })
    }
    return { ok: false, why: `the job counts stayed "${before.jobs}" for 20 SSE messages` }
  } catch (error) {
    return { ok: false, why: error.message.split('\n')[0] }
  }
}

async function checkCharts (page) {
  try {
    await page.waitForFunction(() => Number(document.getElementById('jobs-chart').dataset.points || 0) > 0 &&
      Number(document.getElementById('lag-chart').dataset.points || 0) > 0, null, { timeout: 20000 })
  } catch (error) { /* reported below */ }
  const s = await pageState(page)
  return { ok: s.jobsPoints > 0 && s.lagSeries > 0 && s.lagPoints > 0, why: `jobs chart ${s.jobsPoints} values; lag chart ${s.lagSeries} series, ${s.lagPoints} values` }
}

// timeline: the page's timeline of `shown` against the cluster's events of `expectedJob`.
async function checkTimeline (page, shown, expectedJob, env) {
  await page.fill('#job-id', shown)
  await page.click('#job-form button')
  await page.waitForFunction(() => /events of|holds no|HTTP/.test(document.getElementById('job-message').textContent), null, { timeout: 10000 })
  const rows = await page.$$eval('#job-timeline tbody tr', trs => trs.map(tr => ({
    id: tr.dataset.eventId, type: tr.cells[2].textContent, status: tr.cells[3].textContent
  })))
  const consumed = (await run(['consume', 'job-lifecycle', '--from-beginning', '--until-end', '--json'], env))
    .split('\n').filter(Boolean).map(line => JSON.parse(line))
  const seen = new Set()
  const expected = consumed.filter(e => e.payload.job_id === expectedJob && !seen.has(e.event_id) && seen.add(e.event_id))
    .map(e => ({ id: e.event_id, type: e.event_type, status: statusAfter(e) }))
  const same = rows.length === expected.length && rows.every((r, i) =>
    r.id === expected[i].id && r.type === expected[i].type && r.status === expected[i].status)
  const describe = list => list.map(r => `${r.type}/${r.status}`).join(', ')
  return { ok: same && rows.length >= 2, why: `${shown}: page [${describe(rows)}]; cluster (${expectedJob}) [${describe(expected)}]` }
}

async function main () {
  fs.mkdirSync(OUT_DIR, { recursive: true })
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'horizons-browser-'))
  const found = {}
  const up = start(['up'], baseEnv, line => {
    const m = /^(bootstrap servers|schema registry): (\S+)$/.exec(line)
    if (m) found[m[1]] = m[2]
  })
  await waitFor('horizons up', () => found['bootstrap servers'] && found['schema registry'], 60000, up)
  // The mock broker holds an empty fetch for the whole fetch wait: 10 ms, as `horizons run` uses on its own cluster.
  const env = { ...baseEnv, KAFKA_BROKERS: found['bootstrap servers'], SCHEMA_REGISTRY_URL: found['schema registry'],
    KAFKA_CONSUMER_FETCH_WAIT_MS: '10' }

  const output = []
  const reportJson = path.join(work, 'run.json')
  const runner = start(['run', '--jobs', String(JOBS), '--rate', String(RATE), '--data-dir', path.join(work, 'data'),
    '--report-json', reportJson, '--dashboard', '127.0.0.1:0', '--dashboard-hold', '300'], env, line => output.push(line))
  const url = await waitFor('the Dashboard: line', () => {
    const line = output.find(l => l.startsWith('Dashboard: '))
    return line && line.slice('Dashboard: '.length)
  }, 120000, runner)
  expect(output.indexOf(`Dashboard: ${url}`) === 0, `horizons run printed "Dashboard: ${url}" first`)

  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'horizons-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
    viewport: { width: 1366, height: 900 }
  })
  try {
    const page = context.pages()[0] || await context.newPage()
    const consoleErrors = []
    page.on('console', m => { if (m.type() === 'error') consoleErrors.push(m.text()) })
    page.on('pageerror', e => consoleErrors.push(`uncaught: ${e.message}`))
    if (SELF_TEST) await page.route('**/api/stream', route => route.abort())
    await page.goto(url, { waitUntil: 'load' })

    const live = await checkLive(page)
    const charts = await checkCharts(page)
    await page.screenshot({ path: path.join(OUT_DIR, SELF_TEST ? 'dashboard-self-test-running.png' : 'dashboard-running.png'), fullPage: true })

    await waitFor('the report', () => fs.existsSync(reportJson) && output.some(l => l === 'OK' || l === 'FAILED'), 300000, runner)
    const report = JSON.parse(fs.readFileSync(reportJson, 'utf8'))
    expect(report.ok, `the run's report says OK (${output.filter(l => /^(OK|FAILED)$|lost/.test(l)).join('; ')})`)
    const list = await page.evaluate(async prefix => (await (await fetch(`/api/jobs?prefix=${encodeURIComponent(prefix)}&limit=100`)).json()).jobs, report.job_prefix)
    expect(list.length > 0, `GET /api/jobs?prefix=${report.job_prefix} lists ${list.length} jobs of the run`)
    const job = list[Math.floor(list.length / 2)]
    const other = list.find(j => j !== job)
    const timeline = await checkTimeline(page, job, SELF_TEST ? other : job, env)
    if (SELF_TEST) await page.evaluate(() => console.error('self-test: a deliberate console error'))
    await sleep(500)
    await page.screenshot({ path: path.join(OUT_DIR, SELF_TEST ? 'dashboard-self-test.png' : 'dashboard.png'), fullPage: true })
    const console_ = { ok: consoleErrors.length === 0, why: consoleErrors.length ? consoleErrors.join(' | ') : 'no console error' }

    const results = { console: console_, live, charts, timeline }
    for (const [name, r] of Object.entries(results)) {
      if (SELF_TEST && name === 'charts') {
        // Without the stream the page keeps what it loaded, which may be before the first evaluation.
        console.log(`INFO: charts without the stream: ${r.why}`)
      } else if (SELF_TEST) {
        expect(!r.ok, `self-test: the ${name} check fails on a sabotaged page (${r.why})`)
      } else {
        expect(r.ok, `${name}: ${r.why}`)
      }
    }
  } finally {
    await context.close()
    fs.rmSync(profile, { recursive: true, force: true })
    for (const child of children) if (child.exitCode === null) child.kill('SIGTERM')
    await Promise.all(children.map(c => c.exitCode !== null ? null : new Promise(resolve => c.on('exit', resolve))))
    fs.rmSync(work, { recursive: true, force: true })
  }
}

main().then(() => {
  console.log(failures.length === 0 ? 'OK' : `FAILED: ${failures.length} check(s)`)
  process.exit(failures.length === 0 ? 0 : 1)
}, error => {
  console.error(`FAIL: ${error.stack || error}`)
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL')
  process.exit(1)
})
