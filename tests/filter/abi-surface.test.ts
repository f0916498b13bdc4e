// The built filter imports only proxy-wasm ABI host functions and exports what the spec requires.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { DEFAULT_WASM } from "../../host/src/paths.ts";
import { wasmApi } from "../../host/src/proxy-wasm/wasm-api.ts";

// Host functions of ABI v0.2.1 (spec "Functions exposed by the host"), module "env".
const ABI_HOST_FUNCTIONS = new Set([
  "proxy_log", "proxy_get_log_level", "proxy_get_current_time_nanoseconds", "proxy_set_tick_period_milliseconds",
  "proxy_get_buffer_bytes", "proxy_set_buffer_bytes", "proxy_get_buffer_status",
  "proxy_get_header_map_pairs", "proxy_set_header_map_pairs", "proxy_get_header_map_value", "proxy_get_header_map_size",
  "proxy_add_header_map_value", "proxy_replace_header_map_value", "proxy_remove_header_map_value",
  "proxy_send_local_response", "proxy_continue_stream", "proxy_close_stream", "proxy_get_status",
  "proxy_set_effective_context", "proxy_done", "proxy_http_call",
  "proxy_get_shared_data", "proxy_set_shared_data",
  "proxy_define_metric", "proxy_increment_metric", "proxy_record_metric", "proxy_get_metric",
  "proxy_get_property", "proxy_set_property",
]);

// The spec's WASI functions the filter may use (v0.2.1 "Environment variables": the plugin's
// sync_token_env, read once in on_configure; random_get: bid id nonces from the host's CSPRNG,
// assembly/filter/nonce.ts; clock_time_get (monotonic): reservation TTLs, assembly/filter/monotonic.ts).
const WASI_HOST_FUNCTIONS = new Set(["environ_sizes_get", "environ_get", "random_get", "clock_time_get"]);

const REQUIRED_EXPORTS = ["memory", "_initialize", "proxy_abi_version_0_2_1", "proxy_on_memory_allocate", "proxy_on_context_create"];
const CALLBACKS = [
  "proxy_on_vm_start", "proxy_on_configure", "proxy_on_tick", "proxy_on_request_headers", "proxy_on_request_body",
  "proxy_on_request_trailers", "proxy_on_http_call_response", "proxy_on_delete",
];
/** Callbacks the filter has no use for: exported, each would be one more call into the VM per request. */
const NOT_EXPORTED = ["proxy_on_response_headers", "proxy_on_response_body", "proxy_on_response_trailers", "proxy_on_log", "proxy_on_done"];

describe("filter module surface", () => {
  const module = new wasmApi.Module(readFileSync(DEFAULT_WASM));

  it("imports only proxy-wasm ABI functions from env (no abort) and only the spec's environ and random functions from WASI", () => {
    const imports = wasmApi.Module.imports(module);
    assert.ok(imports.length > 0);
    for (const imp of imports) {
      if (imp.module === "wasi_snapshot_preview1") {
        assert.ok(WASI_HOST_FUNCTIONS.has(imp.name) && imp.kind === "function", `unexpected import ${imp.module}.${imp.name}`);
        continue;
      }
      assert.equal(imp.module, "env", `${imp.module}.${imp.name}`);
      assert.equal(imp.kind, "function", imp.name);
      assert.ok(ABI_HOST_FUNCTIONS.has(imp.name), `unexpected import env.${imp.name}`);
    }
  });

  it("exports the ABI marker, the allocator, memory, _initialize and the callbacks it uses", () => {
    const exports = new Map(wasmApi.Module.exports(module).map((e) => [e.name, e.kind]));
    for (const name of REQUIRED_EXPORTS) assert.ok(exports.has(name), `missing export ${name}`);
    for (const name of CALLBACKS) assert.equal(exports.get(name), "function", `missing callback ${name}`);
    for (const name of NOT_EXPORTED) assert.ok(!exports.has(name), `${name} is exported`);
    assert.equal(exports.get("memory"), "memory");
    assert.ok(!exports.has("_start"), "_start would run top-level code without a context");
    for (const name of exports.keys()) {
      assert.ok(name === "memory" || name === "_initialize" || name.startsWith("proxy_"), `unexpected export ${name}`);
    }
  });
});
