// Per-call cost of `Mesh.route` and `Mesh.authorize` from Node (build with `npm run build`, a
// release build), in process CPU time (a loaded machine inflates wall time, not this). Compare
// with the `*_cpu` figures of `cargo bench -p mesh-bindings --bench route`
// (`bindings/route_native_cached_cpu`, `bindings/authorize_native_cpu`): the difference is the
// binding's overhead. `bindings/route_text_positional_cpu` is the native part of this path
// short of napi (request text parsed, routed, positional decision written).
//
//   node bindings/node/bench.mjs [calls]
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const { Mesh } = createRequire(import.meta.url)('./index.js')
const EXAMPLES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'examples', 'resources')
// The request of the native bench (bindings/common/benches/route.rs).
const REQUEST = {
  url: 'http://myapp.production.svc.cluster.local/api/users',
  headers: { 'x-version': 'v2' },
  workload: 'production/frontend',
}

// The inbound request of the native `authorize` bench.
const INBOUND = {
  url: 'http://myapp.production/api/x',
  mtls: true,
  source_principal: 'cluster.local/ns/production/sa/frontend',
  destination_workload: 'production/myapp',
  destination_labels: { app: 'myapp' },
}

function perCallNs(fn, calls, request = REQUEST) {
  let best = Infinity
  for (let round = 0; round < 5; round++) {
    const start = process.cpuUsage()
    for (let i = 0; i < calls; i++) fn(request)
    const used = process.cpuUsage(start)
    best = Math.min(best, ((used.user + used.system) * 1000) / calls)
  }
  return best
}

const calls = Number(process.argv[2] ?? 50000)
const mesh = Mesh.fromPath(EXAMPLES)
if (mesh.route(REQUEST).picked === null) throw new Error('nothing picked')
const route = perCallNs((r) => mesh.route(r), calls)
const explain = perCallNs((r) => mesh.explain(r), Math.floor(calls / 5))
const authorize = perCallNs((r) => mesh.authorize(r), calls, INBOUND)
// No resources: the default route, where the engine does almost nothing (compare with
// `bindings/route_native_default`).
const empty = Mesh.fromYaml('', 'empty.yaml')
const dflt = perCallNs((r) => empty.route(r), calls)
console.log(`node route:   ${(route / 1000).toFixed(2)} us/call (best of 5 x ${calls})`)
console.log(`node route, mesh without resources: ${(dflt / 1000).toFixed(2)} us/call`)
console.log(`node explain: ${(explain / 1000).toFixed(2)} us/call (best of 5 x ${Math.floor(calls / 5)})`)
console.log(`node authorize: ${(authorize / 1000).toFixed(2)} us/call (best of 5 x ${calls})`)
