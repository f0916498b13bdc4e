// Test helpers for the standalone proxy-wasm host: building the AssemblyScript probes, collecting
// logs, parsing the probes' "report" lines, and a tiny Wasm binary builder for negative cases.

import { createHash } from "node:crypto";
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const execFileP = promisify(execFile);
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const PROBE_DIR = join(ROOT, "tests/fixtures/probe");
const OUT_DIR = join(ROOT, "build/probe");

function sourcesHash(): string {
  const h = createHash("sha256");
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith(".ts")) h.update(relative(PROBE_DIR, p)).update(readFileSync(p));
    }
  };
  walk(PROBE_DIR);
  return h.digest("hex").slice(0, 16);
}

const builds = new Map<string, Promise<Uint8Array>>();

/**
 * Compiles tests/fixtures/probe/NAME.ts with the flags the real filter uses
 * (--runtime incremental --exportStart _initialize --use abort=...) into build/probe/, cached by
 * the hash of the probe sources.
 */
export function buildProbe(name: string): Promise<Uint8Array> {
  let p = builds.get(name);
  if (!p) {
    p = (async () => {
      const out = join(OUT_DIR, `${name}-${sourcesHash()}.wasm`);
      if (!existsSync(out)) {
        mkdirSync(OUT_DIR, { recursive: true });
        const tmp = `${out}.${process.pid}.tmp`;
        await execFileP(
          process.execPath,
          [
            join(ROOT, "node_modules/assemblyscript/bin/asc.js"),
            `tests/fixtures/probe/${name}.ts`,
            "--runtime",
            "incremental",
            "--exportStart",
            "_initialize",
            "--use",
            "abort=tests/fixtures/probe/lib/abort/probeAbort",
            "--optimizeLevel",
            "1",
            "-o",
            tmp,
          ],
          { cwd: ROOT },
        );
        renameSync(tmp, out);
      }
      return new Uint8Array(readFileSync(out));
    })();
    builds.set(name, p);
  }
  return p;
}

export interface LogLine {
  level: number;
  message: string;
  context: number;
}

export function logCollector(): { lines: LogLine[]; sink: (level: number, message: string, context: number) => void } {
  const lines: LogLine[] = [];
  return { lines, sink: (level, message, context) => lines.push({ level, message, context }) };
}

/** Parses "k=v k=v" (values without spaces) into a record. */
export function parseKv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.trim().split(/\s+/)) {
    const i = part.indexOf("=");
    if (i > 0) out[part.slice(0, i)] = part.slice(i + 1);
  }
  return out;
}

/** The key=value fields of the last log line starting with "report NAME". */
export function report(lines: readonly LogLine[], name: string): Record<string, string> {
  const prefix = `report ${name} `;
  for (let i = lines.length - 1; i >= 0; i--) {
    const m = lines[i]!.message;
    if (m.startsWith(prefix)) return parseKv(m.slice(prefix.length));
  }
  throw new Error(`no "report ${name}" log line; got:\n${lines.map((l) => l.message).join("\n")}`);
}

export function allReports(lines: readonly LogLine[], name: string): Array<Record<string, string>> {
  const prefix = `report ${name} `;
  return lines.filter((l) => l.message.startsWith(prefix)).map((l) => parseKv(l.message.slice(prefix.length)));
}

export const text = (b: Uint8Array): string => new TextDecoder().decode(b);
export const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

export function request(path: string, extra: Array<[string, string]> = [], body: string[] = [], trailers?: Array<[string, string]>) {
  const req: { headers: Array<[string, string]>; body: Uint8Array[]; trailers?: Array<[string, string]> } = {
    headers: [[":method", "POST"], [":path", path], [":authority", "bidder.local"], [":scheme", "http"], ...extra],
    body: body.map(bytes),
  };
  if (trailers) req.trailers = trailers;
  return req;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---- a tiny Wasm binary builder ------------------------------------------------------------------

type V = "i32" | "i64";
const VT: Record<V, number> = { i32: 0x7f, i64: 0x7e };

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function str(s: string): number[] {
  const b = [...new TextEncoder().encode(s)];
  return [...uleb(b.length), ...b];
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

export interface BuildFunc {
  name?: string; // exported under this name when set
  params?: V[];
  results?: V[];
  /** Body instructions (without locals and the final `end`); default: return zeros. */
  body?: number[];
}

export interface BuildModule {
  imports?: Array<{ module: string; name: string; params?: V[]; results?: V[] } | { module: string; name: string; global: V }>;
  funcs: BuildFunc[];
  memory?: boolean; // export "memory" (default true)
}

/** Encodes a module: function imports (or global imports), functions, one exported memory. */
export function buildWasm(m: BuildModule): Uint8Array {
  const types: number[][] = [];
  const typeIndex = (params: V[] = [], results: V[] = []): number => {
    const t = [0x60, ...uleb(params.length), ...params.map((p) => VT[p]), ...uleb(results.length), ...results.map((r) => VT[r])];
    const key = t.join(",");
    const i = types.findIndex((x) => x.join(",") === key);
    if (i >= 0) return i;
    types.push(t);
    return types.length - 1;
  };
  const imports: number[][] = [];
  let funcImports = 0;
  for (const imp of m.imports ?? []) {
    if ("global" in imp) imports.push([...str(imp.module), ...str(imp.name), 0x03, VT[imp.global], 0x00]);
    else {
      imports.push([...str(imp.module), ...str(imp.name), 0x00, ...uleb(typeIndex(imp.params, imp.results))]);
      funcImports++;
    }
  }
  const funcs = m.funcs.map((f) => typeIndex(f.params, f.results));
  const exports: number[][] = [];
  m.funcs.forEach((f, i) => {
    if (f.name) exports.push([...str(f.name), 0x00, ...uleb(funcImports + i)]);
  });
  if (m.memory !== false) exports.push([...str("memory"), 0x02, 0x00]);
  const code = m.funcs.map((f) => {
    const body = f.body ?? (f.results ?? []).flatMap((r) => (r === "i32" ? [0x41, 0x00] : [0x42, 0x00]));
    const fn = [0x00, ...body, 0x0b];
    return [...uleb(fn.length), ...fn];
  });
  const out = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...(imports.length ? section(2, vec(imports)) : []),
    ...section(3, vec(funcs.map((t) => uleb(t)))),
    ...(m.memory !== false ? section(5, vec([[0x00, 0x01]])) : []),
    ...section(7, vec(exports)),
    ...section(10, vec(code)),
  ];
  return new Uint8Array(out);
}

/** A minimal valid proxy-wasm module: ABI marker, allocator returning 1024, memory. */
export function minimalFuncs(): BuildFunc[] {
  return [
    { name: "proxy_abi_version_0_2_1" },
    { name: "proxy_on_memory_allocate", params: ["i32"], results: ["i32"], body: [0x41, ...sleb(1024)] },
  ];
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

/** i32.const n */
export const i32c = (n: number): number[] => [0x41, ...sleb(n)];
/** call function index */
export const call = (i: number): number[] => [0x10, ...uleb(i)];
export const DROP = 0x1a;
export const UNREACHABLE = 0x00;
