// meshFetch against real `node:http` servers on port 0: the engine routes, splits, injects
// faults, times out, retries and ejects; the servers count what reached them.
import assert from 'node:assert/strict'
import http from 'node:http'
import { createRequire } from 'node:module'
import { after, before, test } from 'node:test'

const require = createRequire(import.meta.url)
const { Mesh } = require('../index.js')
const { meshFetch } = require('../fetch.js')

/** A server answering `status` after `sleepMs`; counts requests, keeps the last one. */
async function upstream(status = 200, sleepMs = 0) {
  const u = { hits: 0, last: null }
  u.server = http.createServer((req, res) => {
    u.hits++
    u.last = { url: req.url, headers: req.headers }
    const answer = () => {
      res.writeHead(status, { 'content-type': 'text/plain', 'x-upstream': String(u.port) })
      res.end(`${status} from ${u.port}`)
    }
    sleepMs ? setTimeout(answer, sleepMs) : answer()
  })
  await new Promise((resolve) => u.server.listen(0, '127.0.0.1', resolve))
  u.port = u.server.address().port
  return u
}

const service = (name, endpoints) => `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: shop}
spec:
  hosts: [${name}.shop.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints:
${endpoints.map(([v, u]) => `  - {address: 127.0.0.1, ports: {http: ${u.port}}, labels: {version: ${v}}}`).join('\n')}
---
`
const virtualService = (name, httpRules) => `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: shop}
spec:
  hosts: [${name}.shop.svc.cluster.local]
  http: ${httpRules}
---
`
const subsets = (name, policy) => `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ${name}, namespace: shop}
spec:
  host: ${name}.shop.svc.cluster.local
  trafficPolicy: ${policy}
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
`

let ups
let fetch
before(async () => {
  ups = {
    v1: await upstream(), v2: await upstream(), good: await upstream(),
    bad: await upstream(500), flaky: await upstream(503), slow: await upstream(200, 1000),
  }
  const yaml = [
    service('reviews', [['v1', ups.v1], ['v2', ups.v2]]),
    subsets('reviews', '{loadBalancer: {simple: RANDOM}}'),
    virtualService('reviews', `
  - match: [{uri: {prefix: /fault}}]
    fault: {abort: {httpStatus: 418, percentage: {value: 100}}}
    route: [{destination: {host: reviews.shop.svc.cluster.local}}]
  - match: [{uri: {prefix: /api}}]
    rewrite: {uri: /v1/api}
    headers: {response: {set: {x-mesh: routed}}}
    route:
    - {destination: {host: reviews.shop.svc.cluster.local, subset: v1}, weight: 90}
    - {destination: {host: reviews.shop.svc.cluster.local, subset: v2}, weight: 10}`),
    service('flaky', [['v1', ups.flaky]]),
    virtualService('flaky', `
  - route: [{destination: {host: flaky.shop.svc.cluster.local}}]
    retries: {attempts: 2, retryOn: "5xx"}`),
    service('pool', [['v1', ups.bad], ['v1', ups.good]]),
    subsets('pool', '{loadBalancer: {simple: ROUND_ROBIN}, outlierDetection: {consecutive5xxErrors: 3, interval: 1s, baseEjectionTime: 60s, maxEjectionPercent: 100}}'),
    virtualService('pool', `
  - route: [{destination: {host: pool.shop.svc.cluster.local}}]
    retries: {attempts: 0}`),
    service('slow', [['v1', ups.slow]]),
    virtualService('slow', `
  - route: [{destination: {host: slow.shop.svc.cluster.local}}]
    timeout: 0.3s`),
  ].join('')
  const mesh = Mesh.fromYaml(yaml, 'outbound.yaml')
  fetch = meshFetch(mesh, { workload: 'shop/productpage', labels: { app: 'productpage' } })
})
after(() => {
  for (const u of Object.values(ups)) {
    u.server.closeAllConnections()
    u.server.close()
  }
})

test('a 90/10 canary split converges over 2000 real calls', async () => {
  const [b1, b2] = [ups.v1.hits, ups.v2.hits]
  for (let i = 0; i < 2000; i++) {
    const r = await fetch('http://reviews.shop.svc.cluster.local/api/users')
    assert.equal(r.status, 200)
    assert.equal(r.headers.get('x-mesh'), 'routed')
    await r.arrayBuffer()
  }
  const [v1, v2] = [ups.v1.hits - b1, ups.v2.hits - b2]
  assert.equal(v1 + v2, 2000)
  assert.ok(Math.abs(v2 / 2000 - 0.1) <= 0.03, `v2 share ${v2 / 2000}`)
  assert.equal(ups.v2.last.url, '/v1/api/users')
  assert.equal(ups.v2.last.headers.host, 'reviews.shop.svc.cluster.local')
})

test('a 503 is retried twice, counted at the upstream', async () => {
  const before = ups.flaky.hits
  const r = await fetch('http://flaky.shop.svc.cluster.local/')
  assert.equal(r.status, 503)
  assert.equal(ups.flaky.hits - before, 3)
})

test('an always-failing endpoint is ejected and traffic moves to the healthy one', async () => {
  const statuses = []
  for (let i = 0; i < 40; i++) statuses.push((await fetch('http://pool.shop.svc.cluster.local/')).status)
  assert.equal(ups.bad.hits, 3)
  assert.equal(statuses.filter((s) => s === 500).length, 3)
  assert.deepEqual(statuses.slice(-30), Array(30).fill(200))
})

test('a fault abort never reaches the upstream', async () => {
  const before = ups.v1.hits + ups.v2.hits
  const r = await fetch('http://reviews.shop.svc.cluster.local/fault', { method: 'POST', body: 'x' })
  assert.deepEqual([r.status, r.meshFlag], [418, 'FI'])
  assert.equal(ups.v1.hits + ups.v2.hits, before)
})

test('the route timeout is a synthesized 504', async () => {
  const r = await fetch('http://slow.shop.svc.cluster.local/')
  assert.deepEqual([r.status, await r.text(), r.meshFlag], [504, 'upstream request timeout', 'UT'])
})

test('no route is a 404 NR; bad settings throw', async () => {
  const r = await fetch(new Request('http://reviews.shop.svc.cluster.local/nothing'))
  assert.deepEqual([r.status, r.meshFlag], [404, 'NR'])
  assert.throws(() => meshFetch(Mesh.fromYaml('', 'e.yaml'), { workload: 'nope' }), /NS\/NAME/)
})
