// The IAB US Privacy (CCPA) string, "1YNN": version, notice given, opted out of sale, LSPA
// covered. Sent as regs.us_privacy (2.6), regs.ext.us_privacy (2.5), or as section 6 of a GPP
// string (gpp.ts).
import { Str } from "../bytes/str";

/**
 * A US Privacy string ("1YNN": version, notice given, opted out of sale, LSPA) whose third
 * character says the user opted out of the sale of their data. Any case, any version: an
 * unknown version with a 'Y' there is still read as an opt-out (the safe reading).
 */
export function optedOutOfSale(s: Str): bool {
  if (s.len < 3) return false;
  const c = s.byteAt(2);
  return c == 0x59 || c == 0x79; // 'Y' / 'y'
}
