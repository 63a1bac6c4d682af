// The shipped examples take, through Node, the decisions the Rust tests check.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

const { Mesh, RetryBudget, OutlierDetector } = createRequire(import.meta.url)('../index.js')

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
const EXAMPLES = join(REPO, 'examples', 'resources')
const CLIENT = { workload: 'production/frontend', labels: { app: 'frontend' } }

const meshOf = (...names) =>
  Mesh.fromYaml(names.map((n) => readFileSync(join(EXAMPLES, `${n}.yaml`), 'utf8')).join('\n---\n'), names.join('+'))
const sidecar = (url, more = {}) => ({ url, ...CLIENT, ...more })
const myapp = meshOf('virtualservice-myapp', 'destinationrule-myapp')

test('header route to v2', () => {
  const e = myapp.explain(sidecar('http://myapp/anything', { headers: { 'x-version': 'v2' } }))
  assert.equal(e.route.virtual_service, 'production/myapp')
  assert.equal(e.route.rule, 0)
  assert.deepEqual([e.route.picked.host, e.route.picked.subset], ['myapp.production.svc.cluster.local', 'v2'])
  assert.equal(e.destination_policy.subset.labels.version, 'v2')
  assert.equal(e.destination_policy.load_balancer.simple, 'LEAST_REQUEST')
  const pairs = myapp.route(sidecar('http://myapp/x', { headers: [['x-version', 'v2']] }))
  assert.equal(pairs.picked.subset, 'v2')
})

test('canary 90/10 converges over seeds', () => {
  const r = myapp.route(sidecar('http://myapp.example.com/api/users?x=1'))
  assert.equal(r.rule, 1)
  assert.deepEqual(r.destinations.map((d) => [d.subset, d.percent]), [['v1', 90], ['v2', 10]])
  const n = 5000
  let v2 = 0
  for (let seed = 0; seed < n; seed++) {
    if (myapp.route(sidecar('http://myapp/api/x', { seed })).picked.subset === 'v2') v2++
  }
  assert.ok(Math.abs(v2 / n - 0.1) < 0.02, `v2 share ${v2 / n}`)
})

test('default route: 30s timeout and 3 retries', () => {
  const e = myapp.explain(sidecar('http://myapp/orders', { method: 'POST' }))
  assert.deepEqual([e.route.rule, e.route.timeout_ms], [2, 30000])
  const r = e.route.retries
  assert.equal(r.attempts, 3)
  assert.equal(r.per_try_timeout_ms, 10000)
  assert.deepEqual(r.retry_on, ['connect-failure', 'refused-stream', 'retriable-status-codes'])
  assert.deepEqual(r.retriable_status_codes, [503])
  assert.equal(r.default, false)
  assert.equal(e.destination_policy.load_balancer.simple, 'ROUND_ROBIN')
  assert.equal(e.destination_policy.outlier_detection.max_ejection_percent, 50)
})

test('fault injection on the header', () => {
  const m = meshOf('virtualservice-fault')
  const f = m.route(sidecar('http://myapp/x', { headers: { 'x-test-fault': 'inject' } })).fault
  assert.deepEqual([f.delay.fixed_delay_ms, f.delay.percentage], [5000, 50])
  assert.deepEqual([f.abort.http_status, f.abort.percentage], [503, 10])
  const plain = m.route(sidecar('http://myapp/x'))
  assert.equal(plain.rule, 1)
  assert.equal(plain.fault, null)
})

test('mirror to v2 at 100%', () => {
  const r = meshOf('virtualservice-mirror', 'destinationrule-myapp').route(sidecar('http://myapp/x'))
  assert.equal(r.picked.subset, 'v1')
  assert.deepEqual(r.mirror[0], { host: 'myapp.production.svc.cluster.local', subset: 'v2', port: null, percentage: 100 })
})

test('gateway redirects http', () => {
  const m = meshOf('gateway-myapp', 'virtualservice-myapp', 'destinationrule-myapp')
  const r = m.route({ url: 'http://myapp.example.com/api/x?y=1', gateway: 'production/myapp-gateway', port: 80 })
  assert.equal(r.action, 'redirect')
  assert.equal(r.redirect.location, 'https://myapp.example.com/api/x?y=1')
})

test('a directory loads with the shadowing warnings', () => {
  const m = Mesh.fromPath(EXAMPLES)
  assert.equal(m.warnings.length, 2)
  for (const w of m.warnings) assert.deepEqual([w.severity, w.path], ['warning', 'spec.hosts[0]'])
})

test('explain is the mesh-proxy explain document', (t) => {
  const exe = process.env.MESH_PROXY ?? join(REPO, 'target', 'debug', 'mesh-proxy')
  if (!existsSync(exe)) return t.skip('mesh-proxy is not built (scripts/test-bindings builds it)')
  const cli = JSON.parse(execFileSync(exe, ['explain', '-c', EXAMPLES, '-r', 'GET http://myapp/api/x',
    '-H', 'x-version: v1', '--workload', 'production/frontend', '--labels', 'app=frontend', '--seed', '7'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }))
  const ours = Mesh.fromPath(EXAMPLES).explain(sidecar('http://myapp/api/x', { headers: { 'x-version': 'v1' }, seed: 7 }))
  assert.deepEqual(ours, cli)
})

test('an invalid value throws with diagnostics at its line and column', () => {
  const text = readFileSync(join(EXAMPLES, 'virtualservice-myapp.yaml'), 'utf8').replace('weight: 10', 'weight: -5')
  const lines = text.split('\n')
  const line = lines.findIndex((l) => l.includes('weight: -5')) + 1
  assert.throws(() => Mesh.fromYaml(text, 'vs.yaml'), (err) => {
    assert.ok(err instanceof Error)
    assert.equal(err.code, 'MESH_CONFIG_INVALID')
    const d = err.diagnostics.find((x) => x.severity === 'error')
    assert.deepEqual([d.file, d.line, d.column], ['vs.yaml', line, lines[line - 1].indexOf('-5') + 1])
    assert.equal(d.resource, 'VirtualService production/myapp')
    assert.equal(d.path, 'spec.http[1].route[1].weight')
    assert.match(err.message, new RegExp(`vs\\.yaml:${line}:`))
    return true
  })
})

test('broken YAML throws with a line', () => {
  assert.throws(() => Mesh.fromYaml('kind: VirtualService\nspec:\n  hosts: [myapp\n', 'bad.yaml'), (err) => {
    const d = err.diagnostics[0]
    assert.deepEqual(Object.keys(d).sort(), ['column', 'file', 'line', 'message', 'path', 'resource', 'severity'])
    assert.ok(d.line >= 3 && d.column >= 1)
    assert.match(d.message, /invalid YAML/)
    return true
  })
  assert.throws(() => Mesh.fromPath(join(EXAMPLES, 'nope.yaml')), /cannot read/)
})

test('bad requests throw', () => {
  const cases = [
    [{ url: 'http://myapp/', header: {} }, /unknown field `header`/],
    [{ url: 'http://myapp/', workload: 'client' }, /expected NS\/NAME/],
    [{ url: 'http://myapp/', port: 80 }, /gateway and port/],
    [{ url: '/no-host' }, /no host/],
    [{ method: 'GET' }, /missing field `url`/],
    [{ url: 'http://myapp/', headers: 'x-version: v2' }, /list of \[name, value\] pairs/],
    [{ url: 'http://myapp/', seed: 1.5 }, /request: seed: invalid type/],
    [{ url: 'http://myapp/', gateway: 'production/nope', port: 80 }, /no server on port 80/],
  ]
  for (const [req, msg] of cases) assert.throws(() => myapp.route(req), msg)
})

test('requests that are not JSON objects throw the same error from route, explain and authorize', () => {
  const notObjects = [undefined, null, 'http://myapp/', 42, { toJSON: () => undefined }]
  for (const method of ['route', 'explain', 'authorize']) {
    for (const req of notObjects) {
      assert.throws(() => myapp[method](req), (err) => {
        assert.equal(err.code, 'InvalidArg')
        assert.match(err.message, /^request: expected an object$/)
        return true
      })
    }
    assert.throws(() => myapp[method]([]), /^Error: request: invalid length/)
  }
})

test('each call returns a fresh decision', () => {
  const req = sidecar('http://myapp.production.svc.cluster.local/api/users', { headers: { 'x-version': 'v2' } })
  const first = myapp.route(req)
  first.destinations.push('changed')
  assert.notDeepEqual(myapp.route(req), first)
  assert.deepEqual(myapp.route(req), myapp.explain(req).route)
})

test('authz and mtls at the destination workload', () => {
  const m = meshOf('authorizationpolicy-myapp', 'peerauthentication')
  const dest = { destination_workload: 'production/myapp', destination_labels: { app: 'myapp' } }
  const frontend = { source_principal: 'cluster.local/ns/production/sa/frontend', mtls: true }
  let e = m.explain(sidecar('http://myapp/api/users', { ...dest, ...frontend }))
  assert.equal(e.authz.workload, 'production/myapp')
  assert.equal(e.authz.decision, 'ALLOW')
  assert.notEqual(e.mtls, null)
  const other = { source_principal: 'cluster.local/ns/production/sa/other', mtls: true }
  e = m.explain(sidecar('http://myapp/api/users', { ...dest, ...other }))
  assert.deepEqual([e.authz.decision, e.authz.status], ['DENY', 403])
  e = m.explain(sidecar('http://myapp/health', dest))
  assert.equal(e.authz.decision, 'ALLOW')
})

// --- authorize, RetryBudget, OutlierDetector ---

const authz = meshOf('authorizationpolicy-myapp')
const FRONTEND = 'cluster.local/ns/production/sa/frontend'
const inbound = (principal, path, more = {}) => ({
  url: `http://myapp.production${path}`,
  mtls: true,
  source_principal: principal,
  destination_workload: 'production/myapp',
  destination_labels: { app: 'myapp' },
  ...more,
})

test('authorize allows frontend GET /api/x with mTLS', () => {
  const v = authz.authorize(inbound(FRONTEND, '/api/x'))
  assert.deepEqual([v.decision, v.status, v.policy, v.rule, v.action], ['ALLOW', null, 'production/myapp-authz', 0, 'ALLOW'])
  assert.deepEqual(v, authz.explain(inbound(FRONTEND, '/api/x')).authz)
})

test('authorize denies another principal with 403 and a reason; /health is open', () => {
  const v = authz.authorize(inbound('cluster.local/ns/production/sa/intruder', '/api/x'))
  assert.deepEqual([v.decision, v.status], ['DENY', 403])
  assert.ok(v.reason.length > 0)
  assert.equal(authz.authorize(inbound(FRONTEND, '/api/x', { mtls: false })).status, 403)
  const h = authz.authorize(inbound('cluster.local/ns/elsewhere/sa/probe', '/health', { mtls: false }))
  assert.deepEqual([h.decision, h.rule], ['ALLOW', 1])
  assert.throws(() => authz.authorize({ url: 'http://myapp/', gateway: 'istio-system/gw', port: 80 }), /destination_workload/)
})

test('a budget with ratio 0.2 allows 20 retries per 100 requests beyond the minimum', () => {
  for (const [min, expected] of [[0, 20], [1, 30]]) {
    const b = new RetryBudget(0.2, min, 10)
    for (let i = 0; i < 100; i++) b.deposit()
    let allowed = 0
    for (let i = 0; i < 50; i++) if (b.withdraw()) allowed++
    assert.equal(allowed, expected)
  }
  assert.throws(() => new RetryBudget(-1, 0, 10), /retryRatio/)
})

test('the detector ejects after 5 consecutive 503s and returns after the base ejection time', () => {
  const d = new OutlierDetector(['a', 'b'], {
    consecutive_5xx: 5, interval: '1s', base_ejection_time: '30s', max_ejection_percent: 100,
  })
  const fired = Array.from({ length: 5 }, () => d.record('a', 503))
  assert.deepEqual(fired, [false, false, false, false, true])
  d.record('b', 503)
  assert.deepEqual(d.ejected(), ['a'])
  d.advance(29)
  assert.deepEqual(d.ejected(), ['a'])
  d.advance(2)
  assert.deepEqual(d.ejected(), [])
  assert.throws(() => d.record('c', 503), /unknown host/)
  assert.throws(() => new OutlierDetector(['a'], { interval: 5 }), /interval/)
})

test('non-ASCII text in a request comes back intact in its explanation', () => {
  const req = sidecar('http://myapp.production/api/é?q=ü', { headers: { 'x-version': 'v2' } })
  const doc = myapp.explain(req)
  assert.equal(doc.request.path, '/api/é')
  assert.equal(doc.request.query, 'q=ü')
})
