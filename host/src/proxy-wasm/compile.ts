// Compiling and validating a filter once, so that many VMs (and worker threads) can share it.

import { setFlagsFromString } from "node:v8";
import { ModuleLoadError } from "./errors.ts";
import { isWasmModule, wasmApi, type WasmModule } from "./wasm-api.ts";
import { type ExternKind, type ModuleInfo, parseModuleInfo, type ValidatedModule, validateModule } from "./module-info.ts";

/** A compiled, validated filter. Plain data + a WebAssembly.Module: it can be posted to a worker. */
export interface CompiledFilter {
  readonly module: WasmModule;
  readonly validated: ValidatedModule;
}

export type FilterSource = Uint8Array | WasmModule | CompiledFilter;

/**
 * V8 compiles a Wasm function on its first call by default (lazy compilation): the first bid a
 * fresh bidder answers then compiles most of the filter on the way and took 3-8 ms on this
 * machine (`npm run bench`, "first request"), past the 4 ms decision budget — a `timeout` no-bid
 * for the first request after every start, the README's curl included. Compiling every function
 * with the module moves that cost to start-up (a few hundred ms, once: VMs and worker threads
 * share the compiled module). The flag is process-wide and only changes when code is compiled.
 */
let eagerWasmCompilation = false;
function compileWasmEagerly(): void {
  if (eagerWasmCompilation) return;
  setFlagsFromString("--no-wasm-lazy-compilation");
  eagerWasmCompilation = true;
}

export function isCompiledFilter(x: unknown): x is CompiledFilter {
  return typeof x === "object" && x !== null && "module" in x && "validated" in x;
}

/**
 * Module info from a bare WebAssembly.Module (names and kinds only: Node 20 has no type
 * reflection, so the export and import types cannot be checked for a module given without its bytes).
 */
function infoFromModule(m: WasmModule): ModuleInfo {
  return {
    imports: wasmApi.Module.imports(m).map((i) => ({ module: i.module, name: i.name, kind: i.kind as ExternKind })),
    exports: wasmApi.Module.exports(m).map((e) => ({ name: e.name, kind: e.kind as ExternKind })),
  };
}

/**
 * Validates (ABI marker, allocator, memory, export signatures, imports) then compiles. Throws
 * ModuleLoadError / ModuleLinkError naming what is wrong. Prefer bytes: a bare WebAssembly.Module
 * can only be checked by name.
 */
export async function compileFilter(source: FilterSource, instrumentationModules?: ReadonlySet<string>): Promise<CompiledFilter> {
  if (isCompiledFilter(source)) return source;
  if (isWasmModule(source)) return { module: source, validated: validateModule(infoFromModule(source), instrumentationModules) };
  const validated = validateModule(parseModuleInfo(source), instrumentationModules);
  let module: WasmModule;
  compileWasmEagerly();
  try {
    module = await wasmApi.compile(source);
  } catch (e) {
    throw new ModuleLoadError(`Failed to load Wasm bytecode: ${(e as Error).message}`, { cause: e });
  }
  return { module, validated };
}
