// proxy-wasm-as: the project's typed proxy-wasm ABI v0.2.1 layer for AssemblyScript.
// A filter's entry file re-exports the proxy_on_* callbacks it implements from
// "../proxy-wasm/exports" (all of them: `export *`; hosts skip callbacks a
// module does not export) and registers its root context factory.
export * from "./types";
export * from "./context";
export * from "./hostcalls";
export * from "./header-map";
export { reserveHostCopyArena, freeHostCopy, hostCopyArenaUsed, collectAfterCallback } from "./memory";
export { registerRootContext, liveHttpContexts } from "./registry";
