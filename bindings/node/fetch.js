'use strict'
// The outbound mesh as a `fetch`-compatible function.
//
// `meshFetch(mesh, {workload, labels})` routes every request at the sidecar of `workload`
// through the Rust engine (`Mesh.client(...).begin`): VirtualService routing and weighted
// splits, rewrites and header operations, fault injection, the route and per-try timeouts,
// retries (`retryOn`, attempts, backoff, `maxRetries` or the retry budget) and outlier ejection
// over the endpoints the resources declare (ServiceEntry, WorkloadEntry). Each attempt is sent
// with `node:http`/`node:https` to the picked endpoint (the global `fetch` cannot set `Host`)
// and its outcome reported back. Only the sending is JavaScript's; every decision is Rust's.
//
// Answers the mesh gives itself are `Response`s with the Envoy response flag in
// `response.meshFlag`: 404 `NR`, 503 `NC`/`UH`/`UO`/`UF`/`UR`, fault aborts (`FI`) and, when
// the route timeout fires, a synthesized **504** `upstream request timeout` (`UT`) — as Envoy
// answers; the promise does not reject. Request bodies are buffered (so retries can replay
// them); each attempt's response body is read within the attempt's deadline.

const http = require('node:http')
const https = require('node:https')
const { Mesh } = require('./index.js')

const TIMED_OUT = 'MESH_ATTEMPT_TIMEOUT'
const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ETIMEDOUT'])
const NULL_BODY = new Set([101, 204, 205, 304])

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

function toResponse(status, headers, body, flag) {
  const res = new Response(NULL_BODY.has(status) ? null : body, { status, headers: new Headers(headers) })
  Object.defineProperty(res, 'meshFlag', { value: flag ?? null, enumerable: false })
  return res
}

function local(r) {
  return toResponse(r.status, r.headers, r.body, r.flag)
}

function errorKind(err) {
  if (err.code === TIMED_OUT) return 'timeout'
  if (CONNECT_ERRORS.has(err.code)) return 'connect-failure'
  return 'reset'
}

/** `[name, value]` pairs as a header object (repeats joined, `set-cookie` kept as a list). */
function headerObject(pairs) {
  const out = {}
  for (const [k, v] of pairs) {
    if (out[k] === undefined) out[k] = v
    else if (k === 'set-cookie') out[k] = [].concat(out[k], v)
    else out[k] = `${out[k]}, ${v}`
  }
  return out
}

/** One attempt: resolves with `{status, headers, body}` or rejects with the transport error. */
function send(agents, url, method, headers, body, timeoutMs, signal) {
  return new Promise((resolve, reject) => {
    const u = new URL(url)
    const mod = u.protocol === 'https:' ? https : http
    const req = mod.request(u, { method, headers: headerObject(headers), agent: agents[u.protocol] }, (res) => {
      const chunks = []
      res.on('data', (c) => chunks.push(c))
      res.on('end', () => {
        clearTimeout(timer)
        const pairs = []
        for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) pairs.push([res.rawHeaders[i].toLowerCase(), res.rawHeaders[i + 1]])
        resolve({ status: res.statusCode, headers: pairs, body: Buffer.concat(chunks) })
      })
      res.on('error', reject)
    })
    const timer = timeoutMs == null
      ? null
      : setTimeout(() => req.destroy(Object.assign(new Error('attempt timed out'), { code: TIMED_OUT })), Math.max(timeoutMs, 1))
    const onAbort = () => req.destroy(signal.reason ?? new Error('aborted'))
    if (signal) {
      if (signal.aborted) return onAbort()
      signal.addEventListener('abort', onAbort, { once: true })
    }
    req.on('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
    req.on('close', () => signal && signal.removeEventListener('abort', onAbort))
    req.end(body && body.length ? body : undefined)
  })
}

/**
 * A `fetch`-compatible function applying the outbound mesh of `workload` (`NS/NAME`, with
 * `labels`).
 *
 * @param {Mesh} mesh
 * @param {{workload: string, labels?: Record<string,string>, agents?: {http?: http.Agent, https?: https.Agent}}} options
 */
function meshFetch(mesh, options = {}) {
  if (!(mesh instanceof Mesh)) throw new TypeError('mesh: expected a Mesh')
  const { workload, labels = {} } = options
  const client = mesh.client(workload, labels)
  const agents = {
    'http:': options.agents?.http ?? new http.Agent({ keepAlive: true }),
    'https:': options.agents?.https ?? new https.Agent({ keepAlive: true }),
  }

  return async function fetch(input, init = undefined) {
    const request = new Request(input, init)
    const body = request.body === null ? null : Buffer.from(await request.arrayBuffer())
    const call = client.begin(request.method, request.url, [...request.headers], body ? body.length : 0)
    if (call.delayMs) await sleep(call.delayMs)
    if (call.response) return local(call.response)
    for (;;) {
      const deadline = call.attemptTimeout()
      let result
      try {
        result = await send(agents, call.url, call.method, call.headers, body, deadline?.ms, request.signal)
      } catch (err) {
        if (request.signal.aborted) throw err
        result = err
      }
      let next
      if (result instanceof Error) {
        if (result.code === TIMED_OUT && deadline?.route) return local(call.timedOut())
        next = call.finish(null, errorKind(result))
      } else {
        const grpc = result.headers.find(([k]) => k === 'grpc-status')
        next = call.finish(result.status, null, grpc && /^\d+$/.test(grpc[1]) ? Number(grpc[1]) : null)
        if (next.action === 'done') return toResponse(result.status, call.editResponse(result.headers), result.body, null)
      }
      if (next.action === 'respond') return local(next.response)
      if (next.delayMs) await sleep(next.delayMs)
    }
  }
}

module.exports = { meshFetch }
