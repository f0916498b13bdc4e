// Command-line helpers shared by the tools: node:util parseArgs with typed
// number/choice/list options that fail with UsageError, and the common
// main() wrapper (usage on bad flags = exit 2, other errors = exit 1).
import { parseArgs, type ParseArgsConfig } from "node:util";
import { codedErrorLine } from "../errors.ts";
import { UsageError } from "./errors.ts";

export type Values = Record<string, string | boolean | string[] | undefined>;

export function parse(argv: string[], options: NonNullable<ParseArgsConfig["options"]>): Values {
  try {
    const { values, positionals } = parseArgs({ args: joinNegativeValues(argv, options), options, strict: true, allowPositionals: true });
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    return values as Values;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError((err as Error).message);
  }
}

/**
 * "--budgets -2" → "--budgets=-2": parseArgs refuses a value that starts with a dash as
 * "ambiguous", so a negative number got that message instead of the range check's ("below 1").
 * Only a string option followed by something that reads as a negative number is joined.
 */
function joinNegativeValues(argv: string[], options: NonNullable<ParseArgsConfig["options"]>): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = argv[i + 1];
    const name = a.startsWith("--") ? a.slice(2) : undefined;
    if (name !== undefined && options[name]?.type === "string" && next !== undefined && /^-(\d|\.\d|Infinity)/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else {
      out.push(a);
    }
  }
  return out;
}

export function str(v: Values, name: string): string | undefined {
  const x = v[name];
  return typeof x === "string" ? x : undefined;
}

export function required(v: Values, name: string): string {
  const x = str(v, name);
  if (x === undefined || x === "") throw new UsageError(`--${name} is required`);
  return x;
}

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

export function num(v: Values, name: string, def: number, range: { min?: number; max?: number; integer?: boolean } = {}): number {
  const x = str(v, name);
  if (x === undefined) return def;
  // Decimal only: Number() would also take "0x10", "0b11" and "0o7".
  const n = DECIMAL.test(x.trim()) ? Number(x) : NaN;
  if (!Number.isFinite(n)) throw new UsageError(`--${name}: ${JSON.stringify(x)} is not a number`);
  if (range.integer && !Number.isInteger(n)) throw new UsageError(`--${name}: ${x} is not an integer`);
  if (range.min !== undefined && n < range.min) throw new UsageError(`--${name}: ${x} is below ${range.min}`);
  if (range.max !== undefined && n > range.max) throw new UsageError(`--${name}: ${x} is above ${range.max}`);
  return n;
}

export function optNum(v: Values, name: string, range: { min?: number; max?: number; integer?: boolean } = {}): number | undefined {
  return str(v, name) === undefined ? undefined : num(v, name, 0, range);
}

export function choice<T extends string>(v: Values, name: string, allowed: readonly T[], def: T): T {
  const x = str(v, name);
  if (x === undefined) return def;
  if (!(allowed as readonly string[]).includes(x)) throw new UsageError(`--${name}: ${JSON.stringify(x)} is not one of ${allowed.join(", ")}`);
  return x as T;
}

/** "1,2,4" → [1, 2, 4]. */
export function numList(v: Values, name: string, def: readonly number[], range: { min?: number; max?: number; integer?: boolean } = {}): number[] {
  const x = str(v, name);
  if (x === undefined) return [...def];
  return x.split(",").map((part) => num({ [name]: part.trim() }, name, 0, range));
}

export function flag(v: Values, name: string): boolean {
  return v[name] === true;
}

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
  /** Progress lines go to stderr only when it is a terminal. */
  progress: boolean;
}

export const processIo: Io = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
  progress: process.stderr.isTTY === true,
};

/** Runs a tool body: UsageError → message + usage, exit 2; an error with a code → "error CODE: message", exit 1. */
export async function runTool(io: Io, usage: string, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`${err.message}\n\n${usage}`);
      return 2;
    }
    // NexusError, and the models' errors (ModelError: a plain Error with a code).
    const line = codedErrorLine(err);
    if (line !== undefined) {
      io.err(`error ${line}\n`);
      return 1;
    }
    throw err;
  }
}

/** A change, signed: 0.4 → "+40.0%", −0.05 → "−5.0%", 0 → "0.0%". */
export function signedPct(x: number): string {
  return `${x > 0 ? "+" : x < 0 ? "−" : ""}${pct(Math.abs(x), 1)}`;
}

/** "0.6044" → "60.44%". */
export function pct(x: number, digits = 2): string {
  return Number.isFinite(x) ? `${(x * 100).toFixed(digits)}%` : "n/a";
}
