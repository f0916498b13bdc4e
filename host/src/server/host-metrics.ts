// The host's own metrics (prom-client). In standalone mode /metrics appends
// the filter's metrics (proxy_define_metric) in the same text format.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export class HostMetrics {
  readonly registry = new Registry();
  readonly syncRequests = new Counter({ name: "nexus_host_sync_requests_total", help: "Sync calls from the filter", labelNames: ["outcome"], registers: [this.registry] });
  readonly syncLatency = new Histogram({ name: "nexus_host_sync_seconds", help: "Time to answer a sync call", buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1], registers: [this.registry] });
  readonly grants = new Counter({ name: "nexus_host_grants_total", help: "Budget grants answered", labelNames: ["campaign"], registers: [this.registry] });
  readonly grantedMicros = new Gauge({ name: "nexus_host_granted_micros", help: "Cumulative micros granted to this pod", labelNames: ["campaign"], registers: [this.registry] });
  readonly budgetErrors = new Counter({ name: "nexus_host_budget_errors_total", help: "Budget source failures (e.g. Redis unreachable)", registers: [this.registry] });
  readonly budgetUp = new Gauge({ name: "nexus_host_budget_source_up", help: "1 when the budget source answers", registers: [this.registry] });
  /**
   * A pod's ledger seen restarted (a new epoch, or charged going backwards): once per campaign when
   * an Envoy (standalone: the process) restarts under the same pod id; over and over when two hosts
   * lease under one pod id (NexusBudgetLedgerRestarting).
   */
  readonly budgetLedgerRestarts = new Counter({ name: "nexus_host_budget_ledger_restarts_total", help: "Leases that found this pod's ledger restarted (its old grant counted as spent; new money held for the recovery hold)", labelNames: ["campaign"], registers: [this.registry] });
  readonly budgetStoreLostPod = new Counter({ name: "nexus_host_budget_store_lost_pod_total", help: "Leases that found the budget store (Redis) without this pod's record while the pod held money: Redis lost its data (restarted without persistence, flushed, evicted)", labelNames: ["campaign"], registers: [this.registry] });
  readonly budgetStaleReports = new Counter({ name: "nexus_host_budget_stale_reports_total", help: "Sync reports older than one already applied for the same ledger (a leader VM that stalled with its report unsent): ignored", labelNames: ["campaign"], registers: [this.registry] });
  readonly budgetLeases = new Counter({ name: "nexus_host_budget_leases_total", help: "Budget leases run against the shared budget store (Redis)", labelNames: ["campaign"], registers: [this.registry] });
  readonly budgetLeasedMicros = new Counter({ name: "nexus_host_budget_leased_micros_total", help: "New micros this pod took from the shared budget (increases of its grant)", labelNames: ["campaign"], registers: [this.registry] });
  readonly budgetReturnedMicros = new Counter({ name: "nexus_host_budget_returned_micros_total", help: "Micros this pod gave back to the shared budget (unused slices)", labelNames: ["campaign"], registers: [this.registry] });
  /**
   * Memory source: money counted as spent today that no charge will ever account for, because the
   * ledger holding it is gone (a previous process's, through the state file, or a restarted one's):
   * bids that were waiting for a notice and the unspent slice. The campaign cannot spend it today.
   */
  readonly budgetUnbilled = new Gauge({ name: "nexus_host_budget_unbilled_micros", help: "Micros counted as spent today but never charged: what a previous process or a restarted filter ledger held when it stopped (memory budget source)", labelNames: ["campaign"], registers: [this.registry] });
  readonly budgetCampaignGranted = new Gauge({ name: "nexus_host_budget_campaign_granted_micros", help: "Micros granted to all pods, net of returns, as of this pod's last lease", labelNames: ["campaign"], registers: [this.registry] });
  readonly redisErrors = new Counter({ name: "nexus_host_redis_errors_total", help: "Failed Redis operations (unreachable, timeout, error reply)", labelNames: ["operation"], registers: [this.registry] });
  readonly redisLatency = new Histogram({ name: "nexus_host_redis_seconds", help: "Latency of Redis operations", labelNames: ["operation"], buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5], registers: [this.registry] });
  readonly redisScriptLoads = new Counter({ name: "nexus_host_redis_script_loads_total", help: "Lease script (re)loads after NOSCRIPT (EVAL fallback)", registers: [this.registry] });
  /** outcome "ok" | "refused"; reason "ok" or the stable error code (DIGEST_MISMATCH, SIGNATURE_INVALID, MODEL_FORMAT_REFUSED, STORE_UNAVAILABLE, ...). */
  readonly modelLoads = new Counter({ name: "nexus_host_model_loads_total", help: "Model load attempts by outcome and reason", labelNames: ["outcome", "reason"], registers: [this.registry] });
  readonly modelLoaded = new Gauge({ name: "nexus_host_model_loaded", help: "1 when a model is served", registers: [this.registry] });
  /** result "unchanged" | "loaded" | "refused" | "backoff" (a refused version waiting for its retry). */
  readonly modelPolls = new Counter({ name: "nexus_host_model_polls_total", help: "Model store polls by result", labelNames: ["result"], registers: [this.registry] });
  /**
   * Unix time of the last poll that found the served model to be the store's current one (result
   * "loaded" or "unchanged"); 0 until then. Stops moving while the store is unreachable or its
   * current version is refused, although bids go on with the model loaded before (NexusModelNotCurrent).
   */
  readonly modelCurrentAt = new Gauge({ name: "nexus_host_model_current_timestamp_seconds", help: "Unix time of the last model store poll that found the served model current (0: never)", registers: [this.registry] });
  readonly modelInfo = new Gauge({ name: "nexus_host_model_info", help: "1 for the model version served (label version)", labelNames: ["version"], registers: [this.registry] });
  /** Read at each scrape from the catalog: which campaigns run under an admin override, not as the file says. */
  readonly campaignOverridden = new Gauge({ name: "nexus_host_campaign_overridden", help: "1 for each campaign under a fleet-wide admin override (pause or budget, kept in Redis) on this host", labelNames: ["campaign"], registers: [this.registry] });
  readonly adminRequests = new Counter({ name: "nexus_host_admin_requests_total", help: "Admin API requests", labelNames: ["outcome"], registers: [this.registry] });
  /** Standalone: requests the bid port answered itself, before or instead of the filter (the filter's own answers are its metrics). */
  readonly bidRejected = new Counter({ name: "nexus_host_bid_rejected_total", help: "Bid-port requests the host answered itself, not the filter (malformed HTTP, too slow, too large, bad encoding, no route, filter unavailable, a bid while draining)", labelNames: ["status", "reason"], registers: [this.registry] });
  readonly vmRestarts = new Gauge({ name: "nexus_host_vm_restarts", help: "Filter VMs recreated after a trap (standalone)", registers: [this.registry] });
  /** Standalone: read at each scrape. What a soak test watches for leaks (bench/soak.ts). */
  readonly vmMemory = new Gauge({ name: "nexus_host_vm_memory_bytes", help: "Linear memory of each filter VM in bytes (standalone, inline VMs only)", labelNames: ["vm"], registers: [this.registry] });
  readonly sharedDataKeys = new Gauge({ name: "nexus_host_shared_data_keys", help: "Keys in the filter's shared data (standalone)", registers: [this.registry] });
  readonly sharedDataUsedBytes = new Gauge({ name: "nexus_host_shared_data_used_bytes", help: "Arena bytes in use in the filter's shared data (standalone)", registers: [this.registry] });
  readonly sharedDataArenaBytes = new Gauge({ name: "nexus_host_shared_data_arena_bytes", help: "Size of the filter's shared-data arena in bytes (standalone)", registers: [this.registry] });

  constructor(withDefaults = true) {
    if (withDefaults) collectDefaultMetrics({ register: this.registry, prefix: "nexus_host_" });
  }
}
