// Minimal typings for the JS WebAssembly API. The project's tsconfig has no DOM lib (which is
// where TypeScript declares `WebAssembly`), and @types/node 20 does not declare it either, so the
// host uses these module-scoped types instead of adding a global declaration.

export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(deltaPages: number): number;
}

/** Opaque compiled module (structured-cloneable: it can be posted to a worker thread). */
export interface WasmModule {
  readonly __wasmModule?: never;
}

export interface WasmInstance {
  readonly exports: Record<string, unknown>;
}

export type WasmImports = Record<string, Record<string, unknown>>;

export interface WasmImportDescriptor {
  module: string;
  name: string;
  kind: string;
}

export interface WasmExportDescriptor {
  name: string;
  kind: string;
}

export interface WasmApi {
  Memory: new (descriptor: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
  Table: new (descriptor: { element: string; initial: number; maximum?: number }) => unknown;
  Module: {
    new (bytes: Uint8Array): WasmModule;
    imports(module: WasmModule): WasmImportDescriptor[];
    exports(module: WasmModule): WasmExportDescriptor[];
  };
  compile(bytes: Uint8Array): Promise<WasmModule>;
  instantiate(module: WasmModule, imports: WasmImports): Promise<WasmInstance>;
  RuntimeError: new (message?: string) => Error;
}

export const wasmApi: WasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

export function isWasmModule(x: unknown): x is WasmModule {
  return x instanceof (wasmApi.Module as unknown as abstract new (...args: never[]) => unknown);
}

export function isWasmMemory(x: unknown): x is WasmMemory {
  return x instanceof (wasmApi.Memory as unknown as abstract new (...args: never[]) => unknown);
}
