// Training examples: every row of a data file becomes the filter's feature
// buckets (the compiled extractor run on the OpenRTB request built by the one
// log → OpenRTB mapping) plus its labels. Kept compact in memory (one flat
// Uint32Array of buckets) so several shuffled epochs need no re-reading.
import { basename, dirname, join } from "node:path";
import { existsSync } from "node:fs";
import { readEvents } from "../data/events.ts";
import { Featindex, readLibfm, readRawLog, type LibfmLayoutName } from "../data/ipinyou.ts";
import { LineStats, noRowsText } from "../data/lines.ts";
import { bidRequestFromLog, type LogRecordInput } from "../data/openrtb-from-log.ts";
import { DataError } from "../data/errors.ts";
import { ParseError, rejectedAs, type NexusCore } from "./core.ts";

export type DataFormat = "raw" | "libfm" | "events";

export const DATA_FORMATS: readonly DataFormat[] = ["raw", "libfm", "events"];

/** Labels and buckets of n examples. `conversion` is −1 where unknown. */
export class ExampleSet {
  private bucketData = new Uint32Array(1 << 16);
  private bucketLen = 0;
  private offsetData = new Uint32Array(1 << 12);
  private clickData = new Uint8Array(1 << 12);
  private conversionData = new Int8Array(1 << 12);
  private timeData = new Float64Array(1 << 12);
  private n = 0;

  get size(): number {
    return this.n;
  }

  add(buckets: Uint32Array, click: 0 | 1, conversion: 0 | 1 | -1, timeMs: number): void {
    if (this.bucketLen + buckets.length > this.bucketData.length) {
      const next = new Uint32Array(Math.max(this.bucketData.length * 2, this.bucketLen + buckets.length));
      next.set(this.bucketData.subarray(0, this.bucketLen));
      this.bucketData = next;
    }
    if (this.n + 2 > this.offsetData.length) {
      const cap = this.offsetData.length * 2;
      const grow = <T extends Uint32Array | Uint8Array | Int8Array | Float64Array>(a: T, make: (n: number) => T): T => {
        const b = make(cap);
        b.set(a as never);
        return b;
      };
      this.offsetData = grow(this.offsetData, (c) => new Uint32Array(c));
      this.clickData = grow(this.clickData, (c) => new Uint8Array(c));
      this.conversionData = grow(this.conversionData, (c) => new Int8Array(c));
      this.timeData = grow(this.timeData, (c) => new Float64Array(c));
    }
    this.bucketData.set(buckets, this.bucketLen);
    this.offsetData[this.n] = this.bucketLen;
    this.bucketLen += buckets.length;
    this.offsetData[this.n + 1] = this.bucketLen;
    this.clickData[this.n] = click;
    this.conversionData[this.n] = conversion;
    this.timeData[this.n] = timeMs;
    this.n++;
  }

  /** Buckets of example i (a view: do not keep it across add()). */
  features(i: number): Uint32Array {
    return this.bucketData.subarray(this.offsetData[i]!, this.offsetData[i + 1]!);
  }

  click(i: number): 0 | 1 {
    return this.clickData[i] as 0 | 1;
  }

  conversion(i: number): 0 | 1 | -1 {
    return this.conversionData[i] as 0 | 1 | -1;
  }

  timeMs(i: number): number {
    return this.timeData[i]!;
  }

  get clicks(): number {
    let c = 0;
    for (let i = 0; i < this.n; i++) c += this.clickData[i]!;
    return c;
  }

  /** Examples with a conversion label and a click (the pCVR training set: conversion given click). */
  get cvrExamples(): { n: number; positives: number } {
    let n = 0;
    let positives = 0;
    for (let i = 0; i < this.n; i++) {
      if (this.clickData[i] === 1 && this.conversionData[i]! >= 0) {
        n++;
        positives += this.conversionData[i]!;
      }
    }
    return { n, positives };
  }

  /** A new set with the examples at `indices`, in that order. */
  subset(indices: ArrayLike<number>): ExampleSet {
    const s = new ExampleSet();
    for (let k = 0; k < indices.length; k++) {
      const i = indices[k]!;
      s.add(this.features(i), this.click(i), this.conversion(i), this.timeMs(i));
    }
    return s;
  }
}

export interface LoadOptions {
  format: DataFormat;
  /** libFM: the featindex file (default: featindex.txt next to the data file). */
  featindexPath?: string;
  /** libFM: an already-read featindex (shared between train and test). */
  featindex?: Featindex;
  /** libFM: index layout; detected when absent. */
  layout?: LibfmLayoutName;
  /** Called every 10,000 rows (progress). */
  onProgress?: (rows: number) => void;
}

export interface LoadedExamples {
  set: ExampleSet;
  /** Lines read, used and skipped (by reason: the parser's, plus request-rejected and no-imp). */
  stats: LineStats;
  /** libFM: layout used and the featindex's own line stats. */
  layout?: LibfmLayoutName;
  featindex?: Featindex;
}

/** Format implied by a file name: *.fm.txt / *.libfm → libfm, *.jsonl / *.ndjson → events, else raw. */
export function inferFormat(path: string): DataFormat {
  const b = basename(path).toLowerCase();
  if (b.endsWith(".fm.txt") || b.endsWith(".libfm") || b.endsWith(".fm")) return "libfm";
  if (b.endsWith(".jsonl") || b.endsWith(".ndjson")) return "events";
  return "raw";
}

const enc = new TextEncoder();

/**
 * Reads a data file into an ExampleSet through the core's extractor. Rows the
 * core's OpenRTB parser refuses are skipped as "request-rejected"; rows whose
 * imp index does not exist as "no-imp".
 */
export async function loadExamples(core: NexusCore, path: string, options: LoadOptions): Promise<LoadedExamples> {
  const stats = new LineStats();
  const set = new ExampleSet();
  const result: LoadedExamples = { set, stats };

  const addRequest = (json: string, impIndex: number, timeMs: number, utcOffset: number, click: 0 | 1, conversion: 0 | 1 | -1, lineNo: number): void => {
    const buckets = core.requestFeatures(enc.encode(json), impIndex, timeMs, utcOffset);
    if (buckets instanceof ParseError) {
      stats.reject(rejectedAs(buckets), { lineNo, text: `${buckets.message}: ${json.length > 200 ? `${json.slice(0, 200)}…` : json}` });
      return;
    }
    if (buckets.length === 0) {
      stats.reject("no-imp", { lineNo, text: json });
      return;
    }
    set.add(buckets, click, conversion, timeMs);
    if (set.size % 10_000 === 0) options.onProgress?.(set.size);
  };
  const addLog = (rec: LogRecordInput & { lineNo: number }): void => {
    const r = bidRequestFromLog(rec);
    addRequest(r.json, 0, r.timeMs, r.utcOffsetMinutes, rec.click ?? 0, -1, rec.lineNo);
  };

  if (options.format === "raw") {
    for await (const rec of readRawLog(path, stats)) addLog(rec);
  } else if (options.format === "libfm") {
    let fi = options.featindex;
    // The data file first: a mistyped --data would otherwise be reported as a missing featindex next to it.
    if (!existsSync(path)) throw new DataError("DATA_UNREADABLE", `cannot read ${path}: no such file`);
    if (!fi) {
      const fiPath = options.featindexPath ?? join(dirname(path), "featindex.txt");
      if (!existsSync(fiPath)) throw new DataError("FEATINDEX_MISSING", `libFM data ${path} needs its featindex (--featindex; looked for ${fiPath})`);
      fi = await Featindex.read(fiPath);
    }
    result.featindex = fi;
    const opts: Parameters<typeof readLibfm>[2] = { stats, onLayout: (l) => (result.layout = l) };
    if (options.layout) opts.layout = options.layout;
    for await (const rec of readLibfm(path, fi, opts)) addLog(rec);
  } else {
    for await (const ev of readEvents(path, stats)) {
      addRequest(ev.json, ev.impIndex, ev.timeMs, ev.utcOffsetMinutes, ev.click, ev.conversion ?? -1, ev.lineNo);
    }
  }
  if (set.size === 0) throw new DataError("DATA_EMPTY", noRowsText(path, options.format, stats, `--format ${DATA_FORMATS.join("|")}`));
  return result;
}
