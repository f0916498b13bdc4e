// ByteWriter (assembly/core/bytes/writer.ts): numbers, exact decimals,
// escaping, percent-encoding, hex and the overflow flag.
import { ByteWriter } from "../core/bytes/writer";

function text(w: ByteWriter): string {
  return String.UTF8.decodeUnsafe(w.base, <usize>w.len);
}

function u64s(v: u64): string {
  const w = new ByteWriter(64);
  w.u64(v);
  expect(w.overflowed).toBe(false);
  return text(w);
}

function i64s(v: i64): string {
  const w = new ByteWriter(64);
  w.i64(v);
  expect(w.overflowed).toBe(false);
  return text(w);
}

function fixed(v: i64, scale: i32): string {
  const w = new ByteWriter(64);
  w.fixed(v, scale);
  expect(w.overflowed).toBe(false);
  return text(w);
}

function esc(s: string): string {
  const b = String.UTF8.encode(s);
  const w = new ByteWriter(1024);
  w.jsonEscaped(changetype<usize>(b), b.byteLength);
  expect(w.overflowed).toBe(false);
  return text(w);
}

function url(s: string): string {
  const b = String.UTF8.encode(s);
  const w = new ByteWriter(1024);
  w.urlEncoded(changetype<usize>(b), b.byteLength);
  expect(w.overflowed).toBe(false);
  return text(w);
}

function rawBytes(bytes: u8[]): ArrayBuffer {
  const b = new ArrayBuffer(bytes.length);
  for (let i = 0; i < bytes.length; i++) store<u8>(changetype<usize>(b) + <usize>i, bytes[i]);
  return b;
}

describe("ByteWriter integers", () => {
  it("u64 edge values", () => {
    expect(u64s(0)).toBe("0");
    expect(u64s(9)).toBe("9");
    expect(u64s(10)).toBe("10");
    expect(u64s(1000000)).toBe("1000000");
    expect(u64s(u64.MAX_VALUE)).toBe("18446744073709551615");
    expect(u64s(10000000000000000000)).toBe("10000000000000000000");
  });

  it("i64 edge values", () => {
    expect(i64s(0)).toBe("0");
    expect(i64s(-1)).toBe("-1");
    expect(i64s(42)).toBe("42");
    expect(i64s(i64.MAX_VALUE)).toBe("9223372036854775807");
    expect(i64s(i64.MIN_VALUE)).toBe("-9223372036854775808");
    expect(i64s(-1000)).toBe("-1000");
  });

  it("appends after what is already written", () => {
    const w = new ByteWriter(32);
    w.ascii("a=");
    w.u64(12);
    w.byte(0x2c);
    w.i64(-3);
    expect(text(w)).toBe("a=12,-3");
  });
});

describe("ByteWriter.fixed", () => {
  it("prints micros as exact decimals with trailing zeros trimmed", () => {
    expect(fixed(2003, 3)).toBe("2.003");
    expect(fixed(2000, 3)).toBe("2");
    expect(fixed(2030, 3)).toBe("2.03");
    expect(fixed(5, 3)).toBe("0.005");
    expect(fixed(50, 3)).toBe("0.05");
    expect(fixed(999, 3)).toBe("0.999");
    expect(fixed(1000, 3)).toBe("1");
    expect(fixed(0, 3)).toBe("0");
    expect(fixed(1234567, 6)).toBe("1.234567");
    expect(fixed(1200000, 6)).toBe("1.2");
    expect(fixed(1, 6)).toBe("0.000001");
    expect(fixed(7, 0)).toBe("7");
    expect(fixed(123456789012345, 3)).toBe("123456789012.345");
    expect(fixed(i64.MAX_VALUE, 3)).toBe("9223372036854775.807");
  });

  it("prints negative values with a sign", () => {
    expect(fixed(-2003, 3)).toBe("-2.003");
    expect(fixed(-5, 3)).toBe("-0.005");
    expect(fixed(-2000, 3)).toBe("-2");
  });

  // Regression: -i64.MIN_VALUE overflowed and printed garbage digits.
  it("prints i64.MIN_VALUE exactly", () => {
    expect(fixed(i64.MIN_VALUE, 3)).toBe("-9223372036854775.808");
  });
});

describe("ByteWriter.jsonEscaped", () => {
  it("escapes quotes, backslashes and control characters", () => {
    expect(esc('say "hi"')).toBe('say \\"hi\\"');
    expect(esc("a\\b")).toBe("a\\\\b");
    expect(esc("line1\nline2")).toBe("line1\\u000aline2");
    expect(esc("\t\r")).toBe("\\u0009\\u000d");
    expect(esc("\x1f")).toBe("\\u001f");
    expect(esc("")).toBe("");
    expect(esc("/ and ' pass")).toBe("/ and ' pass");
    expect(esc("\x7f")).toBe("\x7f");
  });

  it("escapes NUL", () => {
    const b = rawBytes([0x61, 0x00, 0x62]);
    const w = new ByteWriter(32);
    w.jsonEscaped(changetype<usize>(b), 3);
    expect(text(w)).toBe("a\\u0000b");
  });

  it("passes UTF-8 through byte for byte", () => {
    expect(esc("é€😀 Zürich")).toBe("é€😀 Zürich");
    const b = String.UTF8.encode("π");
    const w = new ByteWriter(8);
    w.jsonEscaped(changetype<usize>(b), b.byteLength);
    expect(w.len).toBe(2);
    expect(load<u8>(w.base)).toBe(0xcf);
    expect(load<u8>(w.base, 1)).toBe(0x80);
  });
});

/** jsonEscaped() defined byte by byte, through the same public pieces (for the overflow flag). */
function escapeByteByByte(w: ByteWriter, ptr: usize, n: i32): void {
  const hex = "0123456789abcdef";
  let run = 0;
  for (let i = 0; i < n; i++) {
    const c = load<u8>(ptr + <usize>i);
    if (c >= 0x20 && c != 0x22 && c != 0x5c) continue;
    w.bytes(ptr + <usize>run, i - run);
    if (c == 0x22 || c == 0x5c) {
      w.byte(0x5c);
      w.byte(c);
    } else {
      w.ascii("\\u00");
      w.byte(<u8>hex.charCodeAt(c >> 4));
      w.byte(<u8>hex.charCodeAt(c & 15));
    }
    run = i + 1;
  }
  w.bytes(ptr + <usize>run, n - run);
}

describe("ByteWriter.jsonEscaped against a byte-by-byte definition", () => {
  it("writes the same bytes and overflows alike for random inputs, offsets and capacities", () => {
    const pick: u8[] = [0x61, 0x7a, 0x2f, 0x20, 0x7e, 0x7f, 0x22, 0x5c, 0x00, 0x0a, 0x1f, 0x21, 0x5b, 0x5d, 0xc3, 0xa9, 0xff, 0x80];
    let seed: u32 = 99;
    let escaped = 0;
    for (let round = 0; round < 5000; round++) {
      seed = seed * 1664525 + 1013904223;
      const n = <i32>((seed >>> 8) % 40);
      // Mostly plain bytes, so runs of whole words occur between the bytes to escape.
      const odds = 1 + ((seed >>> 20) % 16);
      const bytes: u8[] = [];
      for (let i = 0; i < n + 8; i++) {
        seed = seed * 1664525 + 1013904223;
        bytes.push((seed >>> 8) % odds == 0 ? pick[<i32>((seed >>> 16) % <u32>pick.length)] : <u8>(0x41 + (seed >>> 16) % 26));
      }
      const src = rawBytes(bytes);
      seed = seed * 1664525 + 1013904223;
      const at = <usize>((seed >>> 8) % 8); // unaligned starts; bytes after the range differ from it
      const cap = seed % 4 == 0 ? <i32>((seed >>> 12) % <u32>(3 * n + 4)) : 8 * n + 16;
      const got = new ByteWriter(cap);
      const want = new ByteWriter(cap);
      got.ascii("x");
      want.ascii("x");
      got.jsonEscaped(changetype<usize>(src) + at, n);
      escapeByteByByte(want, changetype<usize>(src) + at, n);
      const what = bytes.slice(<i32>at, <i32>at + n).toString() + " cap " + cap.toString();
      expect(got.len).toBe(want.len, what);
      expect(got.overflowed).toBe(want.overflowed, what);
      expect(memory.compare(got.base, want.base, <usize>got.len)).toBe(0, what);
      if (!want.overflowed && want.len > n + 1) escaped++;
    }
    expect(escaped).toBeGreaterThan(1000);
  });
});

describe("ByteWriter.urlEncoded", () => {
  it("passes RFC 3986 unreserved characters", () => {
    expect(url("AZaz09-._~")).toBe("AZaz09-._~");
    expect(url("imp-1")).toBe("imp-1");
  });

  it("percent-encodes everything else in upper-case hex", () => {
    expect(url(" ")).toBe("%20");
    expect(url("a/b")).toBe("a%2Fb");
    expect(url("&=?#%+")).toBe("%26%3D%3F%23%25%2B");
    expect(url('"<>')).toBe("%22%3C%3E");
    expect(url("é")).toBe("%C3%A9");
    expect(url("\n")).toBe("%0A");
    expect(url("${AUCTION_PRICE}")).toBe("%24%7BAUCTION_PRICE%7D");
    const b = rawBytes([0x00, 0xff]);
    const w = new ByteWriter(16);
    w.urlEncoded(changetype<usize>(b), 2);
    expect(text(w)).toBe("%00%FF");
  });
});

describe("ByteWriter.hex", () => {
  it("writes lower-case hex of bytes", () => {
    const b = rawBytes([0x00, 0x01, 0xab, 0xff, 0x7e]);
    const w = new ByteWriter(16);
    w.hex(changetype<usize>(b), 5);
    expect(text(w)).toBe("0001abff7e");
    w.reset();
    w.hex(changetype<usize>(b), 0);
    expect(w.len).toBe(0);
  });
});

describe("ByteWriter ascii", () => {
  it("writes every character of literals of each length around the four-character steps", () => {
    const all = "{\"id\":\"&price=${AUCTION_PRICE}~ 09AZaz";
    for (let n = 0; n <= all.length; n++) {
      const lit = all.substring(0, n);
      const w = new ByteWriter(64);
      w.byte(0x2a); // an odd start: the four-byte stores are unaligned
      w.ascii(lit);
      expect(w.len).toBe(n + 1);
      expect(text(w)).toBe("*" + lit);
    }
  });
});

describe("ByteWriter overflow", () => {
  it("fills exactly to capacity without overflowing", () => {
    const w = new ByteWriter(4);
    w.ascii("abcd");
    expect(w.overflowed).toBe(false);
    expect(w.len).toBe(4);
    w.byte(0x65);
    expect(w.overflowed).toBe(true);
    expect(w.len).toBe(4);
    expect(text(w)).toBe("abcd");
  });

  it("sets the flag and writes nothing of a piece that does not fit", () => {
    const w = new ByteWriter(4);
    w.ascii("hello");
    expect(w.overflowed).toBe(true);
    expect(w.len).toBe(0);
    w.reset();
    expect(w.overflowed).toBe(false);
    const b = String.UTF8.encode("12345");
    w.bytes(changetype<usize>(b), 5);
    expect(w.overflowed).toBe(true);
    expect(w.len).toBe(0);
    w.reset();
    w.u64(12345);
    expect(w.overflowed).toBe(true);
    expect(w.len).toBe(0);
    w.reset();
    w.u64(1234);
    expect(w.overflowed).toBe(false);
    expect(text(w)).toBe("1234");
  });

  it("keeps the flag set after later writes that fit", () => {
    const w = new ByteWriter(6);
    w.ascii("abc");
    w.ascii("defg");
    expect(w.overflowed).toBe(true);
    expect(w.len).toBe(3);
    w.byte(0x78);
    expect(w.overflowed).toBe(true);
    expect(w.len).toBe(4);
  });

  it("flags escapes and numbers that run past the end", () => {
    const w = new ByteWriter(5);
    const q = String.UTF8.encode('ab"c');
    w.jsonEscaped(changetype<usize>(q), q.byteLength); // a b \ " c = 5 bytes
    expect(w.overflowed).toBe(false);
    expect(text(w)).toBe('ab\\"c');
    w.reset();
    const nl = String.UTF8.encode("\n");
    w.jsonEscaped(changetype<usize>(nl), 1); // 6 bytes
    expect(w.overflowed).toBe(true);
    expect(w.len).toBeLessThanOrEqual(5);
    w.reset();
    w.i64(-123456);
    expect(w.overflowed).toBe(true);
    expect(w.len).toBeLessThanOrEqual(5);
    w.reset();
    w.fixed(123456, 3);
    expect(w.overflowed).toBe(true);
    expect(w.len).toBeLessThanOrEqual(5);
    w.reset();
    const x = String.UTF8.encode("   ");
    w.urlEncoded(changetype<usize>(x), 3);
    expect(w.overflowed).toBe(true);
    expect(w.len).toBeLessThanOrEqual(5);
  });

  it("ignores bytes() with n <= 0", () => {
    const w = new ByteWriter(2);
    w.bytes(0, 0);
    w.bytes(0, -1);
    expect(w.len).toBe(0);
    expect(w.overflowed).toBe(false);
  });
});
