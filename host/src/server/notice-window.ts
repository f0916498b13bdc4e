// The notice window of a graceful stop (standalone mode). Exchanges send the win and billing
// notices of a bid seconds after it (and retry them); the reservations they settle live in this
// process's filter ledger only, so a process that closed its listener at once left those wins
// uncharged (connection refused now, 404 unknown bid from its successor). The bid listener
// therefore stays open for notices while bids are refused (BidServer.beginDrain()), until the
// window's time is up or nothing is left that a notice could settle.

export interface NoticeWindowView {
  /** Open connections of the bid listener: a request in flight may still reserve or settle. */
  connections(): Promise<number>;
  /** Filter reports received so far (SyncService.syncs). */
  reports(): number;
  /** Micros the filter's ledger holds reserved, summed over the campaigns of its last report. */
  reservedMicros(): number;
  /**
   * Milliseconds since a reservation of this process last expired unsettled (refunded at its TTL;
   * its win may still come, charged as late), as the filter's reports show it (SyncService
   * filter.lastExpiryAt); Infinity when none did; left out: not known.
   */
  msSinceExpiry?(): number;
}

/**
 * How the window ended: `elapsed` (its time was up), `settled` (the filter reported nothing
 * reserved: no bid of this process waits for a notice), `idle` (the filter never reported, so it
 * was never granted money and never bid), `silent` (no report for `silentMs`: a sidecar's Envoy
 * has gone, nothing more can come).
 */
export type NoticeWindowEnd = "elapsed" | "settled" | "idle" | "silent";

/** Reports the filter must make after the last request in flight: the first may predate it. */
const REPORTS_AFTER_LAST_REQUEST = 2;

/**
 * Waits out the notice window: `windowMs` at most, less once the filter reports nothing reserved
 * with no request in flight and no reservation expired within the last `windowMs`. A report counts
 * only when two came after the last moment a request was in flight (the first may have been made
 * before that request settled or reserved). A reservation refunded at its TTL still waits for its
 * win (charged as late): the window is how late the operator expects notices, so it is counted
 * from the expiry (a soak audit: with a 1 s TTL the window ended 1.6 s after the signal, and a win
 * sent 3 s after its bid found the listener closed, billed by the exchange and charged nowhere).
 */
export async function waitNoticeWindow(windowMs: number, view: NoticeWindowView, pollMs = 50, silentMs = Infinity): Promise<NoticeWindowEnd> {
  // The monotonic clock: a wall clock stepped back (NTP) must not hold the stop open.
  const end = performance.now() + windowMs;
  if (view.reports() === 0) return "idle";
  let reportsBefore = view.reports();
  let lastReports = reportsBefore;
  let lastReportAt = performance.now();
  while (performance.now() < end) {
    if (view.reports() !== lastReports) {
      lastReports = view.reports();
      lastReportAt = performance.now();
    } else if (performance.now() - lastReportAt >= silentMs) return "silent";
    if ((await view.connections()) > 0) reportsBefore = view.reports();
    else if (view.reports() - reportsBefore >= REPORTS_AFTER_LAST_REQUEST && view.reservedMicros() === 0 && (view.msSinceExpiry?.() ?? Infinity) >= windowMs) return "settled";
    await new Promise((r) => setTimeout(r, Math.max(1, Math.min(pollMs, end - performance.now()))));
  }
  return "elapsed";
}
