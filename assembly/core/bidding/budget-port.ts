// The seam between the decision and the money. The decision asks; the filter
// answers from proxy-wasm shared data (atomic across worker VMs), tests answer
// from memory. Every reserve() that returns > 0 must end in exactly one
// settle/refund, which the filter's ledger guarantees.
import { Campaign } from "./campaign";
import { ImpBid } from "./imp-bid";
import { NoBid } from "./reasons";

export class BudgetPort {
  /** Why the last reserve() returned 0 (NoBid.BUDGET, NoBid.CONTENTION or NoBid.RING_FULL). */
  lastFailure: i32 = NoBid.BUDGET;

  /** Cheap check before any work: the campaign is known to have nothing left (or is paused). */
  isExhausted(campaign: Campaign): bool {
    return false;
  }

  /** Pacing multiplier for the campaign's bids (1 = unshaded). */
  shading(campaign: Campaign): f64 {
    return 1.0;
  }

  /** Expected market price of one impression in micros for the ROI guard (0 = unknown). */
  marketPriceMicros(campaign: Campaign): i64 {
    return campaign.marketPriceCpmMicros / 1000;
  }

  /** Reserves up to `wanted` micros for `bid`; fills its reservation handle; returns the amount (0 = none). */
  reserve(campaign: Campaign, wanted: i64, bid: ImpBid): i64 {
    return wanted;
  }

  /** Releases a reservation that will not be sent (floor, timeout). */
  refund(bid: ImpBid): void {}
}
