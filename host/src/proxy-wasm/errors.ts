// Error classes of the standalone proxy-wasm host. Each has a stable `code`.

export class ProxyWasmError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** The module is not a loadable proxy-wasm 0.2.x module (bad binary, ABI marker, export signature...). */
export class ModuleLoadError extends ProxyWasmError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("PROXY_WASM_LOAD", message, options);
  }
}

/** An import of the module is not provided by the host, or has another type. */
export class ModuleLinkError extends ProxyWasmError {
  readonly importName: string;
  constructor(importName: string, message: string) {
    super("PROXY_WASM_LINK", message);
    this.importName = importName;
  }
}

/** `_initialize`/`main`/`_start` trapped or called a host function that is not allowed there. */
export class VmStartError extends ProxyWasmError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("PROXY_WASM_VM_START", message, options);
  }
}

/** on_vm_start or on_configure returned false, or trapped. */
export class PluginStartError extends ProxyWasmError {
  readonly phase: "vm_start" | "configure" | "context_create";
  constructor(phase: "vm_start" | "configure" | "context_create", message: string, options?: { cause?: unknown }) {
    super("PROXY_WASM_PLUGIN_START", message, options);
    this.phase = phase;
  }
}

/**
 * Thrown from inside a host function to abort the Wasm call like a trap (the VM is dead afterwards).
 * Used for calls that cpp-host refuses with a trap ("restricted_callback").
 */
export class HostTrap extends ProxyWasmError {
  constructor(message: string) {
    super("PROXY_WASM_HOST_TRAP", message);
  }
}

/** The VM (or the pool) is closed. */
export class VmClosedError extends ProxyWasmError {
  constructor(message = "proxy-wasm VM is closed") {
    super("PROXY_WASM_CLOSED", message);
  }
}
