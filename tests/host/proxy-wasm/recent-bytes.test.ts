// RecentBytes: the local-reply caches of the standalone host (headers and details) find a value
// by the exact bytes it was decoded from, keep the most recent few, and skip long ones.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { RecentBytes } from "../../../host/src/proxy-wasm/recent-bytes.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

describe("RecentBytes", () => {
  it("finds a value by its bytes anywhere in memory, and nothing for other bytes of the same length", () => {
    const c = new RecentBytes<string>(4, 16);
    const m = bytes("..abc..abd..ab");
    c.keep(m, 2, 3, "first");
    assert.equal(c.find(bytes("xxabc"), 2, 3), "first");
    assert.equal(c.find(m, 7, 3), undefined, "abd");
    assert.equal(c.find(m, 12, 2), undefined, "a prefix is not the bytes");
  });

  it("keeps a copy of the bytes: the memory changing afterwards does not change what is found", () => {
    const c = new RecentBytes<number>(4, 16);
    const m = bytes("abc");
    c.keep(m, 0, 3, 1);
    m[0] = 0x78;
    assert.equal(c.find(m, 0, 3), undefined);
    assert.equal(c.find(bytes("abc"), 0, 3), 1);
  });

  it("drops the least recently used when full; a hit counts as a use", () => {
    const c = new RecentBytes<string>(2, 16);
    c.keep(bytes("a"), 0, 1, "a");
    c.keep(bytes("b"), 0, 1, "b");
    assert.equal(c.find(bytes("a"), 0, 1), "a"); // a is now the most recent
    c.keep(bytes("c"), 0, 1, "c"); // b goes
    assert.equal(c.find(bytes("b"), 0, 1), undefined);
    assert.equal(c.find(bytes("a"), 0, 1), "a");
    assert.equal(c.find(bytes("c"), 0, 1), "c");
  });

  it("does not keep values of more than maxBytes", () => {
    const c = new RecentBytes<string>(2, 4);
    c.keep(bytes("abcde"), 0, 5, "long");
    assert.equal(c.find(bytes("abcde"), 0, 5), undefined);
    c.keep(bytes("abcd"), 0, 4, "fits");
    assert.equal(c.find(bytes("abcd"), 0, 4), "fits");
  });
});
