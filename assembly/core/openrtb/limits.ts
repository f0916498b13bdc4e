/**
 * Capacities and limits of the preallocated BidRequest, and shared defaults.
 * Arrays longer than their capacity are still validated whole; only the first
 * N elements are kept (see `total` / `*Total` counters).
 */
import { Str } from "../bytes/str";

export const MAX_IMPS: i32 = 16;
export const MAX_FORMATS: i32 = 16;
export const MAX_DEALS: i32 = 16;
/** user.data[].segment[], flattened over all data objects. */
export const MAX_SEGMENTS: i32 = 64;
export const MAX_CUR: i32 = 32;
/**
 * bcat, badv, bapp (each). Exchanges send long block lists (bcat often names
 * most of the IAB taxonomy, badv hundreds of domains): the bid path refuses to
 * bid when a block list it checks was longer than this (it cannot know what
 * the dropped entries blocked), so the capacity is generous.
 */
export const MAX_BLOCKED: i32 = 512;
export const MAX_MIMES: i32 = 16;
/** Lists of small enums (api, battr, btype, protocols, gpp_sid). */
export const MAX_INT_LIST: i32 = 32;
/** wseat, bseat (a longer bseat is a no-bid on the bid path, a longer wseat is searched only this far). */
export const MAX_SEATS: i32 = 64;
/** wlang, wlangb (languages a creative may be in: a handful; a longer list is searched this far). */
export const MAX_LANGS: i32 = 64;
/** site.cat, app.cat. */
export const MAX_CATS: i32 = 16;
/** user.kwarray (2.6), or user.keywords sent as an array. */
export const MAX_KEYWORDS: i32 = 16;
/** Supply-chain nodes whose asi and sid are kept (the rest are counted: a seller rule then cannot pass). */
export const MAX_SCHAIN_NODES: i32 = 16;
/** deal.wseat and deal.wadomain (per deal, so kept small). */
export const MAX_DEAL_SEATS: i32 = 8;
/** Ids echoed in the response (request id, imp.id, deal.id): longer is an error, never cut. */
export const MAX_ID_BYTES: i32 = 256;
/** Every other string is cut to this many bytes (at a character boundary). */
export const MAX_STRING_BYTES: i32 = 512;
/**
 * TCF and GPP strings (user.consent, regs.gpp and their 2.5 ext places): decoded section by
 * section, so a cut one reads as missing its later sections (a GPP string with an EU TCF section,
 * 550-700 characters, lost its US sections at 512). Longer is cut, as before, and counted.
 */
export const MAX_PRIVACY_STRING_BYTES: i32 = 16384;
/** native.request is a whole JSON document: cutting it at 512 bytes would always break it. */
export const MAX_NATIVE_REQUEST_BYTES: i32 = 16384;

/** Default of integer fields for which 0 is a meaningful value (flags such as secure, dnt, gdpr). */
export const UNSET: i32 = -1;

/** "USD", the default currency, as static UTF-8 bytes for Str views. */
const USD_BYTES: usize = memory.data<u8>([0x55, 0x53, 0x44]);

/** Points `s` at the static "USD" (the OpenRTB default for bidfloorcur). */
export function setDefaultCurrency(s: Str): void {
  s.set(USD_BYTES, 3);
}
