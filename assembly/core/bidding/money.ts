// Money is integer micros of the account currency. OpenRTB prices are CPM
// (per 1000 impressions), so one impression at price P CPM costs P × 1000
// micros. Conversions round so that we never under-count what we may spend:
// costs and floors round up, bids round down.

export const MICROS_PER_UNIT: f64 = 1e6;

/** Micros per impression of a CPM price in currency units, rounded up (for floors and charges). */
export function cpmToImpressionMicrosCeil(cpm: f64): i64 {
  if (!(cpm > 0)) return 0;
  const v = cpm * 1000.0;
  // Out of range (bids saturate at 9e15, microsFloor): above every bid, so such a floor is never
  // "met" by a saturated bid of the same 9e15.
  if (v >= 9.0e15) return i64.MAX_VALUE;
  // Absorb binary representation error (1.1 * 1000 = 1100.0000000000002) before rounding up: a
  // few ulps, so relative. (An absolute 1e-6 micros also took floors truly above a whole micro,
  // e.g. 2.0000000001 CPM, as met by a bid of 2: the exchange refuses that bid.)
  return <i64>Math.ceil(v - v * 1e-12);
}

/** Micros per impression of a value in micros (f64), rounded down (bids). */
export function microsFloor(v: f64): i64 {
  if (!(v > 0)) return 0;
  if (v >= 9.0e15) return <i64>9.0e15;
  return <i64>Math.floor(v);
}

/**
 * The highest bid, micros per impression: 1,000,000 CPM, the highest price a win notice is read
 * at (filter/query.ts MAX_PRICE_NANOS). A bid above it could win, but its notice could not be
 * priced: the ledger would charge the bid, whatever the auction cleared at.
 */
export const MAX_BID_MICROS: i64 = 1_000_000_000;
