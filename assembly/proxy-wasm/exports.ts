// The proxy_on_* exports: one-line dispatchers from the host's context ids to
// the plugin's context objects. The filter's entry file re-exports the ones it uses.
// Each dispatcher brackets the call with enter/leaveCallback so that host copies
// made during the callback are rewound afterwards (memory.ts).
import { Action } from "./types";
import { allocateHostCopy, collectAfterCallback, enterCallback, leaveCallback } from "./memory";
import { rootFactory, findRoot, addRoot, removeRoot, streams } from "./registry";

// ---- integration and memory ----------------------------------------------

export function proxy_abi_version_0_2_1(): void {}

export function proxy_on_memory_allocate(size: usize): usize {
  return allocateHostCopy(size);
}

// ---- lifecycle -----------------------------------------------------------

export function proxy_on_context_create(contextId: u32, parentContextId: u32): void {
  enterCallback();
  if (parentContextId == 0) {
    const factory = rootFactory;
    if (factory !== null && findRoot(contextId) === null) addRoot(factory(contextId));
    collectAfterCallback();
  } else {
    const root = findRoot(parentContextId);
    if (root !== null) {
      const ctx = root.newHttpContext(contextId);
      if (ctx !== null) {
        ctx.contextId = contextId;
        ctx.root = root;
        streams.set(contextId, ctx);
      }
    }
  }
  leaveCallback();
}

export function proxy_on_vm_start(rootContextId: u32, vmConfigurationSize: usize): bool {
  enterCallback();
  const root = findRoot(rootContextId);
  const ok = root !== null ? root.onVmStart(vmConfigurationSize) : false;
  collectAfterCallback();
  leaveCallback();
  return ok;
}

export function proxy_on_configure(rootContextId: u32, pluginConfigurationSize: usize): bool {
  enterCallback();
  const root = findRoot(rootContextId);
  const ok = root !== null ? root.onConfigure(pluginConfigurationSize) : false;
  collectAfterCallback();
  leaveCallback();
  return ok;
}

const TICKS_PER_COLLECT: i32 = 50;
let ticksSinceCollect: i32 = 0;

export function proxy_on_tick(rootContextId: u32): void {
  enterCallback();
  const root = findRoot(rootContextId);
  if (root !== null) root.onTick();
  // Ticks allocate only when they pick up a new configuration or model (and
  // then ask for a collection themselves); a periodic one bounds any other garbage.
  if (++ticksSinceCollect >= TICKS_PER_COLLECT) {
    ticksSinceCollect = 0;
    collectAfterCallback();
  }
  leaveCallback();
}

export function proxy_on_http_call_response(rootContextId: u32, token: u32, numHeaders: u32, bodySize: usize, numTrailers: u32): void {
  enterCallback();
  const root = findRoot(rootContextId);
  // No collection here: call responses may be on the bid path (a stream resumed from
  // one must stay allocation-free); handlers that allocate ask for it themselves.
  if (root !== null) root.onHttpCallResponse(token, numHeaders, bodySize, numTrailers);
  leaveCallback();
}

export function proxy_on_done(contextId: u32): bool {
  enterCallback();
  let result = true;
  const ctx = streams.get(contextId);
  if (ctx !== null) {
    result = ctx.onDone();
  } else {
    const root = findRoot(contextId);
    if (root !== null) result = root.onDone();
  }
  leaveCallback();
  return result;
}

export function proxy_on_log(contextId: u32): void {
  enterCallback();
  const ctx = streams.get(contextId);
  if (ctx !== null) {
    ctx.onLog();
  } else {
    const root = findRoot(contextId);
    if (root !== null) root.onLog();
  }
  leaveCallback();
}

export function proxy_on_delete(contextId: u32): void {
  enterCallback();
  const ctx = streams.remove(contextId);
  if (ctx !== null) {
    ctx.onDelete();
    const root = ctx.root;
    if (root !== null) root.releaseHttpContext(ctx);
  } else {
    const root = findRoot(contextId);
    if (root !== null) {
      root.onDelete();
      removeRoot(contextId);
      collectAfterCallback();
    }
  }
  leaveCallback();
}

// ---- HTTP stream callbacks -------------------------------------------------

export function proxy_on_request_headers(contextId: u32, numHeaders: u32, endOfStream: u32): u32 {
  enterCallback();
  const ctx = streams.get(contextId);
  const action = ctx !== null ? ctx.onRequestHeaders(numHeaders, endOfStream != 0) : Action.CONTINUE;
  leaveCallback();
  return action;
}

export function proxy_on_request_body(contextId: u32, bodySize: usize, endOfStream: u32): u32 {
  enterCallback();
  const ctx = streams.get(contextId);
  const action = ctx !== null ? ctx.onRequestBody(bodySize, endOfStream != 0) : Action.CONTINUE;
  leaveCallback();
  return action;
}

export function proxy_on_request_trailers(contextId: u32, numTrailers: u32): u32 {
  enterCallback();
  const ctx = streams.get(contextId);
  const action = ctx !== null ? ctx.onRequestTrailers(numTrailers) : Action.CONTINUE;
  leaveCallback();
  return action;
}

export function proxy_on_response_headers(contextId: u32, numHeaders: u32, endOfStream: u32): u32 {
  enterCallback();
  const ctx = streams.get(contextId);
  const action = ctx !== null ? ctx.onResponseHeaders(numHeaders, endOfStream != 0) : Action.CONTINUE;
  leaveCallback();
  return action;
}

export function proxy_on_response_body(contextId: u32, bodySize: usize, endOfStream: u32): u32 {
  enterCallback();
  const ctx = streams.get(contextId);
  const action = ctx !== null ? ctx.onResponseBody(bodySize, endOfStream != 0) : Action.CONTINUE;
  leaveCallback();
  return action;
}

export function proxy_on_response_trailers(contextId: u32, numTrailers: u32): u32 {
  enterCallback();
  const ctx = streams.get(contextId);
  const action = ctx !== null ? ctx.onResponseTrailers(numTrailers) : Action.CONTINUE;
  leaveCallback();
  return action;
}
