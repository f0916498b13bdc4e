// The open-loop scheduler of loadgen --rate: the in-flight cap, the end of a run, late starts, and
// constant work per answer (the old Promise.race over every request in flight subscribed to all
// of them again each time a slot freed: loadgen --rate 3000 stalled itself at ~1,000 answers/s).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { runOpenLoop } from "../../host/src/tools/open-loop.ts";

/** A request the test answers by hand. */
function manual(): { promise: Promise<void>; answer: () => void } {
  let answer!: () => void;
  const promise = new Promise<void>((r) => (answer = r));
  return { promise, answer };
}

const tick = () => new Promise((r) => setImmediate(r));

describe("runOpenLoop", () => {
  it("never has more than maxInFlight out, sends everything in order, and returns when the last one is answered", async () => {
    const pending: Array<() => void> = [];
    const sentOrder: number[] = [];
    let inFlight = 0;
    let maxSeen = 0;
    let k = 0;
    let done = false;
    const run = runOpenLoop({
      rate: 1e6,
      maxInFlight: 4,
      next: () => (k < 20 ? k++ : undefined),
      fire: (i) => {
        sentOrder.push(i);
        inFlight++;
        maxSeen = Math.max(maxSeen, inFlight);
        const m = manual();
        pending.push(() => {
          inFlight--;
          m.answer();
        });
        return m.promise;
      },
    }).then((r) => {
      done = true;
      return r;
    });
    while (sentOrder.length < 20 || pending.length > 0) {
      await tick();
      assert.ok(inFlight <= 4, `${inFlight} in flight`);
      pending.shift()?.();
      if (sentOrder.length < 20) assert.equal(done, false);
    }
    const r = await run;
    assert.equal(done, true);
    assert.deepEqual(sentOrder, Array.from({ length: 20 }, (_, i) => i));
    assert.equal(maxSeen, 4);
    assert.equal(r.sent, 20);
  });

  it("subscribes to each request once, however long the others wait for a slot", async () => {
    let subscriptions = 0;
    /** A promise that counts who waits on it. */
    class Counted extends Promise<void> {
      override then<A = void, B = never>(f?: ((v: void) => A | PromiseLike<A>) | null, r?: ((e: unknown) => B | PromiseLike<B>) | null): Promise<A | B> {
        subscriptions++;
        return super.then(f, r);
      }
    }
    const pending: Array<() => void> = [];
    let k = 0;
    const run = runOpenLoop({
      rate: 1e6,
      maxInFlight: 16,
      next: () => (k < 200 ? k++ : undefined),
      fire: () => {
        let answer!: () => void;
        const p = new Counted((r) => (answer = () => r()));
        pending.push(answer);
        return p;
      },
    });
    while (k < 200 || pending.length > 0) {
      await tick();
      // Answer the oldest: 184 requests wait for a slot, 16 at a time.
      pending.shift()?.();
    }
    await run;
    assert.equal(subscriptions, 200);
  });

  it("counts a request that went out more than 10 ms after it was due as late", async () => {
    let k = 0;
    // 1,000/s with one slot and 30 ms answers: request i is due at i ms and goes at ~30·i ms.
    const r = await runOpenLoop({
      rate: 1000,
      maxInFlight: 1,
      next: () => (k < 5 ? k++ : undefined),
      fire: () => new Promise<void>((res) => setTimeout(res, 30)),
    });
    assert.deepEqual(r, { sent: 5, late: 4 });
  });

  it("a fire that rejects still frees its slot", async () => {
    let k = 0;
    const r = await runOpenLoop({
      rate: 1e6,
      maxInFlight: 2,
      next: () => (k < 10 ? k++ : undefined),
      fire: () => Promise.reject(new Error("down")),
    });
    assert.equal(r.sent, 10);
  });
});
