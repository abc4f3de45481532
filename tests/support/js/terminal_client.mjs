// A JavaScript Yjs terminal for the tests: syncs ONE document with a node over the
// y-websocket protocol (GET /api/v1/sync/<guid>, token in the access_token parameter),
// prints what the test asks for, writes, and checks the node kept the write by reading it
// back over a second, fresh connection. `quiet` and `presence` run a stock provider
// instead (y-websocket's defaults: awareness on, a reconnect after 30 s without a message).
//
//   node terminal_client.mjs orders  --url URL --token T --doc <store>/orders/<date>
//        [--show ORDER_ID] [--line JSON --by AUTHOR [--node NAME] [--letter L] [--at ISO]]
//   node terminal_client.mjs catalog --url URL --token T --doc <store>/catalog --items JSON
//   node terminal_client.mjs quiet    --url URL --token T --doc GUID --seconds S
//   node terminal_client.mjs presence --url URL --token T --doc GUID --name NAME --peer NAME
//        [--until-left]
//
// `quiet` stays connected S seconds and then says what happened to the connection:
// {"statuses": [...]} (the provider's status events after it was made), {"closes": [...]}
// and {"awareness_messages": N} (awareness frames received). `presence` shows itself as
// {"user": {"name": NAME}} and says {"seen": PEER} once the peer's state arrives and
// {"query": [names]} for the names the node answers an awareness query with; with
// --until-left it then waits for the peer to go and says {"left": PEER, "origin": O}, O
// being "node" when the node announced it (not "timeout", the client's own 30 s expiry);
// without, it stays until killed.
//
// URL is the sync base, e.g. http://127.0.0.1:8080/api/v1/sync. --line holds a line entry
// without `at` and `by` (sku, name, qty, unit_price, modifiers, note, tax_rate,
// tax_included, station); --items maps sku -> catalog item (a plain object, as the
// catalog stores them).
//
// stdout: one JSON object a line: {"synced": guid}, {"order": {...}}, {"wrote": id},
// {"wrote_items": [sku, ...]}. Exit codes: 0 done; 1 bad arguments or an unexpected error;
// 2 the node refused (connection refused or closed before sync, or a write it did not
// keep); 3 the hard timeout (20 s, or 20 s past `quiet`'s S) ran out.

import { randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import WebSocket from 'ws'
import * as Y from 'yjs'
import * as decoding from 'lib0/decoding'
import { WebsocketProvider } from 'y-websocket'

const HARD_TIMEOUT_MS = 20_000
const MESSAGE_AWARENESS = 1
const MESSAGE_QUERY_AWARENESS = 3
const READ_BACK_MS = 4_000 // how long a written value may take to show on a new connection
const SECTIONS = ['lines', 'voids', 'discounts', 'payments', 'tips', 'events']
const WRITE_ONCE = [
  'id', 'number', 'business_date', 'channel', 'table', 'guests', 'opened_at', 'opened_by', 'node'
]
const LINE_FIELDS = [
  'sku', 'name', 'qty', 'unit_price', 'modifiers', 'note', 'tax_rate', 'tax_included', 'station'
]

class Refused extends Error {}
class Usage extends Error {}

function fail (code, message) {
  process.stderr.write(`terminal_client: ${message}\n`)
  process.exit(code)
}

let stage = 'starting' // what the client was doing, for the timeout's message
let hardTimeout = null

/** Exit with 3 once `ms` have gone by from now. */
function giveUpAfter (ms) {
  clearTimeout(hardTimeout)
  hardTimeout = setTimeout(() => fail(3, `timed out after ${ms / 1000} s (${stage})`), ms)
}
giveUpAfter(HARD_TIMEOUT_MS)

function say (object) {
  process.stdout.write(JSON.stringify(object) + '\n')
}

function sleep (ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

function describeClose (event) {
  if (event == null) return 'closed by the client'
  return `closed with code ${event.code}${event.reason ? ` (${event.reason})` : ''}`
}

/** A connected provider for `guid` over a fresh socket, once the first sync is done. */
class Connection {
  constructor (base, guid, token, doc) {
    this.doc = doc
    this.closes = []
    this.provider = new WebsocketProvider(base, guid, doc, {
      params: { access_token: token },
      WebSocketPolyfill: WebSocket,
      disableBc: true, // never sync through a BroadcastChannel: only through the node
      maxBackoffTime: 1000
    })
    this.provider.on('connection-close', (event) => this.closes.push(describeClose(event)))
    this.refusal = null // a close in 4400-4499: the node refused; y-websocket stops retrying
    this.provider.on('closed', (event) => { this.refusal = describeClose(event) })
    this.synced = new Promise((resolve, reject) => {
      this.provider.on('sync', (isSynced) => { if (isSynced) resolve() })
      this.provider.on('connection-error', (event) =>
        reject(new Refused(`connection error: ${event.message ?? event.type ?? event}`)))
      this.provider.on('connection-close', (event) => {
        if (!this.provider.synced) reject(new Refused(`${describeClose(event)} before sync`))
      })
    })
    this.synced.catch(() => {}) // awaited by the caller; never an unhandled rejection
  }

  /** Wait until the socket has handed everything written to the OS. */
  async flushed () {
    for (let i = 0; i < 100; i++) {
      const ws = this.provider.ws
      if (ws === null || ws.bufferedAmount === 0) return
      await sleep(10)
    }
    throw new Error('the socket never flushed its buffered writes')
  }

  /** Close the socket (waiting up to 1 s for the close handshake) and stop reconnecting. */
  async close () {
    const ws = this.provider.ws
    const closed = ws && ws.readyState !== ws.CLOSED
      ? new Promise((resolve) => { ws.once('close', resolve); setTimeout(resolve, 1000) })
      : Promise.resolve()
    this.provider.destroy()
    await closed
  }
}

async function open (options, doc = new Y.Doc()) {
  const connection = new Connection(options.base, options.doc, options.token, doc)
  try {
    await connection.synced
  } catch (error) {
    await connection.close()
    throw error
  }
  return connection
}

/**
 * Whether the node kept what `writer` wrote: polls new connections until `check(doc)` holds;
 * false once READ_BACK_MS ran out or the node closed the writer's socket as refused.
 */
async function readBack (options, writer, check) {
  const deadline = Date.now() + READ_BACK_MS
  for (;;) {
    const reader = await open(options)
    const ok = check(reader.doc)
    await reader.close()
    if (ok) return true
    if (writer.refusal !== null || Date.now() >= deadline) return false
    await sleep(200)
  }
}

function notKept (what, writer) {
  const closes = writer.closes.filter((close) => close !== 'closed by the client')
  return new Refused(`the node did not keep ${what}` +
    (closes.length ? ` (the connection was ${closes.join(', then ')})` : ''))
}

function decodeEntry (value) {
  if (typeof value === 'string') return JSON.parse(value)
  if (value instanceof Y.Map) return value.toJSON()
  return value
}

function orderJson (order) {
  const out = {}
  for (const key of WRITE_ONCE) out[key] = order.get(key) ?? null
  for (const section of SECTIONS) {
    const entries = order.get(section)
    out[section] = entries instanceof Y.Map
      ? [...entries.entries()]
          .map(([key, value]) => ({ id: key, ...decodeEntry(value) }))
          .sort((a, b) => `${a.at}/${a.id}`.localeCompare(`${b.at}/${b.id}`))
      : null
  }
  return out
}

function nextNumber (orders, letter) {
  let highest = 0
  for (const order of orders.values()) {
    const number = order instanceof Y.Map ? order.get('number') : null
    const match = typeof number === 'string' && number.match(/^([A-Z]+)-(\d+)$/)
    if (match && match[1] === letter) highest = Math.max(highest, Number(match[2]))
  }
  return `${letter}-${String(highest + 1).padStart(3, '0')}`
}

/** Open a new order with one line, following docs/orders.md; returns its id. */
function writeOrder (doc, { businessDate, line, by, node, letter, at }) {
  const orders = doc.getMap('orders')
  const id = `${businessDate.replaceAll('-', '')}-${randomBytes(6).toString('hex')}`
  const lineId = randomBytes(6).toString('base64url') // 8 URL-safe characters
  doc.transact(() => {
    const order = new Y.Map()
    orders.set(id, order) // integrated first, then filled: one transaction, one update
    order.set('id', id)
    order.set('number', nextNumber(orders, letter))
    order.set('business_date', businessDate)
    order.set('channel', 'counter')
    order.set('table', null)
    order.set('guests', 0)
    order.set('opened_at', `${at}/0000/${node}`)
    order.set('opened_by', by)
    order.set('node', node)
    const maps = {}
    for (const section of SECTIONS) {
      maps[section] = new Y.Map()
      order.set(section, maps[section])
    }
    maps.lines.set(lineId, JSON.stringify({ ...line, at: `${at}/0001/${node}`, by }))
  })
  return id
}

async function orders (options) {
  const match = options.doc.match(/^[^/]+\/orders\/(\d{4}-\d{2}-\d{2})$/)
  if (!match) throw new Usage(`--doc must be <store>/orders/<YYYY-MM-DD>, not ${options.doc}`)
  let line = null
  if (options.line !== undefined) {
    line = JSON.parse(options.line)
    const missing = LINE_FIELDS.filter((key) => !(key in line))
    if (missing.length) throw new Usage(`--line lacks ${missing.join(', ')}`)
    if (!options.by) throw new Usage('--line needs --by (the author, e.g. "Name (t-id)")')
  }
  stage = `syncing ${options.doc}`
  const terminal = await open(options)
  say({ synced: options.doc })
  try {
    const orderMap = terminal.doc.getMap('orders')
    if (options.show !== undefined) {
      const order = orderMap.get(options.show)
      if (!(order instanceof Y.Map)) throw new Error(`no order ${options.show} in ${options.doc}`)
      say({ order: orderJson(order) })
    }
    if (line === null) return
    stage = 'writing a new order'
    const id = writeOrder(terminal.doc, {
      businessDate: match[1],
      line,
      by: options.by,
      node: options.node,
      letter: options.letter,
      at: options.at ?? new Date().toISOString()
    })
    await terminal.flushed()
    stage = `reading order ${id} back over a new connection`
    const kept = await readBack(options, terminal, (doc) => {
      const order = doc.getMap('orders').get(id)
      return order instanceof Y.Map && order.get('lines') instanceof Y.Map &&
        order.get('lines').size === 1
    })
    if (!kept) throw notKept(`order ${id}`, terminal)
    say({ wrote: id })
  } finally {
    await terminal.close()
  }
}

async function catalog (options) {
  if (options.items === undefined) throw new Usage('catalog needs --items')
  const items = JSON.parse(options.items)
  stage = `syncing ${options.doc}`
  const terminal = await open(options)
  say({ synced: options.doc })
  try {
    stage = 'writing catalog items'
    terminal.doc.transact(() => {
      const map = terminal.doc.getMap('items')
      for (const [sku, item] of Object.entries(items)) map.set(sku, item)
    })
    await terminal.flushed()
    stage = 'reading the items back over a new connection'
    const wanted = JSON.stringify(items)
    const kept = await readBack(options, terminal, (doc) => {
      const map = doc.getMap('items')
      const found = Object.fromEntries(Object.keys(items).map((sku) => [sku, map.get(sku)]))
      return JSON.stringify(found) === wanted
    })
    if (!kept) throw notKept(`the write to items ${Object.keys(items).join(', ')}`, terminal)
    say({ wrote_items: Object.keys(items) })
  } finally {
    await terminal.close()
  }
}

/**
 * A stock provider for `options.doc` (only the token and Node's WebSocket given), with a
 * count of the awareness frames it receives; resolves once it synced.
 */
async function stockProvider (options) {
  const provider = new WebsocketProvider(options.base, options.doc, new Y.Doc(), {
    params: { access_token: options.token },
    WebSocketPolyfill: WebSocket
  })
  const received = { awareness: [] } // each awareness frame's states: [client, state]
  const apply = provider.messageHandlers[MESSAGE_AWARENESS]
  provider.messageHandlers[MESSAGE_AWARENESS] = (encoder, decoder, ...rest) => {
    received.awareness.push(awarenessStates(decoder.arr.subarray(decoder.pos)))
    apply(encoder, decoder, ...rest)
  }
  await new Promise((resolve, reject) => {
    provider.on('sync', (isSynced) => { if (isSynced) resolve() })
    provider.on('connection-close', (event) => {
      if (!provider.synced) reject(new Refused(`${describeClose(event)} before sync`))
    })
  })
  say({ synced: options.doc })
  return { provider, received }
}

/** The [client, state] pairs of an awareness update (what follows the message type). */
function awarenessStates (bytes) {
  const update = decoding.createDecoder(decoding.readVarUint8Array(decoding.createDecoder(bytes)))
  const states = []
  for (let count = decoding.readVarUint(update); count > 0; count--) {
    const client = decoding.readVarUint(update)
    decoding.readVarUint(update) // the clock
    states.push([client, JSON.parse(decoding.readVarString(update))])
  }
  return states
}

async function quiet (options) {
  const seconds = Number(options.seconds)
  if (!(seconds > 0)) throw new Usage('quiet needs --seconds')
  giveUpAfter(seconds * 1000 + HARD_TIMEOUT_MS)
  stage = `syncing ${options.doc}`
  const { provider, received } = await stockProvider(options)
  const statuses = []
  const closes = []
  provider.on('status', (event) => statuses.push(event.status))
  provider.on('connection-close', (event) => closes.push(describeClose(event)))
  stage = `staying connected for ${seconds} s`
  await sleep(seconds * 1000)
  say({ statuses })
  say({ closes })
  say({ awareness_messages: received.awareness.length })
  provider.destroy()
}

async function presence (options) {
  if (!options.name || !options.peer) throw new Usage('presence needs --name and --peer')
  stage = `syncing ${options.doc}`
  const { provider, received } = await stockProvider(options)
  const awareness = provider.awareness
  awareness.setLocalStateField('user', { name: options.name })
  const peerClient = () => [...awareness.getStates()]
    .find(([, state]) => state?.user?.name === options.peer)?.[0]
  stage = `waiting for ${options.peer}`
  while (peerClient() === undefined) await sleep(20)
  const peer = peerClient()
  let peerLeft = null
  awareness.on('change', ({ removed }, origin) => {
    if (removed.includes(peer) && peerLeft === null) {
      peerLeft = origin === provider ? 'node' : String(origin)
    }
  })
  say({ seen: options.peer })
  stage = 'asking the node who is there'
  const asked = received.awareness.length
  provider.ws.send(Uint8Array.of(MESSAGE_QUERY_AWARENESS))
  const both = (states) => [provider.doc.clientID, peer]
    .every((client) => states.some(([id]) => id === client))
  let answer // the first frame since that names both (a relayed renewal names one)
  while ((answer = received.awareness.slice(asked).find(both)) === undefined) await sleep(20)
  say({ query: answer.map(([, state]) => state?.user?.name ?? null).sort() })
  if (!options['until-left']) {
    stage = 'staying until killed'
    await new Promise(() => {})
  }
  stage = `waiting for ${options.peer} to leave`
  while (peerLeft === null) await sleep(20)
  say({ left: options.peer, origin: peerLeft })
  provider.destroy()
}

async function main () {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      token: { type: 'string' },
      doc: { type: 'string' },
      show: { type: 'string' },
      line: { type: 'string' },
      by: { type: 'string' },
      node: { type: 'string', default: 'js-terminal' },
      letter: { type: 'string', default: 'J' },
      at: { type: 'string' },
      items: { type: 'string' },
      seconds: { type: 'string' },
      name: { type: 'string' },
      peer: { type: 'string' },
      'until-left': { type: 'boolean', default: false }
    }
  })
  const command = positionals[0]
  for (const key of ['url', 'token', 'doc']) {
    if (!values[key]) throw new Usage(`--${key} is required`)
  }
  const options = { ...values, base: values.url.replace(/^http/, 'ws') }
  if (command === 'orders') return orders(options)
  if (command === 'catalog') return catalog(options)
  if (command === 'quiet') return quiet(options)
  if (command === 'presence') return presence(options)
  throw new Usage(`the command must be orders, catalog, quiet or presence, not ${command}`)
}

try {
  await main()
  process.exit(0)
} catch (error) {
  if (error instanceof Refused) fail(2, `refused: ${error.message}`)
  if (error instanceof Usage) fail(1, `usage: ${error.message}`)
  fail(1, error?.stack ?? String(error))
}
