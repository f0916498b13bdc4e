// ISO 3166-1 country codes for geo targeting. OpenRTB's geo.country is alpha-3 ("USA"), but some
// exchanges send alpha-2 ("US", in PubMatic's own sample requests) or lower case: both sides of a
// country match are read as upper-case alpha-3 here, so a campaign listing "USA" (or "US") buys
// such traffic too. The 249 officially assigned codes, from the Debian iso-codes package 4.15.0
// (iso_3166-1.json), as alpha-2 followed by alpha-3, and Kosovo's user-assigned XK/XKX, which
// exchanges and geo databases use.
import { asciiUpper } from "../bytes/str";

/** Sorted by alpha-2, 5 letters each: alpha-2 then alpha-3 (a binary search, no table on the heap). */
const PAIRS: string =
  "ADANDAEAREAFAFGAGATGAIAIAALALBAMARMAOAGOAQATAARARGASASMATAUTAUAUSAWABWAXALAAZAZEBABIHBBBRB" +
  "BDBGDBEBELBFBFABGBGRBHBHRBIBDIBJBENBLBLMBMBMUBNBRNBOBOLBQBESBRBRABSBHSBTBTNBVBVTBWBWABYBLR" +
  "BZBLZCACANCCCCKCDCODCFCAFCGCOGCHCHECICIVCKCOKCLCHLCMCMRCNCHNCOCOLCRCRICUCUBCVCPVCWCUWCXCXR" +
  "CYCYPCZCZEDEDEUDJDJIDKDNKDMDMADODOMDZDZAECECUEEESTEGEGYEHESHERERIESESPETETHFIFINFJFJIFKFLK" +
  "FMFSMFOFROFRFRAGAGABGBGBRGDGRDGEGEOGFGUFGGGGYGHGHAGIGIBGLGRLGMGMBGNGINGPGLPGQGNQGRGRCGSSGS" +
  "GTGTMGUGUMGWGNBGYGUYHKHKGHMHMDHNHNDHRHRVHTHTIHUHUNIDIDNIEIRLILISRIMIMNININDIOIOTIQIRQIRIRN" +
  "ISISLITITAJEJEYJMJAMJOJORJPJPNKEKENKGKGZKHKHMKIKIRKMCOMKNKNAKPPRKKRKORKWKWTKYCYMKZKAZLALAO" +
  "LBLBNLCLCALILIELKLKALRLBRLSLSOLTLTULULUXLVLVALYLBYMAMARMCMCOMDMDAMEMNEMFMAFMGMDGMHMHLMKMKD" +
  "MLMLIMMMMRMNMNGMOMACMPMNPMQMTQMRMRTMSMSRMTMLTMUMUSMVMDVMWMWIMXMEXMYMYSMZMOZNANAMNCNCLNENER" +
  "NFNFKNGNGANINICNLNLDNONORNPNPLNRNRUNUNIUNZNZLOMOMNPAPANPEPERPFPYFPGPNGPHPHLPKPAKPLPOLPMSPM" +
  "PNPCNPRPRIPSPSEPTPRTPWPLWPYPRYQAQATREREUROROURSSRBRURUSRWRWASASAUSBSLBSCSYCSDSDNSESWESGSGP" +
  "SHSHNSISVNSJSJMSKSVKSLSLESMSMRSNSENSOSOMSRSURSSSSDSTSTPSVSLVSXSXMSYSYRSZSWZTCTCATDTCDTFATF" +
  "TGTGOTHTHATJTJKTKTKLTLTLSTMTKMTNTUNTOTONTRTURTTTTOTVTUVTWTWNTZTZAUAUKRUGUGAUMUMIUSUSAUYURY" +
  "UZUZBVAVATVCVCTVEVENVGVGBVIVIRVNVNMVUVUTWFWLFWSWSMXKXKXYEYEMYTMYTZAZAFZMZMBZWZWE";

const PAIR_COUNT: i32 = PAIRS.length / 5;

/**
 * Writes the upper-case alpha-3 code of the country [ptr, ptr+len) into out[0..3): an alpha-3
 * code in any case as it is, an assigned alpha-2 code as its alpha-3. Returns false for anything
 * else (out is then unchanged).
 */
export function countryAlpha3(ptr: usize, len: i32, out: usize): bool {
  if (len == 3) {
    for (let i = 0; i < 3; i++) {
      const c = asciiUpper(load<u8>(ptr + <usize>i));
      if (c < 0x41 || c > 0x5a) return false;
      store<u8>(out + <usize>i, c);
    }
    return true;
  }
  if (len != 2) return false;
  const key = (<i32>asciiUpper(load<u8>(ptr)) << 8) | <i32>asciiUpper(load<u8>(ptr + 1));
  let lo = 0;
  let hi = PAIR_COUNT - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const at = mid * 5;
    const k = (PAIRS.charCodeAt(at) << 8) | PAIRS.charCodeAt(at + 1);
    if (k < key) lo = mid + 1;
    else if (k > key) hi = mid - 1;
    else {
      for (let i = 0; i < 3; i++) store<u8>(out + <usize>i, <u8>PAIRS.charCodeAt(at + 2 + i));
      return true;
    }
  }
  return false;
}

/**
 * An officially assigned alpha-3 code (or Kosovo's XKX), upper case at code[0..3). For campaign
 * files: the request side reads any three letters (an exchange may know a code this table does
 * not), but a campaign listing "GER" (a sports code: Germany is "DEU") would never match.
 */
export function isAssignedAlpha3(code: usize): bool {
  const a = load<u8>(code);
  const b = load<u8>(code + 1);
  const c = load<u8>(code + 2);
  for (let at = 2; at < PAIRS.length; at += 5) {
    if (<u8>PAIRS.charCodeAt(at) == a && <u8>PAIRS.charCodeAt(at + 1) == b && <u8>PAIRS.charCodeAt(at + 2) == c) return true;
  }
  return false;
}

/**
 * Where the subdivision code of an ISO 3166-2 region [ptr, ptr+len) starts: after a country
 * prefix ("US-WI" → "WI"), else at 0. Campaigns and requests write regions either way.
 */
export function regionCodeStart(ptr: usize, len: i32): i32 {
  return len > 3 && load<u8>(ptr + 2) == 0x2d ? 3 : 0;
}
