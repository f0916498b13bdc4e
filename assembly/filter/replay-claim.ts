// Cross-pod replay protection: after the local guard (replay-guard.ts: the VMs
// of this Envoy process) let a request id through, the filter asks the host to
// claim it in the Redis every pod shares (docs/SYNC_PROTOCOL.md, "Replay
// claims"), and bids only if this pod is the first to claim it within the TTL.
//
//   on_request_body (end of stream): parse, decide against a probe that reserves
//   nothing (replay-gate.ts: a request that would not bid is answered there, unclaimed),
//   local guard, then
//     proxy_http_call(replay_cluster (default host_cluster), POST /nexus/v1/replay?ttl_ms=<replay_ttl_ms>,
//                     body = the request id, timeout = min(replay_claim_timeout_ms,
//                     what is left of the request's time budget))
//     and PAUSE the stream. Nothing is reserved before the answer.
//   proxy_on_http_call_response(root, token, ...) arrives on the ROOT context
//   (ABI 0.2.1); the token maps to the stream, proxy_set_effective_context(stream)
//   makes the following host calls act on it, then:
//     200 claimed        -> re-read the buffered body (readable while the stream is
//                           paused from on_request_body: spec v0.2.1 "Buffers"),
//                           parse it again and run the normal decision and reply;
//     409 seen           -> no-bid "replay" (nexus_replay_claims_seen_total);
//     anything else      -> a failed claim (nexus_replay_claim_failures_total): a
//       (num_headers 0 =    reset, no answer in time (Envoy's AsyncClient answers
//        a reset)           504), 401, 503 from a host without Redis or with Redis
//                           down): replay_claim_failure "open"
//                           decides as if claimed, "closed" answers no-bid
//                           "contention". The local guard applied in both cases.
//                           A 4xx answer (other than 409) is also counted in
//                           nexus_replay_claims_rejected_total: the host refused the
//                           claim itself (401 wrong sync token, 400, 404, 413), a
//                           configuration error rather than a transient failure; it
//                           is a failure all the same (same fail mode, same counter).
//                           So is an unknown replay_cluster (proxy_http_call refuses
//                           it with BAD_ARGUMENT before the claim starts).
// A stream that ends while its claim is pending (reset, Envoy's request timeout)
// only clears its token (drop); the answer, which Envoy always delivers (success,
// failure or timeout), then finds no live claim and is counted
// (nexus_replay_claims_abandoned_total). A request whose time budget has less
// than 1 ms left cannot be checked and gets no-bid "timeout", whatever the fail
// mode: a request field must not be able to switch the check off.
//
// No allocation once warm: the header map, the call token and the status copy are
// reused; the pending table (token -> stream) is sized once and only grows past a
// new peak of concurrent claims.
import {
  HttpContextTable, HeaderMapWriter, CallToken, HostBytes, MapType, Status, MetricType,
  httpCall, getHeaderMapValue, setEffectiveContext, defineMetric, recordMetric,
} from "../proxy-wasm";
import { bytesEqualAscii } from "../core/bytes/str";
import { NoBid } from "../core/bidding/reasons";
import { PluginConfig } from "./config";
import { NexusRoot } from "./root";
import { NexusStream } from "./stream";
import { metrics } from "./metrics";
import { replyNoBid } from "./replies";
import { calloutKey, calloutStatus } from "./callout-key";

/** begin(): the claim is under way; its answer finishes the request. */
export const CLAIM_PENDING: i32 = -1;

/**
 * The host marks its claim answers ("x-nexus-replay: claimed" with 200, "seen" with 409): a 200 or
 * 409 without the mark comes from something else (a replay_cluster pointed at the wrong upstream)
 * and is a failure, not a claim: otherwise every claim would "succeed" with healthy counters.
 */
const MARK_KEY = memory.data<u8>([0x78, 0x2d, 0x6e, 0x65, 0x78, 0x75, 0x73, 0x2d, 0x72, 0x65, 0x70, 0x6c, 0x61, 0x79]); // "x-nexus-replay"
const MARK_KEY_LEN = 14;

export class ReplayClaims {
  enabled: bool = false;
  failOpen: bool = true;
  timeoutMs: i32 = 2;
  private readonly root: NexusRoot;
  private readonly hdrs: HeaderMapWriter = new HeaderMapWriter(8, 2048);
  private readonly call: CallToken = new CallToken();
  private readonly statusBytes: HostBytes = new HostBytes();
  private readonly pending: HttpContextTable = new HttpContextTable(256);
  private path: ArrayBuffer = new ArrayBuffer(0);
  private started: u32 = 0;
  private claimed: u32 = 0;
  private seen: u32 = 0;
  private failures: u32 = 0;
  private rejected: u32 = 0;
  private abandoned: u32 = 0;
  private latencyUs: u32 = 0;

  constructor(root: NexusRoot) {
    this.root = root;
  }

  /** Cold path (on_configure, after the replay guard). */
  configure(cfg: PluginConfig): void {
    this.enabled = cfg.replayClaim && cfg.replayTtlMs > 0;
    this.failOpen = cfg.replayClaimFailOpen;
    this.timeoutMs = cfg.replayClaimTimeoutMs;
    this.path = String.UTF8.encode("/nexus/v1/replay?ttl_ms=" + cfg.replayTtlMs.toString());
    this.started = defineMetric(MetricType.COUNTER, "nexus_replay_claims_total");
    this.claimed = defineMetric(MetricType.COUNTER, "nexus_replay_claims_claimed_total");
    this.seen = defineMetric(MetricType.COUNTER, "nexus_replay_claims_seen_total");
    this.failures = defineMetric(MetricType.COUNTER, "nexus_replay_claim_failures_total");
    this.rejected = defineMetric(MetricType.COUNTER, "nexus_replay_claims_rejected_total");
    this.abandoned = defineMetric(MetricType.COUNTER, "nexus_replay_claims_abandoned_total");
    this.latencyUs = defineMetric(MetricType.HISTOGRAM, "nexus_replay_claim_latency_us");
  }

  /**
   * Claims the request id for `stream`. Returns CLAIM_PENDING (the stream stays
   * paused; onResponse finishes it), NoBid.NONE (the call could not start and the
   * fail mode is open: decide now), or a no-bid reason.
   */
  begin(stream: NexusStream, idPtr: usize, idLen: i32, remainingNanos: i64): i32 {
    const leftMs = remainingNanos / 1000000;
    if (leftMs < 1) return NoBid.TIMEOUT; // no time to check: never skip the check
    const timeout = leftMs < <i64>this.timeoutMs ? <i32>leftMs : this.timeoutMs;
    const cfg = this.root.config;
    const h = this.hdrs;
    this.root.hostAuth.writeCallHeaders(h, cfg, "POST", changetype<usize>(this.path), this.path.byteLength, "application/octet-stream");
    metrics.inc(this.started);
    httpCall(cfg.replayCluster.ptr, cfg.replayCluster.len, h.ptr, h.len, idPtr, idLen, <u32>timeout, this.call);
    if (this.call.status != Status.OK) {
      // The claim failed before it started. BAD_ARGUMENT is an unknown cluster (or headers the
      // host refuses): a configuration error no retry fixes, counted with the host's refusals.
      metrics.inc(this.failures);
      if (this.call.status == Status.BAD_ARGUMENT) metrics.inc(this.rejected);
      return this.failOpen ? NoBid.NONE : NoBid.CONTENTION;
    }
    const key = calloutKey(this.call.token);
    stream.claimToken = key;
    stream.claimStartNanos = stream.elapsedNanos();
    this.pending.set(key, stream);
    return CLAIM_PENDING;
  }

  /** proxy_on_http_call_response: finishes the claim's stream. False when `token` is not a claim's. */
  onResponse(token: u32, numHeaders: u32): bool {
    const key = calloutKey(token);
    const ctx = this.pending.remove(key);
    if (ctx === null) return false;
    const stream = changetype<NexusStream>(ctx);
    if (stream.claimToken != key || setEffectiveContext(stream.contextId) != Status.OK) {
      metrics.inc(this.abandoned); // the stream ended while its claim was pending
      return true;
    }
    stream.claimToken = 0;
    // Both readings count from the stream's start on its monotonic clock (never negative).
    const now = stream.elapsedNanos();
    if (now >= stream.claimStartNanos) recordMetric(this.latencyUs, <u64>((now - stream.claimStartNanos) / 1000));
    let status = numHeaders == 0 ? 0 : calloutStatus(this.statusBytes);
    if ((status == 200 || status == 409) && !this.markIs(status == 200 ? "claimed" : "seen")) status = 502;
    if (status == 409) {
      metrics.inc(this.seen);
      metrics.noBid(NoBid.REPLAY);
      replyNoBid(NoBid.REPLAY);
      return true;
    }
    if (status != 200) {
      metrics.inc(this.failures);
      // Refused by the host (not 409, handled above), or not the host's answer (no mark): a
      // configuration error; still a failure.
      if ((status >= 400 && status < 500) || status == 502) metrics.inc(this.rejected);
      if (!this.failOpen) {
        metrics.noBid(NoBid.CONTENTION);
        replyNoBid(NoBid.CONTENTION);
        return true;
      }
    } else {
      metrics.inc(this.claimed);
    }
    this.root.resumeBid(stream);
    return true;
  }

  /** The stream ends (proxy_on_delete): a pending claim's answer will be dropped. */
  drop(stream: NexusStream): void {
    stream.claimToken = 0;
  }

  /** True when the callout's answer carries the host's mark with this value (MARK_KEY). */
  private markIs(value: string): bool {
    const b = this.statusBytes;
    return getHeaderMapValue(MapType.HTTP_CALL_RESPONSE_HEADERS, MARK_KEY, MARK_KEY_LEN, b) == Status.OK && bytesEqualAscii(b.ptr, b.len, value);
  }
}
