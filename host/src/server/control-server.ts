// The control-plane HTTP server (loopback by default): health, readiness,
// metrics, the filter's sync endpoints and the admin API (bearer token).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createHash, randomUUID, timingSafeEqual } from "node:crypto";
import type { AddressInfo } from "node:net";
import type { Logger } from "../log.ts";
import type { SyncService } from "../control/sync-service.ts";
import { SyncError } from "../control/sync-service.ts";
import type { CampaignCatalog } from "../control/campaigns.ts";
import type { ModelRegistry } from "../control/model-registry.ts";
import type { BudgetSource } from "../control/budget.ts";
import type { HostMetrics } from "./host-metrics.ts";
import { readJson, sendJson, sendText } from "./http-util.ts";
import { closeServer, listen } from "./http-util.ts";

export interface ControlDeps {
  sync: SyncService;
  catalog: CampaignCatalog;
  models: ModelRegistry;
  budget: BudgetSource;
  metrics: HostMetrics;
  log: Logger;
  adminToken: string;
  /** Extra Prometheus text appended to /metrics (the filter's metrics in standalone mode). */
  filterMetrics?: () => string;
  /** Extra readiness checks (standalone: the filter VMs loaded the model). */
  readiness?: () => { ok: boolean; reasons: string[] };
  state?: () => Record<string, unknown>;
}

export class ControlServer {
  readonly server: Server;

  constructor(private readonly d: ControlDeps) {
    this.server = createServer((req, res) => {
      this.route(req, res).catch((err: Error) => {
        d.log.error({ event: "control_error", err: err.message, path: req.url }, "control request failed");
        if (!res.headersSent) sendJson(res, 500, { error: "internal error" });
        else res.destroy();
      });
    });
  }

  listen(port: number, host: string): Promise<AddressInfo> {
    return listen(this.server, port, host);
  }

  close(): Promise<void> {
    return closeServer(this.server);
  }

  /** Adds the standalone hooks (filter metrics, VM readiness, extra state) once the VMs exist. */
  extend(hooks: Pick<ControlDeps, "filterMetrics" | "readiness" | "state">): void {
    Object.assign(this.d, hooks);
  }

  readiness(): { ok: boolean; reasons: string[] } {
    const reasons: string[] = [];
    if (this.d.models.state !== "loaded") reasons.push(`model ${this.d.models.state}`);
    const extra = this.d.readiness?.();
    if (extra) reasons.push(...extra.reasons);
    return { ok: reasons.length === 0, reasons };
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://control");
    const path = url.pathname;
    if (req.method === "GET" && path === "/healthz") return sendJson(res, 200, { status: "ok" });
    if (req.method === "GET" && path === "/readyz") {
      const r = this.readiness();
      return sendJson(res, r.ok ? 200 : 503, { ready: r.ok, reasons: r.reasons });
    }
    if (req.method === "GET" && path === "/metrics") {
      const host = await this.d.metrics.registry.metrics();
      const filter = this.d.filterMetrics?.() ?? "";
      return sendText(res, 200, host + (filter ? "\n" + filter : ""), this.d.metrics.registry.contentType);
    }
    if (path === "/nexus/v1/sync" && req.method === "POST") return this.syncCall(req, res);
    if (path === "/nexus/v1/config" && req.method === "GET") return this.guard(res, () => sendText(res, 200, this.d.sync.config(url.searchParams.get("version")), "application/json"));
    if (path === "/nexus/v1/model" && req.method === "GET") {
      return this.guard(res, () => {
        const blob = this.d.sync.model(url.searchParams.get("version"));
        res.writeHead(200, { "content-type": "application/octet-stream", "content-length": blob.byteLength });
        res.end(blob);
      });
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
      const body = await readJson(req, 4 << 20);
      const answer = await this.d.sync.sync(body);
      for (const g of answer.grants) this.d.metrics.grantedMicros.set({ campaign: g.id }, g.granted_micros);
      this.d.metrics.syncRequests.inc({ outcome: "ok" });
      sendJson(res, 200, answer);
      log.debug({ event: "sync", grants: answer.grants.length, config_version: answer.config_version }, "sync answered");
    } catch (err) {
      this.d.metrics.syncRequests.inc({ outcome: "error" });
      const status = err instanceof SyncError ? err.status : err instanceof SyntaxError ? 400 : 500;
      sendJson(res, status, { error: (err as Error).message });
      log.warn({ event: "sync_failed", status, err: (err as Error).message }, "sync failed");
    } finally {
      end();
    }
  }

  private guard(res: ServerResponse, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      if (err instanceof SyncError) sendJson(res, err.status, { error: err.message });
      else throw err;
    }
  }

  /** Constant-time bearer token check (no token configured: the admin API is off). */
  private authorized(req: IncomingMessage): boolean {
    const token = this.d.adminToken;
    if (!token) return false;
    const header = req.headers.authorization ?? "";
    // The auth scheme is case-insensitive (RFC 7235); the token is everything after one space.
    const given = header.length > 7 && header.slice(0, 7).toLowerCase() === "bearer " ? header.slice(7) : "";
    const a = createHash("sha256").update(given).digest();
    const b = createHash("sha256").update(token).digest();
    return timingSafeEqual(a, b) && given.length > 0;
  }

  private async admin(req: IncomingMessage, res: ServerResponse, path: string, log: Logger): Promise<void> {
    if (!this.d.adminToken) {
      this.d.metrics.adminRequests.inc({ outcome: "disabled" });
      return sendJson(res, 404, { error: "admin API disabled (no admin token configured)" });
    }
    if (!this.authorized(req)) {
      this.d.metrics.adminRequests.inc({ outcome: "unauthorized" });
      return sendJson(res, 401, { error: "unauthorized" }, { "www-authenticate": "Bearer" });
    }
    this.d.metrics.adminRequests.inc({ outcome: "ok" });
    if (req.method === "GET" && path === "/admin/v1/state") {
      return sendJson(res, 200, {
        config_version: this.d.catalog.version,
        campaigns: this.d.catalog.campaigns.map((c) => ({ id: c.id, active: c.active !== false, budget: c.budget ?? null, filter: this.d.sync.filter.campaigns.get(c.id) ?? null })),
        model: this.d.models.current ? { version: this.d.models.current.version, source: this.d.models.current.source, signed: this.d.models.current.signed } : null,
        model_state: this.d.models.state,
        model_error: this.d.models.lastError ?? null,
        budget_source_up: this.d.budget.healthy(),
        ...(this.d.state?.() ?? {}),
      });
    }
    const m = /^\/admin\/v1\/campaigns\/([^/]+)\/(pause|resume|budget)$/.exec(path);
    if (m) {
      const id = decodeURIComponent(m[1]!);
      const action = m[2]!;
      if (!this.d.catalog.get(id)) return sendJson(res, 404, { error: `no campaign "${id}"` });
      if (action === "budget" && req.method === "PUT") {
        const body = (await readJson(req, 64 * 1024)) as Record<string, unknown>;
        const total = body.total_micros;
        const daily = body.daily_micros;
        const ok = (v: unknown) => v === undefined || (typeof v === "number" && Number.isSafeInteger(v) && v >= 0);
        if (!ok(total) || !ok(daily)) return sendJson(res, 400, { error: "total_micros and daily_micros must be non-negative integers" });
        const c = this.d.catalog.update(id, (c) => {
          c.budget = { ...(c.budget ?? { total_micros: 0, daily_micros: 0 }) };
          if (typeof total === "number") c.budget.total_micros = total;
          if (typeof daily === "number") c.budget.daily_micros = daily;
        });
        log.info({ event: "admin_budget", campaign: id, budget: c.budget }, "campaign budget changed");
        return sendJson(res, 200, { id, budget: c.budget, config_version: this.d.catalog.version });
      }
      if ((action === "pause" || action === "resume") && req.method === "POST") {
        this.d.catalog.update(id, (c) => {
          c.active = action === "resume";
        });
        log.info({ event: "admin_" + action, campaign: id }, `campaign ${action}d`);
        return sendJson(res, 200, { id, active: action === "resume", config_version: this.d.catalog.version });
      }
    }
    sendJson(res, 404, { error: "not found" });
  }
}

/** The caller's x-request-id when it sends a sane one, else a fresh UUID (for log correlation). */
function requestId(req: IncomingMessage): string {
  const given = req.headers["x-request-id"];
  return typeof given === "string" && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID();
}
