// HELP lines for the filter's metrics on the standalone host's /metrics.
//
// proxy_define_metric carries a name and a type, nothing else, so Envoy's /stats/prometheus
// prints the filter's metrics with a TYPE line only. The standalone host knows the filter it
// runs: it adds a HELP line per metric from this table (docs/OPERATIONS.md, "Filter", says the
// same at more length), so that `promtool check metrics` and metric browsers have a description.
// tests/deploy/prometheus.test.ts checks that every metric a running filter defines has one here.

/** One line per metric (Prometheus escapes: no newline, no backslash). */
const HELP: Readonly<Record<string, string>> = {
  nexus_bid_requests_total: "Requests on the bid path, any outcome.",
  nexus_bid_responses_total: "Bid responses answered (HTTP 200).",
  nexus_bids_total: "Impressions bid on (a response can bid on several).",
  nexus_deal_bids_total: "Impressions bid on in a private-marketplace deal (bid.dealid), of nexus_bids_total.",
  nexus_video_bids_total: "Impressions bid on with a video creative (VAST, bid.mtype 2), of nexus_bids_total.",
  nexus_audio_bids_total: "Impressions bid on with an audio creative (VAST or DAAST, bid.mtype 3), of nexus_bids_total.",
  nexus_native_bids_total: "Impressions bid on with a native creative (Native Ads response in adm, bid.mtype 4), of nexus_bids_total.",
  nexus_native_requests_invalid_total: "Impressions whose native request document could not be read (no native bid on them; read only when a campaign has native creatives).",
  nexus_bad_requests_total: "Bid requests refused as malformed (HTTP 400).",
  nexus_bid_requests_coerced_total: "Bid requests taken although a value had the wrong JSON type, read as meant (plugin strict_types refuses them).",
  nexus_too_large_total: "Bid requests refused as too large (HTTP 413).",
  nexus_bid_contextual_total: "Bid requests valued without the user's personal data (privacy signals).",
  nexus_bid_contextual_gpp_unreadable_total: "Bid requests valued without personal data because their GPP string could not be read (an applicable section missing or undecodable).",
  nexus_reservations_total: "Budget reservations made by bids.",
  nexus_reserved_micros_total: "Micros reserved by bids, account currency.",
  nexus_refunds_total: "Reservations refunded (loss notice, timeout, expiry).",
  nexus_reservations_expired_total: "Reservations that expired without a notice.",
  nexus_cas_retries_total: "Shared-data compare-and-swap retries (ledger and replay guard contention).",
  nexus_cas_giveups_total: "Ledger compare-and-swap loops that gave up.",
  nexus_shared_data_errors_total: "Shared-data writes the host refused.",
  nexus_ledger_updates_deferred_total: "Ledger changes queued in a VM after their CAS loop gave up.",
  nexus_ledger_updates_recovered_total: "Queued ledger changes applied on a later tick.",
  nexus_ledger_updates_lost_total: "Ledger changes lost (queue full or unreadable ledger record).",
  nexus_spend_micros_total: "Charged wins, micros of the account currency.",
  nexus_wins_total: "Wins charged (on time, late, or at the bid when no usable price came): the ledgers' wins.",
  nexus_late_wins_total: "Win notices charged after their reservation was refunded.",
  nexus_losses_total: "Loss notices settled.",
  nexus_notices_duplicate_total: "Notices for a bid already settled.",
  nexus_notices_unknown_total: "Notices for a bid id no pod knew (404; after the other pods were asked, when notice_forward is on).",
  nexus_notice_forwards_total: "Notices for a bid this pod does not know, handed to the host for the other pods.",
  nexus_notice_forwards_settled_total: "Forwarded notices another pod answered (it made the bid).",
  nexus_notice_forward_failures_total: "Notice forwards without a usable host answer (answered 503: retry).",
  nexus_notices_invalid_total: "Wins whose first win notice had no usable price (missing, unreadable, above the bid): pending until a priced notice or the TTL.",
  nexus_bids_left_out_total: "Bids decided and refunded because the reply buffer could not hold them with the bids before them.",
  nexus_notices_unknown_forwarded_total: "Notices marked forwarded (x-nexus-forwarded) for a bid this pod does not know: another pod's forward, or a sender setting the header.",
  nexus_wins_charged_at_bid_total: "Wins charged at the bid because no notice with a usable price came (at the TTL, or late).",
  nexus_sync_ok_total: "Leader VM calls to the host that succeeded.",
  nexus_sync_failed_total: "Leader VM calls to the host that failed.",
  nexus_sync_stale_answers_total: "Sync answers dropped because leadership moved while they were in flight.",
  nexus_model_loads_total: "Models loaded by the filter's VMs.",
  nexus_model_load_failures_total: "Models the filter's VMs refused.",
  nexus_model_loaded: "1 once a model is loaded.",
  nexus_model_digest_prefix: "First 48 bits of the loaded model's SHA-256, as a number.",
  nexus_config_loads_total: "Campaign sets loaded by the filter's VMs.",
  nexus_config_load_failures_total: "Campaign sets the filter's VMs refused.",
  nexus_config_version: "Version of the loaded campaign set.",
  nexus_decision_latency_us: "Time per bid request in the filter, request headers to reply, microseconds.",
  nexus_replay_giveups_total: "Replay guard checks that gave up (answered as contention no-bids).",
  nexus_replay_evictions_total: "Replay guard entries evicted before their expiry (bucket full).",
  nexus_frequency_counted_total: "Charged wins of frequency-capped campaigns counted against their user's cap.",
  nexus_frequency_evictions_total: "Frequency counts replaced by another user's in a full bucket while their window was open (raise frequency_buckets).",
  nexus_frequency_giveups_total: "Frequency counts lost: the shared-data update gave up (CAS contention or a store error).",
  nexus_frequency_fleet_applied_total: "Other pods' counted wins of capped campaigns added to this pod's counts (from the host's sync answers).",
  nexus_frequency_fleet_sent_total: "This pod's counted wins of capped campaigns handed to its host, which passes them to the other pods when it has Redis.",
  nexus_frequency_fleet_dropped_total: "Counted wins not sent to the other pods: the VM's list or the shared outbox was full (the win still counts on this pod).",
  nexus_replay_claims_total: "Cross-pod replay claims started.",
  nexus_replay_claims_claimed_total: "Cross-pod replay claims won by this pod.",
  nexus_replay_claims_seen_total: "Cross-pod replay claims already held by another pod (no-bid replay).",
  nexus_replay_claim_failures_total: "Cross-pod replay claims that failed (the fail mode applied).",
  nexus_replay_claims_rejected_total: "Failed replay claims the host refused with a 4xx other than 409 (configuration error).",
  nexus_replay_claims_abandoned_total: "Replay claims whose stream ended first.",
  nexus_replay_claim_latency_us: "Replay claim round trip, filter to host to Redis and back, microseconds.",
};

const NOBID = /^nexus_nobids_([a-z_]+)_total$/;
const PACING = /^nexus_pacing_multiplier_ppm_(.+)$/;

/** The HELP text of a filter metric (its exported name), or undefined for a name the filter does not define. */
export function filterMetricHelp(name: string): string | undefined {
  const known = HELP[name];
  if (known !== undefined) return known;
  const nobid = NOBID.exec(name);
  if (nobid) return `Bid requests answered 204 with no-bid reason ${nobid[1]}.`;
  const pacing = PACING.exec(name);
  if (pacing) return `PID pacing multiplier x 1e6 of campaign ${pacing[1]} (1000000: no shading).`;
  return undefined;
}
