// Open-loop load: request k is due at start + k / rate, whatever the answers do, with at most
// `maxInFlight` outstanding (a due request waits for a free slot: counted as late when it goes
// out more than LATE_MS after it was due).
//
// The slot wait is one counter and one waiter. It used to be Promise.race over the set of
// requests in flight: each call adds a reaction to every outstanding promise, so once the cap was
// reached (a slow start, a stall) every answer cost O(cap) work and left O(cap) reactions behind.
// At --rate 3000 with the default cap of 1024 the generator then spent its CPU on its own
// bookkeeping: ~1,000 answers a second at ~1 s latency against a bidder that was mostly idle.

/** A request that starts more than this after it was due is counted as late. */
export const LATE_MS = 10;

export interface OpenLoopOptions<T> {
  /** Requests per second. */
  rate: number;
  maxInFlight: number;
  /** The next request, or undefined when the run is over. Called only when a request may go out. */
  next: () => T | undefined;
  /** Sends one request; must not reject (failures are the caller's to count). */
  fire: (item: T) => Promise<void>;
  /** Called after each request went out. */
  onSent?: () => void;
  now?: () => number;
}

/** Runs the schedule until `next` returns undefined and every request has finished; returns how many started late. */
export async function runOpenLoop<T>(o: OpenLoopOptions<T>): Promise<{ sent: number; late: number }> {
  const now = o.now ?? (() => performance.now());
  const interval = 1000 / o.rate;
  const start = now();
  let inFlight = 0;
  let slotFreed: (() => void) | undefined;
  const finished = (): void => {
    inFlight--;
    const wake = slotFreed;
    slotFreed = undefined;
    wake?.();
  };
  const slotFree = (): Promise<void> => new Promise((resolve) => (slotFreed = resolve));
  let sent = 0;
  let late = 0;
  for (;;) {
    const due = start + sent * interval;
    const t = now();
    if (t < due) {
      await new Promise((r) => setTimeout(r, Math.min(due - t, 50)));
      continue;
    }
    if (inFlight >= o.maxInFlight) {
      await slotFree();
      continue;
    }
    const item = o.next();
    if (item === undefined) break;
    if (t - due > LATE_MS) late++;
    sent++;
    inFlight++;
    void o.fire(item).then(finished, finished);
    o.onSent?.();
    // Behind schedule, the loop would send every due request without yielding, and no answer
    // could be read meanwhile: let the event loop run every 64 requests.
    if ((sent & 63) === 0) await new Promise((r) => setImmediate(r));
  }
  while (inFlight > 0) await slotFree();
  return { sent, late };
}
