// Win and loss notices that reach another pod than the one that bid (SECURITY.md G12). A bid's
// reservation lives in the shared data of the Envoy that made it, and a Service or load balancer
// in front of several pods can send the bid's notice URLs to any of them: that pod's ledger has
// no such bid. Such a notice (a well-formed bid id this pod does not know, not itself a forwarded
// one) goes to the host: POST /nexus/v1/notice-forward on host_cluster, body = the notice's
// :path. The host sends it to the other pods registered in Redis (with x-nexus-forwarded: 1, so
// they never forward it again) and answers with the owner's status and body, marked
// "x-nexus-notice-forward: <pod id>", or "none" when no pod knew the bid. The stream stays
// paused from on_request_headers until the answer, which goes back to the exchange as it is:
//   marked answer -> relayed (200 charged/refunded/..., 404 unknown bid id, 503 busy);
//   anything else -> 503 "retry the notice" (the host is down, slow or too old): the money may be
//                    another pod's, so a retry is wanted where a 404 would make the exchange stop.
// No allocation once warm, as replay-claim.ts.
import {
  HttpContextTable, HeaderMapWriter, CallToken, HostBytes, MapType, BufferType, Status, MetricType,
  httpCall, getHeaderMapValue, getBufferBytes, setEffectiveContext, defineMetric,
} from "../proxy-wasm";
import { bytesEqualAscii } from "../core/bytes/str";
import { PluginConfig } from "./config";
import { NexusRoot } from "./root";
import { NexusStream } from "./stream";
import { metrics } from "./metrics";
import { body, replyNoticeError, replyNoticeJson } from "./replies";
import { calloutKey, calloutStatus } from "./callout-key";

const MARK_KEY = memory.data<u8>([
  0x78, 0x2d, 0x6e, 0x65, 0x78, 0x75, 0x73, 0x2d, 0x6e, 0x6f, 0x74, 0x69, 0x63, 0x65, 0x2d, 0x66, 0x6f, 0x72, 0x77, 0x61, 0x72, 0x64,
]); // "x-nexus-notice-forward"
const MARK_KEY_LEN = 22;
/** Longest :path handed to the host (its limit, MAX_NOTICE_PATH_BYTES; the filter's notice URLs are far shorter). */
export const MAX_FORWARD_PATH_BYTES: i32 = 4096;
/** The owner's answer is a short JSON status; anything longer is not relayed. */
const MAX_ANSWER_BYTES: i32 = 4096;
/**
 * Forwards in flight per VM at most; more are answered 503 at once. Forged notices (any
 * well-formed bid id will do: SECURITY.md G4) must not fill host_cluster's connection pool and
 * circuit breakers, which the leader's budget syncs use too.
 */
export const MAX_FORWARDS_IN_FLIGHT: i32 = 32;

export class NoticeForwards {
  enabled: bool = false;
  private timeoutMs: i32 = 1000;
  private readonly root: NexusRoot;
  private readonly hdrs: HeaderMapWriter = new HeaderMapWriter(8, 2048);
  private readonly call: CallToken = new CallToken();
  private readonly value: HostBytes = new HostBytes();
  private readonly answer: HostBytes = new HostBytes();
  private readonly pending: HttpContextTable = new HttpContextTable(64);
  private readonly path: ArrayBuffer = String.UTF8.encode("/nexus/v1/notice-forward");
  /** The filter's wait, sent to the host so that it answers within it (x-nexus-forward-timeout-ms). */
  private timeoutHeader: string = "1000";
  private inFlight: i32 = 0;
  private started: u32 = 0;
  private settled: u32 = 0;
  private failures: u32 = 0;

  constructor(root: NexusRoot) {
    this.root = root;
  }

  /** Cold path (on_configure). */
  configure(cfg: PluginConfig): void {
    this.enabled = cfg.noticeForward;
    this.timeoutMs = cfg.noticeForwardTimeoutMs;
    this.timeoutHeader = cfg.noticeForwardTimeoutMs.toString();
    this.started = defineMetric(MetricType.COUNTER, "nexus_notice_forwards_total");
    this.settled = defineMetric(MetricType.COUNTER, "nexus_notice_forwards_settled_total");
    this.failures = defineMetric(MetricType.COUNTER, "nexus_notice_forward_failures_total");
  }

  /**
   * Hands the notice (its :path) to the host for the other pods. True: under way, the stream stays
   * paused and onResponse answers it. False: the call could not start, or MAX_FORWARDS_IN_FLIGHT
   * are out already (the caller answers 503).
   */
  begin(stream: NexusStream, pathPtr: usize, pathLen: i32): bool {
    const cfg = this.root.config;
    const h = this.hdrs;
    if (this.inFlight >= MAX_FORWARDS_IN_FLIGHT) {
      metrics.inc(this.failures);
      return false;
    }
    this.root.hostAuth.writeCallHeaders(h, cfg, "POST", changetype<usize>(this.path), this.path.byteLength, "text/plain");
    h.addAscii("x-nexus-forward-timeout-ms", this.timeoutHeader);
    metrics.inc(this.started);
    httpCall(cfg.hostCluster.ptr, cfg.hostCluster.len, h.ptr, h.len, pathPtr, pathLen, <u32>this.timeoutMs, this.call);
    if (this.call.status != Status.OK) {
      metrics.inc(this.failures);
      return false;
    }
    const key = calloutKey(this.call.token);
    stream.forwardToken = key;
    this.pending.set(key, stream);
    this.inFlight++;
    return true;
  }

  /** proxy_on_http_call_response: answers the forwarded notice's stream. False when `token` is not a forward's. */
  onResponse(token: u32, numHeaders: u32, bodySize: usize): bool {
    const key = calloutKey(token);
    const ctx = this.pending.remove(key);
    if (ctx === null) return false;
    this.inFlight--;
    const stream = changetype<NexusStream>(ctx);
    // The stream ended meanwhile (the exchange gave up): nothing to answer.
    if (stream.forwardToken != key || setEffectiveContext(stream.contextId) != Status.OK) return true;
    stream.forwardToken = 0;
    const status = numHeaders == 0 ? 0 : calloutStatus(this.value);
    const marked = numHeaders > 0 && getHeaderMapValue(MapType.HTTP_CALL_RESPONSE_HEADERS, MARK_KEY, MARK_KEY_LEN, this.value) == Status.OK;
    if (!marked || status < 200 || status > 599 || <i64>bodySize > <i64>MAX_ANSWER_BYTES) {
      metrics.inc(this.failures);
      replyNoticeError(503, "notice forward failed: retry the notice", "nexus_notice_forward_failed");
      return true;
    }
    if (bytesEqualAscii(this.value.ptr, this.value.len, "none")) {
      metrics.inc(metrics.noticeUnknown); // no pod knew it: charged nowhere
    } else {
      metrics.inc(this.settled);
    }
    body.reset();
    if (bodySize > 0) {
      getBufferBytes(BufferType.HTTP_CALL_RESPONSE_BODY, 0, bodySize, this.answer);
      if (this.answer.ok) body.bytes(this.answer.ptr, this.answer.len);
      this.answer.release();
    }
    replyNoticeJson(<u32>status, "nexus_notice_forwarded");
    return true;
  }

  /** The stream ends (proxy_on_delete): a pending forward's answer will be dropped. */
  drop(stream: NexusStream): void {
    stream.forwardToken = 0;
  }
}
