// The filter's metrics, defined with proxy_define_metric in on_configure (the
// host dedupes by name, so every VM of the process shares them). Envoy
// exports them at /stats/prometheus; the standalone host at /metrics.
import { defineMetric, incrementMetric, recordMetric, MetricType } from "../proxy-wasm";
import { NoBid, noBidName } from "../core/bidding/reasons";

export class FilterMetrics {
  requests: u32 = 0;
  bidResponses: u32 = 0;
  impBids: u32 = 0;
  dealBids: u32 = 0;
  videoBids: u32 = 0;
  audioBids: u32 = 0;
  nativeBids: u32 = 0;
  nativeInvalid: u32 = 0;
  badRequests: u32 = 0;
  coercedRequests: u32 = 0;
  tooLarge: u32 = 0;
  noBidByReason: StaticArray<u32> = new StaticArray<u32>(NoBid.COUNT);
  /** Bid requests valued without the user's personal data (privacy signals: contextual bidding). */
  contextual: u32 = 0;
  /** Of those, the ones whose GPP signal could not be read (an exchange sending a broken string shows here). */
  gppUnreadable: u32 = 0;
  reservations: u32 = 0;
  reservedMicros: u32 = 0;
  refunds: u32 = 0;
  casRetries: u32 = 0;
  casGiveUps: u32 = 0;
  ledgerDeferred: u32 = 0;
  ledgerRecovered: u32 = 0;
  ledgerLost: u32 = 0;
  sharedDataErrors: u32 = 0;
  spendMicros: u32 = 0;
  wins: u32 = 0;
  lateWins: u32 = 0;
  losses: u32 = 0;
  noticeDuplicate: u32 = 0;
  noticeUnknown: u32 = 0;
  noticeInvalid: u32 = 0;
  winsChargedAtBid: u32 = 0;
  noticeUnknownForwarded: u32 = 0;
  bidsLeftOut: u32 = 0;
  expired: u32 = 0;
  syncOk: u32 = 0;
  syncFailed: u32 = 0;
  syncStale: u32 = 0;
  modelLoads: u32 = 0;
  modelLoadFailures: u32 = 0;
  configLoads: u32 = 0;
  configLoadFailures: u32 = 0;
  modelLoaded: u32 = 0;
  /** The loaded model's identity: the first 48 bits of its SHA-256 as a number (exact in a float64). */
  modelDigest: u32 = 0;
  configVersion: u32 = 0;
  decisionLatencyUs: u32 = 0;
  replayGiveUps: u32 = 0;
  replayEvictions: u32 = 0;
  frequencyCounted: u32 = 0;
  frequencyEvictions: u32 = 0;
  frequencyGiveUps: u32 = 0;
  frequencyFleetApplied: u32 = 0;
  frequencyFleetSent: u32 = 0;
  frequencyFleetDropped: u32 = 0;

  define(): void {
    this.requests = defineMetric(MetricType.COUNTER, "nexus_bid_requests_total");
    this.bidResponses = defineMetric(MetricType.COUNTER, "nexus_bid_responses_total");
    this.impBids = defineMetric(MetricType.COUNTER, "nexus_bids_total");
    this.dealBids = defineMetric(MetricType.COUNTER, "nexus_deal_bids_total");
    this.videoBids = defineMetric(MetricType.COUNTER, "nexus_video_bids_total");
    this.audioBids = defineMetric(MetricType.COUNTER, "nexus_audio_bids_total");
    this.nativeBids = defineMetric(MetricType.COUNTER, "nexus_native_bids_total");
    this.nativeInvalid = defineMetric(MetricType.COUNTER, "nexus_native_requests_invalid_total");
    this.badRequests = defineMetric(MetricType.COUNTER, "nexus_bad_requests_total");
    this.coercedRequests = defineMetric(MetricType.COUNTER, "nexus_bid_requests_coerced_total");
    this.tooLarge = defineMetric(MetricType.COUNTER, "nexus_too_large_total");
    for (let r = 1; r < NoBid.COUNT; r++) {
      this.noBidByReason[r] = defineMetric(MetricType.COUNTER, "nexus_nobids_" + noBidName(r) + "_total");
    }
    this.contextual = defineMetric(MetricType.COUNTER, "nexus_bid_contextual_total");
    this.gppUnreadable = defineMetric(MetricType.COUNTER, "nexus_bid_contextual_gpp_unreadable_total");
    this.reservations = defineMetric(MetricType.COUNTER, "nexus_reservations_total");
    this.reservedMicros = defineMetric(MetricType.COUNTER, "nexus_reserved_micros_total");
    this.refunds = defineMetric(MetricType.COUNTER, "nexus_refunds_total");
    this.casRetries = defineMetric(MetricType.COUNTER, "nexus_cas_retries_total");
    this.casGiveUps = defineMetric(MetricType.COUNTER, "nexus_cas_giveups_total");
    this.ledgerDeferred = defineMetric(MetricType.COUNTER, "nexus_ledger_updates_deferred_total");
    this.ledgerRecovered = defineMetric(MetricType.COUNTER, "nexus_ledger_updates_recovered_total");
    this.ledgerLost = defineMetric(MetricType.COUNTER, "nexus_ledger_updates_lost_total");
    this.sharedDataErrors = defineMetric(MetricType.COUNTER, "nexus_shared_data_errors_total");
    this.spendMicros = defineMetric(MetricType.COUNTER, "nexus_spend_micros_total");
    this.wins = defineMetric(MetricType.COUNTER, "nexus_wins_total");
    this.lateWins = defineMetric(MetricType.COUNTER, "nexus_late_wins_total");
    this.losses = defineMetric(MetricType.COUNTER, "nexus_losses_total");
    this.noticeDuplicate = defineMetric(MetricType.COUNTER, "nexus_notices_duplicate_total");
    this.noticeUnknown = defineMetric(MetricType.COUNTER, "nexus_notices_unknown_total");
    this.noticeInvalid = defineMetric(MetricType.COUNTER, "nexus_notices_invalid_total");
    this.winsChargedAtBid = defineMetric(MetricType.COUNTER, "nexus_wins_charged_at_bid_total");
    this.noticeUnknownForwarded = defineMetric(MetricType.COUNTER, "nexus_notices_unknown_forwarded_total");
    this.bidsLeftOut = defineMetric(MetricType.COUNTER, "nexus_bids_left_out_total");
    this.expired = defineMetric(MetricType.COUNTER, "nexus_reservations_expired_total");
    this.syncOk = defineMetric(MetricType.COUNTER, "nexus_sync_ok_total");
    this.syncFailed = defineMetric(MetricType.COUNTER, "nexus_sync_failed_total");
    this.syncStale = defineMetric(MetricType.COUNTER, "nexus_sync_stale_answers_total");
    this.modelLoads = defineMetric(MetricType.COUNTER, "nexus_model_loads_total");
    this.modelLoadFailures = defineMetric(MetricType.COUNTER, "nexus_model_load_failures_total");
    this.configLoads = defineMetric(MetricType.COUNTER, "nexus_config_loads_total");
    this.configLoadFailures = defineMetric(MetricType.COUNTER, "nexus_config_load_failures_total");
    this.modelLoaded = defineMetric(MetricType.GAUGE, "nexus_model_loaded");
    this.modelDigest = defineMetric(MetricType.GAUGE, "nexus_model_digest_prefix");
    this.configVersion = defineMetric(MetricType.GAUGE, "nexus_config_version");
    this.decisionLatencyUs = defineMetric(MetricType.HISTOGRAM, "nexus_decision_latency_us");
    this.replayGiveUps = defineMetric(MetricType.COUNTER, "nexus_replay_giveups_total");
    this.replayEvictions = defineMetric(MetricType.COUNTER, "nexus_replay_evictions_total");
    this.frequencyCounted = defineMetric(MetricType.COUNTER, "nexus_frequency_counted_total");
    this.frequencyEvictions = defineMetric(MetricType.COUNTER, "nexus_frequency_evictions_total");
    this.frequencyGiveUps = defineMetric(MetricType.COUNTER, "nexus_frequency_giveups_total");
    this.frequencyFleetApplied = defineMetric(MetricType.COUNTER, "nexus_frequency_fleet_applied_total");
    this.frequencyFleetSent = defineMetric(MetricType.COUNTER, "nexus_frequency_fleet_sent_total");
    this.frequencyFleetDropped = defineMetric(MetricType.COUNTER, "nexus_frequency_fleet_dropped_total");
  }

  @inline inc(id: u32): void {
    incrementMetric(id, 1);
  }

  @inline add(id: u32, v: i64): void {
    if (v > 0) incrementMetric(id, v);
  }

  @inline set(id: u32, v: u64): void {
    recordMetric(id, v);
  }

  @inline noBid(reason: i32): void {
    if (reason > 0 && reason < NoBid.COUNT) incrementMetric(unchecked(this.noBidByReason[reason]), 1);
  }
}

export const metrics = new FilterMetrics();
