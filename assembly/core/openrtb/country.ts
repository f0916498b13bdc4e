// ISO 3166-1 country codes for geo targeting. OpenRTB's geo.country is alpha-3 ("USA"), but some
// exchanges send alpha-2 ("US", in PubMatic's own sample requests) or lower case: both sides of a
// country match are read as upper-case alpha-3 here, so a campaign listing "USA" (or "US") buys
// such traffic too. The 249 officially assigned codes, from the Debian iso-codes package 4.15.0
// (iso_3166-1.json), as alpha-2 followed by alpha-3, and Kosovo's user-assigned XK/XKX, which
// exchanges and geo databases use.
import { asciiUpper } from "../bytes/str";

const PAIRS: string =
  "XKXKX" +
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
  "UZUZBVAVATVCVCTVEVENVGVGBVIVIRVNVNMVUVUTWFWLFWSWSMYEYEMYTMYTZAZAFZMZMBZWZWE";

/** Alpha-3 code of alpha-2 "AB" at ALPHA3[(A-'A')*26 + (B-'A')], as 3 bytes (0: not assigned). */
const ALPHA3: StaticArray<u32> = buildAlpha3();

function buildAlpha3(): StaticArray<u32> {
  const t = new StaticArray<u32>(26 * 26);
  for (let i = 0; i + 5 <= PAIRS.length; i += 5) {
    const slot = (PAIRS.charCodeAt(i) - 0x41) * 26 + (PAIRS.charCodeAt(i + 1) - 0x41);
    unchecked((t[slot] = <u32>PAIRS.charCodeAt(i + 2) | (<u32>PAIRS.charCodeAt(i + 3) << 8) | (<u32>PAIRS.charCodeAt(i + 4) << 16)));
  }
  return t;
}

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
  const a = <i32>asciiUpper(load<u8>(ptr)) - 0x41;
  const b = <i32>asciiUpper(load<u8>(ptr + 1)) - 0x41;
  if (a < 0 || a >= 26 || b < 0 || b >= 26) return false;
  const code = unchecked(ALPHA3[a * 26 + b]);
  if (code == 0) return false;
  store<u8>(out, <u8>code);
  store<u8>(out + 1, <u8>(code >> 8));
  store<u8>(out + 2, <u8>(code >> 16));
  return true;
}
