import { murmur3_32, Murmur3Stream } from "../core/hash/murmur3";

function hashStr(s: string, seed: u32): u32 {
  const b = String.UTF8.encode(s);
  return murmur3_32(changetype<usize>(b), b.byteLength, seed);
}

function streamHash(parts: string[], seed: u32): u32 {
  const st = new Murmur3Stream();
  st.reset(seed);
  for (let i = 0; i < parts.length; i++) {
    const b = String.UTF8.encode(parts[i]);
    st.update(changetype<usize>(b), b.byteLength);
  }
  return st.finish();
}

describe("murmur3_32 x86 known answers", () => {
  it("matches the reference vectors", () => {
    expect(hashStr("", 0)).toBe(0x00000000);
    expect(hashStr("", 1)).toBe(0x514e28b7);
    expect(hashStr("hello", 0)).toBe(0x248bfa47);
    expect(hashStr("The quick brown fox jumps over the lazy dog", 0)).toBe(0x2e4ff723);
  });
  it("matches further published vectors (seeds, tails of 1-3 bytes, non-ASCII)", () => {
    expect(hashStr("", 0xffffffff)).toBe(0x81f16f39);
    expect(hashStr("a", 0x9747b28c)).toBe(0x7fa09ea6);
    expect(hashStr("ab", 0x9747b28c)).toBe(0x74875592);
    expect(hashStr("abc", 0x9747b28c)).toBe(0xc84a62dd);
    expect(hashStr("abcd", 0x9747b28c)).toBe(0xf0478627);
    expect(hashStr("Hello, world!", 0x9747b28c)).toBe(0x24884cba);
    expect(hashStr("ππππππππ", 0x9747b28c)).toBe(0xd58063c1);
  });
});

describe("Murmur3Stream", () => {
  it("equals the one-shot hash however the input is split", () => {
    const s = "The quick brown fox jumps over the lazy dog";
    const whole = hashStr(s, 0);
    for (let cut = 0; cut <= s.length; cut++) {
      expect(streamHash([s.substring(0, cut), s.substring(cut)], 0)).toBe(whole);
    }
    expect(streamHash(["The", " qu", "ick brown f", "o", "x jumps over the lazy dog"], 0)).toBe(whole);
    expect(streamHash(["", ""], 1)).toBe(0x514e28b7);
  });
  it("restores a saved prefix state", () => {
    const prefix = new Murmur3Stream();
    prefix.reset(0);
    prefix.updateAscii("domain=");
    const st = new Murmur3Stream();
    st.copyFrom(prefix);
    const v = String.UTF8.encode("example.com");
    st.update(changetype<usize>(v), v.byteLength);
    expect(st.finish()).toBe(hashStr("domain=example.com", 0));
    st.copyFrom(prefix);
    expect(st.finish()).toBe(hashStr("domain=", 0));
  });
});
