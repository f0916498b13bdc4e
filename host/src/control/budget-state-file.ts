// The in-memory budget source's state on disk (budget.stateFile): what each campaign's ledgers
// were granted (all of it counted as spent, as for a pod that went away: those bids may still be
// billed) and what they charged in the latest day, hour and minute. A host that restarts with
// the file keeps counting them, so a restart does not start the total and daily caps from zero.
//
// Written whole to a temporary file and renamed over the old one (a crash leaves the old or the
// new state, never half of one), before each lease is answered and once more when the source
// closes. Mode 0600: it says what the campaigns spent.
import { existsSync, readFileSync } from "node:fs";
import { rename, writeFile } from "node:fs/promises";
import { NexusError } from "../errors.ts";
import type { SpendWindows } from "./fleet-spend.ts";

export interface MemoryBudgetState {
  version: 1;
  campaigns: Record<string, CampaignState>;
}

export interface CampaignState {
  /** Everything granted to the campaign's ledgers so far (micros): counted against its total. */
  consumedMicros: number;
  /** What they charged in the latest budget day, local hour and minute: counted in those windows. */
  spend: SpendWindows;
}

export class BudgetStateError extends NexusError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("BUDGET_STATE_INVALID", message, options);
  }
}

/** The state in `path`; undefined when there is no file yet. A file that is not a state is an error (caps must not silently restart). */
export function readBudgetState(path: string): MemoryBudgetState | undefined {
  if (!existsSync(path)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new BudgetStateError(`budget state ${path}: ${(err as Error).message}`, { cause: err });
  }
  const why = stateProblem(parsed);
  if (why !== undefined) throw new BudgetStateError(`budget state ${path}: ${why}`);
  return parsed as MemoryBudgetState;
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
  }
  return undefined;
}

/**
 * Saves snapshots of a state to `path`, one after the other. The source saves before it answers
 * a lease (write-ahead): a grant the filter may spend is on disk before the filter hears of it, so
 * a crash right after cannot make the next process forget it.
 */
export class BudgetStateFile {
  private writing: Promise<void> = Promise.resolve();

  constructor(
    readonly path: string,
    private readonly snapshot: () => MemoryBudgetState,
    private readonly onError: (err: Error) => void,
  ) {}

  /** Writes the current snapshot; resolves once it is in place, rejects (after onError) when it could not be. */
  save(): Promise<void> {
    const text = `${JSON.stringify(this.snapshot())}\n`;
    const done = this.writing.then(async () => {
      const tmp = `${this.path}.tmp-${process.pid}`;
      try {
        await writeFile(tmp, text, { mode: 0o600 });
        await rename(tmp, this.path);
      } catch (err) {
        this.onError(err as Error);
        throw new BudgetStateError(`budget state ${this.path} not saved: ${(err as Error).message}`, { cause: err });
      }
    });
    this.writing = done.catch(() => {}); // the next save runs after this one, failed or not
    return done;
  }
}
