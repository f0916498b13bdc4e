import { sha256 } from "../core/hash/sha256";

function hexDigest(s: string): string {
  const b = String.UTF8.encode(s);
  const out = new ArrayBuffer(32);
  sha256(changetype<usize>(b), b.byteLength, changetype<usize>(out));
  const v = Uint8Array.wrap(out);
  let r = "";
  for (let i = 0; i < 32; i++) r += (v[i] < 16 ? "0" : "") + v[i].toString(16);
  return r;
}

describe("sha256", () => {
  it("matches FIPS 180-4 / NIST vectors", () => {
    expect(hexDigest("")).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(hexDigest("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(hexDigest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")).toBe(
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    );
  });
  it("handles lengths around the block and padding boundaries", () => {
    // 55, 56, 63, 64 and 65 'a's: padding spills into a second block at 56.
    expect(hexDigest("a".repeat(55))).toBe("9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
    expect(hexDigest("a".repeat(56))).toBe("b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
    expect(hexDigest("a".repeat(64))).toBe("ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
    expect(hexDigest("a".repeat(1000))).toBe("41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
  });
});
