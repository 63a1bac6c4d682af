// The `mesh-core` package: the native binding that @napi-rs/cli generates the loader of
// (native.js, native.d.ts's types are index.d.ts), with `Mesh.route`, `Mesh.explain` and
// `Mesh.authorize` crossing the boundary as JSON text. Stringifying the request and parsing the
// decision here, with V8's JIT-ed `JSON`, costs several times less than the same calls made from
// the addon through napi (docs/benchmarks.md, "Bindings"). Results and errors are the addon's:
// anything that is not an object, or that `JSON.stringify` does not turn into text, goes to the
// addon's own method, which throws as before.
'use strict'

const native = require('./native.js')

const { Mesh } = native
const { parse, stringify } = JSON

/** Replaces `Mesh.prototype[name]` by a call of its `${name}Json` form. */
function overJson(name) {
  const direct = Mesh.prototype[name]
  const json = Mesh.prototype[`${name}Json`]
  Object.defineProperty(Mesh.prototype, name, {
    configurable: true,
    enumerable: true,
    writable: true,
    value: {
      [name](request) {
        if (typeof request === 'object' && request !== null) {
          const text = stringify(request)
          if (typeof text === 'string') return parse(json.call(this, text))
        }
        return direct.call(this, request)
      },
    }[name],
  })
}
overJson('route')
overJson('explain')
overJson('authorize')

module.exports = native
module.exports.__napiBindingTarget = native.__napiBindingTarget
module.exports.Call = native.Call
module.exports.Mesh = native.Mesh
module.exports.OutboundClient = native.OutboundClient
module.exports.OutlierDetector = native.OutlierDetector
module.exports.RetryBudget = native.RetryBudget
