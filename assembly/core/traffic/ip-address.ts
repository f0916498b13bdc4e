// Textual IP addresses as requests carry them (device.ip, device.ipv6) and as range lists write
// them (CIDR): strict parsers over bytes, allocation-free, for the invalid-traffic screen.

/** An IPv6 address as two 64-bit halves (network order: `hi` holds the first 8 bytes). */
export class Ipv6 {
  hi: u64 = 0;
  lo: u64 = 0;
}

@inline function digit(c: u32): i32 {
  return c >= 0x30 && c <= 0x39 ? <i32>(c - 0x30) : -1;
}

@inline function hexDigit(c: u32): i32 {
  if (c >= 0x30 && c <= 0x39) return <i32>(c - 0x30);
  const l = c | 0x20;
  return l >= 0x61 && l <= 0x66 ? <i32>(l - 0x61 + 10) : -1;
}

/**
 * Dotted-quad IPv4 ("203.0.113.7": four decimal octets 0–255, 1–3 digits each) as a u32 in
 * network order, or -1. Exchanges that truncate the last octet send "203.0.113.0", which parses.
 */
export function parseIpv4(ptr: usize, len: i32): i64 {
  let value: u32 = 0;
  let octets = 0;
  let i = 0;
  while (octets < 4) {
    let n = 0;
    let digits = 0;
    while (i < len) {
      const d = digit(<u32>load<u8>(ptr + <usize>i));
      if (d < 0) break;
      n = n * 10 + d;
      digits++;
      i++;
      if (digits > 3) return -1;
    }
    if (digits == 0 || n > 255) return -1;
    value = (value << 8) | <u32>n;
    octets++;
    if (octets < 4) {
      if (i >= len || load<u8>(ptr + <usize>i) != 0x2e) return -1;
      i++;
    }
  }
  return i == len ? <i64>value : -1;
}

/**
 * RFC 4291 §2.2 text: eight groups of 1–4 hex digits, one "::" for a run of zero groups, and an
 * IPv4 dotted quad in the last 32 bits ("::ffff:192.0.2.1"). No zone ("%eth0") and no brackets.
 * Fills `out`; false when the text is not an address.
 */
export function parseIpv6(ptr: usize, len: i32, out: Ipv6): bool {
  // Up to 8 groups; `gap` is where "::" stands (-1: none).
  const groups = changetype<usize>(GROUPS);
  let count = 0;
  let gap = -1;
  let i = 0;
  if (len >= 2 && load<u8>(ptr) == 0x3a && load<u8>(ptr, 1) == 0x3a) {
    gap = 0;
    i = 2;
  } else if (len >= 1 && load<u8>(ptr) == 0x3a) return false;
  while (i < len) {
    // An IPv4 tail: the rest has a dot before the next colon.
    let j = i;
    let dotted = false;
    while (j < len && load<u8>(ptr + <usize>j) != 0x3a) {
      if (load<u8>(ptr + <usize>j) == 0x2e) dotted = true;
      j++;
    }
    if (dotted) {
      if (j != len || count > 6) return false;
      const v4 = parseIpv4(ptr + <usize>i, len - i);
      if (v4 < 0) return false;
      store<u16>(groups + (<usize>count << 1), <u16>(<u32>v4 >> 16));
      store<u16>(groups + (<usize>(count + 1) << 1), <u16>(<u32>v4 & 0xffff));
      count += 2;
      i = len;
      break;
    }
    const n = j - i;
    if (n < 1 || n > 4 || count >= 8) return false;
    let g: u32 = 0;
    for (let k = i; k < j; k++) {
      const h = hexDigit(<u32>load<u8>(ptr + <usize>k));
      if (h < 0) return false;
      g = (g << 4) | <u32>h;
    }
    store<u16>(groups + (<usize>count << 1), <u16>g);
    count++;
    i = j;
    if (i == len) break;
    // A colon: "::" opens the gap (once), a single one separates; none may end the text.
    i++;
    if (i < len && load<u8>(ptr + <usize>i) == 0x3a) {
      if (gap >= 0) return false;
      gap = count;
      i++;
      if (i == len) break;
    } else if (i == len) return false;
  }
  if (gap < 0 ? count != 8 : count > 7) return false;
  // Spread the groups around the gap into 8.
  let hi: u64 = 0;
  let lo: u64 = 0;
  const zeros = 8 - count;
  for (let k = 0; k < 8; k++) {
    let g: u64 = 0;
    if (gap < 0 || k < gap) g = <u64>load<u16>(groups + (<usize>k << 1));
    else if (k >= gap + zeros) g = <u64>load<u16>(groups + (<usize>(k - zeros) << 1));
    if (k < 4) hi = (hi << 16) | g;
    else lo = (lo << 16) | g;
  }
  out.hi = hi;
  out.lo = lo;
  return true;
}

const GROUPS = new StaticArray<u16>(8);
