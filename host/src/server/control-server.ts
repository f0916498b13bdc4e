// The control-plane HTTP server (loopback by default): health, readiness,
// metrics, the filter's endpoints (/nexus/v1/*: sync, config, model, replay
// claims; bearer sync token) and the admin API (bearer admin token).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createHash, randomUUID, timingSafeEqual } from "node:crypto";
import type { AddressInfo } from "node:net";
import { Counter } from "prom-client";
import type { Logger } from "../log.ts";
import type { SyncService } from "../control/sync-service.ts";
import { SyncError } from "../control/sync-service.ts";
import type { CampaignCatalog, CampaignChanges, CampaignDoc } from "../control/campaigns.ts";
import { overrideJson } from "../control/campaign-overrides.ts";
import type { FleetOverrides } from "../control/fleet-overrides.ts";
import { campaignCall, refuseCampaignChange, type CampaignAction } from "./admin-campaigns.ts";
import type { ModelRegistry } from "../control/model-registry.ts";
import type { BudgetSource } from "../control/budget.ts";
import { MAX_REPLAY_ID_BYTES, type ReplayClaimService } from "../control/replay-claims.ts";
import { MAX_NOTICE_PATH_BYTES, NOTICE_FORWARD_MARK, type NoticeForwardService } from "../control/notice-forward.ts";
import type { HostMetrics } from "./host-metrics.ts";
import { BadEncoding, BodyTooLarge, readBody, readJson, sendJson, sendText } from "./http-util.ts";
import { closeServer, listen } from "./http-util.ts";

/** Largest sync report accepted (a report is about 300 bytes per campaign). */
export const MAX_SYNC_BODY_BYTES = 4 << 20;
/** Content encodings readBody can decode. */

export interface ControlDeps {
  sync: SyncService;
  catalog: CampaignCatalog;
  models: ModelRegistry;
  budget: BudgetSource;
  metrics: HostMetrics;
  log: Logger;
  adminToken: string;
  /** Bearer token of the filter's endpoints (/nexus/v1/*); empty: every filter call is refused. */
  syncToken: string;
  /** Notices of other pods' bids (POST /nexus/v1/notice-forward); absent: answered 404 "none" (no other pod). */
  notices?: NoticeForwardService;
  /** Cross-pod replay claims (POST /nexus/v1/replay); absent: answered 503. */
  replay?: ReplayClaimService;
  /** Extra Prometheus text appended to /metrics (the filter's metrics in standalone mode). */
  filterMetrics?: () => string;
  /**
   * Liveness beyond "the event loop answers" (standalone: the VMs' shared data is not wedged):
   * a reason makes /healthz a 503, so that the orchestrator restarts the process.
   */
  liveness?: () => string | undefined;
  /** Extra readiness checks (standalone: the filter VMs loaded the model). */
  readiness?: () => { ok: boolean; reasons: string[] };
  state?: () => Record<string, unknown>;
  /** Re-reads the campaigns file and replaces the set (POST /admin/v1/campaigns/reload); absent: 404. */
  reloadCampaigns?: () => Promise<CampaignChanges>;
  /** Fleet-wide admin changes (Redis budget source); absent: they change this process only. */
  overrides?: FleetOverrides;
}

export class ControlServer {
  readonly server: Server;
  /** Filter-endpoint calls refused for a missing or wrong sync token, by endpoint. */
  private readonly unauthorizedCalls: Counter<"endpoint">;
  private lastUnauthorizedLogMs = 0;
  private readonly closers: Array<() => void> = [];
  /** Campaigns with a nexus_host_granted_micros series. */
  private readonly grantedIds = new Set<string>();

  constructor(private readonly d: ControlDeps) {
    const name = "nexus_host_filter_unauthorized_total";
    this.unauthorizedCalls =
      (d.metrics.registry.getSingleMetric(name) as Counter<"endpoint"> | undefined) ??
      new Counter({ name, help: "Calls to the filter endpoints (/nexus/v1/*) refused for a missing or wrong sync token", labelNames: ["endpoint"], registers: [d.metrics.registry] });
    // A client may hold a socket only this long sending its request (Node's default is 300 s).
    // Idle keep-alive connections live 65 s (Node's default, 5 s, is shorter than Envoy's pooled
    // connections to the host wait: envoy.yaml drops them after 30 s idle, before this does, so
    // a sync is never sent on a connection the host is closing).
    this.server = createServer({ requestTimeout: 30_000, keepAliveTimeout: 65_000 }, (req, res) => {
      this.route(req, res).catch((err: Error) => {
        const status = requestErrorStatus(err);
        // A client's bad request (4xx: bad JSON, too large) is the client's error, not the host's.
        if (status !== undefined && status < 500) d.log.warn({ event: "control_bad_request", status, err: err.message, path: req.url }, "control request refused");
        else d.log.error({ event: "control_error", err: err.message, path: req.url }, "control request failed");
        if (!res.headersSent) sendJson(res, status ?? 500, { error: status ? requestErrorMessage(err, status) : "internal error" });
        else res.destroy();
      });
    });
  }

  listen(port: number, host: string): Promise<AddressInfo> {
    return listen(this.server, port, host);
  }

  /** Runs `fn` when the server closes (the control plane's timers). */
  onClose(fn: () => void): void {
    this.closers.push(fn);
  }

  async close(): Promise<void> {
    for (const fn of this.closers.splice(0)) fn();
    await closeServer(this.server);
    await this.d.replay?.close();
    await this.d.notices?.close();
    await this.d.sync.frequency?.close();
  }

  /** Adds the standalone hooks (filter metrics, VM readiness, extra state) once the VMs exist. */
  extend(hooks: Pick<ControlDeps, "filterMetrics" | "readiness" | "liveness" | "state">): void {
    Object.assign(this.d, hooks);
  }

  readiness(): { ok: boolean; reasons: string[] } {
    const reasons: string[] = [];
    // The error's code, not its message (paths, bucket names): /readyz answers whoever asks.
    const modelError = this.d.models.lastError;
    if (this.d.models.state !== "loaded") reasons.push(`model ${this.d.models.state}${modelError ? ` (${modelError.code})` : ""}`);
    const claims = this.d.replay?.notReadyReason;
    if (claims) reasons.push(claims);
    const frequency = this.d.sync.frequency?.notReadyReason?.();
    if (frequency) reasons.push(frequency);
    const extra = this.d.readiness?.();
    if (extra) reasons.push(...extra.reasons);
    return { ok: reasons.length === 0, reasons };
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let url: URL;
    try {
      url = new URL(req.url ?? "/", "http://control");
    } catch {
      // An absolute-form target that is no URL ("http://[", a port past 65535): the client's error.
      return sendJson(res, 400, { error: "malformed request target" });
    }
    const path = url.pathname;
    if (req.method === "GET" && path === "/healthz") {
      const dead = this.d.liveness?.();
      return dead === undefined ? sendJson(res, 200, { status: "ok" }) : sendJson(res, 503, { status: "dead", reason: dead });
    }
    if (req.method === "GET" && path === "/readyz") {
      const r = this.readiness();
      return sendJson(res, r.ok ? 200 : 503, { ready: r.ok, reasons: r.reasons });
    }
    if (req.method === "GET" && path === "/metrics") {
      const host = await this.d.metrics.registry.metrics();
      const filter = this.d.filterMetrics?.() ?? "";
      return sendText(res, 200, host + (filter ? "\n" + filter : ""), this.d.metrics.registry.contentType);
    }
    if (path.startsWith("/nexus/v1/")) {
      // The filter's endpoints: the sync token first, before anything is read or looked up.
      if (!this.filterAuthorized(req.headers.authorization)) {
        const endpoint = FILTER_ENDPOINTS.has(path) ? path.slice("/nexus/v1/".length) : "other";
        this.unauthorizedCalls.inc({ endpoint });
        // A misconfigured filter calls on every sync and bid: one line per 10 s, never the header.
        const now = Date.now();
        if (now - this.lastUnauthorizedLogMs >= 10_000) {
          this.lastUnauthorizedLogMs = now;
          this.d.log.warn({ event: "filter_unauthorized", endpoint }, "filter call refused: missing or wrong sync token (see nexus_host_filter_unauthorized_total)");
        }
        req.resume();
        return sendJson(res, 401, { error: "unauthorized" }, { "www-authenticate": "Bearer" });
      }
      if (path === "/nexus/v1/replay" && req.method === "POST") return this.replayCall(req, res, url);
      if (path === "/nexus/v1/notice-forward" && req.method === "POST") return this.noticeForwardCall(req, res);
      if (path === "/nexus/v1/sync" && req.method === "POST") return this.syncCall(req, res);
      if (path === "/nexus/v1/config" && req.method === "GET") return this.guard(res, () => sendText(res, 200, this.d.sync.config(url.searchParams.get("version")), "application/json"));
      if (path === "/nexus/v1/model" && req.method === "GET") {
        return this.guard(res, () => {
          const blob = this.d.sync.model(url.searchParams.get("version"));
          res.writeHead(200, { "content-type": "application/octet-stream", "content-length": blob.byteLength });
          res.end(blob);
        });
      }
    }
    if (path.startsWith("/admin/")) {
      // Method, path and outcome with a request id; never the Authorization header or the body.
      const log = this.d.log.child({ req_id: requestId(req) });
      res.once("finish", () => log.info({ event: "admin_request", method: req.method, path, status: res.statusCode }, "admin request"));
      return this.admin(req, res, path, log);
    }
    sendJson(res, 404, { error: "not found" });
  }

  private async syncCall(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const end = this.d.metrics.syncLatency.startTimer();
    // One id per sync round trip on its log lines (the filter's call may carry x-request-id).
    const log = this.d.log.child({ sync_id: requestId(req) });
    try {
      const body = await readJson(req, MAX_SYNC_BODY_BYTES);
      const answer = await this.d.sync.sync(body);
      this.recordGrants(answer.grants);
      this.d.metrics.syncRequests.inc({ outcome: "ok" });
      sendJson(res, 200, answer);
      log.debug({ event: "sync", grants: answer.grants.length, config_version: answer.config_version }, "sync answered");
    } catch (err) {
      this.d.metrics.syncRequests.inc({ outcome: "error" });
      const status = requestErrorStatus(err) ?? (err instanceof SyncError ? err.status : 500);
      sendJson(res, status, { error: requestErrorMessage(err, status) });
      log.warn({ event: "sync_failed", status, err: (err as Error).message }, "sync failed");
    } finally {
      end();
    }
  }

  /** POST /nexus/v1/replay?ttl_ms=N, body = the bid request id's bytes: 200 claimed, 409 seen (docs/SYNC_PROTOCOL.md). */
  private async replayCall(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    let id: Uint8Array;
    try {
      id = Buffer.concat(await readBody(req, MAX_REPLAY_ID_BYTES));
    } catch (err) {
      this.d.replay?.unreadable();
      const status = requestErrorStatus(err) ?? 400;
      return sendJson(res, status, { error: requestErrorMessage(err, status) });
    }
    const answer = await this.replayAnswer(id, url.searchParams.get("ttl_ms"));
    sendJson(res, answer.status, answer.body, answer.headers);
  }

  /** POST /nexus/v1/notice-forward, body = a notice's :path: the owning pod's answer (control/notice-forward.ts). */
  private async noticeForwardCall(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let path: Uint8Array;
    try {
      path = Buffer.concat(await readBody(req, MAX_NOTICE_PATH_BYTES));
    } catch (err) {
      this.d.notices?.unreadable();
      const status = requestErrorStatus(err) ?? 400;
      return sendJson(res, status, { error: requestErrorMessage(err, status) }, { [NOTICE_FORWARD_MARK]: "none" });
    }
    const wait = Number(req.headers["x-nexus-forward-timeout-ms"]);
    const a = this.d.notices ? await this.d.notices.forward(path, Number.isInteger(wait) && wait >= 1 && wait <= 10_000 ? wait : undefined) : { status: 404, headers: { [NOTICE_FORWARD_MARK]: "none" }, body: JSON.stringify({ error: "unknown bid id" }) };
    res.writeHead(a.status, { "content-type": "application/json", "content-length": Buffer.byteLength(a.body), ...a.headers });
    res.end(a.body);
  }

  /**
   * The answer to a replay claim of `id` (at most MAX_REPLAY_ID_BYTES) from a caller that showed
   * the sync token: its status, headers and JSON body. The HTTP endpoint answers through it, and
   * so does the standalone's in-process transport (host/src/standalone-callouts.ts).
   */
  async replayAnswer(id: Uint8Array, ttlParam: string | null): Promise<{ status: number; headers: Record<string, string>; body: unknown }> {
    if (!this.d.replay) return { status: 503, headers: {}, body: { error: "no shared replay store configured" } };
    const answer = await this.d.replay.claim(id, ttlParam);
    // The filter takes a 200 or 409 as a claim answer only with this mark (assembly/filter/replay-claim.ts).
    const mark: Record<string, string> = answer.status === 200 ? { "x-nexus-replay": "claimed" } : answer.status === 409 ? { "x-nexus-replay": "seen" } : {};
    return { status: answer.status, headers: mark, body: answer.body };
  }

  /** Whether an Authorization header carries the filter endpoints' sync token. */
  filterAuthorized(authorization: string | undefined): boolean {
    return bearerTokenMatches(authorization, this.d.syncToken);
  }

  private guard(res: ServerResponse, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      if (err instanceof SyncError) sendJson(res, err.status, { error: err.message });
      else throw err;
    }
  }

  private authorized(req: IncomingMessage, token: string): boolean {
    return bearerTokenMatches(req.headers.authorization, token);
  }

  private async admin(req: IncomingMessage, res: ServerResponse, path: string, log: Logger): Promise<void> {
    if (!this.d.adminToken) {
      this.d.metrics.adminRequests.inc({ outcome: "disabled" });
      return sendJson(res, 404, { error: "admin API disabled (no admin token configured)" });
    }
    if (!this.authorized(req, this.d.adminToken)) {
      this.d.metrics.adminRequests.inc({ outcome: "unauthorized" });
      return sendJson(res, 401, { error: "unauthorized" }, { "www-authenticate": "Bearer" });
    }
    this.d.metrics.adminRequests.inc({ outcome: "ok" });
    if (req.method === "GET" && path === "/admin/v1/state") {
      return sendJson(res, 200, {
        config_version: this.d.catalog.version,
        file_version: this.d.catalog.fileVersion,
        campaigns: this.d.catalog.campaigns.map((c) => this.campaignState(c)),
        model: this.d.models.current ? { version: this.d.models.current.version, source: this.d.models.current.source, signed: this.d.models.current.signed } : null,
        model_state: this.d.models.state,
        model_error: this.d.models.lastError ?? null,
        // What the filter reported: the model version its VMs serve and its hash_bits (null until reported).
        filter_model: { version: this.d.sync.filter.modelVersion, hash_bits: this.d.sync.filter.hashBits },
        budget_source_up: this.d.budget.healthy(),
        ...(this.d.state?.() ?? {}),
      });
    }
    if (req.method === "POST" && path === "/admin/v1/campaigns/reload" && this.d.reloadCampaigns) {
      return this.reloadCall(res, this.d.reloadCampaigns);
    }
    const m = /^\/admin\/v1\/campaigns\/([^/]+)\/(pause|resume|budget|override)$/.exec(path);
    if (m) {
      let id: string;
      try {
        id = decodeURIComponent(m[1]!);
      } catch {
        return sendJson(res, 400, { error: "campaign id: malformed percent-encoding" });
      }
      if (await campaignCall(req, res, this.d, id, m[2] as CampaignAction, log)) return;
    }
    sendJson(res, 404, { error: "not found" });
  }

  /**
   * A campaign in GET /admin/v1/state: the values in force (`active`, `budget`), the file's
   * (`file`: with this process's own admin changes on the memory source) and the fleet override
   * laid over them (`override`, null: none), and what the filter last reported.
   */
  private campaignState(c: CampaignDoc): Record<string, unknown> {
    const file = this.d.catalog.baseDoc(c.id) ?? c;
    return {
      id: c.id,
      active: c.active !== false,
      budget: c.budget ?? null,
      file: { active: file.active !== false, budget: file.budget ?? null },
      override: overrideJson(this.d.catalog.override(c.id)),
      filter: this.d.sync.filter.campaigns.get(c.id) ?? null,
    };
  }

  /**
   * Grant metrics of one sync answer. The gauge series of a campaign no longer in the set
   * (removed by a reload) are dropped, not left at their last value: this pod's grant and the
   * fleet's (the Redis source sets it on each lease).
   */
  private recordGrants(grants: ReadonlyArray<{ id: string; granted_micros: number }>): void {
    const m = this.d.metrics;
    for (const g of grants) {
      this.grantedIds.add(g.id);
      m.grants.inc({ campaign: g.id });
      m.grantedMicros.set({ campaign: g.id }, g.granted_micros);
    }
    for (const id of this.grantedIds) {
      if (this.d.catalog.get(id) !== undefined) continue;
      m.grantedMicros.remove({ campaign: id });
      m.budgetCampaignGranted.remove({ campaign: id });
      m.budgetUnbilled.remove({ campaign: id });
      this.grantedIds.delete(id);
    }
  }

  /** 200 with what changed; 409 for a file version not higher than the last file's; 400 for a bad file or set. */
  private async reloadCall(res: ServerResponse, reload: () => Promise<CampaignChanges>): Promise<void> {
    try {
      const c = await reload();
      sendJson(res, 200, { config_version: c.version, file_version: this.d.catalog.fileVersion, added: c.added, removed: c.removed, changed: c.changed });
    } catch (err) {
      refuseCampaignChange(res, this.d.catalog, err);
    }
  }
}

const FILTER_ENDPOINTS = new Set(["/nexus/v1/sync", "/nexus/v1/config", "/nexus/v1/model", "/nexus/v1/replay", "/nexus/v1/notice-forward"]);

/** The 4xx a request body earned (too large, undecodable, not JSON), or undefined for other errors. */
function requestErrorStatus(err: unknown): number | undefined {
  if (err instanceof BodyTooLarge) return 413;
  if (err instanceof BadEncoding) return err.status;
  if (err instanceof SyntaxError) return 400;
  return undefined;
}

function requestErrorMessage(err: unknown, status: number): string {
  const message = (err as Error).message;
  if (status === 415) return `${message} (use identity, gzip or deflate)`;
  if (status === 400 && err instanceof SyntaxError) return `invalid JSON body: ${message}`;
  return message;
}

/** The caller's x-request-id when it sends a sane one, else a fresh UUID (for log correlation). */
function requestId(req: IncomingMessage): string {
  const given = req.headers["x-request-id"];
  return typeof given === "string" && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID();
}

/**
 * Bearer token check against the admin or the sync token (an empty token never matches). Both
 * sides are hashed first, so timingSafeEqual compares two 32-byte digests: the time does not
 * depend on where the first difference is, nor on the token's length.
 */
export function bearerTokenMatches(authorization: string | undefined, token: string): boolean {
  if (!token) return false;
  const header = authorization ?? "";
  // The auth scheme is case-insensitive (RFC 7235); the token is everything after one space.
  const given = header.length > 7 && header.slice(0, 7).toLowerCase() === "bearer " ? header.slice(7) : "";
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(token).digest();
  return timingSafeEqual(a, b) && given.length > 0;
}
