// Where the GDPR (or a law modelled on it) applies: the EU's 27 members, with the outermost
// regions that have ISO codes of their own (Réunion, Guadeloupe, Martinique, French Guiana,
// Mayotte, Saint-Martin) and the Åland Islands; Iceland, Liechtenstein and Norway (the EEA); the
// United Kingdom, Gibraltar, Jersey, Guernsey and the Isle of Man. Used when a request does not
// say whether GDPR applies (regs.gdpr omitted: "unknown" in OpenRTB 2.6) to decide it from where
// the device is: geo-IP databases give these territories their own codes.
import { Str } from "../bytes/str";
import { countryAlpha3 } from "../openrtb/country";

const CODES =
  "AUTBELBGRHRVCYPCZEDNKESTFINFRADEUGRCHUNIRLITALVALTULUXMLTNLDPOLPRTROUSVKSVNESPSWE" + // EU 27
  "REUGLPMTQGUFMYTMAFALA" + // outermost regions and Åland
  "ISLLIENOR" + // EEA
  "GBRGIBJEYGGYIMN"; // UK, Gibraltar, Crown Dependencies

/** The codes above as 24-bit integers ('A' << 16 | 'U' << 8 | 'T'), sorted. */
const TERRITORY: StaticArray<u32> = territoryTable();

function territoryTable(): StaticArray<u32> {
  const n = CODES.length / 3;
  const out = new StaticArray<u32>(n);
  for (let i = 0; i < n; i++) {
    out[i] = (<u32>CODES.charCodeAt(3 * i) << 16) | (<u32>CODES.charCodeAt(3 * i + 1) << 8) | <u32>CODES.charCodeAt(3 * i + 2);
  }
  out.sort((a: u32, b: u32): i32 => (a < b ? -1 : a > b ? 1 : 0));
  return out;
}

const SCRATCH: usize = memory.data(4);

/** The country (alpha-3 or alpha-2, any case; "UK", "EL") is one where the GDPR applies; false for anything else or nothing. */
export function inGdprTerritory(country: Str): bool {
  // "UK" and "EL" are not ISO 3166 codes but the EU's own for the UK and Greece, and some
  // exchanges send them.
  if (country.len == 2) {
    const two = (<u32>load<u8>(country.ptr) | 0x20) << 8 | (<u32>load<u8>(country.ptr + 1) | 0x20);
    if (two == 0x756b || two == 0x656c) return true; // "uk", "el"
  }
  if (!countryAlpha3(country.ptr, country.len, SCRATCH)) return false;
  const code = (<u32>load<u8>(SCRATCH) << 16) | (<u32>load<u8>(SCRATCH + 1) << 8) | <u32>load<u8>(SCRATCH + 2);
  let lo = 0;
  let hi = TERRITORY.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = unchecked(TERRITORY[mid]);
    if (v == code) return true;
    if (v < code) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}
