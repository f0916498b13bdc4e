// Filter metrics (proxy_define_metric & co) shared by every VM of the process, over a
// SharedArrayBuffer so that worker-thread VMs update the same values.
//
// Semantics follow Envoy (source/extensions/common/wasm/context.cc):
//   - define: metric_type > 2 -> BAD_ARGUMENT. The underlying metric is deduplicated by name (the
//     same name defined by several VMs, or twice by one VM, is one metric), but like Envoy every
//     define call hands out a new id from per-VM counters: counters 4, 8, 12...; gauges 5, 9...;
//     histograms 6, 10...; so id & 3 is the type. A name already defined with another type -> BAD_ARGUMENT.
//   - increment(i64 delta): counter: delta > 0 adds, delta <= 0 -> BAD_ARGUMENT (Envoy rejects 0 too);
//     gauge: adds or subtracts; histogram -> BAD_ARGUMENT. Unknown id -> NOT_FOUND.
//   - record(u64 value): counter adds, gauge sets, histogram observes. Unknown id -> NOT_FOUND.
//   - get: counter/gauge value (u64); histogram -> BAD_ARGUMENT; unknown -> NOT_FOUND.
//   Values are u64 with wrap-around, like Envoy's uint64 stats.
//
// Exported names. Envoy stores a Wasm metric NAME as the stat `wasmcustom.NAME` (the custom stat
// namespace, see /stats), and since Envoy 1.22 its /stats/prometheus strips a registered custom
// namespace and does NOT add the "envoy_" prefix: the Prometheus name is NAME with every character
// outside [a-zA-Z0-9_] replaced by "_", and a name that then is empty or starts with a digit is not
// exported (PrometheusStatsFormatter::metricName + CustomStatNamespaces::stripRegisteredPrefix).
// Older Envoy versions exported "envoy_" + sanitized name; pass { prefix: "envoy_" } for that.
// Envoy's tag extraction (which can move parts of dotted names into labels) is not reproduced.
//
// Histogram buckets: one fixed set for every histogram, a 1-2.5-5 series from 1 to 1e10, which
// covers latencies in microseconds (1 us .. 2.8 h) and money in micros (1 micro .. 10,000 units):
//   1, 2.5, 5, 10, 25, 50, ..., 1e9, 2.5e9, 5e9, 1e10   (31 bounds, then +Inf)
// and the bounds envoy.yaml gives the latency histograms that the series lacks (1500, 2000, 3000,
// 4000 us): the p99 alert reads a bound on its 4 ms SLA. Without them the standalone host's p99
// was interpolated between 2500 and 5000 us, and a true p99 of 2.6 ms alerted as 4.5 ms (an audit).

import { MetricType, METRIC_TYPE_MAX, Status } from "./constants.ts";

/** envoy/envoy.yaml's latency bounds (µs) that the 1-2.5-5 series does not have (tests/deploy/envoy.test.ts keeps them in step). */
const ENVOY_LATENCY_BOUNDS_US: readonly number[] = [1500, 2000, 3000, 4000];

export const HISTOGRAM_BUCKETS: readonly number[] = (() => {
  const out: number[] = [];
  for (let d = 0; d < 10; d++) {
    const base = 10 ** d;
    out.push(base, 2.5 * base, 5 * base);
  }
  out.push(1e10);
  out.push(...ENVOY_LATENCY_BOUNDS_US);
  return [...new Set(out)].sort((x, y) => x - y);
})();

const NB = HISTOGRAM_BUCKETS.length;
const MAGIC = 0x50574d45; // "PWME"
const HEADER_BYTES = 64;
const H_MAGIC = 0;
const H_LOCK = 1;
const H_COUNT = 2;
const H_CAP = 3;
const NAME_MAX = 504;
const SLOT_HEAD = 8 + NAME_MAX; // type, name length, name bytes
const VALUE_WORDS = NB + 3; // buckets (NB + overflow), sum, count
const SLOT_BYTES = SLOT_HEAD + VALUE_WORDS * 8;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export interface MetricSnapshot {
  name: string;
  type: MetricType;
  /** Counter/gauge value. */
  value?: bigint;
  /** Histogram: non-cumulative counts per bucket (HISTOGRAM_BUCKETS, then +Inf). */
  buckets?: bigint[];
  sum?: bigint;
  count?: bigint;
}

export class MetricsRegistry {
  readonly buffer: SharedArrayBuffer;
  private readonly i32: Int32Array;
  private readonly u8: Uint8Array;
  private readonly u64: BigUint64Array;
  private readonly cap: number;

  private constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.i32 = new Int32Array(buffer);
    this.u8 = new Uint8Array(buffer);
    this.u64 = new BigUint64Array(buffer);
    if (Atomics.load(this.i32, H_MAGIC) !== MAGIC) throw new Error("MetricsRegistry.attach: not a metrics buffer");
    this.cap = this.i32[H_CAP]!;
  }

  /**
   * `maxMetrics` (default 8192, ~6 MiB of address space, touched as metrics are defined): Envoy
   * has no such limit and a metric is never removed, so the filter's per-campaign gauges grow with
   * every campaign id a set ever held (256 new ids a reload filled 1,024 after four reloads).
   */
  static create(options: { maxMetrics?: number } = {}): MetricsRegistry {
    const cap = Math.max(1, Math.floor(options.maxMetrics ?? 8192));
    const sab = new SharedArrayBuffer(HEADER_BYTES + cap * SLOT_BYTES);
    const i32 = new Int32Array(sab);
    i32[H_CAP] = cap;
    Atomics.store(i32, H_MAGIC, MAGIC);
    return new MetricsRegistry(sab);
  }

  static attach(buffer: SharedArrayBuffer): MetricsRegistry {
    return new MetricsRegistry(buffer);
  }

  get size(): number {
    return Atomics.load(this.i32, H_COUNT);
  }

  /** Finds or creates the metric; returns its slot, or a Status on failure. */
  define(type: number, name: string | Uint8Array): { slot: number } | { status: Status } {
    if (type < 0 || type > METRIC_TYPE_MAX) return { status: Status.BAD_ARGUMENT };
    const n = typeof name === "string" ? encoder.encode(name) : name;
    if (n.length > NAME_MAX) return { status: Status.BAD_ARGUMENT };
    this.lock();
    try {
      const count = this.i32[H_COUNT]!;
      for (let s = 0; s < count; s++) {
        const base = HEADER_BYTES + s * SLOT_BYTES;
        if (this.i32[(base + 4) >> 2] !== n.length) continue;
        let eq = true;
        for (let i = 0; i < n.length; i++) {
          if (this.u8[base + 8 + i] !== n[i]) {
            eq = false;
            break;
          }
        }
        if (!eq) continue;
        if (this.i32[base >> 2] !== type) return { status: Status.BAD_ARGUMENT };
        return { slot: s };
      }
      if (count >= this.cap) return { status: Status.INTERNAL_FAILURE };
      const base = HEADER_BYTES + count * SLOT_BYTES;
      this.i32[base >> 2] = type;
      this.i32[(base + 4) >> 2] = n.length;
      this.u8.set(n, base + 8);
      Atomics.store(this.i32, H_COUNT, count + 1);
      return { slot: count };
    } finally {
      this.unlock();
    }
  }

  typeOf(slot: number): MetricType {
    return this.i32[(HEADER_BYTES + slot * SLOT_BYTES) >> 2] as MetricType;
  }

  nameOf(slot: number): string {
    const base = HEADER_BYTES + slot * SLOT_BYTES;
    return decoder.decode(this.u8.slice(base + 8, base + 8 + this.i32[(base + 4) >> 2]!));
  }

  private word(slot: number, w: number): number {
    return ((HEADER_BYTES + slot * SLOT_BYTES + SLOT_HEAD) >> 3) + w;
  }

  /** Adds (mod 2^64) to a counter or gauge. */
  add(slot: number, delta: bigint): void {
    Atomics.add(this.u64, this.word(slot, 0), BigInt.asUintN(64, delta));
  }

  setValue(slot: number, value: bigint): void {
    Atomics.store(this.u64, this.word(slot, 0), BigInt.asUintN(64, value));
  }

  value(slot: number): bigint {
    return Atomics.load(this.u64, this.word(slot, 0));
  }

  observe(slot: number, value: bigint): void {
    const v = BigInt.asUintN(64, value);
    const num = Number(v);
    let b = 0;
    while (b < NB && num > HISTOGRAM_BUCKETS[b]!) b++;
    Atomics.add(this.u64, this.word(slot, b), 1n);
    Atomics.add(this.u64, this.word(slot, NB + 1), v);
    Atomics.add(this.u64, this.word(slot, NB + 2), 1n);
  }

  snapshot(): MetricSnapshot[] {
    const out: MetricSnapshot[] = [];
    const count = Atomics.load(this.i32, H_COUNT);
    for (let s = 0; s < count; s++) {
      const type = this.typeOf(s);
      const name = this.nameOf(s);
      if (type === MetricType.HISTOGRAM) {
        const buckets: bigint[] = [];
        for (let b = 0; b <= NB; b++) buckets.push(Atomics.load(this.u64, this.word(s, b)));
        out.push({
          name,
          type,
          buckets,
          sum: Atomics.load(this.u64, this.word(s, NB + 1)),
          count: Atomics.load(this.u64, this.word(s, NB + 2)),
        });
      } else {
        out.push({ name, type, value: this.value(s) });
      }
    }
    return out;
  }

  /** Looks a metric up by name (host side, e.g. tests and the control plane). */
  find(name: string): MetricSnapshot | undefined {
    return this.snapshot().find((m) => m.name === name);
  }

  private lock(): void {
    const i32 = this.i32;
    let c = Atomics.compareExchange(i32, H_LOCK, 0, 1);
    if (c === 0) return;
    do {
      if (c === 2 || Atomics.compareExchange(i32, H_LOCK, 1, 2) !== 0) Atomics.wait(i32, H_LOCK, 2, 100);
    } while ((c = Atomics.compareExchange(i32, H_LOCK, 0, 2)) !== 0);
  }

  private unlock(): void {
    if (Atomics.sub(this.i32, H_LOCK, 1) !== 1) {
      Atomics.store(this.i32, H_LOCK, 0);
      Atomics.notify(this.i32, H_LOCK, 1);
    }
  }
}

/** Per-VM metric ids (like Envoy's Wasm::counters_/gauges_/histograms_ maps). */
export class VmMetrics {
  /** Registry slot by metric id (ids are small: 4 per definition and type). */
  private readonly slots: number[] = [];
  private nextId = [0, 1, 2];

  constructor(readonly registry: MetricsRegistry) {}

  define(type: number, name: Uint8Array | string): { status: Status; id: number } {
    if (type < 0 || type > METRIC_TYPE_MAX) return { status: Status.BAD_ARGUMENT, id: 0 };
    const r = this.registry.define(type, name);
    if ("status" in r) return { status: r.status, id: 0 };
    const id = (this.nextId[type]! + 4) >>> 0;
    this.nextId[type] = id;
    this.slots[id] = r.slot;
    return { status: Status.OK, id };
  }

  private slotOf(id: number): number | undefined {
    return id < this.slots.length ? this.slots[id] : undefined;
  }

  increment(id: number, delta: bigint): Status {
    const type = id & 3;
    const slot = this.slotOf(id >>> 0);
    if (type === MetricType.COUNTER) {
      if (slot === undefined) return Status.NOT_FOUND;
      if (delta <= 0n) return Status.BAD_ARGUMENT;
      this.registry.add(slot, delta);
      return Status.OK;
    }
    if (type === MetricType.GAUGE) {
      if (slot === undefined) return Status.NOT_FOUND;
      this.registry.add(slot, delta);
      return Status.OK;
    }
    return Status.BAD_ARGUMENT;
  }

  record(id: number, value: bigint): Status {
    const slot = this.slotOf(id >>> 0);
    if (slot === undefined) return Status.NOT_FOUND;
    const type = id & 3;
    const v = BigInt.asUintN(64, value);
    if (type === MetricType.COUNTER) this.registry.add(slot, v);
    else if (type === MetricType.GAUGE) this.registry.setValue(slot, v);
    else if (type === MetricType.HISTOGRAM) this.registry.observe(slot, v);
    else return Status.NOT_FOUND;
    return Status.OK;
  }

  get(id: number): { status: Status; value: bigint } {
    const type = id & 3;
    if (type !== MetricType.COUNTER && type !== MetricType.GAUGE) return { status: Status.BAD_ARGUMENT, value: 0n };
    const slot = this.slotOf(id >>> 0);
    if (slot === undefined) return { status: Status.NOT_FOUND, value: 0n };
    return { status: Status.OK, value: this.registry.value(slot) };
  }
}

/** Envoy's stat name for a Wasm metric (what /stats shows). */
export function envoyStatName(name: string): string {
  return `wasmcustom.${name}`;
}

/**
 * The Prometheus name Envoy's /stats/prometheus gives a Wasm metric `name` (see the header
 * comment), with an optional prefix. Returns undefined when Envoy would not export it.
 */
export function exportedName(name: string, prefix = ""): string | undefined {
  const sanitized = (prefix + name).replace(/[^a-zA-Z0-9_]/g, "_");
  if (sanitized.length === 0 || /^[0-9]/.test(sanitized)) return undefined;
  return sanitized;
}

function formatBound(b: number): string {
  return Number.isInteger(b) ? b.toFixed(0) : String(b);
}

export interface PrometheusOptions {
  /** Prepended to every name before sanitising (default "": current Envoy). */
  prefix?: string;
  /**
   * A HELP line's text for an exported name (undefined: none). The ABI carries no description, so
   * Envoy prints none; a host that knows its filter can supply them.
   */
  help?: (name: string) => string | undefined;
}

/** Prometheus text format escapes in HELP: backslash and newline. */
function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

/** Prometheus text exposition (format 0.0.4) of every metric in the registry. */
export function renderPrometheus(registry: MetricsRegistry, options: PrometheusOptions = {}): string {
  const prefix = options.prefix ?? "";
  const lines: string[] = [];
  const seen = new Set<string>();
  for (const m of registry.snapshot()) {
    const name = exportedName(m.name, prefix);
    if (name === undefined || seen.has(name)) continue;
    seen.add(name);
    const help = options.help?.(name);
    if (help !== undefined) lines.push(`# HELP ${name} ${escapeHelp(help)}`);
    if (m.type === MetricType.HISTOGRAM) {
      lines.push(`# TYPE ${name} histogram`);
      let cum = 0n;
      for (let b = 0; b < NB; b++) {
        cum += m.buckets![b]!;
        lines.push(`${name}_bucket{le="${formatBound(HISTOGRAM_BUCKETS[b]!)}"} ${cum}`);
      }
      lines.push(`${name}_bucket{le="+Inf"} ${m.count}`);
      lines.push(`${name}_sum ${m.sum}`);
      lines.push(`${name}_count ${m.count}`);
    } else {
      lines.push(`# TYPE ${name} ${m.type === MetricType.COUNTER ? "counter" : "gauge"}`);
      lines.push(`${name} ${m.value}`);
    }
  }
  return lines.length === 0 ? "" : lines.join("\n") + "\n";
}
