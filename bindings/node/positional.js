// Rebuilds the route and authorize decisions from their positional form: the addon writes each
// struct as a JSON array of its field values, without keys (mesh_bindings::positional), and the
// builders below turn the arrays into the documented objects with object literals. V8 parses the
// keyless text and builds the literals in half the time `JSON.parse` takes over the keyed text
// (docs/benchmarks.md, "Bindings"). LAYOUT is the order the builders read; test/positional.test.mjs
// checks it against the addon's `positionalLayout()` and every builder against LAYOUT.
'use strict'

/**
 * Each shape's fields in array order: `[key]` (a value as in the keyed form), `[key, 'one',
 * shape]` (null or the shape), `[key, 'list', shape]` (an array of the shape), or `[key, 'pick',
 * shape, list]` (null, the index of an element of the sibling `list`, or the shape).
 */
const LAYOUT = [
  {
    name: 'route',
    fields: [
      ['virtual_service'], ['rule'], ['rule_name'], ['match'], ['action'], ['status'],
      ['destinations', 'list', 'destination'], ['picked', 'pick', 'destination', 'destinations'],
      ['timeout_ms'],
      ['retries', 'one', 'retries'], ['fault', 'one', 'fault'], ['mirror', 'list', 'mirror'],
      ['redirect', 'one', 'redirect'], ['direct_response', 'one', 'direct_response'],
      ['rewrite', 'one', 'rewrite'], ['headers', 'one', 'headers'],
    ],
  },
  { name: 'destination', fields: [['host'], ['subset'], ['port'], ['weight'], ['percent']] },
  {
    name: 'retries',
    fields: [
      ['attempts'], ['per_try_timeout_ms'], ['retry_on'], ['retriable_status_codes'],
      ['backoff_base_ms'], ['retry_ignore_previous_hosts'], ['default'],
    ],
  },
  { name: 'fault', fields: [['delay', 'one', 'fault_delay'], ['abort', 'one', 'fault_abort']] },
  { name: 'fault_delay', fields: [['fixed_delay_ms'], ['percentage']] },
  { name: 'fault_abort', fields: [['http_status'], ['grpc_status'], ['percentage']] },
  { name: 'mirror', fields: [['host'], ['subset'], ['port'], ['percentage']] },
  { name: 'redirect', fields: [['status'], ['location']] },
  { name: 'direct_response', fields: [['status'], ['body']] },
  { name: 'rewrite', fields: [['path'], ['authority']] },
  { name: 'headers', fields: [['request', 'one', 'ops'], ['response', 'one', 'ops']] },
  { name: 'ops', fields: [['set'], ['add'], ['remove']] },
  {
    name: 'authz',
    fields: [
      ['workload'], ['decision'], ['status'], ['reason'], ['policy'], ['rule'], ['action'],
      ['path'], ['normalization'], ['policies'], ['audit'], ['dry_run'],
    ],
  },
]

const list = (a, build) => {
  const out = new Array(a.length)
  for (let i = 0; i < a.length; i++) out[i] = build(a[i])
  return out
}

const destination = (a) => ({ host: a[0], subset: a[1], port: a[2], weight: a[3], percent: a[4] })

const retries = (a) => ({
  attempts: a[0],
  per_try_timeout_ms: a[1],
  retry_on: a[2],
  retriable_status_codes: a[3],
  backoff_base_ms: a[4],
  retry_ignore_previous_hosts: a[5],
  default: a[6],
})

const faultDelay = (a) => ({ fixed_delay_ms: a[0], percentage: a[1] })
const faultAbort = (a) => ({ http_status: a[0], grpc_status: a[1], percentage: a[2] })
const fault = (a) => ({
  delay: a[0] === null ? null : faultDelay(a[0]),
  abort: a[1] === null ? null : faultAbort(a[1]),
})
const mirror = (a) => ({ host: a[0], subset: a[1], port: a[2], percentage: a[3] })
const redirect = (a) => ({ status: a[0], location: a[1] })
const directResponse = (a) => ({ status: a[0], body: a[1] })
const rewrite = (a) => ({ path: a[0], authority: a[1] })
const ops = (a) => ({ set: a[0], add: a[1], remove: a[2] })
const headers = (a) => ({
  request: a[0] === null ? null : ops(a[0]),
  response: a[1] === null ? null : ops(a[1]),
})

/** The route decision from its positional array. */
const route = (a) => ({
  virtual_service: a[0],
  rule: a[1],
  rule_name: a[2],
  match: a[3],
  action: a[4],
  status: a[5],
  destinations: list(a[6], destination),
  picked: a[7] === null ? null : destination(typeof a[7] === 'number' ? a[6][a[7]] : a[7]),
  timeout_ms: a[8],
  retries: a[9] === null ? null : retries(a[9]),
  fault: a[10] === null ? null : fault(a[10]),
  mirror: list(a[11], mirror),
  redirect: a[12] === null ? null : redirect(a[12]),
  direct_response: a[13] === null ? null : directResponse(a[13]),
  rewrite: a[14] === null ? null : rewrite(a[14]),
  headers: a[15] === null ? null : headers(a[15]),
})

/** The authorize verdict from its positional array. */
const authz = (a) => ({
  workload: a[0],
  decision: a[1],
  status: a[2],
  reason: a[3],
  policy: a[4],
  rule: a[5],
  action: a[6],
  path: a[7],
  normalization: a[8],
  policies: a[9],
  audit: a[10],
  dry_run: a[11],
})

/** Every builder by shape name (for the tests). */
const BUILDERS = {
  route,
  destination,
  retries,
  fault,
  fault_delay: faultDelay,
  fault_abort: faultAbort,
  mirror,
  redirect,
  direct_response: directResponse,
  rewrite,
  headers,
  ops,
  authz,
}

module.exports = { LAYOUT, BUILDERS, route, authz }
