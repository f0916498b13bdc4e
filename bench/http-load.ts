// Load generator for the HTTP benchmark, run as its own process so it does not
// share the event loop with the server under test. Closed loop (--concurrency)
// or open loop at a fixed --rate; prints one JSON line with throughput, latency
// percentiles (ms), statuses and no-bid reasons.
//
// It speaks HTTP/1.1 over keep-alive sockets itself (net.Socket, one request in
// flight per connection, responses framed by Content-Length) instead of going
// through undici: on a 2-core machine the generator shares the cores with the
// server, and undici's ~25 µs of CPU per request made the generator, not the
// server, the limit (the bare node:http server "saturated" at the generator's
// rate, and at half rate the generator's own event-loop stalls were measured as
// server latency: p99 ≈ 17 ms for a server whose p50 was 0.08 ms). This one
// costs a few µs per request.
//
// Open loop: request k is due at start + k / rate. A 1 ms timer sends every
// request that is due on an idle connection; a due request that finds none
// waits in a backlog for the first connection to free up. Latency runs from
// the send, or from the moment the request was due when it had to wait for a
// connection: a server that falls behind is charged for the wait it causes
// (no coordinated omission), but not for the timer's granularity, which is the
// generator's (reported as sendLagP99: how late requests went out).
//
// Every request carries a fresh request id (bench/corpus.ts): the bodies file
// holds [text before the 8 id digits, text after] per body, and the digits are
// --id-base + a per-request counter, so no id repeats within or across runs.
import { parseArgs } from "node:util";
import { readFileSync } from "node:fs";
import { connect, type Socket } from "node:net";

const { values } = parseArgs({
  options: {
    url: { type: "string" },
    bodies: { type: "string" }, // JSON file: array of [before, after] (after is null: no id to stamp)
    concurrency: { type: "string", default: "32" },
    rate: { type: "string", default: "0" },
    seconds: { type: "string", default: "5" },
    warmup: { type: "string", default: "1" },
    "id-base": { type: "string", default: "0" },
  },
});
const target = new URL(values.url!);
const templates = JSON.parse(readFileSync(values.bodies!, "utf8")) as Array<[string, string | null]>;
const concurrency = Number(values.concurrency);
const rate = Number(values.rate);

/**
 * Every request prebuilt once: head + body as bytes, with the offset of the 8 id digits (-1: none).
 * A request is a copy of its template with the digits written in place (the length never changes).
 */
const requests = templates.map(([before, after]) => {
  const body = after === null ? before : before + "00000000" + after;
  const headText = `POST ${target.pathname}${target.search} HTTP/1.1\r\nhost: ${target.host}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n`;
  const bytes = Buffer.from(headText + body, "utf8");
  return { bytes, digitsAt: after === null ? -1 : Buffer.byteLength(headText + before) };
});

let i = 0;
let id = Number(values["id-base"]);
function nextRequest(): Buffer {
  const t = requests[i++ % requests.length]!;
  const out = Buffer.allocUnsafe(t.bytes.length);
  t.bytes.copy(out);
  if (t.digitsAt >= 0) {
    let n = id++ % 1e8;
    for (let k = 7; k >= 0; k--) {
      out[t.digitsAt + k] = 0x30 + (n % 10);
      n = Math.floor(n / 10);
    }
  }
  return out;
}

// ---- results ----
let recording = false;
let latencies: number[] = [];
let lags: number[] = [];
let statuses: Record<string, number> = {};
let nobid: Record<string, number> = {};
let errors = 0;
const cpu0 = process.cpuUsage();
/** Answers received, warm-up included (the server's CPU time is divided by it). */
let answered = 0;

const CRLFCRLF = Buffer.from("\r\n\r\n");
const EMPTY = Buffer.alloc(0);
const CONTENT_LENGTH = Buffer.from("content-length:");
const NOBID_REASON = Buffer.from("x-nexus-nobid-reason:");

/** True if the header line at `at` starts with `name` (lower-case, with its colon), ignoring case. */
function headerIs(b: Buffer, at: number, lineEnd: number, name: Buffer): boolean {
  if (lineEnd - at < name.length) return false;
  for (let k = 0; k < name.length; k++) if ((b[at + k]! | 0x20) !== name[k]! && b[at + k] !== name[k]) return false;
  return true;
}

/**
 * The status, body offset, Content-Length (-1: none; 0 for 204/304) and no-bid reason of the
 * response head at the start of `b`; null while the head is incomplete. Reads bytes, no strings
 * but the rare reason.
 */
function parseResponseHead(b: Buffer): { status: number; bodyAt: number; length: number; reason: string | undefined } | null {
  const end = b.indexOf(CRLFCRLF);
  if (end < 0) return null;
  const status = (b[9]! - 0x30) * 100 + (b[10]! - 0x30) * 10 + (b[11]! - 0x30);
  let length = status === 204 || status === 304 ? 0 : -1;
  let reason: string | undefined;
  let at = b.indexOf(13) + 2; // the first header line
  while (at < end) {
    let lineEnd = b.indexOf(13, at);
    if (lineEnd < 0 || lineEnd > end) lineEnd = end;
    if (length < 0 && headerIs(b, at, lineEnd, CONTENT_LENGTH)) {
      let v = 0;
      for (let k = at + CONTENT_LENGTH.length; k < lineEnd; k++) if (b[k]! >= 0x30 && b[k]! <= 0x39) v = v * 10 + b[k]! - 0x30;
      length = v;
    } else if (headerIs(b, at, lineEnd, NOBID_REASON)) {
      reason = b.toString("latin1", at + NOBID_REASON.length, lineEnd).trim();
    }
    at = lineEnd + 2;
  }
  return { status, bodyAt: end + 4, length, reason };
}

/** One keep-alive connection with at most one request in flight. */
class Connection {
  private socket: Socket;
  private buf: Buffer = EMPTY;
  /** Where the latency of the request in flight starts (hrtime ns); 0n when idle. */
  due = 0n;
  private ready = false;

  constructor(private readonly onIdle: (c: Connection) => void) {
    this.socket = this.open();
  }

  private open(): Socket {
    this.ready = false;
    this.buf = EMPTY;
    const s = connect({ host: target.hostname, port: Number(target.port || 80), noDelay: true });
    s.on("connect", () => {
      this.ready = true;
      if (this.due === 0n) this.onIdle(this);
    });
    s.on("data", (d: Buffer) => this.data(d));
    s.on("error", () => {});
    s.on("close", () => this.lost());
    return s;
  }

  get idle(): boolean {
    return this.ready && this.due === 0n;
  }

  /** Sends `req`, due at `due`; its latency starts at `due` if it waited for a connection, else now. */
  send(req: Buffer, due: bigint, waited: boolean): void {
    const now = process.hrtime.bigint();
    this.due = waited ? due : now;
    if (recording) lags.push(Number(now - due) / 1e6);
    this.socket.write(req);
  }

  private lost(): void {
    if (this.due !== 0n && recording) errors++;
    this.due = 0n;
    if (!stopped) this.socket = this.open();
  }

  private data(d: Buffer): void {
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
    const r = parseResponseHead(this.buf);
    if (r === null) return;
    if (r.length < 0) {
      // Only Content-Length framing is spoken here; both servers under test always send it.
      if (recording) errors++;
      this.due = 0n;
      this.socket.destroy();
      return;
    }
    if (this.buf.length < r.bodyAt + r.length) return;
    const rest = this.buf.subarray(r.bodyAt + r.length);
    this.buf = rest.length > 0 ? Buffer.from(rest) : EMPTY;
    const due = this.due;
    this.due = 0n;
    answered++;
    if (recording) {
      latencies.push(Number(process.hrtime.bigint() - due) / 1e6);
      statuses[r.status] = (statuses[r.status] ?? 0) + 1;
      if (r.reason !== undefined) nobid[r.reason] = (nobid[r.reason] ?? 0) + 1;
    }
    this.onIdle(this);
  }

  close(): void {
    this.socket.destroy();
  }
}

let stopped = false;
let phaseEnd = 0n;

// ---- closed loop: every connection sends its next request as soon as its answer is in ----
function closedIdle(c: Connection): void {
  const now = process.hrtime.bigint();
  if (now < phaseEnd) c.send(nextRequest(), now, false);
  else maybeDone();
}

// ---- open loop ----
let sent = 0;
let total = 0;
let start = 0n;
/** Due times of requests that found no idle connection (sent first when one frees up). */
const backlog: bigint[] = [];
const idleConns: Connection[] = [];

function openIdle(c: Connection): void {
  const due = backlog.shift();
  if (due !== undefined) c.send(nextRequest(), due, true);
  else {
    idleConns.push(c);
    maybeDone();
  }
}

function openTick(): void {
  const now = process.hrtime.bigint();
  while (sent < total) {
    const due = start + BigInt(Math.round((sent * 1e9) / rate));
    if (due > now) break;
    sent++;
    let c = idleConns.pop();
    while (c !== undefined && !c.idle) c = idleConns.pop();
    if (c !== undefined) c.send(nextRequest(), due, false);
    else backlog.push(due);
  }
  if (sent < total) setTimeout(openTick, 1);
}

let finish: (() => void) | undefined;
function maybeDone(): void {
  if (finish === undefined) return;
  const busy = conns.some((c) => c.due !== 0n);
  const moreToSend = rate > 0 ? sent < total || backlog.length > 0 : process.hrtime.bigint() < phaseEnd;
  if (!busy && !moreToSend) {
    const f = finish;
    finish = undefined;
    f();
  }
}

let conns: Connection[] = [];

async function runPhase(ms: number): Promise<void> {
  const done = new Promise<void>((r) => (finish = r));
  if (rate > 0) {
    sent = 0;
    total = Math.floor((rate * ms) / 1000);
    start = process.hrtime.bigint();
    if (conns.length === 0) conns = Array.from({ length: concurrency }, () => new Connection(openIdle));
    openTick();
  } else {
    phaseEnd = process.hrtime.bigint() + BigInt(ms) * 1_000_000n;
    if (conns.length === 0) conns = Array.from({ length: concurrency }, () => new Connection(closedIdle));
    else for (const c of conns) if (c.idle) closedIdle(c);
  }
  // A phase also ends when the server stops answering: give it 10 s beyond its length.
  const timeout = setTimeout(() => finish?.(), ms + 10_000);
  await done;
  clearTimeout(timeout);
}

const warmupMs = Number(values.warmup) * 1000;
if (warmupMs > 0) await runPhase(warmupMs);
recording = true;
latencies = [];
lags = [];
statuses = {};
nobid = {};
errors = 0;
const t0 = process.hrtime.bigint();
await runPhase(Number(values.seconds) * 1000);
const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
const cpu = process.cpuUsage(cpu0);
stopped = true;
for (const c of conns) c.close();
latencies.sort((a, b) => a - b);
lags.sort((a, b) => a - b);
const q = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))] ?? NaN;
console.log(
  JSON.stringify({
    requests: latencies.length,
    rps: latencies.length / elapsed,
    p50: q(latencies, 0.5),
    p90: q(latencies, 0.9),
    p99: q(latencies, 0.99),
    max: latencies[latencies.length - 1] ?? NaN,
    sendLagP99: q(lags, 0.99),
    errors,
    // The generator's own CPU per answer (µs): it shares the machine with the server.
    generatorCpuUsPerRequest: (cpu.user + cpu.system) / answered,
    statuses,
    nobid,
    answered,
  }),
);
