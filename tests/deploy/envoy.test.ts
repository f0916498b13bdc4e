// envoy/envoy.yaml (docker-compose) and deploy/k8s/envoy.yaml (Kubernetes): the wiring that
// matters, checked against the filter itself (its own configuration parser) and the host.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  ENVOY_FILES, ROOT, cluster, clusterEndpoints, hcm, httpFilters, listener, pluginConfig, read, readYaml,
  routeFor, routes, wasmPluginConfig,
} from "./helpers.ts";
import { VmPool } from "../../host/src/proxy-wasm/pool.ts";
import { HOST_CLUSTER, REPLAY_CLUSTER, hostUpstreams, startStandalone } from "../../host/src/standalone.ts";
import { defaultConfig, loadConfig } from "../../host/src/config.ts";
import { silentLogger } from "../../host/src/log.ts";
import { startTestBidder, post, README_REQUEST } from "../helpers/bidder.ts";

const WASM = join(ROOT, "build/nexus_filter.wasm");
const docs = ENVOY_FILES.map((f) => ({ file: f, envoy: readYaml(f) }));
const compose = readYaml("envoy/envoy.yaml");
const k8s = readYaml("deploy/k8s/envoy.yaml");

/** The typed_config of the bids listener's HTTP filter `name`. */
const filter = (envoy: any, name: string): any => {
  const f = httpFilters(envoy).find((x) => x.name === name);
  assert.ok(f, `no ${name}`);
  return f.typed_config;
};

const seconds = (d: string): number => {
  const m = /^([0-9.]+)s$/.exec(d);
  assert.ok(m, `duration ${d}`);
  return Number(m[1]);
};

for (const { file, envoy } of docs) {
  test(`${file}: HTTP filters in order compressor → decompressor → nexus (Wasm) → buffer → router`, () => {
    const filters = httpFilters(envoy);
    assert.deepEqual(filters.map((f) => f.name), [
      "envoy.filters.http.compressor",
      "envoy.filters.http.decompressor",
      "envoy.filters.http.wasm",
      "envoy.filters.http.buffer",
      "envoy.filters.http.router",
    ]);
    assert.deepEqual(filters.map((f) => f.typed_config["@type"]), [
      "type.googleapis.com/envoy.extensions.filters.http.compressor.v3.Compressor",
      "type.googleapis.com/envoy.extensions.filters.http.decompressor.v3.Decompressor",
      "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
      "type.googleapis.com/envoy.extensions.filters.http.buffer.v3.Buffer",
      "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router",
    ]);
  });

  test(`${file}: the compressor gzips JSON responses only (bids), never requests`, () => {
    const c = filter(envoy, "envoy.filters.http.compressor");
    assert.equal(c.compressor_library.typed_config["@type"], "type.googleapis.com/envoy.extensions.compression.gzip.compressor.v3.Gzip");
    assert.deepEqual(c.response_direction_config.common_config.content_type, ["application/json"]);
    assert.ok(c.response_direction_config.common_config.min_content_length > 0);
    assert.equal(c.request_direction_config, undefined, "request compression stays off (Envoy's default)");
  });

  test(`${file}: the decompressor inflates gzip request bodies only, with a bomb limit`, () => {
    const d = filter(envoy, "envoy.filters.http.decompressor");
    assert.equal(d.decompressor_library.typed_config["@type"], "type.googleapis.com/envoy.extensions.compression.gzip.decompressor.v3.Gzip");
    const gz = d.decompressor_library.typed_config;
    assert.ok(gz.max_inflate_ratio >= 1 && gz.max_inflate_ratio <= 100, "max_inflate_ratio bounds gzip bombs");
    assert.equal(gz.window_bits, 15);
    assert.equal(d.request_direction_config.common_config.enabled.default_value, true);
    assert.equal(d.response_direction_config.common_config.enabled.default_value, false);
  });

  test(`${file}: the Wasm filter: V8, root_id and vm_id "nexus" (what the host passes), fail closed, the baked .wasm`, () => {
    const c = wasmPluginConfig(envoy);
    assert.equal(c.root_id, "nexus");
    assert.equal(c.vm_config.vm_id, "nexus");
    assert.equal(c.vm_config.runtime, "envoy.wasm.runtime.v8");
    assert.equal(c.fail_open, false);
    // The file the Dockerfile's envoy target copies the filter to.
    const dockerfile = read("Dockerfile");
    const copy = /COPY --from=build \/src\/build\/nexus_filter\.wasm (\S+)/g;
    const targets = [...dockerfile.matchAll(copy)].map((m) => m[1]);
    assert.ok(targets.includes(c.vm_config.code.local.filename), `Dockerfile copies the .wasm to ${targets.join(", ")}, envoy.yaml loads ${c.vm_config.code.local.filename}`);
    // The standalone host runs the same filter with the same ids.
    const standalone = read("host/src/standalone.ts");
    assert.match(standalone, /rootId:\s*"nexus"/);
    assert.match(standalone, /vmId:\s*"nexus"/);
  });

  // Envoy hands the filter only the variables host_env_keys names: a plugin reading its token from
  // another one would get none, and every call to the host would be a 401 (no model, no budget).
  test(`${file}: the variable the plugin reads its sync token from is one Envoy hands the VM, and the container has it`, () => {
    const plugin = pluginConfig(envoy);
    const env = plugin.sync_token_env as string;
    assert.match(env, /^[A-Z_][A-Z0-9_]*$/);
    assert.ok(wasmPluginConfig(envoy).vm_config.environment_variables.host_env_keys.includes(env), `host_env_keys has ${env}`);
    const container = file.startsWith("deploy/k8s/")
      ? readYaml("deploy/k8s/deployment.yaml").spec.template.spec.containers.find((c: any) => c.name === "envoy").env.map((e: any) => e.name)
      : Object.keys(readYaml("docker-compose.yml").services.envoy.environment);
    assert.ok(container.includes(env), `the Envoy container's environment has ${env}`);
  });

  test(`${file}: the host cluster is the plugin's host_cluster and reaches the host's control port`, () => {
    const plugin = pluginConfig(envoy);
    assert.equal(plugin.host_cluster, HOST_CLUSTER);
    const c = cluster(envoy, plugin.host_cluster as string);
    assert.ok(c, `cluster ${plugin.host_cluster} is defined`);
    const endpoints = clusterEndpoints(c);
    assert.equal(endpoints.length, 1);
    assert.ok(endpoints[0]!.endsWith(`:${defaultConfig().control.port}`), `host endpoint ${endpoints[0]} on the control port`);
    assert.ok(seconds(c.connect_timeout) <= 1);
  });

  test(`${file}: replay claims have their own cluster (replay_cluster) on the same host, known to the standalone host`, () => {
    const plugin = pluginConfig(envoy);
    assert.equal(plugin.replay_cluster, REPLAY_CLUSTER);
    assert.notEqual(plugin.replay_cluster, plugin.host_cluster, "a connection pool apart from the syncs'");
    const c = cluster(envoy, plugin.replay_cluster as string);
    assert.ok(c, `cluster ${plugin.replay_cluster} is defined`);
    assert.deepEqual(clusterEndpoints(c), clusterEndpoints(cluster(envoy, plugin.host_cluster as string)), "the same host as host_cluster");
    assert.equal(c.type, cluster(envoy, plugin.host_cluster as string).type);
    // Tight: a connection that is not up within tens of ms is no use to a claim of a few ms.
    assert.ok(seconds(c.connect_timeout) <= 0.1, `connect_timeout ${c.connect_timeout}`);
    const t = c.circuit_breakers.thresholds;
    assert.equal(t.length, 1);
    assert.equal(t[0].priority, "DEFAULT");
    for (const k of ["max_connections", "max_pending_requests", "max_requests"]) assert.ok(Number.isInteger(t[0][k]) && t[0][k] > 0, k);
    assert.ok(t[0].max_pending_requests <= t[0].max_connections, "a slow host fails claims rather than queueing them");
    assert.equal(t[0].max_retries, 0, "a late claim is useless: no retries");
    // The standalone host resolves both names to its control server, as Envoy does here.
    assert.deepEqual(hostUpstreams("http://h:1"), { [HOST_CLUSTER]: "http://h:1", [REPLAY_CLUSTER]: "http://h:1" });
  });

  test(`${file}: body limits agree (max_body_bytes < buffer filter <= connection buffer)`, () => {
    const plugin = pluginConfig(envoy);
    const buffer = filter(envoy, "envoy.filters.http.buffer");
    // Above max_body_bytes: the filter answers its own 413 before the buffer filter's limit.
    assert.ok((buffer.max_request_bytes as number) > (plugin.max_body_bytes as number));
    assert.ok((buffer.max_request_bytes as number) <= listener(envoy, "bids").per_connection_buffer_limit_bytes);
    assert.ok(listener(envoy, "bids").per_connection_buffer_limit_bytes >= (plugin.max_body_bytes as number));
  });

  test(`${file}: timeouts fit the bid SLA`, () => {
    const plugin = pluginConfig(envoy);
    assert.equal(plugin.decision_budget_ms, 4, "the 4 ms decision SLA");
    const h = hcm(listener(envoy, "bids"));
    assert.ok(seconds(h.request_timeout) <= 1, "a bid never holds a stream past 1 s");
    assert.ok(seconds(h.request_headers_timeout) <= 1);
    assert.ok(seconds(h.stream_idle_timeout) <= 10);
    assert.ok(seconds(h.common_http_protocol_options.idle_timeout) >= 60, "exchanges keep connections alive");
    assert.ok((plugin.sync_timeout_ms as number) <= 5000);
  });

  test(`${file}: a JSON access log on stdout, with ids and no body`, () => {
    const logs = hcm(listener(envoy, "bids")).access_log;
    assert.equal(logs.length, 1);
    assert.equal(logs[0].typed_config["@type"], "type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog");
    const fields = logs[0].typed_config.log_format.json_format;
    assert.equal(typeof fields, "object");
    for (const k of ["time", "method", "path", "status", "duration_ms", "request_id", "nobid_reason"]) assert.ok(k in fields, `access log field ${k}`);
    for (const v of Object.values(fields)) assert.doesNotMatch(String(v), /BODY|AUTHORIZATION/i);
    // Envoy's own logs (and the filter's) as JSON too.
    assert.ok(envoy.application_log_config.log_format.json_format.msg.includes("%j"));
  });

  test(`${file}: admin on loopback only; /ready and /stats/prometheus on the read-only listener`, () => {
    const admin = envoy.admin.address.socket_address;
    assert.equal(admin.address, "127.0.0.1");
    const ro = listener(envoy, "admin_readonly");
    assert.equal(ro.address.socket_address.port_value, 9901);
    const adminCluster = cluster(envoy, "envoy_admin");
    assert.deepEqual(clusterEndpoints(adminCluster), [`127.0.0.1:${admin.port_value}`]);
    for (const p of ["/ready", "/stats/prometheus", "/stats/prometheus?usedonly"]) {
      const r = routeFor(envoy, "admin_readonly", p);
      assert.equal(r.route?.cluster, "envoy_admin", `${p} goes to the admin interface`);
    }
    for (const p of ["/quitquitquit", "/drain_listeners", "/runtime_modify", "/config_dump", "/stats"]) {
      const r = routeFor(envoy, "admin_readonly", p);
      assert.equal(r.direct_response?.status, 404, `${p} is not reachable`);
    }
    // Only GET reaches the admin interface.
    for (const r of routes(envoy, "admin_readonly").filter((x) => x.route)) {
      assert.deepEqual(r.match.headers, [{ name: ":method", string_match: { exact: "GET" } }]);
    }
  });

  test(`${file}: /nexus/live answers 200 through the whole filter chain; other paths 404`, () => {
    const plugin = pluginConfig(envoy);
    const live = routeFor(envoy, "bids", "/nexus/live");
    assert.equal(live.direct_response.status, 200);
    for (const k of ["bid_path", "win_path", "loss_path"]) assert.notEqual(plugin[k], "/nexus/live");
    assert.equal(routeFor(envoy, "bids", "/anything").direct_response.status, 404);
  });

  test(`${file}: decision latency buckets bound the 4 ms SLA exactly`, () => {
    const s = envoy.stats_config.histogram_bucket_settings.find((x: any) => x.match.suffix === "nexus_decision_latency_us");
    assert.ok(s.buckets.includes(4000));
  });

  test(`${file}: every plugin configuration field is documented in docs/PLUGIN_CONFIG.md`, () => {
    const doc = read("docs/PLUGIN_CONFIG.md");
    for (const k of Object.keys(pluginConfig(envoy))) assert.match(doc, new RegExp("^\\| `" + k + "` \\|", "m"), `${k} documented`);
  });
}

/** Plugin fields the compose envoy.yaml sets for the bundled demo model, as `npm start` does. */
const DEMO_MODEL_PLUGIN_FIELDS = ["utc_offset_minutes", "fx_rates", "floor_feature_currency"] as const;

test("the Kubernetes envoy.yaml is the compose one with the host at 127.0.0.1 and no demo-model plugin fields (nothing else differs)", () => {
  const hostClusters = [HOST_CLUSTER, REPLAY_CLUSTER];
  // The host's clusters differ in address and type only; the plugin configuration in the demo
  // model's fields only (the next test).
  const strip = (e: any) => {
    const c = structuredClone(e);
    const config = wasmPluginConfig(c).configuration;
    const plugin = JSON.parse(config.value);
    for (const k of DEMO_MODEL_PLUGIN_FIELDS) delete plugin[k];
    config.value = JSON.stringify(plugin);
    for (const x of c.static_resources.clusters) {
      if (!hostClusters.includes(x.name)) continue;
      delete x.type;
      delete x.dns_lookup_family;
      delete x.load_assignment.endpoints;
    }
    return c;
  };
  assert.deepEqual(strip(k8s), strip(compose));
  for (const name of hostClusters) {
    assert.deepEqual(clusterEndpoints(cluster(k8s, name)), ["127.0.0.1:9090"], name);
    assert.equal(cluster(k8s, name).type, "STATIC", name);
    assert.equal(cluster(compose, name).type, "STRICT_DNS", name);
  }
  // Compose: the host service's name and port.
  const dc = readYaml("docker-compose.yml");
  const [host, port] = clusterEndpoints(cluster(compose, HOST_CLUSTER))[0]!.split(":");
  assert.ok(dc.services[host!], `compose service ${host}`);
  assert.equal(String(dc.services[host!].environment.NEXUS_CONTROL_PORT), port);
});

test("the compose envoy.yaml (the demo model) prices bids as npm start does; the Kubernetes one (your model) sets none of the demo model's fields", async () => {
  const npmStart = loadConfig({ env: {} });
  const composePlugin = pluginConfig(compose);
  for (const k of DEMO_MODEL_PLUGIN_FIELDS) {
    assert.notEqual(npmStart.plugin[k], undefined, `npm start sets ${k}`);
    assert.deepEqual(composePlugin[k], npmStart.plugin[k], k);
    assert.equal(pluginConfig(k8s)[k], undefined, `k8s ${k}`);
  }
  // Both on the bundled demo model (as compose serves it from MinIO): a request with a USD floor
  // and one with an iPinYou CNY floor (what loadgen sends) get the same bids from both.
  const demoBidder = (plugin: Record<string, unknown>) => {
    const cfg = loadConfig({ env: {} });
    cfg.bid = { host: "127.0.0.1", port: 0 };
    cfg.control = { host: "127.0.0.1", port: 0 };
    // The largest decision budget: a loaded test machine must not turn a bid into a timeout.
    cfg.plugin = { ...plugin, decision_budget_ms: 1000, replay_ttl_ms: 0 };
    return startStandalone(cfg, silentLogger());
  };
  const [asNpmStart, asCompose] = await Promise.all([demoBidder(npmStart.plugin as Record<string, unknown>), demoBidder(composePlugin)]);
  try {
    await Promise.all([asNpmStart.ready(20_000), asCompose.ready(20_000)]);
    const usd = JSON.parse(README_REQUEST);
    const cny = { ...usd, imp: [{ ...usd.imp[0], bidfloor: 3, bidfloorcur: "CNY" }] };
    for (const body of [usd, cny]) {
      // The demo model reads the hour: both asked within the same hour (again if it turned).
      let prices: unknown[];
      let hour: number;
      do {
        hour = new Date().getUTCHours();
        const replies = await Promise.all([asNpmStart, asCompose].map((app) => post(`${app.bidUrl}/openrtb2/bid`, JSON.stringify(body))));
        for (const r of replies) assert.equal(r.status, 200, `${body.imp[0].bidfloorcur ?? "USD"}: ${r.status} ${r.text}`);
        prices = replies.map((r) => r.json().seatbid[0].bid[0].price);
      } while (new Date().getUTCHours() !== hour);
      assert.equal(prices[1], prices[0], `${body.imp[0].bidfloorcur ?? "USD"} floor`);
    }
  } finally {
    await Promise.all([asNpmStart.close(), asCompose.close()]);
  }
});

test("the plugin configuration in envoy.yaml is accepted by the filter's own parser (and a bad one is not)", async () => {
  const wasm = readFileSync(WASM);
  const wasmConfig = wasmPluginConfig(compose);
  const text: string = wasmConfig.configuration.value;
  const quiet = () => {};
  // Exactly the bytes Envoy hands the filter, with the root_id and vm_id of envoy.yaml.
  const pool = await VmPool.start({
    wasm, vms: 1, mode: "inline", rootId: wasmConfig.root_id, vmId: wasmConfig.vm_config.vm_id, pluginConfig: text,
    upstreams: { [HOST_CLUSTER]: "http://127.0.0.1:9" }, log: quiet,
  });
  await pool.close();
  // Control: the same configuration with an unknown key fails the plugin start, as in Envoy.
  const bad = JSON.stringify({ ...JSON.parse(text), no_such_field: 1 });
  await assert.rejects(VmPool.start({ wasm, vms: 1, mode: "inline", rootId: "nexus", vmId: "nexus", pluginConfig: bad, upstreams: {}, log: quiet }));
});

test("a standalone bidder with envoy.yaml's plugin configuration syncs and answers bids", async () => {
  const plugin = pluginConfig(compose);
  const app = await startTestBidder({ plugin });
  try {
    const r = await post(`${app.bidUrl}${plugin.bid_path}`, README_REQUEST);
    // 4 ms is the production budget; on a loaded test machine a decision may take longer.
    assert.ok(r.status === 200 || (r.status === 204 && r.headers["x-nexus-nobid-reason"] === "timeout"), `${r.status} ${r.text}`);
    if (r.status === 200) assert.equal(r.json().id, "req-1");
  } finally {
    await app.close();
  }
});

test("the standalone host's latency histograms carry every bucket bound envoy.yaml gives them (the p99 alert reads the 4 ms one)", async () => {
  const app = await startTestBidder({});
  try {
    await post(`${app.bidUrl}/openrtb2/bid`, README_REQUEST);
    const text = await (await fetch(`${app.controlUrl}/metrics`)).text();
    const bounds = (name: string): Set<number> =>
      new Set([...text.matchAll(new RegExp(`^${name}_bucket\\{[^}]*le="([^"]+)"`, "gm"))].map((m) => Number(m[1])));
    for (const { file, envoy } of docs) {
      const settings: Array<{ match: { suffix: string }; buckets: number[] }> = envoy.stats_config.histogram_bucket_settings;
      assert.ok(settings.length >= 2, `${file}: bucket settings`);
      for (const s of settings) {
        const exported = bounds(s.match.suffix);
        // A histogram the filter has not observed yet is not exported: the decision latency is.
        if (s.match.suffix === "nexus_decision_latency_us") assert.ok(exported.size > 0, `${s.match.suffix} on /metrics`);
        if (exported.size === 0) continue;
        for (const b of s.buckets) assert.ok(exported.has(b), `${file}: ${s.match.suffix} le="${b}" on the standalone /metrics`);
      }
    }
  } finally {
    await app.close();
  }
});
