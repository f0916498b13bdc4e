// renderPrometheus: HELP lines from the host's help function, escaped as the text format wants,
// before each metric's TYPE line; none when the function has no text (as Envoy prints them).
import assert from "node:assert/strict";
import { test } from "node:test";
import { MetricsRegistry, renderPrometheus } from "../../../host/src/proxy-wasm/metrics.ts";
import { MetricType } from "../../../host/src/proxy-wasm/constants.ts";

test("HELP lines come from the help function, escaped, right before TYPE; no text, no line", () => {
  const r = MetricsRegistry.create();
  r.define(MetricType.COUNTER, "a_total");
  r.define(MetricType.HISTOGRAM, "b.latency");
  r.define(MetricType.GAUGE, "c");
  const help: Record<string, string> = { a_total: "one \\ two\nthree", b_latency: "latency" };
  const lines = renderPrometheus(r, { help: (n) => help[n] }).split("\n");
  assert.deepEqual(lines.slice(0, 3), ["# HELP a_total one \\\\ two\\nthree", "# TYPE a_total counter", "a_total 0"]);
  const b = lines.indexOf("# TYPE b_latency histogram");
  assert.equal(lines[b - 1], "# HELP b_latency latency");
  const c = lines.indexOf("# TYPE c gauge");
  assert.equal(lines[c - 1], "b_latency_count 0");
  assert.ok(!renderPrometheus(r).includes("# HELP"));
});
