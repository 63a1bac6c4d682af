// The positional form of `route` and `authorize` (positional.js over the addon's
// `routePositional`/`authorizePositional`) gives exactly the keyed decisions: same keys, same
// order, same values, for every decision variant.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

const require = createRequire(import.meta.url)
const { Mesh, positionalLayout } = require('../index.js')
const { LAYOUT, BUILDERS } = require('../positional.js')

const EXAMPLES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'examples', 'resources')
const CLIENT = { workload: 'production/frontend', labels: { app: 'frontend' } }
const example = (n) => readFileSync(join(EXAMPLES, `${n}.yaml`), 'utf8')

test('positional.js reads the layout the addon writes', () => {
  assert.deepEqual(LAYOUT, JSON.parse(positionalLayout()))
  assert.deepEqual(Object.keys(BUILDERS).sort(), LAYOUT.map((s) => s.name).sort())
})

// A positional value of `shape` whose every leaf names its own path, and the keyed object
// LAYOUT says it stands for.
function sample(shape, path) {
  const { fields } = LAYOUT.find((s) => s.name === shape)
  const positional = []
  const keyed = {}
  for (const [key, kind, inner] of fields) {
    const here = `${path}.${key}`
    if (kind === undefined) {
      positional.push(here)
      keyed[key] = here
    } else if (kind === 'one' || kind === 'pick') {
      const [p, k] = sample(inner, here)
      positional.push(p)
      keyed[key] = k
    } else {
      const items = [sample(inner, `${here}[0]`), sample(inner, `${here}[1]`)]
      positional.push(items.map(([p]) => p))
      keyed[key] = items.map(([, k]) => k)
    }
  }
  return [positional, keyed]
}

test('every builder puts each value under the key LAYOUT gives it, in LAYOUT order', () => {
  for (const { name } of LAYOUT) {
    const [positional, keyed] = sample(name, name)
    const built = BUILDERS[name](positional)
    assert.equal(JSON.stringify(built), JSON.stringify(keyed), name)
  }
})

test('a picked index is a fresh copy of that destination', () => {
  const [route, keyed] = sample('route', 'r')
  const at = LAYOUT[0].fields.findIndex(([key]) => key === 'picked')
  const built = BUILDERS.route(route.with(at, 1))
  assert.deepEqual(built.picked, keyed.destinations[1])
  assert.notEqual(built.picked, built.destinations[1])
})

test('a null nested struct stays null and empty lists stay empty', () => {
  const [route] = sample('route', 'r')
  const fields = LAYOUT[0].fields
  for (const [i, [key, kind]] of fields.entries()) {
    if (kind === undefined) continue
    const copy = [...route]
    copy[i] = kind === 'list' ? [] : null
    assert.deepEqual(BUILDERS.route(copy)[key], kind === 'list' ? [] : null, key)
  }
  const [fault] = sample('fault', 'f')
  assert.deepEqual(BUILDERS.fault([null, fault[1]]).delay, null)
  assert.deepEqual(BUILDERS.fault([fault[0], null]).abort, null)
})

// The keyed decision straight from the addon (`routeJson`/`authorizeJson`, the keyed JSON of
// the same engine call) against what `route`/`authorize` return; JSON text compares key order.
function sameAsKeyed(mesh, method, request) {
  const got = mesh[method](request)
  const keyed = mesh[`${method}Json`](JSON.stringify(request))
  assert.equal(JSON.stringify(got), JSON.stringify(JSON.parse(keyed)), JSON.stringify(request))
  assert.deepEqual(got, JSON.parse(keyed))
  return got
}

test('route decisions of the examples equal the keyed ones', () => {
  const mesh = Mesh.fromPath(EXAMPLES)
  const picked = sameAsKeyed(mesh, 'route', {
    url: 'http://myapp.production.svc.cluster.local/api/users',
    headers: { 'x-version': 'v2' },
    ...CLIENT,
  })
  assert.notEqual(picked.picked, null)
  assert.notEqual(picked.retries, null)
  const fault = sameAsKeyed(mesh, 'route', { url: 'http://myapp.production/x', headers: { 'x-test-fault': 'inject' }, ...CLIENT })
  assert.equal(fault.fault.delay.fixed_delay_ms, 5000)
  assert.equal(fault.fault.abort.http_status, 503)
  const redirect = sameAsKeyed(mesh, 'route', { url: 'http://myapp.example.com/api/x?y=1', gateway: 'production/myapp-gateway', port: 80 })
  assert.equal(redirect.action, 'redirect')
  const none = sameAsKeyed(Mesh.fromYaml('', 'empty.yaml'), 'route', { url: 'http://nowhere.example/' })
  assert.equal(none.virtual_service, null)
  const mirror = sameAsKeyed(Mesh.fromYaml(example('virtualservice-mirror'), 'm.yaml'), 'route', { url: 'http://myapp.production/', ...CLIENT })
  assert.equal(mirror.mirror.length, 1)
})

const VS = `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - match: [{uri: {prefix: /old}}]
    redirect: {uri: /nové, authority: ex.ample}
  - match: [{uri: {prefix: /direct}}]
    directResponse: {status: 503, body: {string: "späť ☂ \\"quoted\\"\\n"}}
  - match: [{uri: {prefix: /gone}}]
    directResponse: {status: 410}
  - name: main
    match: [{uri: {prefix: /api}}]
    rewrite: {uri: /v2}
    timeout: 1.5s
    retries: {attempts: 4, perTryTimeout: 250ms, retryOn: "5xx,reset"}
    fault: {abort: {grpcStatus: UNAVAILABLE, percentage: {value: 0.5}}}
    route:
    - destination: {host: reviews, subset: v1, port: {number: 9080}}
      weight: 75
    - destination: {host: ratings}
      weight: 25
      headers: {response: {add: {x-ete: "ça va"}}}
    mirror: {host: shadow}
    mirrorPercentage: {value: 12.5}
    headers: {request: {set: {x-a: "ünï"}, remove: [x-b]}}
`

test('every decision variant equals the keyed one, non-ASCII text included', () => {
  const mesh = Mesh.fromYaml(VS, 'vs.yaml')
  const cases = {
    '/old/x': (r) => assert.equal(r.redirect.location, 'http://ex.ample/nové'),
    '/direct': (r) => assert.equal(r.direct_response.body, 'späť ☂ "quoted"\n'),
    '/gone': (r) => assert.equal(r.direct_response.body, null),
    '/unmatched': (r) => assert.deepEqual([r.action, r.status, r.picked], ['not_found', 404, null]),
    '/ü': (r) => assert.deepEqual([r.action, r.status, r.destinations], ['rejected', 400, []]),
    '/api/%C3%BC?q=1': (r) => {
      assert.equal(r.rule_name, 'main')
      assert.equal(r.rewrite.path, '/v2/%C3%BC')
      assert.equal(r.fault.delay, null)
      assert.equal(r.fault.abort.grpc_status, 'UNAVAILABLE')
      assert.equal(r.mirror[0].percentage, 12.5)
      assert.deepEqual(r.headers.request.set, { 'x-a': 'ünï' })
    },
  }
  for (const [path, check] of Object.entries(cases)) {
    for (const seed of [0, 1, 2, 3]) {
      check(sameAsKeyed(mesh, 'route', { url: `http://reviews${path}`, seed }))
    }
  }
  // The 25% destination carries a non-ASCII response header value.
  let ratings = 0
  for (let seed = 0; seed < 40; seed++) {
    const r = sameAsKeyed(mesh, 'route', { url: 'http://reviews/api/x', seed })
    if (r.picked.host.startsWith('ratings.')) {
      ratings++
      assert.deepEqual(r.headers.response.add, { 'x-ete': 'ça va' })
    }
  }
  assert.ok(ratings > 0)
})

test('authorize verdicts equal the keyed ones', () => {
  const mesh = Mesh.fromYaml(example('authorizationpolicy-myapp'), 'authz.yaml')
  const inbound = (principal, path, more = {}) => ({
    url: `http://myapp.production${path}`,
    mtls: true,
    source_principal: principal,
    destination_workload: 'production/myapp',
    destination_labels: { app: 'myapp' },
    ...more,
  })
  const allow = sameAsKeyed(mesh, 'authorize', inbound('cluster.local/ns/production/sa/frontend', '/api/x'))
  assert.equal(allow.decision, 'ALLOW')
  const deny = sameAsKeyed(mesh, 'authorize', inbound('cluster.local/ns/production/sa/ünknown', '/api/x'))
  assert.deepEqual([deny.decision, deny.status], ['DENY', 403])
  const none = sameAsKeyed(Mesh.fromYaml('', 'e.yaml'), 'authorize', inbound('x', '/', { mtls: false }))
  assert.deepEqual([none.policy, none.rule, none.action], [null, null, null])
})

test('each mesh answers from its own resources, and the kept functions stay hidden', async () => {
  const { inspect } = await import('node:util')
  const a = Mesh.fromPath(EXAMPLES)
  const b = Mesh.fromYaml('', 'empty.yaml')
  const before = [Object.keys(a), inspect(a)]
  const req = { url: 'http://myapp.production.svc.cluster.local/api/users', ...CLIENT }
  for (let i = 0; i < 3; i++) {
    assert.equal(a.route(req).virtual_service, 'production/myapp-fault')
    assert.equal(b.route(req).virtual_service, null)
    assert.equal(a.explain(req).route.virtual_service, 'production/myapp-fault')
    assert.equal(b.explain(req).route.virtual_service, null)
  }
  const inbound = { url: 'http://myapp.production/api/x', destination_workload: 'production/myapp', destination_labels: { app: 'myapp' } }
  assert.equal(a.authorize(inbound).decision, 'DENY')
  assert.equal(b.authorize(inbound).decision, 'ALLOW')
  assert.deepEqual([Object.keys(a), inspect(a)], before)
  assert.throws(() => Mesh.prototype.route.call({}, req))
})
