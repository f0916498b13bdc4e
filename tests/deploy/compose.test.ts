// docker-compose.yml, the Dockerfile and .env.example: services, pinned images, the host's
// environment (accepted by the host's own config loader), the model seeding, Prometheus and
// Grafana wiring, and no secret in the repository. With docker-compose installed, its own
// validator runs too. (No Docker engine here: the stack itself runs in tests/e2e/verify.sh.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { ROOT, dockerfileBases, imageIsPinned, pluginConfig, read, readYaml, which } from "./helpers.ts";
import { loadConfig } from "../../host/src/config.ts";
import { CampaignCatalog } from "../../host/src/control/campaigns.ts";

const dc = readYaml("docker-compose.yml");
const services: Record<string, any> = dc.services;
const pkg = JSON.parse(read("package.json"));
const dockerfile = read("Dockerfile");

/** .env.example as a map (the values a user replaces). */
function envExample(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of read(".env.example").split("\n")) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

/** Compose interpolation: ${VAR}, ${VAR:?msg}, ${VAR:-default}; $$ is a literal $. */
function interpolate(value: string, env: Record<string, string>): string {
  return value.replace(/\$\$|\$\{([A-Z0-9_]+)(?:(:?[?-])([^}]*))?\}/g, (all, name?: string, op?: string, arg?: string) => {
    if (all === "$$") return "$";
    const v = env[name!];
    if (v !== undefined && v !== "") return v;
    if (op?.endsWith("-")) return arg ?? "";
    throw new Error(`${name} is not set`);
  });
}

test("the stack: Envoy, host, Redis, MinIO with its seeding job, Prometheus, Grafana", () => {
  for (const s of ["envoy", "nexus-host", "redis", "minio", "minio-init", "prometheus", "grafana"]) assert.ok(services[s], `service ${s}`);
});

test("every image is pinned by version (no latest, no missing tag), the built ones with the project's version", () => {
  for (const [name, s] of Object.entries(services)) {
    assert.ok(s.image, `${name} has an image`);
    assert.ok(imageIsPinned(s.image), `${name}: ${s.image} is pinned`);
  }
  assert.equal(services.envoy.image, `nexus-rtb-envoy:${pkg.version}`);
  assert.equal(services["nexus-host"].image, `nexus-rtb-host:${pkg.version}`);
  for (const base of dockerfileBases(dockerfile)) assert.ok(imageIsPinned(base), `Dockerfile FROM ${base} is pinned`);
});

test("Dockerfile: multi-stage, host on a node slim base with production dependencies only and a non-root user; the .wasm in the Envoy image", () => {
  const stages = [...dockerfile.matchAll(/^FROM\s+(\S+)\s+AS\s+(\S+)/gm)].map((m) => ({ image: m[1]!, name: m[2]! }));
  assert.deepEqual(stages.map((s) => s.name), ["build", "host", "envoy"]);
  assert.match(stages[1]!.image, /^node:\d+\.\d+\.\d+-[a-z]+-slim$/);
  assert.match(stages[2]!.image, /^envoyproxy\/envoy:v\d+\.\d+\.\d+$/);
  const section = (name: string) => dockerfile.split(/^FROM /m).find((s) => new RegExp(`AS ${name}\\s*$`, "m").test(s.split("\n")[0]!))!;
  const host = section("host");
  assert.match(host, /npm ci --omit=dev/);
  assert.match(host, /^USER (\d+)(:\d+)?$/m);
  assert.notEqual(/^USER (\d+)/m.exec(host)![1], "0");
  assert.doesNotMatch(host, /COPY (\.|assembly|tests) /, "no sources in the host image");
  // The host checks every campaign set with the filter's parser (host/src/control/campaign-check.ts):
  // without the core it refuses to start. Where PACKAGE_ROOT (host/src/paths.ts) expects it.
  assert.match(host, /^COPY --from=build \/src\/build\/nexus_core\.wasm \.\/build\/nexus_core\.wasm$/m);
  assert.match(host, /^COPY asconfig\.json \.\/$/m, "PACKAGE_ROOT is found by package.json and asconfig.json");
  const envoy = section("envoy");
  assert.match(envoy, /COPY --from=build \/src\/build\/nexus_filter\.wasm \/etc\/envoy\/nexus_filter\.wasm/);
  assert.match(envoy, /COPY envoy\/envoy\.yaml \/etc\/envoy\/envoy\.yaml/);
  assert.match(envoy, /^USER 101(:101)?$/m);
  assert.deepEqual(services.envoy.build, { context: ".", target: "envoy" });
  assert.deepEqual(services["nexus-host"].build, { context: ".", target: "host" });
  // The build context holds no secrets and no local artefacts.
  const ignore = read(".dockerignore").split("\n");
  for (const p of [".env", "node_modules", ".git"]) assert.ok(ignore.includes(p), `.dockerignore has ${p}`);
});

test("the host image has every package the bundled host imports (production dependencies, or copied in)", () => {
  // esbuild bundles host/src from cli/main.ts and the VM worker with every package external:
  // each package a host source imports must be in the production install.
  const walk = (dir: string): string[] =>
    readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? walk(`${dir}/${d.name}`) : d.name.endsWith(".ts") ? [`${dir}/${d.name}`] : []));
  const packages = new Set<string>();
  for (const f of walk("host/src")) {
    const src = read(f);
    for (const m of src.matchAll(/^\s*import\s+(?!type\b)[^;]*?from\s+"([^"]+)"|import\("([^"]+)"\)/gm)) {
      const spec = m[1] ?? m[2]!;
      if (spec.startsWith(".") || spec.startsWith("node:")) continue;
      packages.add(spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0]!);
    }
  }
  assert.ok(packages.has("pino"));
  const hostStage = dockerfile.split(/^FROM /m).find((s) => /AS host\s*$/m.test(s.split("\n")[0]!))!;
  for (const p of packages) {
    const copied = hostStage.includes(`COPY --from=build /src/node_modules/${p} ./node_modules/${p}`);
    assert.ok(p in (pkg.dependencies ?? {}) || copied, `${p}: a production dependency or copied into the host image`);
  }
});

test("Envoy: after a live host, bids on 8080, read-only admin on 9901, two worker VMs", () => {
  const e = services.envoy;
  assert.deepEqual(e.depends_on["nexus-host"], { condition: "service_healthy" });
  assert.ok(e.ports.includes("127.0.0.1:8080:8080"));
  assert.ok(e.ports.includes("127.0.0.1:9901:9901"));
  const cmd: string[] = e.command;
  assert.equal(cmd[cmd.indexOf("-c") + 1], "/etc/envoy/envoy.yaml");
  assert.equal(cmd[cmd.indexOf("--concurrency") + 1], "2");
  assert.equal(e.read_only, true);
});

test("the host is told Envoy's hash_bits (NEXUS_MODEL_HASH_BITS = envoy/envoy.yaml's plugin configuration)", () => {
  assert.equal(Number(dc.services["nexus-host"].environment.NEXUS_MODEL_HASH_BITS), pluginConfig(readYaml("envoy/envoy.yaml")).hash_bits);
});

test("the host's environment: sidecar, Redis budgets, the S3 model store, secrets from .env; the host's config loader accepts it", () => {
  const h = services["nexus-host"];
  const env: Record<string, string> = {};
  const example = envExample();
  for (const [k, v] of Object.entries(h.environment as Record<string, unknown>)) env[k] = interpolate(String(v), example);
  assert.equal(env.NEXUS_MODE, "sidecar");
  assert.equal(env.NEXUS_CONTROL_HOST, "0.0.0.0");
  assert.equal(env.NEXUS_BUDGET_SOURCE, "redis");
  assert.match(env.NEXUS_REDIS_URL!, /^redis:\/\/redis:6379/);
  assert.ok(services.redis);
  const store = /^s3:\/\/([^/]+)\/(.+)$/.exec(env.NEXUS_MODEL_STORE!);
  assert.ok(store, `NEXUS_MODEL_STORE=${env.NEXUS_MODEL_STORE} is s3://<bucket>/<prefix>`);
  assert.equal(env.NEXUS_S3_ENDPOINT, "http://minio:9000");
  for (const k of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "NEXUS_ADMIN_TOKEN"]) {
    assert.match(String(h.environment[k]), /^\$\{[A-Z0-9_]+:\?[^}]+\}$/, `${k} comes from .env (required)`);
  }
  // The public key file mounted where NEXUS_MODEL_PUBLIC_KEY points.
  const keyMount = (h.volumes as string[]).find((v) => v.split(":")[1] === env.NEXUS_MODEL_PUBLIC_KEY);
  assert.ok(keyMount, `a volume at ${env.NEXUS_MODEL_PUBLIC_KEY}`);
  assert.ok(existsSync(join(ROOT, keyMount.split(":")[0]!)));
  const cfg = loadConfig({ env });
  assert.equal(cfg.mode, "sidecar");
  assert.equal(cfg.budget.source, "redis");
  assert.equal(cfg.model.store, env.NEXUS_MODEL_STORE);
  assert.equal(cfg.model.s3Endpoint, "http://minio:9000");
  assert.equal(cfg.control.port, 9090);
  assert.ok(h.ports.includes("127.0.0.1:9090:9090"));
  assert.deepEqual(h.depends_on["minio-init"], { condition: "service_completed_successfully" });
  assert.deepEqual(h.depends_on.redis, { condition: "service_healthy" });
  // /healthz, not /readyz: readiness with Redis waits for Envoy's filter, and Envoy's start waits
  // for this check (an audit found every `up` stalled for frequencyReadyWaitMs, 60 s).
  assert.match(h.healthcheck.test.join(" "), /\/healthz/);
});

test("the campaign set is a file of the repository, mounted as a directory, that the host accepts", () => {
  // Inside the image the demo set is root-owned and read-only: the documented change (edit the
  // file, raise its version, SIGHUP) needs it outside.
  const h = services["nexus-host"];
  const path = String(h.environment.NEXUS_CAMPAIGNS);
  const dir = path.slice(0, path.lastIndexOf("/"));
  const mount = (h.volumes as string[]).find((v) => v.split(":")[1] === dir);
  assert.ok(mount, `a volume at ${dir}`);
  const file = join(ROOT, mount.split(":")[0]!, path.slice(dir.length + 1));
  assert.ok(existsSync(file), file);
  assert.deepEqual(JSON.parse(readFileSync(file, "utf8")), JSON.parse(read("models/demo/campaigns.json")), "it starts as the demo set");
  assert.ok(CampaignCatalog.fromFile(file).campaigns.length >= 1);
});

test("minio-init seeds the signed demo model where NEXUS_MODEL_STORE points", () => {
  const init = services["minio-init"];
  const script: string = init.command.join("\n");
  const store = /^s3:\/\/([^/]+)\/(.+)$/.exec(services["nexus-host"].environment.NEXUS_MODEL_STORE)!;
  const [bucket, prefix] = [store[1]!, store[2]!];
  assert.match(script, new RegExp(`mc mb --ignore-existing nexus/${bucket}\\b`));
  const file = services["nexus-host"].environment.NEXUS_MODEL_FILE;
  const cp = new RegExp(`mc cp (.*) nexus/${bucket}/${prefix}/`).exec(script);
  assert.ok(cp, "mc cp into the store's prefix");
  const seedMount = (init.volumes as string[]).find((v) => v.startsWith("./models/demo:"))!;
  const inContainer = seedMount.split(":")[1]!;
  for (const suffix of ["", ".sha256", ".sig"]) {
    assert.ok(cp[1]!.split(" ").includes(`${inContainer}/${file}${suffix}`), `copies ${file}${suffix}`);
    assert.ok(existsSync(join(ROOT, "models/demo", file + suffix)));
  }
  assert.ok(existsSync(join(ROOT, "models/demo/demo-public.pem")));
  assert.match(script, /^set -e$/m);
  // $ for the container's shell is written $$ (compose would interpolate it otherwise).
  assert.doesNotMatch(script, /(?<!\$)\$[A-Z]/);
  assert.deepEqual(init.depends_on.minio, { condition: "service_healthy" });
  const policy = JSON.parse(read("deploy/compose/minio-model-reader.json"));
  const actions = policy.Statement.flatMap((s: any) => s.Action);
  assert.ok(actions.every((a: string) => /^s3:(Get|List)/.test(a)), "the host's key is read-only");
});

test("Prometheus scrapes Envoy's /stats/prometheus and the host's /metrics, with the alert rules loaded", () => {
  const p = services.prometheus;
  const mounts = new Map((p.volumes as string[]).map((v) => [v.split(":")[1]!, v.split(":")[0]!]));
  assert.equal(mounts.get("/etc/prometheus/prometheus.yml"), "./prometheus/prometheus.yml");
  assert.equal(mounts.get("/etc/prometheus/alerts.yml"), "./prometheus/alerts.yml");
  assert.ok(p.command.includes("--config.file=/etc/prometheus/prometheus.yml"));
  const cfg = readYaml("prometheus/prometheus.yml");
  assert.deepEqual(cfg.rule_files, ["alerts.yml"]);
  const job = (name: string) => cfg.scrape_configs.find((j: any) => j.job_name === name);
  assert.equal(job("nexus-envoy").metrics_path, "/stats/prometheus");
  assert.deepEqual(job("nexus-envoy").static_configs[0].targets, ["envoy:9901"]);
  assert.equal(job("nexus-host").metrics_path, "/metrics");
  assert.deepEqual(job("nexus-host").static_configs[0].targets, [`nexus-host:${services["nexus-host"].environment.NEXUS_CONTROL_PORT}`]);
});

test("Grafana: the Prometheus data source and the dashboard are provisioned", () => {
  const g = services.grafana;
  const ds = readYaml("grafana/provisioning/datasources/prometheus.yml");
  assert.equal(ds.datasources[0].url, "http://prometheus:9090");
  const prov = readYaml("grafana/provisioning/dashboards/nexus-rtb.yml");
  const dashMount = (g.volumes as string[]).find((v) => v.startsWith("./grafana/nexus-rtb.json:"))!;
  assert.ok(dashMount.split(":")[1]!.startsWith(prov.providers[0].options.path + "/"));
  assert.ok((g.volumes as string[]).includes("./grafana/provisioning:/etc/grafana/provisioning:ro"));
});

test("no secret in the repository: compose takes every secret from .env, .env.example documents each, .env is not tracked", () => {
  const text = read("docker-compose.yml");
  const used = new Set([...text.matchAll(/\$\{([A-Z0-9_]+)/g)].map((m) => m[1]!));
  const example = envExample();
  for (const v of used) assert.ok(v in example, `.env.example documents ${v}`);
  for (const [name, s] of Object.entries(services)) {
    for (const [k, v] of Object.entries((s.environment ?? {}) as Record<string, unknown>)) {
      if (/TOKEN|PASSWORD|SECRET|ACCESS_KEY|ROOT_USER/.test(k)) assert.match(String(v), /^\$\{[A-Z0-9_]+:\?/, `${name}.${k} is not a literal`);
    }
  }
  for (const v of Object.values(example)) assert.ok(/^change-me|^nexus-/.test(v), `.env.example holds placeholders only (${v})`);
  const tracked = spawnSync("git", ["ls-files", "--error-unmatch", ".env"], { cwd: ROOT, encoding: "utf8" });
  assert.notEqual(tracked.status, 0, ".env must not be committed");
});

test("docker-compose's own validator accepts the file (skipped without docker-compose)", (t) => {
  const bin = which("docker-compose");
  if (!bin) {
    t.skip("docker-compose is not installed (apt-get install docker-compose); parsed with the yaml package only");
    return;
  }
  const r = spawnSync(bin, ["-f", "docker-compose.yml", "--env-file", ".env.example", "config", "-q"], { cwd: ROOT, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  // And it refuses to start without the secrets.
  const empty = spawnSync(bin, ["-f", "docker-compose.yml", "--env-file", "/dev/null/none", "config", "-q"], { cwd: ROOT, encoding: "utf8", env: { PATH: process.env.PATH ?? "" } });
  assert.notEqual(empty.status, 0);
});

test("the README's compose commands name real files", () => {
  assert.ok(existsSync(join(ROOT, "tests/fixtures/openrtb/valid/spec25-simple-banner.json")));
  assert.ok(readFileSync(join(ROOT, "tests/e2e/verify.sh"), "utf8").startsWith("#!/usr/bin/env bash\n"));
});
