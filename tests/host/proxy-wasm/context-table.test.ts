// ContextTable: the VM's contexts by id in an array slot per id (no Map churn per stream).

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ContextTable } from "../../../host/src/proxy-wasm/context-table.ts";
import { RootContext, StreamContext, type AnyContext } from "../../../host/src/proxy-wasm/stream.ts";

const stream = (id: number) => new StreamContext(id, { headers: [], body: [] });

describe("ContextTable", () => {
  test("behaves as a Map by id under random adds and deletes, with ids allocated as the VM does", () => {
    const table = new ContextTable();
    const model = new Map<number, AnyContext>();
    let next = 1;
    let seed = 7;
    const rand = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    table.set(new RootContext(next));
    model.set(next, table.get(next)!);
    next++;
    for (let step = 0; step < 20_000; step++) {
      // Mostly short streams, some that stay (up to a few hundred live: the table grows).
      if (model.size < 2 || rand(100) < (model.size > 300 ? 30 : 55)) {
        while (!table.canTake(next) || next === 0) next = (next + 1) >>> 0;
        const s = stream(next++);
        assert.ok(!model.has(s.id), "allocated ids are unique");
        table.set(s);
        model.set(s.id, s);
      } else {
        const ids = [...model.keys()].filter((id) => id !== 1);
        const id = ids[rand(ids.length)]!;
        assert.equal(table.delete(id), true);
        model.delete(id);
      }
      if (step % 97 === 0) {
        assert.equal(table.size, model.size);
        assert.deepEqual(table.keys(), [...model.keys()].sort((a, b) => a - b));
        for (const [id, c] of model) assert.equal(table.get(id), c);
      }
    }
    assert.equal(table.delete(next + 5), false, "an id never added");
    assert.equal(table.get(next + 5), undefined);
  });

  test("an id whose slot is taken (not from the VM's allocation) still works, also across growth", () => {
    const table = new ContextTable();
    const a = stream(5);
    const b = stream(5 + 64); // same slot as 5 in 64 slots
    table.set(a);
    table.set(b);
    assert.equal(table.get(5), a);
    assert.equal(table.get(69), b);
    assert.equal(table.size, 2);
    for (let id = 100; id < 200; id++) table.set(stream(id)); // grows past 64 slots
    assert.equal(table.get(5), a);
    assert.equal(table.get(69), b);
    assert.equal(table.size, 102);
    assert.equal(table.delete(69), true);
    assert.equal(table.get(69), undefined);
    assert.equal(table.get(5), a);
    // An overflow id stays taken even when its slot frees up (allocContextId must not hand it out).
    const c = stream(5 + 256);
    table.set(c); // the slot of 5 (mod 256 slots now) is taken: overflow
    assert.equal(table.delete(5), true);
    assert.equal(table.canTake(5 + 256), false);
    assert.equal(table.get(5 + 256), c);
  });

  test("activeStreams: unfinished streams only, in id order; clear empties it", () => {
    const table = new ContextTable();
    table.set(new RootContext(1));
    const s2 = stream(2);
    const s3 = stream(3);
    const s4 = stream(4);
    for (const s of [s4, s2, s3]) table.set(s);
    s3.finished = true; // e.g. waiting for proxy_done
    assert.deepEqual(table.activeStreams().map((s) => s.id), [2, 4]);
    table.clear();
    assert.equal(table.size, 0);
    assert.deepEqual(table.activeStreams(), []);
    assert.equal(table.get(1), undefined);
  });
});
