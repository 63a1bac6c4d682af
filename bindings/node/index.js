// The `mesh-core` package: the native binding that @napi-rs/cli generates the loader of
// (native.js, native.d.ts's types are index.d.ts), with `Mesh.route`, `Mesh.explain` and
// `Mesh.authorize` crossing the boundary as JSON text. Stringifying the request and parsing the
// decision here, with V8's JIT-ed `JSON`, costs several times less than the same calls made from
// the addon through napi (docs/benchmarks.md, "Bindings"); `route` and `authorize` come back in
// the keyless positional form, which positional.js rebuilds. Results and errors are the addon's:
// anything that is not an object, or that `JSON.stringify` does not turn into text, goes to the
// addon's own method, which throws as before.
'use strict'

const native = require('./native.js')
const positional = require('./positional.js')

const { Mesh } = native
const { parse, stringify } = JSON

/**
 * Replaces `Mesh.prototype[name]` by a call of its JSON-text form `native` (a method name),
 * whose parsed result `build` turns into the decision.
 */
function overJson(name, native, build) {
  const direct = Mesh.prototype[name]
  const json = Mesh.prototype[native]
  Object.defineProperty(Mesh.prototype, name, {
    configurable: true,
    enumerable: true,
    writable: true,
    value: {
      [name](request) {
        if (typeof request === 'object' && request !== null) {
          const text = stringify(request)
          if (typeof text === 'string') return build(parse(json.call(this, text)))
        }
        return direct.call(this, request)
      },
    }[name],
  })
}
overJson('route', 'routePositional', positional.route)
overJson('explain', 'explainJson', (decision) => decision)
overJson('authorize', 'authorizePositional', positional.authz)

module.exports = native
module.exports.__napiBindingTarget = native.__napiBindingTarget
module.exports.Call = native.Call
module.exports.Mesh = native.Mesh
module.exports.OutboundClient = native.OutboundClient
module.exports.OutlierDetector = native.OutlierDetector
module.exports.RetryBudget = native.RetryBudget
