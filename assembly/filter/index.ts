// Entry of the Nexus proxy-wasm filter (build/nexus_filter.wasm).
// The proxy_on_* callbacks come from the ABI layer; the plugin is the Nexus root.
import { registerRootContext, RootContext } from "../proxy-wasm";
// Routes AssemblyScript aborts to proxy_log (asconfig: --use abort=...).
import "../proxy-wasm/abort";
import { NexusRoot } from "./root";

// Only the callbacks the filter implements. A host calls a callback only when the module exports
// it (Envoy's cpp-host checks each one); the filter never looks at responses or access logs and
// keeps nothing to finish at on_done, so exporting those would cost every request four calls into
// the VM that do nothing: on_response_headers and _body (Envoy runs a local reply through the
// filter's encoder callbacks), on_log and on_done.
export {
  proxy_abi_version_0_2_1,
  proxy_on_memory_allocate,
  proxy_on_vm_start,
  proxy_on_configure,
  proxy_on_tick,
  proxy_on_http_call_response,
  proxy_on_context_create,
  proxy_on_request_headers,
  proxy_on_request_body,
  proxy_on_request_trailers,
  proxy_on_delete,
} from "../proxy-wasm/exports";

function newRoot(contextId: u32): RootContext {
  return new NexusRoot(contextId);
}

registerRootContext(newRoot);
