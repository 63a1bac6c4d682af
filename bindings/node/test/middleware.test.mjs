// meshMiddleware in front of real `node:http` / `node:https` servers on port 0, with the shipped
// AuthorizationPolicy of production/myapp (frontend and api-gateway on GET/POST /api/*; GET
// /health and /ready for anyone).
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { after, before, test } from 'node:test'
import { fileURLToPath } from 'node:url'

const require = createRequire(import.meta.url)
const { Mesh } = require('../index.js')
const { meshMiddleware, forwardedPrincipal } = require('../middleware.js')

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
const POLICY = join(REPO, 'examples', 'resources', 'authorizationpolicy-myapp.yaml')
const XFCC = 'x-forwarded-client-cert'
const FRONTEND = 'By=spiffe://cluster.local/ns/production/sa/myapp;URI=spiffe://cluster.local/ns/production/sa/frontend'
const INTRUDER = 'By=spiffe://cluster.local/ns/production/sa/myapp;URI=spiffe://cluster.local/ns/production/sa/intruder'

const mesh = Mesh.fromPath(POLICY)

/** The app echoes the path and the headers it saw. */
function app(req, res) {
  res.setHeader('content-type', 'text/plain')
  res.end(`app saw ${req.url}\n${JSON.stringify(req.headers)}\n${JSON.stringify(req.rawHeaders)}`)
}

function listen(server) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)))
}

/** One request with a raw target (so `..` and `%2e` reach the server unchanged). */
function send(port, path, { method = 'GET', headers = {}, client = http, tls = {} } = {}) {
  return new Promise((resolve, reject) => {
    const req = client.request({ host: '127.0.0.1', port, method, path, headers: { host: 'myapp.production', ...headers }, ...tls }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c) => (body += c))
      res.on('end', () => resolve({ status: res.statusCode, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

let server
let port
before(async () => {
  const mw = meshMiddleware(mesh, {
    workload: 'production/myapp',
    labels: { app: 'myapp' },
    trustedProxies: ['127.0.0.1/32', '::1'],
    identityHeader: XFCC,
  })
  server = http.createServer((req, res) => mw(req, res, () => app(req, res)))
  port = await listen(server)
})
after(() => server.close())

test('the frontend identity from the trusted proxy reaches the app, without the header', async () => {
  const r = await send(port, '/api/x', { headers: { [XFCC]: FRONTEND } })
  assert.equal(r.status, 200)
  assert.ok(r.body.startsWith('app saw /api/x'))
  assert.ok(!r.body.toLowerCase().includes(XFCC), r.body)
  assert.ok(!r.body.includes('frontend'), r.body)
})

test('another principal, a DELETE and no identity are denied with 403', async () => {
  assert.deepEqual(await send(port, '/api/x', { headers: { [XFCC]: INTRUDER } }), { status: 403, body: 'RBAC: access denied' })
  assert.equal((await send(port, '/api/x', { method: 'DELETE', headers: { [XFCC]: FRONTEND } })).status, 403)
  assert.equal((await send(port, '/api/x')).status, 403)
})

test('/health is open to anyone, for GET only', async () => {
  assert.equal((await send(port, '/health')).status, 200)
  assert.equal((await send(port, '/health', { method: 'POST' })).status, 403)
})

test('dot segments are judged normalized, encoded or not; a NUL is a 400', async () => {
  const frontend = { headers: { [XFCC]: FRONTEND } }
  assert.equal((await send(port, '/api/../admin', frontend)).status, 403)
  assert.equal((await send(port, '/api/%2e%2e/admin', frontend)).status, 403)
  assert.equal((await send(port, '/admin/../api/x', frontend)).status, 200)
  assert.deepEqual(await send(port, '/api/%00', frontend), { status: 400, body: 'Bad Request' })
})

test('the header from an untrusted address is ignored and still stripped', async () => {
  const mw = meshMiddleware(mesh, {
    workload: 'production/myapp',
    labels: { app: 'myapp' },
    trustedProxies: ['10.0.0.0/24'],
    identityHeader: XFCC,
  })
  const s = http.createServer((req, res) => mw(req, res, () => app(req, res)))
  const p = await listen(s)
  try {
    assert.equal((await send(p, '/api/x', { headers: { [XFCC]: FRONTEND } })).status, 403)
    const open = await send(p, '/health', { headers: { [XFCC]: FRONTEND } })
    assert.equal(open.status, 200)
    assert.ok(!open.body.toLowerCase().includes(XFCC))
  } finally {
    s.close()
  }
})

test('works as Express-style middleware: next(err) for a non-request error is not swallowed', async () => {
  const broken = { authorize() { throw new Error('boom') } }
  Object.setPrototypeOf(broken, Mesh.prototype)
  const mw = meshMiddleware(broken, { workload: 'production/myapp' })
  let seen = null
  mw({ method: 'GET', url: '/', headers: { host: 'x' }, rawHeaders: ['host', 'x'], socket: { remoteAddress: '127.0.0.1' } }, {}, (e) => (seen = e))
  assert.equal(seen.message, 'boom')
})

test('peer identity from the verified TLS client certificate', async (t) => {
  const exe = process.env.MESH_PROXY ?? join(REPO, 'target', 'debug', 'mesh-proxy')
  if (!existsSync(exe)) return t.skip('mesh-proxy is not built (scripts/test-bindings builds it)')
  const dir = mkdtempSync(join(tmpdir(), 'mesh-mw-'))
  execFileSync(exe, ['certs', '--out', dir, '--workload', 'production/myapp', '--workload', 'production/frontend',
    '--workload', 'production/intruder'], { stdio: 'ignore' })
  const read = (f) => readFileSync(join(dir, f))
  const mw = meshMiddleware(mesh, { workload: 'production/myapp', labels: { app: 'myapp' } })
  const s = https.createServer({
    key: read('production.myapp.key'), cert: read('production.myapp.pem'), ca: read('ca.pem'),
    requestCert: true, rejectUnauthorized: false,
  }, (req, res) => mw(req, res, () => app(req, res)))
  const p = await listen(s)
  const as = (sa) => ({
    client: https,
    tls: { key: read(`production.${sa}.key`), cert: read(`production.${sa}.pem`), ca: read('ca.pem'), checkServerIdentity: () => undefined, agent: false },
  })
  try {
    assert.equal((await send(p, '/api/x', as('frontend'))).status, 200)
    assert.equal((await send(p, '/api/x', as('intruder'))).status, 403)
    const anonymous = { client: https, tls: { ca: read('ca.pem'), checkServerIdentity: () => undefined, agent: false } }
    assert.equal((await send(p, '/api/x', anonymous)).status, 403)
    assert.equal((await send(p, '/health', anonymous)).status, 200)
  } finally {
    s.close()
  }
})

test('bad settings throw', () => {
  assert.throws(() => meshMiddleware(mesh, { workload: 'myapp' }), /workload: expected NS\/NAME/)
  assert.throws(() => meshMiddleware(mesh, { workload: 'a/b', trustedProxies: ['not-an-ip'] }), /trustedProxies/)
  assert.throws(() => meshMiddleware({}, { workload: 'a/b' }), /expected a Mesh/)
})

test('forwarded identity forms', () => {
  assert.equal(forwardedPrincipal(FRONTEND), 'cluster.local/ns/production/sa/frontend')
  assert.equal(forwardedPrincipal(`${INTRUDER},${FRONTEND}`), 'cluster.local/ns/production/sa/frontend')
  assert.equal(forwardedPrincipal('spiffe://td/ns/a/sa/b'), 'td/ns/a/sa/b')
  assert.equal(forwardedPrincipal('By=x;Hash=y'), null)
})
