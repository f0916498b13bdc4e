// One pool slot: a VM that is recreated when it fails (a trap), counting restarts. Used by the
// inline pool and by each worker thread. Envoy itself never restarts a failed VM inside a worker;
// the standalone host does, since it has no other way to recover.

import type { HttpOutcome, HttpRequest, VmFailure } from "./types.ts";
import type { ProxyWasmVm } from "./vm.ts";

export interface ManagedVmHooks {
  onFailure?(failure: VmFailure): void;
  onRestart?(): void;
  onRestartError?(error: unknown): void;
}

export class ManagedVm {
  restarts = 0;
  lastRestartError: unknown = undefined;
  private vm: ProxyWasmVm;

  /** Bytes of the current VM's linear memory. */
  get memoryBytes(): number {
    return this.vm.mem.size;
  }
  private replacing: Promise<void> | null = null;
  private closed = false;

  private constructor(
    vm: ProxyWasmVm,
    private readonly factory: () => Promise<ProxyWasmVm>,
    private readonly hooks: ManagedVmHooks,
  ) {
    this.vm = vm;
    this.watch(vm);
  }

  /** Creates the first VM (its errors propagate: a bad configuration fails the start). */
  static async start(factory: () => Promise<ProxyWasmVm>, hooks: ManagedVmHooks = {}): Promise<ManagedVm> {
    return new ManagedVm(await factory(), factory, hooks);
  }

  get current(): ProxyWasmVm {
    return this.vm;
  }

  private watch(vm: ProxyWasmVm): void {
    vm.onFailure((f) => {
      this.hooks.onFailure?.(f);
      if (vm === this.vm) this.replace();
    });
  }

  private replace(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.replacing ??= (async () => {
      const old = this.vm;
      try {
        const vm = await this.factory();
        if (this.closed) {
          vm.discard();
          return;
        }
        this.vm = vm;
        this.watch(vm);
        this.restarts++;
        this.lastRestartError = undefined;
        old.discard();
        this.hooks.onRestart?.();
      } catch (e) {
        this.lastRestartError = e;
        this.hooks.onRestartError?.(e);
      } finally {
        this.replacing = null;
      }
    })();
    return this.replacing;
  }

  handleHttpRequest(request: HttpRequest): Promise<HttpOutcome> {
    // The common case hands the VM's promise through (no extra async step per request).
    if (!this.replacing && !(this.vm.failure && !this.closed)) return this.vm.handleHttpRequest(request);
    return this.handleAfterRestart(request);
  }

  private async handleAfterRestart(request: HttpRequest): Promise<HttpOutcome> {
    if (this.replacing) await this.replacing;
    // A previous restart attempt failed: try again now.
    if (this.vm.failure && !this.closed) await this.replace();
    return this.vm.handleHttpRequest(request);
  }

  async tick(): Promise<void> {
    if (this.replacing) await this.replacing;
    this.vm.tick();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.replacing) await this.replacing;
    if (this.vm.failure) this.vm.discard();
    else await this.vm.close();
  }
}
