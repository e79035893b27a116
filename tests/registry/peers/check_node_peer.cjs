'use strict'
// Node.js peer check: the independent npm client @kafkajs/confluent-schema-registry (with kafkajs,
// avsc and kafkajs-snappy, pinned in tools/peers/package.json) against Horizons' own schema
// registry and codec, in both directions, on an embedded cluster started by `horizons up`.
//
//   NODE_PATH=build/peers/node/node_modules node tests/registry/peers/check_node_peer.cjs \
//       HORIZONS_BINARY REPO_ROOT
//
// What it proves:
//   horizons->node  records written by `horizons produce` carry the subject's latest schema id in
//                   their Confluent frame; the library finds the same id for the schema text,
//                   fetches the schema by id, and decodes every record (kafkajs + snappy) to the
//                   values `horizons events sample` printed (event type, payload branch and job_id,
//                   timestamp-micros occurred_at).
//   node->horizons  the library's re-encoding of every decoded value, produced with kafkajs, is read
//                   by `horizons consume --json` as exactly the original JSON text.
//   evolution       with BACKWARD compatibility the library registers a schema with one more field
//                   (with a default) under a new id, the registry refuses a field without a default
//                   with HTTP 409, Horizons reads records written with the new schema into its
//                   compiled types, and the library decodes Horizons' records with the new schema
//                   as reader schema (the new field takes its default).
// Exit 0 when every check holds, 1 otherwise (each failure is printed).

const { spawn } = require('child_process')
const readline = require('readline')
const { SchemaRegistry, SchemaType, COMPATIBILITY } = require('@kafkajs/confluent-schema-registry')
const { Kafka, CompressionTypes, CompressionCodecs, Partitioners, logLevel } = require('kafkajs')
CompressionCodecs[CompressionTypes.Snappy] = require('kafkajs-snappy')

const [BINARY, REPO_ROOT] = process.argv.slice(2)
const TOPIC = 'job-lifecycle'
const SUBJECT = `${TOPIC}-value`
const PER_TYPE = 4
const SAMPLES = [ // [event type, seed]: PER_TYPE of each job-lifecycle type
  ['job.submitted', 11], ['job.status.changed', 12], ['job.completed', 13], ['job.failed', 14], ['job.cancelled', 15]]
const NEW_FIELD = { name: 'node_peer_note', type: 'string', default: 'from-node' }

const failures = []
function expect(cond, message) {
  if (!cond) { failures.push(message); console.error(`FAIL: ${message}`) }
  return Boolean(cond)
}

// ---- Horizons processes --------------------------------------------------------------------------

// The children's environment, without anything that could point them at another cluster.
const childEnv = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => !/^(KAFKA_|SCHEMA_REGISTRY_)/.test(name)))

function horizons(args, input = '') {
  return new Promise((resolve, reject) => {
    // A command that reads no input gets none: writing to one that exited first would fail (EPIPE).
    const stdin = input ? 'pipe' : 'ignore'
    const child = spawn(BINARY, args, { cwd: REPO_ROOT, env: childEnv, stdio: [stdin, 'pipe', 'pipe'] })
    let stdout = ''; let stderr = ''
    child.stdout.on('data', d => { stdout += d })
    child.stderr.on('data', d => { stderr += d })
    child.on('error', reject)
    child.on('close', code => code === 0 ? resolve(stdout)
      : reject(new Error(`horizons ${args[0]} exited ${code}: ${stderr.trim()}`)))
    if (input) {
      // A child that fails before reading all of it closes the pipe; its exit code tells why.
      child.stdin.on('error', () => {})
      child.stdin.end(input)
    }
  })
}

// Spawns `horizons up --brokers 1`; `ready` resolves with the addresses it prints.
function startCluster() {
  const child = spawn(BINARY, ['up', '--brokers', '1'], { cwd: REPO_ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] })
  // However this script ends (an uncaught error too), the cluster does not outlive it.
  process.on('exit', () => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  let stderr = ''
  child.stderr.on('data', d => { stderr += d })
  const ready = new Promise((resolve, reject) => {
    const found = {}
    const timer = setTimeout(() => reject(new Error('horizons up printed no addresses within 30 s')), 30000)
    child.on('error', reject)
    child.on('exit', code => { clearTimeout(timer); reject(new Error(`horizons up exited ${code}: ${stderr.trim()}`)) })
    readline.createInterface({ input: child.stdout }).on('line', line => {
      const m = /^(bootstrap servers|schema registry): (\S+)$/.exec(line)
      if (m) found[m[1]] = m[2]
      if (found['bootstrap servers'] && found['schema registry']) {
        clearTimeout(timer)
        resolve({ brokers: found['bootstrap servers'], registry: found['schema registry'] })
      }
    })
  })
  return { child, ready }
}

// SIGTERM, then SIGKILL when the child is still there after 10 s.
function stopCluster(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise(resolve => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 10000)
    child.on('exit', () => { clearTimeout(timer); resolve() })
    child.kill('SIGTERM')
  })
}

// ---- values ----------------------------------------------------------------------------------------

// avsc decodes the payload union of five records as a wrapped union: {"<full record name>": {...}}.
function unwrapPayload(payload) {
  const branches = Object.keys(payload || {})
  if (branches.length !== 1) throw new Error(`payload is not a wrapped union branch: ${JSON.stringify(payload)}`)
  return { branch: branches[0], value: payload[branches[0]] }
}

// job.status.changed -> org.cosmichorizons.events.JobStatusChanged
function branchOf(eventType) {
  return 'org.cosmichorizons.events.' + eventType.split('.').map(w => w[0].toUpperCase() + w.slice(1)).join('')
}

// "2027-03-02T02:49:08.822479Z" -> microseconds since the epoch
function micros(text) {
  const m = /^(.{19})\.(\d{6})Z$/.exec(text)
  return m ? Date.parse(`${m[1]}Z`) * 1000 + Number(m[2]) : NaN
}

// One failure message per field of `decoded` that differs from the sampled JSON line.
function compareDecoded(decoded, json) {
  const { branch, value } = unwrapPayload(decoded.payload)
  const wrong = []
  if (decoded.event_type !== json.event_type) wrong.push(`event_type ${decoded.event_type} != ${json.event_type}`)
  if (branch !== branchOf(json.event_type)) wrong.push(`payload branch ${branch} for ${json.event_type}`)
  if (value.job_id !== json.payload.job_id) wrong.push(`payload job_id ${value.job_id} != ${json.payload.job_id}`)
  if (decoded.occurred_at !== micros(json.occurred_at)) wrong.push(`occurred_at ${decoded.occurred_at} != ${json.occurred_at}`)
  return wrong
}

// Lines of `actual` against `expected` as multisets: how many matched, and the differences.
function multisetDiff(expected, actual) {
  const count = new Map()
  for (const line of expected) count.set(line, (count.get(line) || 0) + 1)
  for (const line of actual) count.set(line, (count.get(line) || 0) - 1)
  const differing = [...count].filter(([, n]) => n !== 0)
  const unmatched = differing.reduce((sum, [, n]) => sum + Math.abs(n), 0)
  return {
    matched: (expected.length + actual.length - unmatched) / 2,
    differences: differing.map(([line, n]) => `${n > 0 ? `missing ${n}x` : `unexpected ${-n}x`}: ${line}`),
  }
}

// ---- Kafka -----------------------------------------------------------------------------------------

// Every record of the topic, read from the beginning up to the end offsets seen at the start.
async function consumeAll(kafka) {
  const admin = kafka.admin()
  await admin.connect()
  const offsets = await admin.fetchTopicOffsets(TOPIC)
  await admin.disconnect()
  const total = offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0)
  const consumer = kafka.consumer({ groupId: `node-peer-${process.pid}-${Date.now()}` })
  const messages = []
  try {
    await consumer.connect()
    await consumer.subscribe({ topic: TOPIC, fromBeginning: true })
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`kafkajs read ${messages.length} of ${total} records in 30 s`)), 30000)
      const done = () => { if (messages.length >= total) { clearTimeout(timer); resolve() } }
      consumer.run({ eachMessage: async ({ message }) => { messages.push(message); done() } }).then(done, reject)
    })
  } finally {
    await consumer.disconnect()
  }
  return messages
}

async function produceAll(kafka, messages) {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
  await producer.connect()
  try {
    await producer.send({ topic: TOPIC, compression: CompressionTypes.Snappy, messages })
  } finally {
    await producer.disconnect()
  }
}

// ---- the steps -------------------------------------------------------------------------------------

async function horizonsToNode(ctx) {
  const { registry, kafka, sampled } = ctx
  const subjects = await (await fetch(`${ctx.registryUrl}/subjects`)).json() // no library call lists subjects
  expect(subjects.includes(SUBJECT), `subject list ${JSON.stringify(subjects)} lacks ${SUBJECT}`)
  ctx.id = await registry.getLatestSchemaId(SUBJECT)
  const latest = await (await fetch(`${ctx.registryUrl}/subjects/${SUBJECT}/versions/latest`)).json()
  ctx.schemaText = latest.schema
  const idByText = await registry.getRegistryIdBySchema(SUBJECT, { type: SchemaType.AVRO, schema: ctx.schemaText })
  expect(idByText === ctx.id, `getRegistryIdBySchema gave ${idByText}, getLatestSchemaId ${ctx.id}`)
  const schema = await registry.getSchema(ctx.id)
  expect(schema.name === 'org.cosmichorizons.events.JobLifecycleEvent', `getSchema(${ctx.id}) gave ${schema.name}`)

  const messages = await consumeAll(kafka)
  ctx.originals = messages.map(m => m.value)
  ctx.decoded = []
  let ok = 0
  for (const { value } of messages) {
    const frameId = value.readUInt32BE(1)
    const decoded = await registry.decode(value)
    const json = sampled.get(decoded.event_id)
    const wrong = json ? compareDecoded(decoded, json) : [`event ${decoded.event_id} was not sampled`]
    if (frameId !== ctx.id) wrong.push(`frame id ${frameId} != latest id ${ctx.id}`)
    if (expect(wrong.length === 0, `horizons->node record ${decoded.event_id}: ${wrong.join('; ')}`)) ok++
    ctx.decoded.push(decoded)
  }
  const seen = new Set(ctx.decoded.map(d => d.event_id))
  for (const eventId of sampled.keys()) expect(seen.has(eventId), `sampled event ${eventId} not read by kafkajs`)
  console.log(`horizons->node: ${messages.length} records, ${ok} ok, ${messages.length - ok} failed (schema id ${ctx.id})`)
}

// Produce the decoded values re-encoded with `id` (plus `extra` fields); `horizons consume` must then
// print every sampled line `times` times.
async function nodeToHorizons(ctx, label, id, extra, times) {
  const messages = []
  for (const value of ctx.decoded) {
    messages.push({ key: unwrapPayload(value.payload).value.job_id, value: await ctx.registry.encode(id, { ...value, ...extra }) })
  }
  await produceAll(ctx.kafka, messages)
  const out = await horizons(['consume', TOPIC, '--brokers', ctx.brokers, '--registry', ctx.registryUrl,
    '--from-beginning', '--until-end', '--json'])
  const lines = out.split('\n').filter(line => line !== '')
  const expected = ctx.lines.flatMap(line => Array(times).fill(line))
  const { matched, differences } = multisetDiff(expected, lines)
  const firstOfEach = ['unexpected', 'missing'].map(kind => differences.find(d => d.startsWith(kind))).filter(Boolean)
  expect(differences.length === 0,
    `${label}: horizons consume differs from the samples in ${differences.length} distinct lines, first:\n  ${firstOfEach.join('\n  ')}`)
  console.log(`${label}: ${messages.length} records with id ${id}, horizons consume ${lines.length} lines ` +
    `(${expected.length} expected), ${matched} ok, ${Math.max(lines.length, expected.length) - matched} failed`)
}

async function evolution(ctx) {
  const { registry } = ctx
  const put = await fetch(`${ctx.registryUrl}/config/${SUBJECT}`, { // no library call sets compatibility
    method: 'PUT', headers: { 'Content-Type': 'application/vnd.schemaregistry.v1+json' },
    body: JSON.stringify({ compatibility: COMPATIBILITY.BACKWARD }) })
  expect(put.ok, `PUT /config/${SUBJECT} answered ${put.status}`)
  const raw = JSON.parse(ctx.schemaText)
  const next = { ...raw, fields: [...raw.fields, NEW_FIELD] }
  const { id: nextId } = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(next) },
    { subject: SUBJECT, compatibility: COMPATIBILITY.BACKWARD })
  expect(nextId !== ctx.id, `the evolved schema got the old id ${nextId}`)

  // The registry's 409 surfaces as the library's HTTP ResponseError (status 409), not as its
  // ConfluentSchemaRegistryCompatibilityError (that one only reports a compatibility config mismatch).
  const incompatible = { ...raw, fields: [...raw.fields, { name: 'node_peer_required', type: 'string' }] }
  const refusal = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(incompatible) },
    { subject: SUBJECT, compatibility: COMPATIBILITY.BACKWARD }).then(() => null, error => error)
  expect(refusal && refusal.status === 409, 'incompatible schema: expected HTTP 409, got ' +
    (refusal ? `${refusal.name} ${refusal.status}: ${refusal.message}` : 'a new id'))

  // The library's decode takes a reader schema: Horizons' record read as the evolved schema.
  const asNext = await registry.decode(ctx.originals[0], { [SchemaType.AVRO]: { readerSchema: next } })
  expect(asNext.node_peer_note === NEW_FIELD.default && asNext.event_id === ctx.decoded[0].event_id,
    `decode with reader schema gave node_peer_note=${asNext.node_peer_note} event_id=${asNext.event_id}`)
  console.log(`evolution: BACKWARD, id ${ctx.id} -> ${nextId}, incompatible schema refused with ${refusal && refusal.status}, ` +
    `reader-schema decode node_peer_note=${JSON.stringify(asNext.node_peer_note)}`)
  await nodeToHorizons(ctx, 'evolved node->horizons', nextId, { node_peer_note: 'hello' }, 3)
}

// librdkafka's mock broker answers LeaveGroup v3 (sent by consumer.disconnect()) without the v3
// member list, which kafkajs logs as a parse error after all reads are done; everything else is shown.
const kafkaLog = () => ({ namespace, label, log }) => {
  if (!log.message.startsWith('Response LeaveGroup')) console.error(`kafkajs ${label} [${namespace}] ${log.message} ${log.error || ''}`)
}

async function main() {
  const cluster = startCluster()
  const stopOnSignal = () => { stopCluster(cluster.child).then(() => process.exit(1)) }
  process.on('SIGINT', stopOnSignal).on('SIGTERM', stopOnSignal)
  try {
    const { brokers, registry: registryUrl } = await cluster.ready
    const ctx = {
      brokers, registryUrl,
      registry: new SchemaRegistry({ host: registryUrl }),
      kafka: new Kafka({ clientId: 'horizons-node-peer', brokers: [brokers], logLevel: logLevel.ERROR, logCreator: kafkaLog }),
      lines: [], sampled: new Map(),
    }
    for (const [type, seed] of SAMPLES) {
      const out = await horizons(['events', 'sample', '--type', type, '-n', String(PER_TYPE), '--seed', String(seed)])
      ctx.lines.push(...out.split('\n').filter(line => line !== ''))
    }
    for (const line of ctx.lines) ctx.sampled.set(JSON.parse(line).event_id, JSON.parse(line))
    const wanted = SAMPLES.length * PER_TYPE
    expect(ctx.sampled.size === wanted, `expected ${wanted} distinct sampled events, got ${ctx.sampled.size}`)
    await horizons(['produce', TOPIC, '--brokers', brokers, '--registry', registryUrl], ctx.lines.join('\n') + '\n')

    await horizonsToNode(ctx)
    await nodeToHorizons(ctx, 'node->horizons', ctx.id, {}, 2)
    await evolution(ctx)
  } catch (error) {
    expect(false, `${error.name}: ${error.message}`)
  } finally {
    await stopCluster(cluster.child)
  }
  console.log(failures.length === 0 ? 'node peer: all checks passed' : `node peer: ${failures.length} check(s) failed`)
  process.exit(failures.length === 0 ? 0 : 1)
}

if (!BINARY || !REPO_ROOT) {
  console.error('usage: check_node_peer.cjs HORIZONS_BINARY REPO_ROOT')
  process.exit(2)
}
main()
