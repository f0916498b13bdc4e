// The lock of the budget state file (control/state-file-lock.ts): one process per file. Before
// it, a new process claimed the file with a read and then a write; an audit that raced a claim
// against the old process's back-to-back saves lost the old process's last grant in about one
// claim in five. Real files, real processes (a holder in a child process, killed with SIGKILL).
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { StateFileLock, StateFileLockError, pidSpace } from "../../../host/src/control/state-file-lock.ts";
import { BudgetStateFile, readBudgetState } from "../../../host/src/control/budget-state-file.ts";

const dir = mkdtempSync(join(tmpdir(), "nexus-state-lock-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const FAST = { waitMs: 0, staleMs: 10_000, heartbeatMs: 60_000 };
const LOCK_MODULE = new URL("../../../host/src/control/state-file-lock.ts", import.meta.url).pathname;

function lockText(info: { owner: string; pid: number; host: string; pidSpace?: string }): string {
  return `${JSON.stringify(info)}\n`;
}

/** A pid that is not running: a child that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  await new Promise((resolve) => child.on("exit", resolve));
  return child.pid!;
}

describe("the budget state file's lock", () => {
  it("is exclusive: a second acquire waits, then fails naming the holder; after release it is taken", async () => {
    const path = join(dir, "a.lock");
    const first = await StateFileLock.acquire(path, FAST);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    await assert.rejects(StateFileLock.acquire(path, { ...FAST, waitMs: 300 }), (e: Error) => e instanceof StateFileLockError && e.message.includes(`pid ${process.pid} on ${hostname()}`) && /one process per budget state file/.test(e.message));
    // A holder that lets go while the other waits: the waiter gets it.
    const waiting = StateFileLock.acquire(path, { ...FAST, waitMs: 5_000 });
    setTimeout(() => void first.release(), 200);
    const second = await waiting;
    assert.equal(JSON.parse(readFileSync(path, "utf8")).owner, second.owner);
    await second.release();
    assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith("a.lock")), [], "released: no lock left");
  });

  it("a lock whose process is gone is taken over at once: a dead pid on this host, or this pid from an earlier process", async () => {
    const path = join(dir, "b.lock");
    writeFileSync(path, lockText({ owner: "crashed", pid: await deadPid(), host: hostname(), pidSpace: pidSpace() }));
    const a = await StateFileLock.acquire(path, FAST); // waitMs 0: only a stale lock lets it through
    await a.release();
    // This pid, in this pid space, but not a lock this process took: an earlier process's.
    writeFileSync(path, lockText({ owner: "earlier-incarnation", pid: process.pid, host: hostname(), pidSpace: pidSpace() }));
    const b = await StateFileLock.acquire(path, FAST);
    await b.release();
    // Half written by a process killed while creating it: judged by its age.
    writeFileSync(path, '{"owner":');
    await assert.rejects(StateFileLock.acquire(path, FAST), StateFileLockError);
    const old = new Date(Date.now() - 60_000);
    utimesSync(path, old, old);
    await (await StateFileLock.acquire(path, FAST)).release();
  });

  // An audit: two containers sharing a hostname (host networking), each pid 1 in its own pid
  // namespace, took each other's live lock as "an earlier process with this pid".
  it("a lock from another pid space with this hostname (another container, a boot before) is judged by its heartbeat only", async () => {
    const path = join(dir, "ns.lock");
    for (const other of [`${hostname()}/another-boot/pid:[1]`, undefined]) {
      writeFileSync(path, lockText({ owner: "other-container", pid: process.pid, host: hostname(), ...(other ? { pidSpace: other } : {}) }));
      await assert.rejects(StateFileLock.acquire(path, { ...FAST, waitMs: 100 }), /held by another process/);
      writeFileSync(path, lockText({ owner: "other-container", pid: await deadPid(), host: hostname(), ...(other ? { pidSpace: other } : {}) }));
      await assert.rejects(StateFileLock.acquire(path, { ...FAST, waitMs: 100 }), /held by another process .*its pid cannot be checked from here: taken over once its heartbeat is 10 s old/, "its pid means nothing here");
    }
    const old = new Date(Date.now() - 11_000);
    utimesSync(path, old, old);
    await (await StateFileLock.acquire(path, FAST)).release();
  });

  it("a lock that cannot be read or removed fails the acquire at once, with the reason", async () => {
    const path = join(dir, "dir.lock");
    mkdirSync(path);
    await assert.rejects(StateFileLock.acquire(path, { ...FAST, waitMs: 60_000 }), /EISDIR|illegal operation on a directory/);
    // A dangling symbolic link: an exclusive create finds it there, a read finds nothing (a
    // review saw acquire() spin on it for ever); the wait ends it.
    const link = join(dir, "dangling.lock");
    symlinkSync(join(dir, "nowhere"), link);
    await assert.rejects(StateFileLock.acquire(link, { ...FAST, waitMs: 200 }), /cannot be created or read \(a dangling symbolic link\?\)/);
  });

  // An audit removed the state directory under a running bidder: the heartbeat's create of the
  // lock threw from a timer and ended the process.
  it("a heartbeat that cannot write the lock again (its directory gone) does not end the process; a check then fails", async () => {
    const sub = join(dir, "gone");
    mkdirSync(sub);
    const lock = await StateFileLock.acquire(join(sub, "g.lock"), { ...FAST, heartbeatMs: 20 });
    rmSync(sub, { recursive: true, force: true });
    await new Promise((r) => setTimeout(r, 150)); // several beats: an unhandled rejection would fail this test run
    await assert.rejects(lock.check(), /ENOENT/);
    assert.equal(lock.lost(), undefined, "not lost: the next beat tries again");
    await lock.release();
  });

  it("another host's lock is live while its heartbeat is fresh, and stale once it is older than staleMs", async () => {
    const path = join(dir, "c.lock");
    // Another pod on a shared volume: its pid means nothing here (pid 1 is running on this host too).
    writeFileSync(path, lockText({ owner: "other-pod", pid: 1, host: `not-${hostname()}` }));
    await assert.rejects(StateFileLock.acquire(path, { ...FAST, waitMs: 200 }), /held by another process \(pid 1 on not-/);
    const old = new Date(Date.now() - 11_000);
    utimesSync(path, old, old);
    const lock = await StateFileLock.acquire(path, FAST);
    assert.equal(JSON.parse(readFileSync(path, "utf8")).owner, lock.owner);
    await lock.release();
  });

  it("the heartbeat keeps the lock fresh, and finds it when another process took it over", async () => {
    const path = join(dir, "d.lock");
    const lost: string[] = [];
    const lock = await StateFileLock.acquire(path, { ...FAST, onLost: (why) => lost.push(why) });
    const old = new Date(Date.now() - 60_000);
    utimesSync(path, old, old);
    await lock.check();
    assert.ok(Date.now() - statSync(path).mtimeMs < 5_000, "touched");
    assert.equal(lock.lost(), undefined);
    writeFileSync(path, lockText({ owner: "usurper", pid: 1, host: "elsewhere" }));
    await lock.check();
    assert.match(lock.lost() ?? "", /taken over by another process/);
    assert.equal(lost.length, 1);
    await lock.release();
    assert.equal(JSON.parse(readFileSync(path, "utf8")).owner, "usurper", "release leaves another process's lock alone");
  });

  it("a save after the lock was taken over fails: no grant is written over the new holder's state", async () => {
    const path = join(dir, "e.json");
    const lock = await StateFileLock.acquire(`${path}.lock`, FAST);
    const file = new BudgetStateFile(path, () => ({ version: 1, campaigns: {} }), () => {}, () => {}, lock);
    await file.claim(null);
    await file.save();
    writeFileSync(`${path}.lock`, lockText({ owner: "new-pod", pid: 1, host: "elsewhere" }));
    await assert.rejects(file.save(), /not saved: the lock .* was taken over/);
    assert.equal(readBudgetState(path)!.writer, file.writer, "the file is as the last good save left it");
    await lock.release();
  });

  it("of processes that find one stale lock at once, exactly one takes it", async () => {
    for (let round = 0; round < 20; round++) {
      const path = join(dir, `race-${round}.lock`);
      writeFileSync(path, lockText({ owner: `crashed-${round}`, pid: 1, host: "gone-pod" }));
      const old = new Date(Date.now() - 60_000);
      utimesSync(path, old, old);
      const results = await Promise.allSettled([0, 1, 2].map(() => StateFileLock.acquire(path, { ...FAST, waitMs: 100 })));
      const held = results.filter((r) => r.status === "fulfilled");
      assert.equal(held.length, 1, `round ${round}: ${results.map((r) => r.status).join(", ")}`);
      const winner = (held[0] as PromiseFulfilledResult<StateFileLock>).value;
      assert.equal(JSON.parse(readFileSync(path, "utf8")).owner, winner.owner);
      await winner.release();
      assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith(`race-${round}.lock`)), [], "nothing set aside is left");
    }
  });

  it("acquires racing for a free lock in one process: exactly one takes it (a lock being written is not an earlier process's)", async () => {
    // The losers read the winner's file before the winner had registered it as this process's:
    // "written by an earlier process with this pid", taken over, two holders (seen once under load).
    for (let round = 0; round < 100; round++) {
      const path = join(dir, `fresh-${round}.lock`);
      const results = await Promise.allSettled([0, 1, 2].map(() => StateFileLock.acquire(path, { ...FAST, waitMs: 20 })));
      const held = results.filter((r) => r.status === "fulfilled");
      assert.equal(held.length, 1, `round ${round}: ${results.map((r) => r.status).join(", ")}`);
      await (held[0] as PromiseFulfilledResult<StateFileLock>).value.release();
    }
  });

  it("a live holder in another process keeps the lock; killed (SIGKILL), its lock is taken at once", async () => {
    const path = join(dir, "f.lock");
    const script = `import { StateFileLock } from ${JSON.stringify(LOCK_MODULE)};
      await StateFileLock.acquire(${JSON.stringify(path)}, { waitMs: 0, staleMs: 10000, heartbeatMs: 100 });
      console.log("held"); setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on("data", (d: Buffer) => d.toString().includes("held") && resolve());
        child.on("exit", (code) => reject(new Error(`holder exited ${code}`)));
      });
      await assert.rejects(StateFileLock.acquire(path, { ...FAST, waitMs: 300 }), new RegExp(`pid ${child.pid} on`));
    } finally {
      child.kill("SIGKILL");
      await new Promise((resolve) => child.on("exit", resolve));
    }
    const lock = await StateFileLock.acquire(path, FAST);
    await lock.release();
  });
});
