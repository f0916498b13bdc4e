// The in-memory budget source's state on disk (budget.stateFile): what each campaign's ledgers
// were granted (all of it counted as spent, as for a pod that went away: those bids may still be
// billed) and what they charged in the latest day, hour and minute. A host that restarts with
// the file keeps counting them, so a restart does not start the total and daily caps from zero.
//
// Written whole to a temporary file and renamed over the old one (a crash leaves the old or the
// new state, never half of one), before each lease is answered and once more when the source
// closes. Mode 0600: it says what the campaigns spent.
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { open, readdir, readFile, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { NexusError } from "../errors.ts";
import type { SpendWindows } from "./fleet-spend.ts";
import type { StateFileLock } from "./state-file-lock.ts";

export interface MemoryBudgetState {
  version: 1;
  campaigns: Record<string, CampaignState>;
  /** The process that wrote it (BudgetStateFile.writer); absent in a snapshot not yet written. */
  writer?: string;
}

export interface CampaignState {
  /** Everything granted to the campaign's ledgers so far (micros): counted against its total. */
  consumedMicros: number;
  /** What they charged in the latest budget day, local hour and minute: counted in those windows. */
  spend: SpendWindows;
  /**
   * What they held beyond their charges on budget day `day` (bids out, which exchanges may still
   * bill; the unspent slice): counted against that day's cap as if spent, but not as charged, so
   * the next process paces by what was charged. Absent: nothing held (files written before
   * 2026-12-07 counted it in spend.day instead).
   */
  unbilled?: { day: number; micros: number };
}

export class BudgetStateError extends NexusError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("BUDGET_STATE_INVALID", message, options);
  }
}

/** The state in `path`; undefined when there is no file yet. A file that is not a state is an error (caps must not silently restart). */
export function readBudgetState(path: string): MemoryBudgetState | undefined {
  return readBudgetStateText(path)?.state;
}

/** readBudgetState() with the text it was read from (what BudgetStateFile.claim() checks is still there). */
export function readBudgetStateText(path: string): { state: MemoryBudgetState; text: string } | undefined {
  if (!existsSync(path)) return undefined;
  let parsed: unknown;
  let text: string;
  try {
    text = readFileSync(path, "utf8");
    parsed = JSON.parse(text);
  } catch (err) {
    throw new BudgetStateError(`budget state ${path}: ${(err as Error).message}`, { cause: err });
  }
  const why = stateProblem(parsed);
  if (why !== undefined) throw new BudgetStateError(`budget state ${path}: ${why}`);
  return { state: parsed as MemoryBudgetState, text };
}

function stateProblem(v: unknown): string | undefined {
  if (typeof v !== "object" || v === null || (v as { version?: unknown }).version !== 1) return "not a version 1 budget state";
  const campaigns = (v as { campaigns?: unknown }).campaigns;
  if (typeof campaigns !== "object" || campaigns === null || Array.isArray(campaigns)) return "campaigns: expected an object";
  const micros = (x: unknown) => Number.isSafeInteger(x) && (x as number) >= 0;
  for (const [id, c] of Object.entries(campaigns)) {
    const cs = c as Partial<CampaignState> | null;
    if (typeof cs !== "object" || cs === null || !micros(cs.consumedMicros)) return `${id}.consumedMicros: expected a non-negative integer`;
    for (const k of ["day", "hour", "minute"] as const) {
      const w = cs.spend?.[k];
      if (!w || !Number.isInteger(w.period) || !micros(w.micros)) return `${id}.spend.${k}: expected {period, micros}`;
    }
    const u = cs.unbilled;
    if (u !== undefined && (typeof u !== "object" || u === null || !Number.isInteger(u.day) || !micros(u.micros))) return `${id}.unbilled: expected {day, micros}`;
  }
  return undefined;
}

/**
 * Saves snapshots of a state to `path`, one after the other. The source saves before it answers
 * a lease (write-ahead): a grant the filter may spend is on disk before the filter hears of it, so
 * a crash right after cannot make the next process forget it. Saves asked for while one waits to
 * start share it (its snapshot is taken when it starts, so it holds every change before it): one
 * sync of many campaigns is one or two writes, not one per campaign.
 *
 * One process per file: two writers would each overwrite the other's grants and the next start
 * would forget some of them. The lock (state-file-lock.ts), taken before the state is read, keeps
 * a second process (a second bidder pointed at it, a rolling update that starts the new process
 * before the old one stops) from starting at all; a save fails once the lock was lost. Behind it,
 * the file records its writer (a random id), claim() writes it at start, and every save first
 * checks that the file on disk is still this writer's: a process that took the file over makes
 * this one's saves fail, so it grants nothing more.
 */
export class BudgetStateFile {
  private writing: Promise<void> = Promise.resolve();
  private queued: Promise<void> | undefined;
  readonly writer = randomBytes(12).toString("hex");

  constructor(
    readonly path: string,
    private readonly snapshot: () => MemoryBudgetState,
    private readonly onError: (err: Error) => void,
    private readonly onWarning: (message: string) => void = () => {},
    private readonly lock?: StateFileLock,
  ) {}

  /**
   * Takes the file (this writer's first save, without the ownership check): at start, before any
   * grant. Temporary files a killed process left next to it go first. `startedFrom`: the text the
   * state was restored from (null: there was no file); a file that changed since then means a
   * process still writes it, and its last grants would be overwritten: the claim fails.
   */
  async claim(startedFrom?: string | null): Promise<void> {
    const prefix = `${basename(this.path)}.`;
    for (const name of await readdir(dirname(this.path)).catch(() => [] as string[])) {
      if (name.startsWith(prefix) && name.endsWith(".tmp")) await unlink(join(dirname(this.path), name)).catch(() => {});
    }
    return this.enqueue(false, startedFrom);
  }

  /** Writes the current snapshot; resolves once it is in place, rejects (after onError) when it could not be. */
  save(): Promise<void> {
    return this.queued ?? (this.queued = this.enqueue(true));
  }

  private enqueue(checkOwner: boolean, startedFrom?: string | null): Promise<void> {
    const run = this.writing.then(() => {
      this.queued = undefined; // from here on, a new change needs a new save
      return this.write(checkOwner, startedFrom);
    });
    this.writing = run.catch(() => {}); // the next save runs after this one, failed or not
    return run;
  }

  private async write(checkOwner: boolean, startedFrom?: string | null): Promise<void> {
    try {
      await this.lock?.check(); // also the heartbeat: a lock taken over is seen here, before writing
      const lost = this.lock?.lost();
      if (lost !== undefined) throw new Error(lost);
      if (startedFrom !== undefined) {
        const now = existsSync(this.path) ? await readFile(this.path, "utf8") : null;
        if (now !== startedFrom) throw new Error("it changed while this process started: another process is writing it (one process per budget state file)");
      }
      if (checkOwner) {
        if (!existsSync(this.path)) {
          // Deleted under it (by hand, a cleanup job): written again, whole, from memory.
          this.onWarning(`budget state ${this.path} was missing: written again`);
        } else {
          const onDisk = (JSON.parse(await readFile(this.path, "utf8")) as { writer?: unknown }).writer;
          if (onDisk !== this.writer) throw new Error(`another process (writer ${String(onDisk)}) has taken the file over: one process per budget state file`);
        }
      }
      const text = `${JSON.stringify({ ...this.snapshot(), writer: this.writer })}\n`;
      // A fresh name opened exclusively (never through a link someone left there), synced before
      // the rename, and the directory synced after it: on disk, not only in the page cache.
      const tmp = `${this.path}.${this.writer}.${randomBytes(4).toString("hex")}.tmp`;
      const f = await open(tmp, "wx", 0o600);
      try {
        await f.writeFile(text);
        await f.sync();
        await f.close();
        await rename(tmp, this.path);
      } catch (err) {
        await f.close().catch(() => {});
        await unlink(tmp).catch(() => {});
        throw err;
      }
      const dir = await open(dirname(this.path), "r");
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
    } catch (err) {
      this.onError(err as Error);
      throw new BudgetStateError(`budget state ${this.path} not saved: ${(err as Error).message}`, { cause: err });
    }
  }
}
