// The `mesh-core` package: the native binding that @napi-rs/cli generates the loader of
// (native.js, native.d.ts's types are index.d.ts), with `Mesh.route`, `Mesh.explain` and
// `Mesh.authorize` crossing the boundary as JSON text. Stringifying the request and parsing the
// decision here, with V8's JIT-ed `JSON`, costs several times less than the same calls made from
// the addon through napi (docs/benchmarks.md, "Bindings"); `route` and `authorize` come back in
// the keyless positional form, which positional.js rebuilds, from functions the addon makes per
// mesh (a plain function crosses napi faster than a method). Results and errors are the addon's:
// anything that is not an object, or that `JSON.stringify` does not turn into text, goes to the
// addon's own method, which throws as before.
'use strict'

const native = require('./native.js')
const positional = require('./positional.js')

const { Mesh } = native
const { parse, stringify } = JSON

/**
 * Replaces `Mesh.prototype[name]` by a call of a JSON-text form: `text(mesh)` gives the function
 * of `mesh` that takes the request's JSON and returns the decision's text, which `build` turns
 * into the decision once `JSON.parse` has read it. The function is made once per mesh and kept
 * on it under a symbol.
 */
function overJson(name, text, build) {
  const direct = Mesh.prototype[name]
  const key = Symbol(`mesh ${name}`)
  Object.defineProperty(Mesh.prototype, name, {
    configurable: true,
    enumerable: true,
    writable: true,
    value: {
      [name](request) {
        if (typeof request === 'object' && request !== null) {
          const json = stringify(request)
          if (typeof json === 'string') {
            const call = this[key] ?? bind(this, key, text(this))
            return build(parse(call(json)))
          }
        }
        return direct.call(this, request)
      },
    }[name],
  })
}

/** Keeps `fn` on `mesh` under `key`, hidden from enumeration and inspection. */
function bind(mesh, key, fn) {
  Object.defineProperty(mesh, key, { value: fn })
  return fn
}

const { routeFunction, explainJson, authorizeFunction } = Mesh.prototype
overJson('route', (mesh) => routeFunction.call(mesh), positional.route)
overJson('explain', (mesh) => (json) => explainJson.call(mesh, json), (decision) => decision)
overJson('authorize', (mesh) => authorizeFunction.call(mesh), positional.authz)

module.exports = native
module.exports.__napiBindingTarget = native.__napiBindingTarget
module.exports.Call = native.Call
module.exports.Mesh = native.Mesh
module.exports.OutboundClient = native.OutboundClient
module.exports.OutlierDetector = native.OutlierDetector
module.exports.RetryBudget = native.RetryBudget
