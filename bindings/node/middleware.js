'use strict'
// Inbound authorization as a `(req, res, next)` middleware for Express and plain `node:http`.
//
// The middleware only translates: it maps the server's request (method, raw target, headers,
// peer address, peer identity) to a request object, asks `Mesh.authorize` (the Rust engine,
// which also normalizes the path) for the receiving workload's verdict, and answers
// 403 `RBAC: access denied` (400 `Bad Request` when the engine cannot evaluate the request) or
// calls `next()`.
//
// The peer identity comes from the TLS socket's verified client certificate (its `spiffe://`
// URI SAN), or from a trusted header (for example Envoy's `x-forwarded-client-cert`) that is
// honoured only when the connection comes from one of `trustedProxies`. That header is always
// removed before the app sees the request.

const net = require('node:net')
const { Mesh } = require('./index.js')

const DENIED_BODY = 'RBAC: access denied'
const BAD_REQUEST_BODY = 'Bad Request'

/** `NS/NAME` or a TypeError naming the option. */
function checkWorkload(workload) {
  const parts = typeof workload === 'string' ? workload.split('/') : []
  if (parts.length !== 2 || parts.includes('')) {
    throw new TypeError(`workload: expected NS/NAME, got ${JSON.stringify(workload)}`)
  }
}

/** A BlockList of the trusted proxies (addresses or CIDRs), IPv4 and IPv6. */
function proxyList(trustedProxies) {
  const list = new net.BlockList()
  for (const p of trustedProxies) {
    const [addr, bits, extra] = String(p).split('/')
    const family = net.isIP(addr)
    const prefix = bits === undefined ? (family === 6 ? 128 : 32) : Number(bits)
    const max = family === 6 ? 128 : 32
    if (!family || extra !== undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > max) {
      throw new TypeError(`trustedProxies: ${JSON.stringify(p)} is not an address or CIDR`)
    }
    list.addSubnet(addr, prefix, family === 6 ? 'ipv6' : 'ipv4')
  }
  return list
}

/** The peer address without the IPv4-mapped IPv6 prefix (`::ffff:127.0.0.1`). */
function peerAddress(socket) {
  const ip = socket && socket.remoteAddress
  if (!ip) return null
  return ip.startsWith('::ffff:') && net.isIPv4(ip.slice(7)) ? ip.slice(7) : ip
}

function trusted(list, ip) {
  if (ip === null) return false
  const family = net.isIP(ip)
  return family !== 0 && list.check(ip, family === 6 ? 'ipv6' : 'ipv4')
}

/** The principal of the verified client certificate's first `spiffe://` URI SAN, if any. */
function tlsPrincipal(socket) {
  if (!socket || !socket.encrypted || typeof socket.getPeerCertificate !== 'function') return null
  // An unverified certificate (a server with `rejectUnauthorized: false`) names nobody.
  if (!socket.authorized) return null
  const cert = socket.getPeerCertificate()
  const san = cert && cert.subjectaltname
  if (typeof san !== 'string') return null
  for (const entry of san.split(', ')) {
    if (entry.startsWith('URI:spiffe://')) return entry.slice('URI:spiffe://'.length) || null
  }
  return null
}

/**
 * The peer principal of a forwarded identity header: the `URI` of the last (nearest) element
 * of an `x-forwarded-client-cert` value, or the whole value; without `spiffe://`.
 */
function forwardedPrincipal(value) {
  const last = value.split(',').pop().trim()
  let uri = last
  if (last.includes('=')) {
    uri = ''
    for (const part of last.split(';')) {
      const eq = part.indexOf('=')
      const key = eq < 0 ? part : part.slice(0, eq)
      if (key.trim().toLowerCase() === 'uri') uri = part.slice(eq + 1).trim().replace(/^"|"$/g, '')
    }
  }
  if (uri.startsWith('spiffe://')) uri = uri.slice('spiffe://'.length)
  return uri || null
}

/** Removes `name` (lower case) from `req.headers` and `req.rawHeaders`; returns its value. */
function takeHeader(req, name) {
  const value = req.headers[name]
  delete req.headers[name]
  const raw = req.rawHeaders
  if (Array.isArray(raw)) {
    for (let i = raw.length - 2; i >= 0; i -= 2) {
      if (String(raw[i]).toLowerCase() === name) raw.splice(i, 2)
    }
  }
  if (value === undefined) return null
  return Array.isArray(value) ? value.join(',') : String(value)
}

function answer(res, status) {
  const body = status === 400 ? BAD_REQUEST_BODY : DENIED_BODY
  res.statusCode = status
  res.setHeader('content-type', 'text/plain')
  res.setHeader('content-length', Buffer.byteLength(body))
  res.end(body)
}

/**
 * A middleware enforcing the AuthorizationPolicies of `workload` (`NS/NAME`, with `labels`).
 *
 * @param {Mesh} mesh
 * @param {{workload: string, labels?: Record<string,string>, trustedProxies?: string[],
 *          identityHeader?: string}} options
 */
function meshMiddleware(mesh, options = {}) {
  if (!(mesh instanceof Mesh)) throw new TypeError('mesh: expected a Mesh')
  const { workload, labels = {}, trustedProxies = [], identityHeader } = options
  checkWorkload(workload)
  const proxies = proxyList(trustedProxies)
  const header = identityHeader ? String(identityHeader).toLowerCase() : null

  return function mesh_middleware(req, res, next) {
    const forwarded = header === null ? null : takeHeader(req, header)
    const ip = peerAddress(req.socket)
    let principal = tlsPrincipal(req.socket)
    // The header counts only from a trusted proxy, and never over a TLS identity.
    if (principal === null && forwarded && trusted(proxies, ip)) principal = forwardedPrincipal(forwarded)
    const headers = []
    const raw = req.rawHeaders || []
    for (let i = 0; i + 1 < raw.length; i += 2) headers.push([String(raw[i]).toLowerCase(), String(raw[i + 1])])
    const scheme = req.socket && req.socket.encrypted ? 'https' : 'http'
    const host = req.headers.host || `${req.socket.localAddress}:${req.socket.localPort}`
    // The undecoded target (Express rewrites `req.url` under a mount path; not `originalUrl`).
    const target = req.originalUrl || req.url || '/'
    const request = {
      method: req.method || 'GET',
      url: target.startsWith('/') ? `${scheme}://${host}${target}` : target,
      headers,
      destination_workload: workload,
      destination_labels: labels,
      mtls: principal !== null,
    }
    if (ip !== null) request.source_ip = ip
    if (principal !== null) request.source_principal = principal
    let verdict
    try {
      verdict = mesh.authorize(request)
    } catch (err) {
      // The engine's typed request errors (bad target, header, method) are the client's fault.
      if (err && err.code === 'InvalidArg') return answer(res, 400)
      return next(err)
    }
    if (verdict.decision === 'ALLOW' && verdict.status == null) return next()
    return answer(res, verdict.status == null ? 403 : Number(verdict.status))
  }
}

module.exports = { meshMiddleware, forwardedPrincipal }
