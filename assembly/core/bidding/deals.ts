// Private-marketplace deals (OpenRTB imp.pmp.deals): which of an impression's deals a campaign
// may bid in, and at what floor and price. A campaign buys in the deals its configuration lists
// (`deals`, docs/CAMPAIGNS.md); a deal id is the exchange's, compared byte for byte.
import { Str } from "../bytes/str";
import { Deal, Imp } from "../openrtb/request";
import { Campaign, Creative } from "./campaign";
import { foldedHash } from "./owned-bytes";
import { CurrencyTable } from "./currency";
import { cpmToImpressionMicrosCeil } from "./money";
import { dealMediaFloorCpm } from "./media";
import { NoBid, worse } from "./reasons";

/** OpenRTB 2.6 deal.at 3: "the value passed in bidfloor is the agreed upon deal price". */
const AT_FIXED_PRICE: i32 = 3;

/** What DealPicker.pick() found for one campaign on one impression. */
export class DealPicker {
  /** The deal to bid in (null: none; `reason` says why). */
  deal: Deal | null = null;
  /** The deal's floor in micros per impression, in the account currency. */
  floorMicros: i64 = 0;
  /** The price to bid in the deal: the campaign's own bid, or the deal price of a fixed-price deal. */
  priceMicros: i64 = 0;
  /** Why no deal was picked: NO_MATCH (none of the campaign's), BLOCKED, CURRENCY or BELOW_FLOOR. */
  reason: i32 = NoBid.NO_MATCH;

  /**
   * The first of the impression's deals (the exchange's order) that the campaign buys in, that
   * admits our seat (deal.wseat) and the creative's advertiser (deal.wadomain), whose floor
   * currency has a rate, and whose floor `bidMicros` (the campaign's capped bid) clears. In a
   * fixed-price deal (deal.at 3, or the request's at 3 when the deal does not say) the price is
   * the deal's floor: the campaign takes it when its own bid is at least that.
   */
  pick(imp: Imp, requestAt: i32, camp: Campaign, cr: Creative, seat: Str, fx: CurrencyTable, currency: Str, bidMicros: i64): bool {
    this.deal = null;
    this.reason = NoBid.NO_MATCH;
    const pmp = imp.pmp;
    for (let i = 0; i < pmp.dealCount; i++) {
      const deal = pmp.deal(i);
      if (!deal.idHashed) {
        deal.idHash = foldedHash(deal.id.ptr, deal.id.len);
        deal.idHashed = true;
      }
      if (!camp.deals.hasHashed(deal.id, deal.idHash)) continue;
      if (!admits(deal, cr, seat)) {
        this.note(NoBid.BLOCKED);
        continue;
      }
      const rate = fx.rateToAccount(deal.bidfloorcur, currency);
      if (rate <= 0 && deal.bidfloor > 0) {
        this.note(NoBid.CURRENCY);
        continue;
      }
      let floor = deal.bidfloor > 0 ? cpmToImpressionMicrosCeil(deal.bidfloor * rate) : 0;
      if (cr.isMedia) {
        // The deal's own price per second and floors by duration (OpenRTB 2.6-202309).
        const byDuration = dealMediaFloorCpm(deal, cr);
        if (byDuration < 0) {
          this.note(NoBid.BELOW_FLOOR);
          continue;
        }
        if (byDuration > 0) {
          if (rate <= 0) {
            this.note(NoBid.CURRENCY);
            continue;
          }
          const micros = cpmToImpressionMicrosCeil(byDuration * rate);
          if (micros > floor) floor = micros;
        }
      }
      if (bidMicros <= 0 || bidMicros < floor) {
        this.note(NoBid.BELOW_FLOOR);
        continue;
      }
      const at = deal.at > 0 ? deal.at : requestAt;
      this.deal = deal;
      this.floorMicros = floor;
      this.priceMicros = at == AT_FIXED_PRICE && floor > 0 ? floor : bidMicros;
      return true;
    }
    return false;
  }

  /** Keeps the reason of the deal that got furthest (a floor beats a currency beats a block). */
  private note(reason: i32): void {
    this.reason = worse(this.reason, reason);
  }
}

/**
 * The deal's buyer rules: our seat must be in its wseat, and one of the creative's advertiser
 * domains (or a subdomain of one) in its wadomain, when the deal gives them. A list longer than
 * the parser keeps that does not show us is a refusal: a deal missed, never one bid against its
 * terms.
 */
function admits(deal: Deal, cr: Creative, seat: Str): bool {
  if (deal.wseat.total > 0 && !deal.wseat.contains(seat)) return false;
  if (deal.wadomain.total == 0) return true;
  for (let i = 0; i < cr.adomain.items.length; i++) {
    const d = unchecked(cr.adomain.items[i]);
    for (let j = 0; j < deal.wadomain.count; j++) {
      if (d.isDomainOrSubdomainOf(deal.wadomain.get(j))) return true;
    }
  }
  return false;
}
