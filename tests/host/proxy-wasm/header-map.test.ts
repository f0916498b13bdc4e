import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { decodeHeaderMap, deserializeHeaderMap, HeaderMap, serializeHeaderMap } from "../../../host/src/proxy-wasm/header-map.ts";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

describe("header map serialisation", () => {
  test("the spec's example {a: 1, b: 22}", () => {
    // The spec lists the bytes as 0x02, 0x01 0x01 0x01 0x02, then 0x61 0x00 0x49 0x00 0x62 0x00
    // 0x50 0x50 0x00: the integers are u32 little-endian (shown there as one byte each) and "1"/"2"
    // are written in decimal (49, 50). The exact wire bytes are:
    const expected =
      "02000000" + "01000000" + "01000000" + "01000000" + "02000000" + "61" + "00" + "31" + "00" + "62" + "00" + "3232" + "00";
    const bytes = serializeHeaderMap([["a", "1"], ["b", "22"]]);
    assert.equal(hex(bytes), expected);
    assert.deepEqual(deserializeHeaderMap(Buffer.from(expected, "hex")), [["a", "1"], ["b", "22"]]);
  });

  test("round trip with empty values and non-ASCII bytes (latin1 strings)", () => {
    const pairs: Array<[string, string]> = [[":status", "200"], ["x-empty", ""], ["x-bin", "\u00ff\u0001é"]];
    const bytes = serializeHeaderMap(pairs);
    assert.deepEqual(deserializeHeaderMap(bytes), pairs);
    const raw = decodeHeaderMap(bytes)!;
    assert.deepEqual([...raw[2]![1]], [0xff, 0x01, 0xe9]);
  });

  test("empty map: serialises to zero bytes; both empty forms decode to []", () => {
    assert.equal(serializeHeaderMap([]).length, 0);
    assert.deepEqual(decodeHeaderMap(new Uint8Array(0)), []);
    assert.deepEqual(decodeHeaderMap(new Uint8Array([0])), []);
    assert.deepEqual(decodeHeaderMap(new Uint8Array(4)), [], "count 0 with nothing after it is well formed");
  });

  test("malformed maps decode to null (and deserialize to [], as Envoy treats them as empty)", () => {
    const good = serializeHeaderMap([["a", "1"], ["b", "22"]]);
    const cases: Record<string, Uint8Array> = {
      short: new Uint8Array([1, 0, 0]),
      countTooBig: Buffer.from("05000000" + "01000000" + "01000000", "hex"),
      lengthOverrun: (() => {
        const b = good.slice();
        b[4] = 50; // key length of the first pair
        return b;
      })(),
      missingNul: (() => {
        const b = good.slice();
        b[21] = 0x41; // the NUL after "a"
        return b;
      })(),
      trailingBytes: Buffer.concat([good, Buffer.from([0])]),
      truncated: good.subarray(0, good.length - 1),
      singleNonZeroByte: new Uint8Array([7]),
    };
    for (const [name, bytes] of Object.entries(cases)) {
      assert.equal(decodeHeaderMap(bytes), null, name);
      assert.deepEqual(deserializeHeaderMap(bytes), [], name);
    }
  });

  test("limits: 1024 pairs and 1 MiB", () => {
    const many = (n: number) => Array.from({ length: n }, (_, i) => [`k${i}`, "v"] as [string, string]);
    assert.equal(decodeHeaderMap(serializeHeaderMap(many(1024)))?.length, 1024);
    assert.equal(decodeHeaderMap(serializeHeaderMap(many(1025))), null);
    const big = serializeHeaderMap([["k", "x".repeat(1024 * 1024)]]);
    assert.ok(big.length > 1024 * 1024);
    assert.equal(decodeHeaderMap(big), null);
    assert.equal(decodeHeaderMap(serializeHeaderMap([["k", "x".repeat(1024 * 1024 - 20)]]))?.length, 1);
  });
});

describe("HeaderMap (Envoy semantics)", () => {
  test("lower-cased keys, first value, replace, remove all, byteSize", () => {
    const m = new HeaderMap([["X-A", "1"], ["x-a", "2"], ["x-b", "3"]]);
    assert.equal(m.get("x-A"), "1");
    assert.deepEqual(m.getAll("X-a"), ["1", "2"]);
    m.replace("X-A", "9");
    assert.deepEqual(m.pairs(), [["x-a", "9"], ["x-b", "3"]]);
    m.add("x-b", "4");
    m.remove("X-B");
    assert.deepEqual(m.pairs(), [["x-a", "9"]]);
    m.replace("x-new", "v");
    assert.equal(m.byteSize(), "x-a".length + 1 + "x-new".length + 1);
    assert.deepEqual(HeaderMap.fromSerialized(m.serialize()).pairs(), m.pairs());
  });
});
