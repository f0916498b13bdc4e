// Shared by the deployment tests: YAML loading, Envoy config lookups, image tags, Kubernetes
// quantities, PromQL metric names, Prometheus relabelling, and a scraped standalone bidder.
import { readdirSync, readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse, parseAllDocuments } from "yaml";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));

export function read(rel: string): string {
  return readFileSync(join(ROOT, rel), "utf8");
}

export function readYaml(rel: string): any {
  return parse(read(rel));
}

/** Every document of a multi-document YAML file (errors fail the test). */
export function readYamlDocs(rel: string): any[] {
  const docs = parseAllDocuments(read(rel));
  const out: any[] = [];
  for (const d of docs) {
    if (d.errors.length > 0) throw new Error(`${rel}: ${d.errors.map((e) => e.message).join("; ")}`);
    const v = d.toJS();
    if (v !== null && v !== undefined) out.push(v);
  }
  return out;
}

/** An executable on PATH, or undefined. */
export function which(bin: string): string | undefined {
  const r = spawnSync("sh", ["-c", `command -v ${bin}`], { encoding: "utf8" });
  const path = r.stdout.trim();
  return r.status === 0 && path ? path : undefined;
}

// ---- Envoy --------------------------------------------------------------------------------

export const ENVOY_FILES = ["envoy/envoy.yaml", "deploy/k8s/envoy.yaml"] as const;

export function listener(envoy: any, name: string): any {
  const l = envoy.static_resources.listeners.find((x: any) => x.name === name);
  if (!l) throw new Error(`no listener ${name}`);
  return l;
}

export function hcm(l: any): any {
  const chains = l.filter_chains as any[];
  if (chains.length !== 1) throw new Error(`listener ${l.name}: expected one filter chain`);
  const filters = chains[0].filters as any[];
  const f = filters.find((x) => x.name === "envoy.filters.network.http_connection_manager");
  if (!f) throw new Error(`listener ${l.name}: no http_connection_manager`);
  return f.typed_config;
}

export function httpFilters(envoy: any, listenerName = "bids"): any[] {
  return hcm(listener(envoy, listenerName)).http_filters;
}

export function wasmPluginConfig(envoy: any): any {
  const f = httpFilters(envoy).find((x) => x.name === "envoy.filters.http.wasm");
  if (!f) throw new Error("no envoy.filters.http.wasm");
  return f.typed_config.config;
}

/** The plugin configuration (the Wasm filter's StringValue) as an object. */
export function pluginConfig(envoy: any): Record<string, unknown> {
  const c = wasmPluginConfig(envoy).configuration;
  if (c["@type"] !== "type.googleapis.com/google.protobuf.StringValue") throw new Error(`configuration @type ${c["@type"]}`);
  return JSON.parse(c.value);
}

export function cluster(envoy: any, name: string): any {
  return envoy.static_resources.clusters.find((c: any) => c.name === name);
}

/** host:port of every endpoint of a cluster. */
export function clusterEndpoints(c: any): string[] {
  const out: string[] = [];
  for (const e of c.load_assignment.endpoints) {
    for (const lb of e.lb_endpoints) {
      const a = lb.endpoint.address.socket_address;
      out.push(`${a.address}:${a.port_value}`);
    }
  }
  return out;
}

/** Routes of a listener's (single) route_config, flattened over virtual hosts. */
export function routes(envoy: any, listenerName: string): any[] {
  return hcm(listener(envoy, listenerName)).route_config.virtual_hosts.flatMap((v: any) => v.routes);
}

/** The route that a GET of `path` takes (first match wins, like Envoy; query stripped). */
export function routeFor(envoy: any, listenerName: string, path: string): any {
  const p = path.split("?")[0]!;
  return routes(envoy, listenerName).find((r) => {
    const m = r.match;
    if (m.path !== undefined) return m.path === p;
    if (m.prefix !== undefined) return p.startsWith(m.prefix);
    return false;
  });
}

// ---- images ---------------------------------------------------------------------------------

/** repository[:tag][@digest]: pinned when it has a digest, or a tag that is not "latest". */
export function imageIsPinned(image: string): boolean {
  if (/@sha256:[0-9a-f]{64}$/.test(image)) return true;
  const lastSlash = image.lastIndexOf("/");
  const colon = image.indexOf(":", lastSlash + 1);
  if (colon < 0) return false;
  const tag = image.slice(colon + 1);
  return tag.length > 0 && tag !== "latest" && !/\$\{/.test(image);
}

/** FROM images of a Dockerfile (stage names excluded). */
export function dockerfileBases(text: string): string[] {
  const stages = new Set<string>();
  const out: string[] = [];
  for (const line of text.split("\n")) {
    const m = /^\s*FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (!m) continue;
    if (!stages.has(m[1]!.toLowerCase())) out.push(m[1]!);
    if (m[2]) stages.add(m[2].toLowerCase());
  }
  return out;
}

// ---- Kubernetes -------------------------------------------------------------------------------

export const K8S_DIR = "deploy/k8s";

/** Every object of the kustomization's resources (not the generated ConfigMaps). */
export function k8sObjects(): any[] {
  const k = readYaml(`${K8S_DIR}/kustomization.yaml`);
  return (k.resources as string[]).flatMap((r) => readYamlDocs(`${K8S_DIR}/${r}`));
}

export function k8sObject(kind: string, name?: string): any {
  const o = k8sObjects().find((x) => x.kind === kind && (name === undefined || x.metadata.name === name));
  if (!o) throw new Error(`no ${kind} ${name ?? ""}`);
  return o;
}

/** A Kubernetes memory/cpu quantity as a number (bytes, or cores). */
export function quantity(q: string | number): number {
  if (typeof q === "number") return q;
  const m = /^([0-9.]+)(m|k|Ki|M|Mi|G|Gi|T|Ti)?$/.exec(q);
  if (!m) throw new Error(`bad quantity ${q}`);
  const n = Number(m[1]);
  const unit: Record<string, number> = { "": 1, m: 1e-3, k: 1e3, Ki: 1024, M: 1e6, Mi: 1024 ** 2, G: 1e9, Gi: 1024 ** 3, T: 1e12, Ti: 1024 ** 4 };
  return n * unit[m[2] ?? ""]!;
}

// ---- Prometheus -----------------------------------------------------------------------------

/** Metric names (nexus_*) used in a PromQL expression; string literals are skipped. */
export function metricNamesIn(expr: string): string[] {
  const noStrings = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""');
  return [...new Set(noStrings.match(/\bnexus_[a-zA-Z0-9_:]*/g) ?? [])];
}

/** Metric names present in a Prometheus text exposition (sample lines and # TYPE lines). */
export function exposedNames(text: string): Set<string> {
  const out = new Set<string>();
  for (const line of text.split("\n")) {
    const type = /^# TYPE (\S+) (\S+)/.exec(line);
    if (type) {
      out.add(type[1]!);
      if (type[2] === "histogram") for (const s of ["_bucket", "_sum", "_count"]) out.add(type[1]! + s);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{|\s)/.exec(line);
    if (m) out.add(m[1]!);
  }
  return out;
}

/** Applies metric_relabel_configs that rewrite __name__ (replace actions) to a set of names. */
export function relabelNames(names: Iterable<string>, configs: any[]): Set<string> {
  const out = new Set<string>();
  for (const original of names) {
    let name = original;
    for (const c of configs ?? []) {
      if ((c.action ?? "replace") !== "replace" || c.target_label !== "__name__") continue;
      if (JSON.stringify(c.source_labels) !== JSON.stringify(["__name__"])) continue;
      const re = new RegExp(`^(?:${c.regex ?? "(.*)"})$`);
      const m = re.exec(name);
      if (!m) continue;
      name = (c.replacement ?? "$1").replace(/\$(\d+)|\$\{(\d+)\}/g, (_: string, a?: string, b?: string) => m[Number(a ?? b)] ?? "");
    }
    out.add(name);
  }
  return out;
}

/** Metric names defined by the host with prom-client (host/src/server/host-metrics.ts). */
/** The metrics the host defines: host-metrics.ts and the services that keep their own (control/*.ts). */
export function hostMetricNames(): Set<string> {
  const src = [
    "host/src/server/host-metrics.ts",
    ...readdirSync(join(ROOT, "host/src/control")).filter((f) => f.endsWith(".ts")).map((f) => `host/src/control/${f}`),
  ].map(read).join("\n");
  const out = new Set<string>();
  for (const m of src.matchAll(/new (Counter|Gauge|Histogram|Summary)\(\{\s*name:\s*"([^"]+)"/g)) {
    out.add(m[2]!);
    if (m[1] === "Histogram") for (const s of ["_bucket", "_sum", "_count"]) out.add(m[2]! + s);
  }
  return out;
}

/** Every PromQL expression of the Grafana dashboard, with Grafana's interval variables set. */
export function dashboardExprs(dashboard: any): { panel: string; expr: string }[] {
  const out: { panel: string; expr: string }[] = [];
  const walk = (panels: any[]) => {
    for (const p of panels ?? []) {
      for (const t of p.targets ?? []) out.push({ panel: p.title, expr: String(t.expr).replace(/\$__rate_interval|\$__interval|\$__range/g, "5m") });
      if (p.panels) walk(p.panels);
    }
  };
  walk(dashboard.panels);
  return out;
}

/** The filter's no-bid reason names (assembly/core/bidding/reasons.ts), without "none". */
export function noBidReasons(): string[] {
  const src = read("assembly/core/bidding/reasons.ts");
  const list = /NO_BID_NAMES[^=]*=\s*\[([^\]]*)\]/.exec(src);
  if (!list) throw new Error("NO_BID_NAMES not found");
  return [...list[1]!.matchAll(/"([a-z_]+)"/g)].map((m) => m[1]!).filter((r) => r !== "none");
}
