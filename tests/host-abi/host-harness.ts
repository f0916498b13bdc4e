// Killer-test harness: the probe VM with every env host function captured, so a test can call a
// host function directly with chosen pointers/lengths (as a hostile or buggy module would), and
// optionally from inside a given callback: a hook armed with inCallback(name, f) runs just before
// the first host call the probe makes while that callback is active.
import { ProxyWasmVm, type VmOptions } from "../../host/src/proxy-wasm/vm.ts";
import { buildProbe, logCollector } from "../host/proxy-wasm/helpers.ts";

export type HostFn = (...args: Array<number | bigint>) => number;
export type Hook = (fns: Record<string, HostFn>, vm: ProxyWasmVm) => void;

const NAMES = [
  "proxy_log", "proxy_get_shared_data", "proxy_set_shared_data", "proxy_register_shared_queue", "proxy_resolve_shared_queue",
  "proxy_enqueue_shared_queue", "proxy_dequeue_shared_queue", "proxy_get_header_map_value", "proxy_add_header_map_value",
  "proxy_replace_header_map_value", "proxy_remove_header_map_value", "proxy_get_header_map_pairs", "proxy_set_header_map_pairs",
  "proxy_get_header_map_size", "proxy_get_buffer_bytes", "proxy_set_buffer_bytes", "proxy_get_buffer_status", "proxy_send_local_response",
  "proxy_set_effective_context", "proxy_done", "proxy_continue_stream", "proxy_close_stream", "proxy_get_property", "proxy_set_property",
  "proxy_http_call", "proxy_increment_metric", "proxy_define_metric", "proxy_get_metric",
];

export async function hostHarness(opts: Partial<VmOptions> = {}, preHooks: Array<[string, Hook]> = [], pluginConfig = "") {
  const wasm = await buildProbe("probe");
  const logs = logCollector();
  const fns: Record<string, HostFn> = {};
  const hooks: Array<[string, Hook]> = [...preHooks];
  let vmRef: ProxyWasmVm | undefined;
  let inHook = false;
  const intercept: NonNullable<VmOptions["interceptImports"]> = {};
  for (const n of NAMES) {
    intercept[`env.${n}`] = (orig) => {
      fns[n] = orig as HostFn;
      return (...a: number[]) => {
        if (!inHook && vmRef && hooks.length > 0) {
          const i = hooks.findIndex(([cb]) => cb === vmRef!.currentCallback);
          if (i >= 0) {
            const [, h] = hooks.splice(i, 1)[0]!;
            inHook = true;
            try {
              h(fns, vmRef);
            } finally {
              inHook = false;
            }
          }
        }
        return orig(...a);
      };
    };
  }
  const vm = await ProxyWasmVm.create({ wasm, log: logs.sink, logLevel: 0, requestTimeoutMs: 2000, vmId: "vm-probe", ...opts, interceptImports: intercept });
  vmRef = vm;
  vm.startPlugin({ rootIdName: "r", vmConfig: "vmcfg", pluginConfig });
  const enc = new TextEncoder();
  /** Bytes placed in the VM's memory through its allocator; returns [ptr, len]. */
  const put = (data: Uint8Array | string): [number, number] => {
    const b = typeof data === "string" ? enc.encode(data) : data;
    const p = vm.allocateSize(Math.max(1, b.length));
    vm.mem.write(p, b);
    return [p, b.length];
  };
  const scratch = vm.allocateSize(64);
  const u32 = (p: number) => vm.mem.readU32(p)!;
  const bytesAt = (p: number, n: number) => vm.mem.read(p, n)!.slice();
  /** Runs `f` inside the next `callback` (default on_request_headers: stream context current, request headers open). */
  const inCallback = (f: Hook, callback = "proxy_on_request_headers") => {
    hooks.push([callback, f]);
  };
  return { vm, logs, fns, put, scratch, u32, bytesAt, inCallback, hooksLeft: () => hooks.length };
}
