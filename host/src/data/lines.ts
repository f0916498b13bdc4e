// Streaming line reading and the bookkeeping of skipped lines shared by the
// data parsers: a malformed line is never used and never silently dropped, it
// is counted under a stable reason (and the first few are kept as examples).
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { DataError } from "./errors.ts";

export interface NumberedLine {
  /** 1-based line number in the file. */
  lineNo: number;
  /** The line without its end-of-line ("\n" or "\r\n"). */
  text: string;
}

/** Lines of a UTF-8 text file, streamed (the whole file is never held in memory). */
export async function* readLines(path: string): AsyncGenerator<NumberedLine> {
  const stream = createReadStream(path, { encoding: "utf8", highWaterMark: 1 << 16 });
  const opened = new Promise<void>((resolve, reject) => {
    stream.once("open", () => resolve());
    stream.once("error", (err) => reject(new DataError("DATA_UNREADABLE", `cannot read ${path}: ${err.message}`, { cause: err })));
  });
  await opened;
  const rl = createInterface({ input: stream, crlfDelay: Infinity });
  let lineNo = 0;
  try {
    for await (const text of rl) {
      lineNo++;
      yield { lineNo, text };
    }
  } catch (err) {
    // A read that fails after the open (a directory opens, then EISDIR; an I/O error): with the path.
    if (err instanceof DataError || (err as NodeJS.ErrnoException).code === undefined) throw err;
    throw new DataError("DATA_UNREADABLE", `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  } finally {
    rl.close();
    stream.destroy();
  }
}

export interface SkippedExample {
  lineNo: number;
  reason: string;
  /** The line, cut to 160 characters. */
  text: string;
}

/** Counts of skipped (and salvaged) lines by reason. */
export class LineStats {
  /** Lines read, including skipped and blank ones. */
  lines = 0;
  /** Lines turned into records. */
  used = 0;
  readonly skipped: Record<string, number> = {};
  /** Lines used after a documented repair (e.g. trailing garbage after a number), by reason. */
  readonly salvaged: Record<string, number> = {};
  readonly examples: SkippedExample[] = [];
  private readonly maxExamples: number;

  constructor(maxExamples = 5) {
    this.maxExamples = maxExamples;
  }

  skip(reason: string, line: NumberedLine): void {
    this.skipped[reason] = (this.skipped[reason] ?? 0) + 1;
    this.note(reason, line);
  }

  /**
   * A line the reader counted as used whose record its consumer then refuses (the core rejects
   * the request, a replay's market price is out of range): moved from used to skipped.
   */
  reject(reason: string, line: NumberedLine): void {
    this.used--;
    this.skip(reason, line);
  }

  salvage(reason: string, line: NumberedLine): void {
    this.salvaged[reason] = (this.salvaged[reason] ?? 0) + 1;
    this.note(reason, line);
  }

  private note(reason: string, line: NumberedLine): void {
    if (this.examples.length < this.maxExamples) {
      this.examples.push({ lineNo: line.lineNo, reason, text: line.text.length > 160 ? `${line.text.slice(0, 157)}...` : line.text });
    }
  }

  get skippedTotal(): number {
    return Object.values(this.skipped).reduce((a, b) => a + b, 0);
  }

  toJSON(): { lines: number; used: number; skipped: Record<string, number>; salvaged: Record<string, number> } {
    return { lines: this.lines, used: this.used, skipped: { ...this.skipped }, salvaged: { ...this.salvaged } };
  }
}

/** "skipped: bad-number 3, column-count 2; salvaged: ..." (or "skipped: none"): the line counts of a summary. */
export function skippedText(lines: { skipped: Record<string, number>; salvaged: Record<string, number> }): string {
  const s = Object.entries(lines.skipped).map(([k, v]) => `${k} ${v}`).join(", ");
  const v = Object.entries(lines.salvaged).map(([k, n]) => `${k} ${n}`).join(", ");
  return `${s ? `skipped: ${s}` : "skipped: none"}${v ? `; salvaged: ${v}` : ""}`;
}

/**
 * A file with no usable row: what was skipped, and when no line had the shape the format needs
 * (every line the wrong column count, or not JSON), that it is likely another format and which
 * option says so (`formats`: e.g. "--format raw|libfm|events").
 */
export function noRowsText(path: string, what: string, stats: { skipped: Record<string, number> }, formats: string): string {
  const reasons = Object.keys(stats.skipped).filter((r) => r !== "blank-line");
  const shape = reasons.length === 1 && (reasons[0] === "column-count" || reasons[0] === "bad-json");
  const hint = shape ? `: no line has the shape of ${what}; is it a file of another format? (${formats})` : "";
  return `${path}: no usable ${what} rows (${JSON.stringify(stats.skipped)})${hint}`;
}

/** Outcome of parsing one line: a record, or the reason it is skipped (blank lines too: "blank-line"). */
export type LineResult<T> = { ok: true; value: T } | { ok: false; reason: string };

/** Non-negative decimal integer without sign, spaces or exponent; undefined otherwise. */
export function parseUint(s: string): number | undefined {
  if (s.length === 0 || s.length > 15 || !/^[0-9]+$/.test(s)) return undefined;
  return Number(s);
}
