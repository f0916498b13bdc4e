// Which context object answers which context id. Kept apart from exports.ts
// so that the module's export list holds only the ABI's proxy_on_* callbacks.
import { RootContext, HttpContextTable } from "./context";
import { log } from "./hostcalls";
import { LogLevel } from "./types";

type RootFactory = (contextId: u32) => RootContext;

export let rootFactory: RootFactory | null = null;
const MAX_ROOTS = 8;
const rootIds = new StaticArray<u32>(MAX_ROOTS);
const roots = new StaticArray<RootContext | null>(MAX_ROOTS);
export const streams = new HttpContextTable(1024);

/** Registers the plugin. Call once from the entry file's top level. */
export function registerRootContext(factory: RootFactory): void {
  rootFactory = factory;
}

export function findRoot(id: u32): RootContext | null {
  for (let i = 0; i < MAX_ROOTS; i++) {
    if (unchecked(rootIds[i]) == id) return unchecked(roots[i]);
  }
  return null;
}

export function addRoot(root: RootContext): void {
  for (let i = 0; i < MAX_ROOTS; i++) {
    if (unchecked(rootIds[i]) == 0) {
      unchecked((rootIds[i] = root.contextId));
      unchecked((roots[i] = root));
      return;
    }
  }
  // The plugin's on_vm_start then finds no root and fails the VM: say why (Envoy only logs that
  // the thread-local Wasm failed to start).
  log(LogLevel.CRITICAL, "proxy-wasm: more than " + MAX_ROOTS.toString() + " root contexts (plugins) in one VM; root " + root.contextId.toString() + " is not started");
}

export function removeRoot(id: u32): void {
  for (let i = 0; i < MAX_ROOTS; i++) {
    if (unchecked(rootIds[i]) == id) {
      unchecked((rootIds[i] = 0));
      unchecked((roots[i] = null));
    }
  }
}

/** Number of live HTTP stream contexts (for tests and metrics). */
export function liveHttpContexts(): i32 {
  return streams.count;
}

