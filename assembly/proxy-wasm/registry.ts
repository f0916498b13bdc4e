// Which context object answers which context id. Kept apart from exports.ts
// so that the module's export list holds only the ABI's proxy_on_* callbacks.
import { RootContext, HttpContextTable } from "./context";

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

