// One HTTP stream through the filter: bid requests (POST, body buffered to the
// end, then one decision and a local reply) and win/loss notices (GET, answered
// at the headers). Paths that are not ours continue down Envoy's filter chain.
// Holds no business logic: it reads, calls the root's engine, replies.
import {
  HttpContext, Action, MapType, BufferType, HostBytes, HeaderMapReader,
  getHeaderMapPairs, getBufferBytes, currentTimeNanos,
} from "../proxy-wasm";
import { Str, bytesEqual, bytesEqualAscii, bytesEqualAsciiIgnoreCase } from "../core/bytes/str";
import { NexusRoot } from "./root";
import { pathLength } from "./query";
import { replyErrorText, replyMethodNotAllowed } from "./replies";
import { metrics } from "./metrics";
import { monotonicNanos } from "./monotonic";

const enum Route {
  NONE = 0,
  BID = 1,
  WIN = 2,
  LOSS = 3,
}

const pairs = new HostBytes();
const bodyBytes = new HostBytes();
const headerMap = new HeaderMapReader();

export class NexusStream extends HttpContext {
  nexus: NexusRoot;
  route: i32 = Route.NONE;
  /** Wall clock when the headers came: the decision's time of day (pacing windows, features). */
  startNanos: u64 = 0;
  /** Monotonic clock when the headers came (-1: the host has none): what elapsedNanos() counts from. */
  startMono: i64 = -1;
  replied: bool = false;
  /** "<scheme>://<authority>" of this request, for notice URLs (copied: headers die with the callback). */
  // Managed memory (not heap.alloc): a stream the root's pool has no room for is collected with
  // its buffer; a raw block would leak 300 bytes each time (a flood of open streams under Envoy).
  private readonly authorityBytes: StaticArray<u8> = new StaticArray<u8>(300);
  readonly authority: usize = changetype<usize>(this.authorityBytes);
  authorityLen: i32 = 0;
  /** The :authority could not go into a URL (bytes outside RFC 3986 host[:port], or too long). */
  badAuthority: bool = false;
  /** Body bytes buffered so far (body_size is cumulative while we PAUSE). */
  bodySize: usize = 0;
  /** Pending-table key (callout token + 1) of this request's replay claim (replay-claim.ts), 0 if none. */
  claimToken: u32 = 0;
  /** Pending-table key (callout token + 1) of this notice's forward to the other pods (notice-forward.ts), 0 if none. */
  forwardToken: u32 = 0;
  /** elapsedNanos() when this request's replay claim went out. */
  claimStartNanos: i64 = 0;

  constructor(root: NexusRoot) {
    super();
    this.nexus = root;
  }

  recycle(): void {
    this.route = Route.NONE;
    this.startNanos = 0;
    this.startMono = -1;
    this.replied = false;
    this.authorityLen = 0;
    this.badAuthority = false;
    this.bodySize = 0;
    this.claimToken = 0;
    this.forwardToken = 0;
  }

  /**
   * Nanoseconds since the headers came, never negative. Counted on the monotonic clock: the wall
   * clock can step (NTP, a resumed host), and a step back made this a u64 wrap that timed the
   * decision out and put ~1.8e16 into the latency histogram. The wall clock only on a host
   * without a monotonic one.
   */
  elapsedNanos(): i64 {
    if (this.startMono >= 0) {
      const now = monotonicNanos();
      if (now >= 0) return now > this.startMono ? now - this.startMono : 0;
    }
    const wall = <i64>currentTimeNanos();
    return wall > <i64>this.startNanos ? wall - <i64>this.startNanos : 0;
  }

  onRequestHeaders(numHeaders: u32, endOfStream: bool): u32 {
    const root = this.nexus;
    const cfg = root.config;
    getHeaderMapPairs(MapType.HTTP_REQUEST_HEADERS, pairs);
    headerMap.bind(pairs.ptr, pairs.len);
    if (!headerMap.findAscii(":path")) return Action.CONTINUE;
    const pathPtr = headerMap.valuePtr;
    const pathLen = headerMap.valueLen;
    const plen = pathLength(pathPtr, pathLen);

    if (bytesEqual(pathPtr, plen, cfg.bidPath.ptr, cfg.bidPath.len)) {
      this.route = Route.BID;
      this.startNanos = currentTimeNanos();
      this.startMono = monotonicNanos();
      metrics.inc(metrics.requests);
      if (!methodIs("POST")) return this.methodNotAllowed("POST", "method not allowed: use POST");
      if (headerMap.findAscii("content-encoding") && !valueIs("identity")) {
        // Envoy's decompressor runs before this filter and removes the header.
        return this.fail(415, "unsupported content-encoding", "nexus_encoding");
      }
      if (headerMap.findAscii("content-length") && contentLengthAbove(cfg.maxBodyBytes)) {
        metrics.inc(metrics.tooLarge);
        return this.fail(413, "body larger than max_body_bytes", "nexus_too_large");
      }
      this.captureAuthority();
      if (endOfStream) {
        metrics.inc(metrics.badRequests);
        return this.fail(400, "$: empty body", "nexus_bad_request");
      }
      // CONTINUE, not PAUSE: Envoy's host turns a PAUSE from on_request_headers
      // into StopAllIteration, and then the body is never delivered to this
      // filter. The body callbacks PAUSE (buffer) until the end of the stream,
      // and envoy.yaml puts the buffer filter after this one so the headers
      // never reach the router: every bid request ends in our local reply.
      return Action.CONTINUE;
    }
    const isWin = bytesEqual(pathPtr, plen, cfg.winPath.ptr, cfg.winPath.len);
    const isLoss = !isWin && bytesEqual(pathPtr, plen, cfg.lossPath.ptr, cfg.lossPath.len);
    if (isWin || isLoss) {
      this.route = isWin ? Route.WIN : Route.LOSS;
      if (!methodIs("GET") && !methodIs("POST")) return this.methodNotAllowed("GET, POST", "method not allowed");
      root.handleNotice(isWin, pathPtr, pathLen, this, headerMap.findAscii("x-nexus-forwarded"));
      this.replied = true;
      return Action.PAUSE;
    }
    if (cfg.trapPath.len > 0 && bytesEqual(pathPtr, plen, cfg.trapPath.ptr, cfg.trapPath.len)) {
      // Test-only (test_trap_path): a deliberate trap, to prove the host survives one.
      unreachable();
    }
    return Action.CONTINUE;
  }

  onRequestBody(bodySize: usize, endOfStream: bool): u32 {
    if (this.route != Route.BID) return Action.CONTINUE;
    if (this.replied) return Action.PAUSE;
    this.bodySize = bodySize;
    const root = this.nexus;
    if (<i64>bodySize > <i64>root.config.maxBodyBytes) {
      metrics.inc(metrics.tooLarge);
      return this.fail(413, "body larger than max_body_bytes", "nexus_too_large");
    }
    if (!endOfStream) return Action.PAUSE; // keep buffering; body_size is cumulative
    if (bodySize == 0) {
      metrics.inc(metrics.badRequests);
      return this.fail(400, "$: empty body", "nexus_bad_request");
    }
    getBufferBytes(BufferType.HTTP_REQUEST_BODY, 0, bodySize, bodyBytes);
    if (!bodyBytes.ok) {
      metrics.inc(metrics.badRequests);
      return this.fail(400, "$: empty body", "nexus_bad_request");
    }
    root.handleBid(bodyBytes.ptr, bodyBytes.len, this);
    bodyBytes.release();
    this.replied = true;
    return Action.PAUSE;
  }

  onRequestTrailers(numTrailers: u32): u32 {
    // Trailers end the stream without an end_of_stream body chunk: decide on what was buffered.
    if (this.route == Route.BID && !this.replied) return this.onRequestBody(this.bodySize, true);
    return Action.CONTINUE;
  }

  private fail(status: u32, message: string, details: string): u32 {
    replyErrorText(status, message, details);
    this.replied = true;
    return Action.PAUSE;
  }

  private methodNotAllowed(allow: string, message: string): u32 {
    replyMethodNotAllowed(allow, message);
    this.replied = true;
    return Action.PAUSE;
  }

  private captureAuthority(): void {
    let n = 0;
    const scheme = headerMap.findAscii(":scheme") ? headerMap.valueLen : 0;
    if (scheme > 0 && scheme < 16) {
      memory.copy(this.authority, headerMap.valuePtr, <usize>scheme);
      n = scheme;
    } else {
      store<u32>(this.authority, 0x70747468); // "http"
      n = 4;
    }
    store<u8>(this.authority + <usize>(n++), 0x3a);
    store<u8>(this.authority + <usize>(n++), 0x2f);
    store<u8>(this.authority + <usize>(n++), 0x2f);
    this.badAuthority = true;
    if (headerMap.findAscii(":authority") && headerMap.valueLen > 0 && headerMap.valueLen < 256 && isUrlHost(headerMap.valuePtr, headerMap.valueLen)) {
      memory.copy(this.authority + <usize>n, headerMap.valuePtr, <usize>headerMap.valueLen);
      n += headerMap.valueLen;
      this.badAuthority = false;
    }
    this.authorityLen = n;
  }

  /** The notice base for this request's bid URLs. */
  noticeBase(out: Str): Str {
    const cfg = this.nexus.config;
    if (cfg.noticeBaseUrl.len > 0) out.set(cfg.noticeBaseUrl.ptr, cfg.noticeBaseUrl.len);
    else out.set(this.authority, this.authorityLen);
    return out;
  }
}

function methodIs(m: string): bool {
  return headerMap.findAscii(":method") && bytesEqualAscii(headerMap.valuePtr, headerMap.valueLen, m);
}

function valueIs(v: string): bool {
  return bytesEqualAsciiIgnoreCase(headerMap.valuePtr, headerMap.valueLen, v);
}

/** True if the content-length header value is above `max` (or not a plain number). */
function contentLengthAbove(max: i32): bool {
  const p = headerMap.valuePtr;
  const n = headerMap.valueLen;
  if (n == 0 || n > 12) return n > 12;
  let v: i64 = 0;
  for (let i = 0; i < n; i++) {
    const c = load<u8>(p + <usize>i);
    if (c < 0x30 || c > 0x39) return false; // let the body size check decide
    v = v * 10 + <i64>(c - 0x30);
  }
  return v > <i64>max;
}

/** RFC 3986 host[:port] bytes only (reg-name, IPv4, [IPv6]): safe inside a URL and a JSON string. */
function isUrlHost(p: usize, n: i32): bool {
  for (let i = 0; i < n; i++) {
    const c = load<u8>(p + <usize>i);
    const ok =
      (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) ||
      c == 0x2d || c == 0x2e || c == 0x3a || c == 0x5b || c == 0x5d || c == 0x5f || c == 0x7e;
    if (!ok) return false;
  }
  return true;
}
