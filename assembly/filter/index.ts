// Entry of the Nexus proxy-wasm filter (build/nexus_filter.wasm).
// The proxy_on_* callbacks come from the ABI layer; the plugin is the Nexus root.
import { registerRootContext, RootContext } from "../proxy-wasm";
// Routes AssemblyScript aborts to proxy_log (asconfig: --use abort=...).
import "../proxy-wasm/abort";
import { NexusRoot } from "./root";

export * from "../proxy-wasm/exports";

function newRoot(contextId: u32): RootContext {
  return new NexusRoot(contextId);
}

registerRootContext(newRoot);
