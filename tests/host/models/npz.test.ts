import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { deflateRawSync } from "node:zlib";
import { ModelError, NpzError } from "../../../host/src/models/errors.ts";
import { modelsEqual, type LrModelPair } from "../../../host/src/models/model.ts";
import { parseNpy } from "../../../host/src/models/npy.ts";
import { decodeNpzModel, decodeNpzModelWithInfo } from "../../../host/src/models/npz.ts";
import { readZip } from "../../../host/src/models/zip.ts";
import {
  buildZip, EXPECTED, f32bytes, fixture, formulaF64, formulaModel, localRecord, modelNpz, npy, prng,
} from "./helpers.ts";

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ModelError, `expected a ModelError, got ${String(err)}`);
    return err.code;
  }
  assert.fail("expected an error");
}

function f32Sha(a: Float32Array): string {
  return createHash("sha256").update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).digest("hex");
}

const te = new TextEncoder();

describe("npz: numpy fixtures", () => {
  const fixtures = Object.entries(EXPECTED.fixtures).filter(([name]) => name.endsWith(".npz"));
  it("has the fixtures the brief asks for", () => {
    const names = fixtures.map(([n]) => n);
    for (const n of ["ok_f32_savez.npz", "ok_f64_savez_compressed.npz", "ok_f32_extra_arrays.npz", "broken_truncated.npz", "broken_bad_crc.npz", "broken_dtype_i4.npz", "broken_missing_array.npz", "broken_nan.npz"]) {
      assert.ok(names.includes(n), n);
    }
  });

  for (const [name, exp] of fixtures) {
    if (exp.expect === "ok") {
      it(`${name} loads with identical weights (${exp.note})`, () => {
        const { model, info } = decodeNpzModelWithInfo(fixture(name));
        assert.equal(model.hashBits, exp.hash_bits);
        // Independent of the JS formula: SHA-256 of the float32 bytes numpy computed.
        assert.equal(f32Sha(model.wCtr), exp.w_ctr_f32le_sha256);
        assert.equal(f32Sha(model.wCvr), exp.w_cvr_f32le_sha256);
        assert.ok(Object.is(model.bCtr, exp.b_ctr_f32));
        assert.ok(Object.is(model.bCvr, exp.b_cvr_f32));
        assert.deepEqual([...model.wCtr.subarray(0, 4)], exp.w_ctr_head_f32);
        assert.deepEqual([...model.wCvr.subarray(0, 4)], exp.w_cvr_head_f32);
        // And against the formula recomputed here (float64 -> Math.fround).
        assert.ok(modelsEqual(model, formulaModel()));
        assert.deepEqual(info.dtypes, exp.dtypes);
      });
    } else {
      it(`${name} is refused with ${exp.code} (${exp.note})`, () => {
        assert.equal(code(() => decodeNpzModel(fixture(name))), exp.code);
      });
    }
  }

  it("float32 fixture holds exactly the float32 values; float64 fixture rounds like Math.fround", () => {
    const n = 2 ** EXPECTED.hash_bits;
    const f64 = formulaF64(EXPECTED.ctr, n);
    const m32 = decodeNpzModel(fixture("ok_f32_savez.npz"));
    const m64 = decodeNpzModel(fixture("ok_f64_savez_compressed.npz"));
    let inexact = 0;
    for (let i = 0; i < n; i++) {
      assert.ok(Object.is(m64.wCtr[i], Math.fround(f64[i]!)), `w_ctr[${i}]`);
      assert.ok(Object.is(m32.wCtr[i], m64.wCtr[i]), `w_ctr[${i}]`);
      if (m64.wCtr[i] !== f64[i]) inexact++;
    }
    assert.ok(inexact > n / 2, "the formula must exercise float64 -> float32 rounding");
    assert.ok(Object.is(m64.bCtr, Math.fround(EXPECTED.b_ctr_f64)));
    assert.notEqual(m64.bCtr, EXPECTED.b_ctr_f64);
  });

  it("ignores extra arrays and reports them", () => {
    const { info } = decodeNpzModelWithInfo(fixture("ok_f32_extra_arrays.npz"));
    assert.deepEqual(info.ignored.sort(), ["feature_names.npy", "train_rows.npy"]);
  });

  it("numpy's own zips: local headers carry ZIP64 extras; streams use data descriptors", () => {
    const stored = readZip(fixture("ok_f32_savez.npz"));
    assert.deepEqual(stored.map((e) => [e.name, e.method]), [["w_ctr.npy", 0], ["b_ctr.npy", 0], ["w_cvr.npy", 0], ["b_cvr.npy", 0]]);
    const dd = fixture("ok_f64_compressed_stream_descriptors.npz");
    const view = new DataView(dd.buffer, dd.byteOffset);
    assert.equal(view.getUint16(6, true) & 8, 8, "flag bit 3 set in the first local header");
    assert.ok(readZip(dd).every((e) => e.method === 8));
  });

  it("every truncation of a numpy file is refused with a typed error", () => {
    for (const name of ["ok_f32_savez.npz", "ok_f64_compressed_stream_descriptors.npz"]) {
      const good = fixture(name);
      for (let len = 0; len < good.length; len++) {
        const c = code(() => decodeNpzModel(good.subarray(0, len)));
        assert.ok(c === "NPZ_TRUNCATED" || c === "NPZ_NOT_ZIP", `${name} cut at ${len}: ${c}`);
      }
    }
  });

  it("random byte corruption never yields a different model or an untyped error", () => {
    const expected = formulaModel();
    for (const name of ["ok_f32_savez.npz", "ok_f64_savez_compressed.npz", "ok_f32_stream_descriptors.npz"]) {
      const good = fixture(name);
      const rnd = prng(1234);
      let accepted = 0;
      for (let k = 0; k < 1500; k++) {
        const bad = good.slice();
        const pos = Math.floor(rnd() * bad.length);
        bad[pos] = bad[pos]! ^ (1 + Math.floor(rnd() * 255));
        let model: LrModelPair | undefined;
        try {
          model = decodeNpzModel(bad);
        } catch (err) {
          assert.ok(err instanceof ModelError, `${name} byte ${pos}: ${String(err)}`);
          continue;
        }
        accepted++;
        assert.ok(modelsEqual(model, expected), `${name}: corruption at byte ${pos} produced a different model`);
      }
      assert.ok(accepted < 1500);
    }
  });
});

describe("zip reader: structure", () => {
  const data = te.encode("hello zip ".repeat(20));

  it("reads STORED and DEFLATED members and checks CRC", () => {
    const z = buildZip([{ name: "a", data }, { name: "b", data, method: 8 }]);
    const entries = readZip(z.bytes);
    assert.deepEqual(entries.map((e) => [e.name, e.method, Buffer.from(e.data).toString()]), [["a", 0, Buffer.from(data).toString()], ["b", 8, Buffer.from(data).toString()]]);
  });

  it("accepts ZIP64 extras in the central directory and a ZIP64 end of central directory", () => {
    const z = buildZip([{ name: "a", data, zip64Central: true, zip64Local: true }, { name: "b", data, method: 8, zip64Central: true }], { zip64Eocd: true });
    assert.deepEqual(readZip(z.bytes).map((e) => e.size), [data.length, data.length]);
  });

  it("accepts data descriptors with and without signature, 4- and 8-byte sizes", () => {
    for (const descriptor of ["sig", "nosig"] as const) {
      for (const zip64Local of [false, true]) {
        const z = buildZip([{ name: "a", data, method: 8, descriptor, zip64Local }, { name: "b", data, descriptor, zip64Local }]);
        assert.equal(readZip(z.bytes).length, 2, `${descriptor} zip64=${zip64Local}`);
      }
    }
  });

  it("accepts an archive comment; an empty archive has no arrays", () => {
    assert.equal(readZip(buildZip([{ name: "a", data }], { comment: "made by hand" }).bytes).length, 1);
    assert.equal(code(() => decodeNpzModel(buildZip([]).bytes)), "MODEL_MISSING_ARRAY");
  });

  it("refuses non-zip input", () => {
    assert.equal(code(() => readZip(new Uint8Array(0))), "NPZ_NOT_ZIP");
    assert.equal(code(() => readZip(te.encode("NXM1 definitely not a zip file at all"))), "NPZ_NOT_ZIP");
  });

  it("refuses trailing bytes after the end record", () => {
    assert.equal(code(() => readZip(buildZip([{ name: "a", data }], { trailing: te.encode("junk") }).bytes)), "NPZ_TRUNCATED");
  });

  it("refuses encrypted members", () => {
    assert.equal(code(() => readZip(buildZip([{ name: "a", data, flags: 1 }]).bytes)), "NPZ_ENCRYPTED");
    assert.equal(code(() => readZip(buildZip([{ name: "a", data, flags: 1 << 6 }]).bytes)), "NPZ_ENCRYPTED");
    assert.equal(code(() => readZip(buildZip([{ name: "a", data, localFlags: 1 }]).bytes)), "NPZ_ENCRYPTED");
  });

  it("refuses unsupported compression methods", () => {
    for (const method of [1, 9, 12, 14, 93, 99]) {
      assert.equal(code(() => readZip(buildZip([{ name: "a", data, method }]).bytes)), "NPZ_UNSUPPORTED_METHOD", `method ${method}`);
    }
  });

  it("refuses duplicate names", () => {
    assert.equal(code(() => readZip(buildZip([{ name: "w_ctr.npy", data }, { name: "w_ctr.npy", data }]).bytes)), "NPZ_DUPLICATE_ENTRY");
  });

  it("refuses overlapping members (a local header hidden inside another member's data)", () => {
    const inner = localRecord("b", data);
    // Entry "a" is stored and its data is the whole record of "b"; "b" points inside it.
    const z = buildZip([{ name: "a", data: inner }, { name: "b", data, centralOnly: true, localOffset: 30 + 1 }]);
    assert.equal(code(() => readZip(z.bytes)), "NPZ_BAD_OFFSET");
    // Two central entries pointing at the same local header.
    const z2 = buildZip([{ name: "a", data }, { name: "a2", data, centralOnly: true, localOffset: 0 }]);
    assert.ok(["NPZ_BAD_OFFSET", "NPZ_MALFORMED"].includes(code(() => readZip(z2.bytes))));
  });

  it("refuses out-of-range offsets", () => {
    const z = buildZip([{ name: "a", data }]);
    assert.equal(code(() => readZip(buildZip([{ name: "a", data, localOffset: z.cdOffset + 5 }]).bytes)), "NPZ_BAD_OFFSET");
    assert.equal(code(() => readZip(buildZip([{ name: "a", data, localOffset: 2 ** 31 }]).bytes)), "NPZ_TRUNCATED");
    assert.equal(code(() => readZip(buildZip([{ name: "a", data, zip64Central: true, localOffset: 2 ** 52 }]).bytes)), "NPZ_TRUNCATED");
    // Central directory offset pointing past the file.
    const b = z.bytes.slice();
    new DataView(b.buffer).setUint32(z.eocdOffset + 16, b.length + 10, true);
    assert.ok(["NPZ_TRUNCATED", "NPZ_BAD_OFFSET"].includes(code(() => readZip(b))));
    // Central directory not ending at the EOCD.
    const c = z.bytes.slice();
    new DataView(c.buffer).setUint32(z.eocdOffset + 16, z.cdOffset - 1, true);
    assert.equal(code(() => readZip(c)), "NPZ_BAD_OFFSET");
  });

  it("refuses members whose sizes do not match", () => {
    // Local header and central directory disagree.
    assert.equal(code(() => readZip(buildZip([{ name: "a", data, localSize: data.length + 1 }]).bytes)), "NPZ_SIZE_MISMATCH");
    // STORED with compressed size != size.
    assert.equal(code(() => readZip(buildZip([{ name: "a", data, size: data.length + 3 }]).bytes)), "NPZ_SIZE_MISMATCH");
    // DEFLATED inflating to more, or less, than declared.
    assert.equal(code(() => readZip(buildZip([{ name: "a", data, method: 8, size: data.length - 1 }]).bytes)), "NPZ_SIZE_MISMATCH");
    assert.equal(code(() => readZip(buildZip([{ name: "a", data, method: 8, size: data.length + 1 }]).bytes)), "NPZ_SIZE_MISMATCH");
    // Data descriptor disagreeing with the central directory.
    assert.equal(code(() => readZip(buildZip([{ name: "a", data, descriptor: "sig", descriptorCrc: 12345 }]).bytes)), "NPZ_SIZE_MISMATCH");
    // Compressed size reaching into the central directory.
    assert.equal(code(() => readZip(buildZip([{ name: "a", data, compressedSize: data.length + 40, size: data.length + 40 }]).bytes)), "NPZ_BAD_OFFSET");
  });

  it("refuses names that differ between the local header and the central directory", () => {
    assert.equal(code(() => readZip(buildZip([{ name: "w_ctr.npy", data, localName: "w_cvr.npy" }]).bytes)), "NPZ_MALFORMED");
  });

  it("refuses bad CRC and corrupt deflate streams", () => {
    assert.equal(code(() => readZip(buildZip([{ name: "a", data, crc: 0xdeadbeef }]).bytes)), "NPZ_BAD_CRC");
    assert.equal(code(() => readZip(buildZip([{ name: "a", data, method: 8, compressed: new Uint8Array([0xff, 0xff, 0xff, 0xff]) }]).bytes)), "NPZ_BAD_DEFLATE");
    const d = new Uint8Array(deflateRawSync(data));
    const withTail = new Uint8Array(d.length + 3);
    withTail.set(d);
    assert.equal(code(() => readZip(buildZip([{ name: "a", data, method: 8, compressed: withTail }]).bytes)), "NPZ_BAD_DEFLATE");
    assert.equal(code(() => readZip(buildZip([{ name: "a", data, method: 8, compressed: d.subarray(0, d.length - 2) }]).bytes)), "NPZ_BAD_DEFLATE");
  });

  it("has a size limit against zip bombs", () => {
    const zeros = new Uint8Array(4 * 1024 * 1024);
    const bomb = buildZip([{ name: "w_ctr.npy", data: zeros, method: 8 }]);
    assert.ok(bomb.bytes.length < 10_000);
    assert.equal(code(() => readZip(bomb.bytes, { maxUncompressedBytes: 1024 * 1024 })), "NPZ_TOO_LARGE");
    assert.equal(readZip(bomb.bytes, { maxUncompressedBytes: zeros.length })[0]!.size, zeros.length);
    // Declared sizes are checked before anything is inflated.
    const liar = buildZip([{ name: "a", data, method: 8, zip64Central: true, size: 2 ** 40 }]);
    assert.equal(code(() => readZip(liar.bytes)), "NPZ_TOO_LARGE");
  });

  it("refuses multi-disk archives", () => {
    const z = buildZip([{ name: "a", data }]);
    const b = z.bytes.slice();
    new DataView(b.buffer).setUint16(z.eocdOffset + 4, 1, true);
    assert.equal(code(() => readZip(b)), "NPZ_UNSUPPORTED");
  });
});

describe("npy header parsing", () => {
  const d4 = f32bytes([1, 2, 3, 4]);
  const ok = (h: string, data = d4, v: [number, number] = [1, 0]) => parseNpy(npy(h, data, v));

  it("parses the dicts numpy writes, in any key order and quoting", () => {
    assert.deepEqual(ok("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }").shape, [4]);
    assert.deepEqual(ok(`{"shape": (4,), "descr": "<f4", "fortran_order": False}`).shape, [4]);
    assert.deepEqual(ok("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }").shape, [2, 2]);
    assert.deepEqual(ok("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", f32bytes([7])).shape, []);
    assert.deepEqual([...ok("{'descr': '<f4', 'fortran_order': True, 'shape': (4,), }").data], [1, 2, 3, 4]);
    assert.deepEqual([...ok("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", d4, [2, 0]).data], [1, 2, 3, 4]);
    assert.deepEqual([...ok("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", d4, [3, 0]).data], [1, 2, 3, 4]);
  });

  it("converts float64 and big-endian data", () => {
    const be = new Uint8Array(16);
    const v = new DataView(be.buffer);
    [1.5, -2, 0.1, 3].forEach((x, i) => v.setFloat32(i * 4, x, false));
    assert.deepEqual([...ok("{'descr': '>f4', 'fortran_order': False, 'shape': (4,), }", be).data], [1.5, -2, Math.fround(0.1), 3]);
    const f8 = new Uint8Array(new Float64Array([0.1, 1e-50, -1 / 3]).buffer);
    assert.deepEqual([...ok("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", f8).data], [Math.fround(0.1), Math.fround(1e-50), Math.fround(-1 / 3)]);
  });

  it("refuses anything else with a typed code", () => {
    const h = "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }";
    const bad = (fn: () => unknown) => code(fn);
    const magic = npy(h, d4);
    magic[1] = 0x58;
    assert.equal(bad(() => parseNpy(magic)), "NPY_BAD_MAGIC");
    assert.equal(bad(() => ok(h, d4, [4, 0])), "NPY_BAD_VERSION");
    assert.equal(bad(() => ok(h, d4, [1, 1])), "NPY_BAD_VERSION");
    assert.equal(bad(() => parseNpy(npy(h, d4).subarray(0, 9))), "NPY_TRUNCATED");
    assert.equal(bad(() => parseNpy(npy(h, d4).subarray(0, 40))), "NPY_TRUNCATED");
    assert.equal(bad(() => ok(h, f32bytes([1, 2, 3]))), "NPY_TRUNCATED");
    assert.equal(bad(() => ok(h, f32bytes([1, 2, 3, 4, 5]))), "NPY_SIZE_MISMATCH");
    for (const descr of ["<i4", "<f2", "<c8", "|b1", "<f16", "f4", "=f4", "|O", "<U6"]) {
      assert.equal(bad(() => ok(`{'descr': '${descr}', 'fortran_order': False, 'shape': (4,), }`)), "NPY_BAD_DTYPE", descr);
    }
    assert.equal(bad(() => ok("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (4,), }")), "NPY_BAD_DTYPE");
    assert.equal(bad(() => ok("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }")), "NPY_FORTRAN_ORDER");
    for (const header of [
      "{'descr': '<f4', 'fortran_order': False, 'shape': (4), }", // not a tuple
      "{'descr': '<f4', 'fortran_order': False, 'shape': [4], }",
      "{'descr': '<f4', 'fortran_order': 0, 'shape': (4,), }",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), 'extra': 1}",
      "{'descr': '<f4', 'fortran_order': False}",
      "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (4,)}",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), } trailing",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (-4,), }",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (04,), }",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (4.0,), }",
      "{'descr': '<f\\x34', 'fortran_order': False, 'shape': (4,), }",
      "{'descr': '<f4', 'fortran_order': Falsey, 'shape': (4,), }",
      "{descr: '<f4', 'fortran_order': False, 'shape': (4,), }",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (4,),, }",
      "{'descr': '<f4' 'fortran_order': False, 'shape': (4,) }",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (((((((((((4,),),),),),),),),),),)}",
    ]) {
      assert.equal(bad(() => ok(header)), "NPY_BAD_HEADER", header);
    }
    // A header not ended by a newline.
    const noNl = npy(h, d4);
    noNl[noNl.length - d4.length - 1] = 0x20;
    assert.equal(bad(() => parseNpy(noNl)), "NPY_BAD_HEADER");
  });

  it("model-level checks on arrays built by hand", () => {
    const m = formulaModel();
    assert.ok(modelsEqual(decodeNpzModel(modelNpz(m)), m));
    assert.ok(modelsEqual(decodeNpzModel(modelNpz(m, {}, 8)), m));
    const bias1 = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", f32bytes([0.5]));
    assert.equal(decodeNpzModel(modelNpz(m, { "b_ctr.npy": bias1 })).bCtr, 0.5);
    const bias11 = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1), }", f32bytes([0.5]));
    assert.equal(code(() => decodeNpzModel(modelNpz(m, { "b_ctr.npy": bias11 }))), "MODEL_BAD_SHAPE");
    assert.equal(code(() => decodeNpzModel(modelNpz(m, { "w_cvr.npy": null }))), "MODEL_MISSING_ARRAY");
    // "w_ctr" without the .npy suffix is not the array numpy would load as w_ctr... it is missing.
    assert.equal(code(() => decodeNpzModel(modelNpz(m, { "w_ctr.npy": null, "w_ctr": npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", d4) }))), "MODEL_MISSING_ARRAY");
    const inf = m.wCvr.slice();
    inf[1023] = -Infinity;
    assert.equal(code(() => decodeNpzModel(modelNpz({ ...m, wCvr: inf }))), "MODEL_NONFINITE");
    const e = (() => { try { decodeNpzModel(modelNpz({ ...m, wCvr: inf })); } catch (err) { return err; } })();
    assert.ok(e instanceof NpzError);
  });
});
