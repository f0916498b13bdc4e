// Reads what the host needs from a Wasm binary (imports and exports with their exact types) and
// validates it the way cpp-host does before a VM starts: ABI marker, allocator, memory, the type of
// every callback export, and every import against the host's table. JS WebAssembly does not check
// import types for JS functions, and Node 20 has no type reflection, so we parse the binary.

import {
  ABI_MARKER_0_2_0,
  ABI_MARKER_0_2_1,
  ABI_MARKER_PREFIX,
  type AbiVersion,
  ENV_IMPORTS_0_2_1_ONLY,
  ENV_IMPORT_SIGNATURES,
  EXPORT_SIGNATURES,
  type FuncSig,
  formatSig,
  sameSig,
  type ValType,
  WASI_IMPORT_SIGNATURES,
  WASI_MODULES,
} from "./constants.ts";
import { ModuleLinkError, ModuleLoadError } from "./errors.ts";

export type ExternKind = "function" | "table" | "memory" | "global" | "tag";

export interface Limits {
  readonly min: number;
  readonly max?: number;
  readonly shared: boolean;
}

export interface ImportInfo {
  readonly module: string;
  readonly name: string;
  readonly kind: ExternKind;
  readonly type?: FuncSig;
  readonly limits?: Limits;
  readonly tableElement?: ValType;
}

export interface ExportInfo {
  readonly name: string;
  readonly kind: ExternKind;
  readonly type?: FuncSig;
}

export interface ModuleInfo {
  readonly imports: readonly ImportInfo[];
  readonly exports: readonly ExportInfo[];
}

/** What the VM needs to know after validation (plain data: can be posted to a worker). */
export interface ValidatedModule {
  readonly info: ModuleInfo;
  readonly abiVersion: AbiVersion;
  readonly allocator: "malloc" | "proxy_on_memory_allocate";
  /** Callbacks the module exports (by name). */
  readonly callbacks: readonly string[];
}

const KINDS: ExternKind[] = ["function", "table", "memory", "global", "tag"];

class Reader {
  pos = 0;
  constructor(readonly buf: Uint8Array) {}
  eof(): boolean {
    return this.pos >= this.buf.length;
  }
  byte(): number {
    if (this.pos >= this.buf.length) throw new ModuleLoadError("Failed to parse corrupted Wasm module: unexpected end");
    return this.buf[this.pos++]!;
  }
  /** Unsigned LEB128 (up to 64 bits; values above 2^53 lose precision, fine for what we read). */
  uleb(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      const b = this.byte();
      result += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return result;
      mul *= 128;
    }
    throw new ModuleLoadError("Failed to parse corrupted Wasm module: bad LEB128");
  }
  bytes(n: number): Uint8Array {
    if (this.pos + n > this.buf.length) throw new ModuleLoadError("Failed to parse corrupted Wasm module: unexpected end");
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  name(): string {
    return new TextDecoder("utf-8", { fatal: false }).decode(this.bytes(this.uleb()));
  }
}

function valType(b: number): ValType {
  switch (b) {
    case 0x7f:
      return "i32";
    case 0x7e:
      return "i64";
    case 0x7d:
      return "f32";
    case 0x7c:
      return "f64";
    case 0x7b:
      return "v128";
    case 0x70:
      return "funcref";
    case 0x6f:
      return "externref";
    default:
      return "unknown";
  }
}

function readValType(r: Reader): ValType {
  const b = r.byte();
  // (ref null? ht) forms of the function-references proposal: skip the heap type.
  if (b === 0x63 || b === 0x64) {
    r.uleb();
    return "unknown";
  }
  return valType(b);
}

function readLimits(r: Reader): Limits {
  const flags = r.byte();
  const min = r.uleb();
  const max = flags & 1 ? r.uleb() : undefined;
  return max === undefined ? { min, shared: (flags & 2) !== 0 } : { min, max, shared: (flags & 2) !== 0 };
}

/** Parses the type, import, function and export sections of a Wasm binary. */
export function parseModuleInfo(bytes: Uint8Array): ModuleInfo {
  const r = new Reader(bytes);
  const magic = r.bytes(4);
  if (magic[0] !== 0 || magic[1] !== 0x61 || magic[2] !== 0x73 || magic[3] !== 0x6d) {
    throw new ModuleLoadError("Failed to parse corrupted Wasm module: not a Wasm binary");
  }
  const version = r.bytes(4);
  if (version[0] !== 1 || version[1] !== 0 || version[2] !== 0 || version[3] !== 0) {
    throw new ModuleLoadError("Failed to parse corrupted Wasm module: unsupported binary version");
  }
  const types: FuncSig[] = [];
  const imports: ImportInfo[] = [];
  const funcTypeIdx: number[] = [];
  const rawExports: Array<{ name: string; kind: ExternKind; index: number }> = [];
  while (!r.eof()) {
    const id = r.byte();
    const size = r.uleb();
    const end = r.pos + size;
    if (end > bytes.length) throw new ModuleLoadError("Failed to parse corrupted Wasm module: section overflows");
    if (id === 1) {
      const n = r.uleb();
      for (let i = 0; i < n; i++) {
        const form = r.byte();
        if (form !== 0x60) {
          // GC proposal type forms are not used by proxy-wasm modules.
          throw new ModuleLoadError(`Failed to parse Wasm module: unsupported type form 0x${form.toString(16)}`);
        }
        const np = r.uleb();
        const params: ValType[] = [];
        for (let j = 0; j < np; j++) params.push(readValType(r));
        const nr = r.uleb();
        const results: ValType[] = [];
        for (let j = 0; j < nr; j++) results.push(readValType(r));
        types.push({ params, results });
      }
    } else if (id === 2) {
      const n = r.uleb();
      for (let i = 0; i < n; i++) {
        const module = r.name();
        const name = r.name();
        const kindByte = r.byte();
        const kind = KINDS[kindByte];
        if (kind === undefined) throw new ModuleLoadError("Failed to parse corrupted Wasm module: bad import kind");
        if (kind === "function") {
          const t = types[r.uleb()];
          if (!t) throw new ModuleLoadError("Failed to parse corrupted Wasm module: bad type index");
          imports.push({ module, name, kind, type: t });
        } else if (kind === "table") {
          const el = readValType(r);
          imports.push({ module, name, kind, tableElement: el, limits: readLimits(r) });
        } else if (kind === "memory") {
          imports.push({ module, name, kind, limits: readLimits(r) });
        } else if (kind === "global") {
          readValType(r);
          r.byte();
          imports.push({ module, name, kind });
        } else {
          r.byte();
          r.uleb();
          imports.push({ module, name, kind });
        }
      }
    } else if (id === 3) {
      const n = r.uleb();
      for (let i = 0; i < n; i++) funcTypeIdx.push(r.uleb());
    } else if (id === 7) {
      const n = r.uleb();
      for (let i = 0; i < n; i++) {
        const name = r.name();
        const kind = KINDS[r.byte()];
        if (kind === undefined) throw new ModuleLoadError("Failed to parse corrupted Wasm module: bad export kind");
        rawExports.push({ name, kind, index: r.uleb() });
      }
    }
    r.pos = end;
  }
  const importedFuncs = imports.filter((i) => i.kind === "function");
  const exports: ExportInfo[] = rawExports.map((e) => {
    if (e.kind !== "function") return { name: e.name, kind: e.kind };
    let t: FuncSig | undefined;
    if (e.index < importedFuncs.length) t = importedFuncs[e.index]!.type;
    else {
      const ti = funcTypeIdx[e.index - importedFuncs.length];
      t = ti === undefined ? undefined : types[ti];
    }
    if (!t) throw new ModuleLoadError(`Failed to parse corrupted Wasm module: bad function index for export ${e.name}`);
    return { name: e.name, kind: e.kind, type: t };
  });
  return { imports, exports };
}

/** The signature the host provides for `module.name`, or undefined when the host has no such import. */
export function hostImportSignature(module: string, name: string, abi: AbiVersion): FuncSig | undefined {
  if (module === "env") {
    if (abi !== "0.2.1" && ENV_IMPORTS_0_2_1_ONLY.has(name)) return undefined;
    return ENV_IMPORT_SIGNATURES[name];
  }
  if (WASI_MODULES.includes(module)) return WASI_IMPORT_SIGNATURES[name];
  return undefined;
}

/**
 * Validates a module like cpp-host's WasmBase::load/initialize + the V8 link step. Throws
 * ModuleLoadError (ABI, exports) or ModuleLinkError (imports) naming what is wrong.
 */
/**
 * `instrumentationModules`: import modules accepted besides the ABI's (test-only
 * instrumentation such as AssemblyScript's "rtrace"; Envoy would refuse them).
 */
const NO_MODULES: ReadonlySet<string> = new Set();

export function validateModule(info: ModuleInfo, instrumentationModules: ReadonlySet<string> = NO_MODULES): ValidatedModule {
  const exportByName = new Map(info.exports.map((e) => [e.name, e]));
  // ABI version (cpp-host BytecodeUtil::getAbiVersion: any proxy_abi_version_* export).
  const markers = info.exports.filter((e) => e.kind === "function" && e.name.startsWith(ABI_MARKER_PREFIX));
  let abiVersion: AbiVersion;
  if (markers.some((m) => m.name === ABI_MARKER_0_2_1)) abiVersion = "0.2.1";
  else if (markers.some((m) => m.name === ABI_MARKER_0_2_0)) abiVersion = "0.2.0";
  else if (markers.length > 0) {
    throw new ModuleLoadError(
      `Unsupported Proxy-Wasm ABI version: ${markers.map((m) => m.name).join(", ")} (this host implements 0.2.1 and 0.2.0)`,
    );
  } else {
    throw new ModuleLoadError(`Missing or unknown Proxy-Wasm ABI version: the module must export ${ABI_MARKER_0_2_1}`);
  }

  // Exact types of every export the host looks up.
  for (const e of info.exports) {
    const want = EXPORT_SIGNATURES[e.name];
    if (!want) continue;
    if (e.kind !== "function") {
      throw new ModuleLoadError(`Bad function signature for: ${e.name}, want: ${formatSig(want)}, but the module exports a ${e.kind}`);
    }
    if (e.type && !sameSig(e.type, want)) {
      throw new ModuleLoadError(
        `Bad function signature for: ${e.name}, want: ${formatSig(want)}, but the module exports: ${formatSig(e.type)}`,
      );
    }
  }

  // Allocator: malloc first, then proxy_on_memory_allocate (cpp-host WasmBase::getFunctions).
  let allocator: ValidatedModule["allocator"];
  if (exportByName.get("malloc")?.kind === "function") allocator = "malloc";
  else if (exportByName.get("proxy_on_memory_allocate")?.kind === "function") allocator = "proxy_on_memory_allocate";
  else throw new ModuleLoadError("Wasm module is missing malloc function (export proxy_on_memory_allocate or malloc)");

  // Imports: every function must be one the host provides, with the same type.
  let importedMemory = false;
  for (const imp of info.imports) {
    const full = `${imp.module}.${imp.name}`;
    if (imp.kind === "function" && instrumentationModules.has(imp.module)) continue;
    if (imp.kind === "function") {
      const host = hostImportSignature(imp.module, imp.name, abiVersion);
      if (!host) throw new ModuleLinkError(full, `Failed to load Wasm module due to a missing import: ${full}`);
      if (imp.type && !sameSig(host, imp.type)) {
        throw new ModuleLinkError(
          full,
          `Failed to load Wasm module due to an import type mismatch: ${full}, want: ${formatSig(imp.type!)}, but host exports: ${formatSig(host)}`,
        );
      }
    } else if (imp.kind === "memory") {
      // cpp-host creates an imported memory for the module (e.g. asc --importMemory).
      if (importedMemory) throw new ModuleLinkError(full, `Failed to load Wasm module: more than one imported memory (${full})`);
      importedMemory = true;
    } else if (imp.kind === "table") {
      if (imp.tableElement !== "funcref" && imp.tableElement !== "externref") {
        throw new ModuleLinkError(full, `Failed to load Wasm module due to a missing import: ${full}`);
      }
    } else {
      // Globals (and tags): "No imported globals".
      throw new ModuleLinkError(full, `Failed to load Wasm module due to a missing import: ${full}`);
    }
  }

  const hasMemory = exportByName.get("memory")?.kind === "memory" || importedMemory || info.exports.some((e) => e.kind === "memory");
  if (!hasMemory) throw new ModuleLoadError("Wasm module has no memory (export `memory`)");

  const callbacks = info.exports
    .filter((e) => e.kind === "function" && (e.name.startsWith("proxy_on_") || e.name === "proxy_validate_configuration"))
    .map((e) => e.name);
  return { info, abiVersion, allocator, callbacks };
}
