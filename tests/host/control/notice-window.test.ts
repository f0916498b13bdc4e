// waitNoticeWindow (host/src/server/notice-window.ts) over a scripted view of the filter: how a
// graceful stop's notice window ends.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { waitNoticeWindow, type NoticeWindowView } from "../../../host/src/server/notice-window.ts";

/** A filter that reports every `everyMs` (while `syncing`), holding `reserved` micros. */
function filter(everyMs: number, reserved: number): NoticeWindowView & { syncing: boolean; stop(): void } {
  let reports = 1;
  const f = {
    syncing: true,
    connections: async () => 0,
    reports: () => reports,
    reservedMicros: () => reserved,
    stop: () => clearInterval(timer),
  };
  const timer = setInterval(() => {
    if (f.syncing) reports++;
  }, everyMs);
  return f;
}

describe("the notice window", () => {
  it("ends 'settled' once two reports show nothing reserved", async () => {
    const f = filter(20, 0);
    try {
      assert.equal(await waitNoticeWindow(5000, f, 5), "settled");
    } finally {
      f.stop();
    }
  });

  it("runs its whole time while the filter holds reservations and keeps reporting", async () => {
    const f = filter(20, 1000);
    try {
      const t0 = performance.now();
      assert.equal(await waitNoticeWindow(300, f, 5, 10_000), "elapsed");
      assert.ok(performance.now() - t0 >= 290);
    } finally {
      f.stop();
    }
  });

  it("with nothing reserved, waits until no reservation has expired for the window's time: a late win may still come", async () => {
    const f = filter(20, 0);
    const expiredAt = performance.now() - 100; // refunded at its TTL 100 ms before the stop
    try {
      const t0 = performance.now();
      assert.equal(await waitNoticeWindow(300, { ...f, msSinceExpiry: () => performance.now() - expiredAt }, 5), "settled");
      assert.ok(performance.now() - t0 >= 190, `ended ${Math.round(performance.now() - t0)} ms after the stop, 300 ms after the expiry`);
      // An expiry longer ago than the window: ends once two reports show nothing reserved.
      const t1 = performance.now();
      assert.equal(await waitNoticeWindow(300, { ...f, msSinceExpiry: () => 10_000 }, 5), "settled");
      assert.ok(performance.now() - t1 < 150);
    } finally {
      f.stop();
    }
  });

  it("ends 'silent' when the reports stop (a sidecar's Envoy gone), with reservations still held", async () => {
    const f = filter(20, 1000);
    try {
      setTimeout(() => (f.syncing = false), 100);
      assert.equal(await waitNoticeWindow(10_000, f, 5, 200), "silent");
    } finally {
      f.stop();
    }
  });

  it("ends 'idle' at once for a filter that never reported", async () => {
    assert.equal(await waitNoticeWindow(10_000, { connections: async () => 0, reports: () => 0, reservedMicros: () => 0 }), "idle");
  });

  it("waits for a second report after the last request in flight: the first may predate its reservation", async () => {
    let reports = 1;
    let polls = 0;
    const timer = setInterval(() => reports++, 20);
    try {
      const view = {
        connections: async () => (polls++ === 0 ? 1 : 0), // a bid in flight at the first look
        reports: () => reports,
        // Report 2 was built before that bid reserved; from report 3 on its reservation shows.
        reservedMicros: () => (reports >= 3 ? 20_000 : 0),
      };
      assert.equal(await waitNoticeWindow(300, view, 5, 10_000), "elapsed");
    } finally {
      clearInterval(timer);
    }
  });
});
