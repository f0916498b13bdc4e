// proxy-wasm shared queues (cpp-host src/shared_data.cc registerQueue/resolveQueue/enqueue/dequeue).
// In-process only: VMs that share one SharedQueues object (the VMs of an inline pool) share the
// queues; worker-thread VMs each have their own (documented limitation of workers mode).

import { Status } from "./constants.ts";

interface Queue {
  items: Uint8Array[];
  /** Schedules proxy_on_queue_ready(root, token) on the VM that registered the queue. */
  notify: ((token: number) => void) | undefined;
}

export class SharedQueues {
  private readonly tokens = new Map<string, number>();
  private readonly queues = new Map<number, Queue>();
  private next = 1;

  /** Registers (or re-opens) queue `name` of `vmId`; the registering VM is notified on enqueue. */
  register(vmId: string, name: string, notify: (token: number) => void): number {
    const key = `${vmId}\u0000${name}`;
    let token = this.tokens.get(key);
    if (token === undefined) {
      token = this.next++;
      if (this.next > 0xffffffff) this.next = 1;
      this.tokens.set(key, token);
      this.queues.set(token, { items: [], notify });
    } else {
      this.queues.get(token)!.notify = notify;
    }
    return token;
  }

  /** Token of an existing queue, 0 when there is none. */
  resolve(vmId: string, name: string): number {
    return this.tokens.get(`${vmId}\u0000${name}`) ?? 0;
  }

  enqueue(token: number, data: Uint8Array): Status {
    const q = this.queues.get(token);
    if (!q) return Status.NOT_FOUND;
    q.items.push(data.slice());
    const notify = q.notify;
    if (notify) setImmediate(() => notify(token));
    return Status.OK;
  }

  dequeue(token: number): { status: Status; data?: Uint8Array } {
    const q = this.queues.get(token);
    if (!q) return { status: Status.NOT_FOUND };
    const data = q.items.shift();
    if (data === undefined) return { status: Status.EMPTY };
    return { status: Status.OK, data };
  }

  /** Drops the notification target of every queue registered by a VM that is going away. */
  forget(notify: (token: number) => void): void {
    for (const q of this.queues.values()) if (q.notify === notify) q.notify = undefined;
  }
}
