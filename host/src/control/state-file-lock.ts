// The lock that makes "one process per budget state file" hold (budget.stateFile): a file next
// to the state, `<state>.lock`, created exclusively (O_EXCL: of two processes creating it, one
// fails) and held from before the state is read at start until after the last save on stop.
// Node's core has no flock(); an exclusive create is atomic on local and NFSv3+ file systems.
//
// A lock whose process died stays behind, so a lock is taken over when it is stale:
//  - in the same pid space (the same hostname, boot and pid namespace: pidSpace()), when its pid
//    is not running, or is this process's but not one of the locks it holds; at once;
//  - anywhere, when its heartbeat (the file's mtime, touched every heartbeatMs) is older than
//    staleMs: another host, another container (a restarted container has a new pid namespace),
//    or a boot before this one cannot be judged by the pid.
// A live holder's lock is waited for (waitMs), then the start fails with who holds it.
import { randomBytes } from "node:crypto";
import { readFileSync, readlinkSync } from "node:fs";
import { hostname } from "node:os";
import { open, readFile, stat, unlink, utimes } from "node:fs/promises";

export interface StateFileLockOptions {
  /** How long acquire() waits for a live holder to let go (ms). */
  waitMs: number;
  /** A heartbeat older than this makes the lock stale (ms). */
  staleMs: number;
  /** How often the holder touches the lock (ms); well under staleMs. */
  heartbeatMs: number;
  /** Told once when the heartbeat finds the lock gone to another process (saves then fail). */
  onLost?: (why: string) => void;
}

export const STATE_LOCK_DEFAULTS = { staleMs: 10_000, heartbeatMs: 2_000 } as const;

interface LockInfo {
  owner: string;
  pid: number;
  host: string;
  /** Where `pid` means something (pidSpace()): a lock from another one is judged by its heartbeat only. */
  pidSpace?: string;
}

/**
 * This process's pid space: the kernel's boot id and the pid namespace (Linux), with the hostname.
 * Containers that share a hostname (host networking, a fixed hostname) each have their own pid
 * namespace, and a reboot reuses pids: a pid is only compared within one pid space.
 */
export function pidSpace(): string {
  const kernel = (bootAndPidNs ??= readBootAndPidNs());
  return kernel === "" ? "" : `${hostname()}/${kernel}`;
}

/** The boot id and pid namespace, read once: neither changes while the process lives. */
let bootAndPidNs: string | undefined;

function readBootAndPidNs(): string {
  const read = (f: () => string) => {
    try {
      return f().trim();
    } catch {
      return "";
    }
  };
  const boot = read(() => readFileSync("/proc/sys/kernel/random/boot_id", "utf8"));
  const ns = read(() => readlinkSync("/proc/self/ns/pid"));
  // Unknown (""): pids are then never compared, only heartbeats (two containers that cannot read
  // /proc must not look like one pid space).
  return boot === "" || ns === "" ? "" : `${boot}/${ns}`;
}

export class StateFileLockError extends Error {}

/** The owners of the locks this process holds: a lock with this pid not among them is an earlier process's. */
const heldHere = new Set<string>();

export class StateFileLock {
  private timer: NodeJS.Timeout | undefined;
  private lostWhy: string | undefined;
  private released = false;
  private unreadBeats = 0;

  private constructor(
    readonly path: string,
    readonly owner: string,
    private readonly text: string,
    private readonly options: StateFileLockOptions,
  ) {}

  /** Takes the lock at `path`, waiting up to options.waitMs for a live holder; throws StateFileLockError with the holder when it cannot. */
  static async acquire(path: string, options: StateFileLockOptions): Promise<StateFileLock> {
    const owner = randomBytes(12).toString("hex");
    const info: LockInfo = { owner, pid: process.pid, host: hostname(), pidSpace: pidSpace() };
    const text = `${JSON.stringify(info)}\n`;
    // This process's before the file exists: another acquire in this process that reads the file
    // while it is being written (not yet synced) must not judge it an earlier process's.
    heldHere.add(owner);
    try {
      return await StateFileLock.acquireAs(path, owner, text, options);
    } catch (err) {
      heldHere.delete(owner);
      throw err;
    }
  }

  private static async acquireAs(path: string, owner: string, text: string, options: StateFileLockOptions): Promise<StateFileLock> {
    const deadline = Date.now() + options.waitMs;
    for (;;) {
      if (await createExclusive(path, text)) {
        const lock = new StateFileLock(path, owner, text, options);
        lock.startHeartbeat();
        return lock;
      }
      const held = await readLock(path);
      if (held === undefined) {
        // Released between the create and the read: try again (a dangling symbolic link there
        // reads as absent for ever: the deadline ends that).
        if (Date.now() >= deadline) throw new StateFileLockError(`${path}: cannot be created or read (a dangling symbolic link?)`);
        await sleep(10);
        continue;
      }
      if (staleness(held, options.staleMs) !== undefined) {
        // Removed (or another process is removing it): create it again. A takeover that cannot
        // remove it (no permission) is an error at once; one another process is busy with waits.
        if (await takeOver(path, held)) continue;
        if (Date.now() >= deadline) throw new StateFileLockError(`${path}: a stale lock that another process is taking over, or that cannot be taken over`);
        await sleep(10);
        continue;
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        const age = ((Date.now() - held.mtimeMs) / 1000).toFixed(1);
        const judged = judgedByPid(held.info) ? "" : `; its pid cannot be checked from here: taken over once its heartbeat is ${options.staleMs / 1000} s old`;
        throw new StateFileLockError(
          `${path} is held by another process (pid ${held.info?.pid ?? "?"} on ${held.info?.host ?? "?"}, heartbeat ${age} s ago${judged}): ` +
            "one process per budget state file; stop the other one first (a Recreate rollout, not a rolling update)",
        );
      }
      await sleep(Math.min(250, left));
    }
  }

  /** Why the lock is no longer this process's (another took it over, or it could not be touched); undefined while held. */
  lost(): string | undefined {
    return this.lostWhy;
  }

  /** Checks the lock is still this process's and touches it (the heartbeat). Marks it lost when it is not. */
  async check(): Promise<void> {
    if (this.released || this.lostWhy !== undefined) return;
    let onDisk: string | undefined;
    try {
      onDisk = await readFile(this.path, "utf8");
      this.unreadBeats = 0;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
        // A read that failed: the next beat tries again; failing for as long as the lock takes to
        // go stale, this process can no longer tell it still holds it.
        if (++this.unreadBeats * this.options.heartbeatMs >= this.options.staleMs) this.markLost(`the lock ${this.path} cannot be read: ${(err as Error).message}`);
        return;
      }
      // Deleted under it (by hand): created again, unless another process got there first. A
      // create that fails (the directory gone, a full disk) throws: a save then fails, as its own
      // write would; the heartbeat tries again at its next beat.
      if (await createExclusive(this.path, this.text)) return;
      onDisk = await readFile(this.path, "utf8").catch(() => undefined);
    }
    if (onDisk !== this.text) return this.markLost(`the lock ${this.path} was taken over by another process`);
    const now = new Date();
    await utimes(this.path, now, now).catch(() => {});
  }

  /** Gives the lock up (after the last save), if it is still this process's. */
  async release(): Promise<void> {
    this.released = true;
    heldHere.delete(this.owner);
    if (this.timer) clearInterval(this.timer);
    if (this.lostWhy !== undefined) return;
    const onDisk = await readFile(this.path, "utf8").catch(() => undefined);
    if (onDisk === this.text) await unlink(this.path).catch(() => {});
  }

  private startHeartbeat(): void {
    // A beat that fails (check() throws when the lock cannot be written again) must not become
    // an unhandled rejection, which would end the process: the next beat tries again.
    this.timer = setInterval(() => void this.check().catch(() => {}), this.options.heartbeatMs);
    this.timer.unref();
  }

  private markLost(why: string): void {
    this.lostWhy = why;
    heldHere.delete(this.owner);
    if (this.timer) clearInterval(this.timer);
    this.options.onLost?.(why);
  }
}

/** Creates `path` with `text` only when nothing is there; false when something is. */
async function createExclusive(path: string, text: string): Promise<boolean> {
  let f;
  try {
    f = await open(path, "wx", 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  }
  try {
    await f.writeFile(text);
    await f.sync();
  } finally {
    await f.close();
  }
  return true;
}

interface HeldLock {
  text: string;
  info: LockInfo | undefined;
  mtimeMs: number;
  /** The file judged (its inode): a new lock created since, even with the same text, is another. */
  ino: number;
}

async function readLock(path: string): Promise<HeldLock | undefined> {
  try {
    const st = await stat(path);
    const text = await readFile(path, "utf8");
    return { text, info: parseInfo(text), mtimeMs: st.mtimeMs, ino: st.ino };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

function parseInfo(text: string): LockInfo | undefined {
  try {
    const v = JSON.parse(text) as Partial<LockInfo>;
    if (typeof v.owner === "string" && Number.isInteger(v.pid) && typeof v.host === "string") return v as LockInfo;
  } catch {
    // A lock half written by a process killed while creating it: judged by its age only.
  }
  return undefined;
}

/** Why a held lock may be taken over; undefined while its holder may be alive. */
function staleness(held: HeldLock, staleMs: number): string | undefined {
  const info = held.info;
  if (judgedByPid(info)) {
    if (info.pid === process.pid && !heldHere.has(info.owner)) return "written by an earlier process with this pid";
    if (!pidRunning(info.pid)) return `pid ${info.pid} is not running`;
  }
  if (Date.now() - held.mtimeMs > staleMs) return "no heartbeat";
  return undefined;
}

/** The lock's pid can be checked here: written in this pid space, and this one is known. */
function judgedByPid(info: LockInfo | undefined): info is LockInfo {
  const here = pidSpace();
  return info !== undefined && here !== "" && info.host === hostname() && info.pidSpace === here;
}

function pidRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM"; // running, as another user
  }
}

/**
 * Removes a stale lock. Two processes may judge the same lock stale at once, and the one that is
 * late must not remove the lock the other has created since: the removal happens under a second,
 * short-lived lock (`<lock>.takeover`), and only when the lock is still the file judged stale (same
 * inode, mtime and text). A takeover lock left by a process killed inside this goes once it is
 * TAKEOVER_STALE_MS old. True when the caller should try to create the lock again at once; false
 * when another process is taking it over. A lock that cannot be removed throws.
 */
async function takeOver(path: string, judged: HeldLock): Promise<boolean> {
  const mutex = `${path}.takeover`;
  if (!(await createExclusive(mutex, ""))) {
    const st = await stat(mutex).catch(() => undefined);
    if (st !== undefined && Date.now() - st.mtimeMs > TAKEOVER_STALE_MS) await unlinkIfThere(mutex);
    return false;
  }
  try {
    const now = await readLock(path);
    if (now !== undefined && now.ino === judged.ino && now.mtimeMs === judged.mtimeMs && now.text === judged.text) await unlinkIfThere(path);
  } finally {
    await unlink(mutex).catch(() => {});
  }
  return true;
}

/** Removes `path`; gone already is fine, anything else (no permission) throws. */
async function unlinkIfThere(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new StateFileLockError(`${path}: a stale lock that cannot be removed: ${(err as Error).message}`);
    }
  }
}

const TAKEOVER_STALE_MS = 5_000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
