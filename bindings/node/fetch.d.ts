import type { Agent as HttpAgent } from 'node:http'
import type { Agent as HttpsAgent } from 'node:https'
import type { Mesh } from './index'

/** Settings of {@link meshFetch}. */
export interface MeshFetchOptions {
  /** The client workload, `NS/NAME`, whose sidecar routes the requests. */
  workload: string
  /** The client workload's labels (sidecar and VirtualService source matches use them). */
  labels?: Record<string, string>
  /** Agents for the attempts (default: keep-alive agents of this function). */
  agents?: { http?: HttpAgent; https?: HttpsAgent }
}

/** A `Response`; answers the mesh gave itself carry Envoy's response flag. */
export type MeshFetchResponse = Response & { readonly meshFlag: string | null }

/**
 * A `fetch`-compatible function applying the outbound mesh of `workload`: routing, weighted
 * splits, rewrites, faults, timeouts (a route timeout answers a synthesized 504 `UT`), retries
 * within budget and outlier ejection, all decided by the Rust engine; attempts are sent with
 * `node:http`/`node:https` to the endpoints the resources declare.
 */
export declare function meshFetch(
  mesh: Mesh,
  options: MeshFetchOptions,
): (input: string | URL | Request, init?: RequestInit) => Promise<MeshFetchResponse>
