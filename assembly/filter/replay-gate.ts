// The replay guard asked at a request's first reservation instead of before its decision.
//
// The guard's check reads and CAS-writes a shared-data bucket (replay-guard.ts): in the filter
// bench, about a fifth of the proxy-wasm path, and a shared-data write per request that every
// worker VM contends for. Its purpose is that one auction is never bid on (and paid for) twice,
// so only a request about to reserve money needs it: a DSP bids on a small share of what
// exchanges send, and the requests it would not bid on now cost no shared-data traffic. The
// decision calls reserve() only once it has found a bid that passed every other check (the
// invalid-traffic screen included), so the guard still runs before any money is reserved, and
// its verdict holds for every impression of the request.
//
// What changes for the exchange: a resent request that would not get a bid gets its usual
// no-bid reason, not `replay`, and only requests that reserved are remembered. A resend can
// therefore bid where the first copy did not (its budget or pacing changed in between): still
// one bid per request id.
//
// With replay_claim (across pods) the id is claimed in Redis through the host, a round trip the
// decision cannot wait for: the request is first decided against a ReservationProbe, which
// reserves nothing; only a request whose decision got as far as a reservation is then checked
// by the local guard and claimed, and decided again once the claim is answered (root.ts). A
// request that would not bid costs no claim: no round trip, no Redis command.
import { BudgetPort } from "../core/bidding/budget-port";
import { Campaign } from "../core/bidding/campaign";
import { ImpBid } from "../core/bidding/imp-bid";
import { NoBid } from "../core/bidding/reasons";
import { SharedLedger } from "./ledger";
import { ReplayGuard } from "./replay-guard";

/** Not asked yet for this request. */
const UNASKED: i32 = -1;

/** The ledger's answers to the decision's questions; what a reservation does is the subclass's. */
class LedgerView extends BudgetPort {
  constructor(readonly ledger: SharedLedger) {
    super();
  }

  isExhausted(c: Campaign): bool {
    return this.ledger.isExhausted(c);
  }

  shading(c: Campaign): f64 {
    return this.ledger.shading(c);
  }

  marketPriceMicros(c: Campaign): i64 {
    return this.ledger.marketPriceMicros(c);
  }

  refund(bid: ImpBid): void {
    this.ledger.refund(bid);
  }
}

export class ReplayGatedBudget extends LedgerView {
  private idPtr: usize = 0;
  private idLen: i32 = 0;
  private nowMs: i64 = 0;
  private monoMs: i64 = -1;
  private verdict: i32 = UNASKED;

  constructor(ledger: SharedLedger, readonly guard: ReplayGuard) {
    super(ledger);
  }

  /** The request about to be decided: its id (valid until the decision returns) and the clocks the guard needs. */
  begin(idPtr: usize, idLen: i32, nowMs: i64, monoMs: i64): void {
    this.idPtr = idPtr;
    this.idLen = idLen;
    this.nowMs = nowMs;
    this.monoMs = monoMs;
    this.verdict = UNASKED;
  }

  reserve(c: Campaign, wanted: i64, bid: ImpBid): i64 {
    if (this.verdict == UNASKED) this.verdict = this.guard.check(this.idPtr, this.idLen, this.nowMs, this.monoMs);
    if (this.verdict != NoBid.NONE) {
      this.lastFailure = this.verdict;
      return 0;
    }
    const amount = this.ledger.reserve(c, wanted, bid);
    if (amount <= 0) this.lastFailure = this.ledger.lastFailure;
    return amount;
  }
}

/** Reserves nothing; notes that the decision got as far as a reservation (`wanted`). */
export class ReservationProbe extends LedgerView {
  wanted: bool = false;

  begin(): void {
    this.wanted = false;
  }

  reserve(c: Campaign, wanted: i64, bid: ImpBid): i64 {
    this.wanted = true;
    // Never a no-bid the exchange sees: a probe that wanted to reserve leads to a claim.
    this.lastFailure = NoBid.CONTENTION;
    return 0;
  }
}
