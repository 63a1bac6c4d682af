import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Mesh } from './index'

/** Settings of {@link meshMiddleware}. */
export interface MeshMiddlewareOptions {
  /** The receiving workload, `NS/NAME`: its AuthorizationPolicies are enforced. */
  workload: string
  /** The receiving workload's labels (policy selectors match them). */
  labels?: Record<string, string>
  /** Addresses or CIDRs whose `identityHeader` is believed (IPv4 or IPv6). */
  trustedProxies?: string[]
  /**
   * A header carrying the peer identity (an `x-forwarded-client-cert` value or a SPIFFE ID),
   * honoured only from `trustedProxies` and always removed before the app sees the request.
   */
  identityHeader?: string
}

/**
 * A `(req, res, next)` middleware for Express and `node:http` enforcing the inbound side in
 * process: the peer identity (verified TLS client certificate, or the trusted header), path
 * normalization and AuthorizationPolicy, all decided by the Rust engine. Denied requests get
 * 403 `RBAC: access denied`, requests the engine cannot evaluate 400 `Bad Request`; allowed
 * ones call `next()`.
 */
export declare function meshMiddleware(
  mesh: Mesh,
  options: MeshMiddlewareOptions,
): (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void

/** The principal of a forwarded identity header value (the nearest `URI=`), without `spiffe://`. */
export declare function forwardedPrincipal(value: string): string | null
