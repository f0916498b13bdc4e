// May this request's personal data be used for targeting? Decided once per
// request from the regulatory signals the exchange sends; when it may not,
// the bidder still bids, on contextual features only (features/extract.ts
// leaves out ip and the user.data segments). Nothing is allocated.
import { BidRequest } from "../openrtb/request";
import { Str } from "../bytes/str";
import { TcfConsent } from "./tcf";
import { GppString, GppVerdict } from "./gpp";
import { optedOutOfSale } from "./us-privacy";
import { inGdprTerritory } from "./gdpr-territory";
import { UNSET } from "../openrtb/limits";

/** Why personal data may not be used (the first signal that refuses it), or ALLOWED. */
export namespace PersonalData {
  export const ALLOWED: i32 = 0;
  /** regs.coppa = 1: a child-directed request (COPPA). */
  export const COPPA: i32 = 1;
  /**
   * device.lmt = 1: the OS's limit-ad-tracking setting; or device.ext.atts other than 3: iOS App
   * Tracking Transparency has not authorized tracking (Prebid derives lmt from it the same way;
   * exchanges that send atts with lmt 0 exist).
   */
  export const LMT: i32 = 2;
  /** device.dnt = 1: the browser's Do-Not-Track header. */
  export const DNT: i32 = 3;
  /** US Privacy (CCPA) string with opt-out-of-sale = 'Y'. */
  export const US_PRIVACY_OPT_OUT: i32 = 4;
  /** GDPR applies (gdprApplies()) and the TCF v2 string does not grant purposes 1, 3, 4 (and our vendor, when configured). */
  export const GDPR_NO_CONSENT: i32 = 5;
  /**
   * The GPP string (regs.gpp): an applicable US section says the user opted out of sale, sharing
   * or targeted advertising, is a known child or sent GPC (gpp.ts). An applicable TCF EU section
   * is judged as GDPR_NO_CONSENT.
   */
  export const GPP_OPT_OUT: i32 = 6;
  /** The GPP signal cannot be read: an applicable section missing, undecodable or not read here (gpp.ts). */
  export const GPP_UNREADABLE: i32 = 7;
}

/** device.ext.atts: the user authorized tracking (ATTrackingManager.AuthorizationStatus.authorized). */
const ATTS_AUTHORIZED: i32 = 3;

/** Purposes a personalised ad needs: 1 store/access on a device, 3 create a profile, 4 select ads. */
const REQUIRED_PURPOSES: u32 = (1 << 23) | (1 << 21) | (1 << 20);

export class PersonalDataPolicy {
  /** Our IAB Global Vendor List id (plugin gdpr_vendor_id); 0 = not checked, purposes only. */
  gdprVendorId: i32 = 0;
  /** The TC string of the last request decided under GDPR (reused). */
  readonly tcf: TcfConsent = new TcfConsent();
  /** The GPP string of the last request that sent one (reused). */
  readonly gpp: GppString = new GppString();

  /** PersonalData.ALLOWED, or the reason it is not. */
  decide(req: BidRequest): i32 {
    const regs = req.regs;
    if (regs.present && regs.coppa == 1) return PersonalData.COPPA;
    const dev = req.device;
    if (dev.present && (dev.lmt == 1 || (dev.atts != UNSET && dev.atts != ATTS_AUTHORIZED))) return PersonalData.LMT;
    if (dev.present && dev.dnt == 1) return PersonalData.DNT;
    if (regs.present && optedOutOfSale(regs.effectiveUsPrivacy)) return PersonalData.US_PRIVACY_OPT_OUT;
    if (regs.present) {
      const v = this.gpp.decide(regs.effectiveGpp, regs.effectiveGppSid);
      if (v == GppVerdict.US_OPT_OUT) return PersonalData.GPP_OPT_OUT;
      if (v == GppVerdict.UNREADABLE) return PersonalData.GPP_UNREADABLE;
      if (v == GppVerdict.TCF && !this.consents(this.gpp.tcf)) return PersonalData.GDPR_NO_CONSENT;
    }
    const consent = req.user.present ? req.user.effectiveConsent : NO_CONSENT;
    if (gdprApplies(req, consent) && !this.consents(consent)) return PersonalData.GDPR_NO_CONSENT;
    return PersonalData.ALLOWED;
  }

  /** The TC string grants the purposes (and our vendor, when configured). Missing or undecodable: no. */
  private consents(s: Str): bool {
    const t = this.tcf;
    if (s.len == 0) {
      t.clear();
      return false;
    }
    if (!t.decode(s.ptr, s.len, this.gdprVendorId)) return false;
    if ((t.purposesConsent & REQUIRED_PURPOSES) != REQUIRED_PURPOSES) return false;
    return this.gdprVendorId == 0 || t.vendorConsent;
  }
}

const NO_CONSENT = new Str();

/**
 * GDPR applies: regs.gdpr (or 2.5's regs.ext.gdpr) = 1. When the request does not say (omitted:
 * "unknown" in OpenRTB 2.6), it applies when a TC string came with it (the exchange collected
 * consent for it) or the device is where the GDPR holds (device.geo.country): unknown is not
 * "does not apply". An explicit 0 is taken as the exchange's word.
 */
function gdprApplies(req: BidRequest, consent: Str): bool {
  const gdpr = req.regs.present ? req.regs.effectiveGdpr : UNSET;
  if (gdpr != UNSET) return gdpr == 1;
  if (consent.len > 0) return true;
  const dev = req.device;
  return dev.present && dev.geo.present && inGdprTerritory(dev.geo.country);
}
