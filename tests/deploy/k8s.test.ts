// deploy/k8s (kustomize): the pod's wiring (Envoy sidecar + host), probes against the real
// host, the 512 MiB budget, pinned images, Secret references only, security context, Service,
// HPA, PDB and scrape annotations. Real validators run when present: `kubectl kustomize`, and
// the Kubernetes schemas of the kubernetes-models package (runtime validation, and TypeScript's
// excess-property check for unknown fields) from NEXUS_VALIDATORS_DIR.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseAllDocuments } from "yaml";
import {
  K8S_DIR, ROOT, cluster, clusterEndpoints, imageIsPinned, k8sObject, k8sObjects, listener, pluginConfig, quantity, read, readYaml, routeFor, wasmPluginConfig, which,
} from "./helpers.ts";
import { defaultConfig, loadConfig } from "../../host/src/config.ts";
import { startControlPlane } from "../../host/src/standalone.ts";
import { silentLogger } from "../../host/src/log.ts";
import { CampaignCatalog } from "../../host/src/control/campaigns.ts";
import { writeTestModel, get } from "../helpers/bidder.ts";

const kustomization = readYaml(`${K8S_DIR}/kustomization.yaml`);
const deployment = k8sObject("Deployment", "nexus-rtb");
const pod = deployment.spec.template.spec;
const container = (name: string) => pod.containers.find((c: any) => c.name === name);
const envoyC = container("envoy");
const hostC = container("host");
const envoyYaml = readYaml(`${K8S_DIR}/envoy.yaml`);
const pkg = JSON.parse(read("package.json"));
const SECRET = "nexus-rtb-secrets";

function hostEnvFile(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of read(`${K8S_DIR}/host.env`).split("\n")) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

const portNumber = (c: any, port: string | number): number => (typeof port === "number" ? port : c.ports.find((p: any) => p.name === port).containerPort);
const volumeMount = (c: any, volume: string) => c.volumeMounts.find((m: any) => m.name === volume);
const volume = (name: string) => pod.volumes.find((v: any) => v.name === name);

test("the kustomization lists every manifest and generates the ConfigMaps from files in deploy/k8s", () => {
  for (const r of kustomization.resources) assert.ok(existsSync(join(ROOT, K8S_DIR, r)), r);
  const kinds = k8sObjects().map((o) => `${o.apiVersion} ${o.kind}`).sort();
  assert.deepEqual(kinds, [
    "apps/v1 Deployment",
    "autoscaling/v2 HorizontalPodAutoscaler",
    "networking.k8s.io/v1 NetworkPolicy",
    "policy/v1 PodDisruptionBudget",
    "v1 Namespace",
    "v1 Service",
    "v1 Service",
    "v1 ServiceAccount",
  ]);
  const gens = Object.fromEntries(kustomization.configMapGenerator.map((g: any) => [g.name, g]));
  assert.deepEqual(gens["nexus-rtb-envoy"].files, ["envoy.yaml"]);
  assert.deepEqual(gens["nexus-rtb-campaigns"].files, ["campaigns.json"]);
  assert.deepEqual(gens["nexus-rtb-host"].envs, ["host.env"]);
});

test("one pod: the Envoy sidecar and the host, images pinned (the project's version)", () => {
  assert.deepEqual(pod.containers.map((c: any) => c.name), ["envoy", "host"]);
  for (const c of pod.containers) assert.ok(imageIsPinned(c.image), `${c.name}: ${c.image}`);
  assert.equal(envoyC.image, `nexus-rtb-envoy:${pkg.version}`);
  assert.equal(hostC.image, `nexus-rtb-host:${pkg.version}`);
  for (const i of kustomization.images) assert.ok(i.newTag && i.newTag !== "latest");
  // Same images as docker-compose builds.
  const dc = readYaml("docker-compose.yml");
  assert.equal(dc.services.envoy.image, envoyC.image);
  assert.equal(dc.services["nexus-host"].image, hostC.image);
});

test("memory: every container has requests and limits, and the pod's limits add up to at most 512 MiB", () => {
  let total = 0;
  for (const c of pod.containers) {
    const { requests, limits } = c.resources;
    for (const r of ["cpu", "memory"]) {
      assert.ok(requests?.[r] !== undefined && limits?.[r] !== undefined, `${c.name}: ${r} request and limit`);
      assert.ok(quantity(requests[r]) <= quantity(limits[r]), `${c.name}: ${r} request <= limit`);
    }
    assert.equal(quantity(requests.memory), quantity(limits.memory), `${c.name}: memory request = limit (no overcommit)`);
    total += quantity(limits.memory);
  }
  assert.ok(total <= 512 * 1024 ** 2, `pod memory limit ${total / 1024 ** 2} MiB <= 512 MiB`);
  assert.equal(pod.initContainers, undefined, "no init container adds to the pod's memory");
  // The host's heap fits its limit with room for buffers and code.
  const heap = /--max-old-space-size=(\d+)/.exec(hostEnvFile().NODE_OPTIONS ?? "");
  assert.ok(heap && Number(heap[1]) * 1024 ** 2 < quantity(hostC.resources.limits.memory) * 0.75);
  // Envoy's worker count (= filter VMs) matches its CPU limit.
  const args: string[] = envoyC.args;
  assert.equal(Number(args[args.indexOf("--concurrency") + 1]), quantity(envoyC.resources.limits.cpu));
});

test("Envoy's configuration comes from the ConfigMap (-c), the .wasm from the image, ports match envoy.yaml's listeners", () => {
  const args: string[] = envoyC.args;
  const config = args[args.indexOf("-c") + 1]!;
  const mount = volumeMount(envoyC, "envoy-config");
  assert.equal(config, `${mount.mountPath}/envoy.yaml`);
  assert.equal(volume("envoy-config").configMap.name, "nexus-rtb-envoy");
  assert.ok(args.includes("--disable-hot-restart"));
  // The mount does not hide the baked filter.
  const filename = wasmPluginConfig(envoyYaml).vm_config.code.local.filename;
  assert.ok(!filename.startsWith(mount.mountPath + "/"));
  assert.match(read("Dockerfile"), new RegExp(`nexus_filter\\.wasm ${filename.replace(/\./g, "\\.")}`));
  assert.equal(portNumber(envoyC, "bids"), listener(envoyYaml, "bids").address.socket_address.port_value);
  assert.equal(portNumber(envoyC, "envoy-metrics"), listener(envoyYaml, "admin_readonly").address.socket_address.port_value);
  // Envoy reaches the host in the same pod.
  assert.deepEqual(clusterEndpoints(cluster(envoyYaml, "nexus_host")), [`127.0.0.1:${portNumber(hostC, "control")}`]);
});

test("Envoy's probes point at routes envoy.yaml serves: /ready (admin, read-only listener) and /nexus/live (through the filter)", () => {
  const ready = envoyC.readinessProbe.httpGet;
  assert.equal(ready.path, "/ready");
  assert.equal(portNumber(envoyC, ready.port), 9901);
  assert.equal(routeFor(envoyYaml, "admin_readonly", ready.path).route.cluster, "envoy_admin");
  const live = envoyC.livenessProbe.httpGet;
  assert.equal(portNumber(envoyC, live.port), listener(envoyYaml, "bids").address.socket_address.port_value);
  assert.equal(routeFor(envoyYaml, "bids", live.path).direct_response.status, 200);
});

test("the host's probes are endpoints a real host control plane answers with 200", async () => {
  const probes = [hostC.startupProbe, hostC.readinessProbe, hostC.livenessProbe];
  assert.deepEqual(probes.map((p) => p.httpGet.path), ["/healthz", "/readyz", "/healthz"]);
  const env = hostEnvFile();
  for (const p of probes) assert.equal(portNumber(hostC, p.httpGet.port), Number(env.NEXUS_CONTROL_PORT));
  const dir = mkdtempSync(join(tmpdir(), "nexus-deploy-"));
  try {
    const { publicKeyPem } = writeTestModel(dir);
    const cfg = defaultConfig();
    cfg.mode = "sidecar";
    cfg.control = { host: "127.0.0.1", port: 0 };
    cfg.campaignsPath = join(ROOT, K8S_DIR, "campaigns.json");
    cfg.model = { ...cfg.model, store: dir, file: "test.nxm", publicKey: publicKeyPem };
    const cp = await startControlPlane(cfg, silentLogger());
    try {
      for (const p of probes) {
        const r = await get(cp.controlUrl + p.httpGet.path);
        assert.equal(r.status, 200, `${p.httpGet.path}: ${r.text}`);
      }
      const metrics = await get(cp.controlUrl + "/metrics");
      assert.equal(metrics.status, 200);
    } finally {
      await cp.modelWatcher.stop();
      await cp.control.close();
      await cp.budget.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the host is told Envoy's hash_bits (NEXUS_MODEL_HASH_BITS = the filter's plugin configuration): it refuses models of other sizes from its first poll", () => {
  assert.equal(Number(hostEnvFile().NEXUS_MODEL_HASH_BITS), pluginConfig(envoyYaml).hash_bits);
});

test("the host's environment (ConfigMap + Secret references) is accepted by the host's config loader", () => {
  assert.deepEqual(hostC.envFrom, [{ configMapRef: { name: "nexus-rtb-host" } }]);
  const env: Record<string, string> = { ...hostEnvFile() };
  for (const e of hostC.env) env[e.name] = e.value ?? (e.valueFrom.secretKeyRef ? "placeholder-secret-value-0123456789" : "nexus-rtb-0");
  env.NEXUS_REDIS_URL = "redis://redis.example:6379";
  const cfg = loadConfig({ env });
  assert.equal(cfg.mode, "sidecar");
  assert.equal(cfg.control.host, "0.0.0.0");
  assert.equal(cfg.budget.source, "redis", "replicas share budgets through Redis (memory budgets would multiply spend)");
  assert.match(cfg.model.store, /^s3:\/\/[^/]+\/.+/);
  // Files the env points at are mounted.
  assert.equal(env.NEXUS_CAMPAIGNS, `${volumeMount(hostC, "campaigns").mountPath}/campaigns.json`);
  assert.equal(volume("campaigns").configMap.name, "nexus-rtb-campaigns");
  const keyMount = volumeMount(hostC, "model-public-key");
  const keyItem = volume("model-public-key").secret.items[0];
  assert.equal(env.NEXUS_MODEL_PUBLIC_KEY, `${keyMount.mountPath}/${keyItem.path}`);
  // The campaign set is valid for the host.
  const catalog = CampaignCatalog.fromFile(join(ROOT, K8S_DIR, "campaigns.json"));
  assert.ok(catalog.campaigns.length >= 1);
  const podId = hostC.env.find((e: any) => e.name === "NEXUS_POD_ID");
  assert.equal(podId.valueFrom.fieldRef.fieldPath, "metadata.name");
  // Notices the Service gives another pod come back to this one (SECURITY.md G12): its own IP and
  // the Envoy listener, POD_IP defined before the variable that expands it.
  const names = hostC.env.map((e: any) => e.name);
  assert.equal(hostC.env.find((e: any) => e.name === "POD_IP").valueFrom.fieldRef.fieldPath, "status.podIP");
  const forward = hostC.env.find((e: any) => e.name === "NEXUS_NOTICE_FORWARD_URL");
  assert.equal(forward.value, `http://$(POD_IP):${portNumber(envoyC, "bids")}`);
  assert.ok(names.indexOf("POD_IP") < names.indexOf("NEXUS_NOTICE_FORWARD_URL"));
});

test("secrets are references only: no Secret object or value in the repository", () => {
  const refs = new Set<string>();
  for (const e of hostC.env) if (e.valueFrom?.secretKeyRef) {
    assert.equal(e.valueFrom.secretKeyRef.name, SECRET);
    refs.add(e.valueFrom.secretKeyRef.key);
  }
  for (const i of volume("model-public-key").secret.items) refs.add(i.key);
  assert.equal(volume("model-public-key").secret.secretName, SECRET);
  assert.deepEqual([...refs].sort(), ["admin-token", "model-public-key.pem", "redis-url", "s3-access-key-id", "s3-secret-access-key", "sync-token"]);
  const secretEnv = hostC.env.filter((e: any) => /TOKEN|SECRET|ACCESS_KEY|REDIS_URL/.test(e.name));
  for (const e of secretEnv) assert.ok(e.valueFrom?.secretKeyRef && e.value === undefined, `${e.name} from the Secret`);
  assert.doesNotMatch(read(`${K8S_DIR}/host.env`), /TOKEN|SECRET|PASSWORD|ACCESS_KEY/);
  // No Secret anywhere under deploy/.
  const walk = (dir: string): string[] => readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? walk(`${dir}/${d.name}`) : [`${dir}/${d.name}`]));
  for (const f of walk("deploy").filter((f) => /\.ya?ml$/.test(f))) {
    for (const d of parseAllDocuments(read(f))) assert.notEqual(d.toJS()?.kind, "Secret", `${f} holds a Secret`);
  }
  // docs/OPERATIONS.md tells how to create it with every key.
  const ops = read("docs/OPERATIONS.md");
  assert.match(ops, new RegExp(`kubectl create secret generic ${SECRET}`));
  for (const k of refs) assert.ok(ops.includes(k), `docs/OPERATIONS.md names the Secret key ${k}`);
});

test("security: non-root (the images' users), no privilege escalation, read-only root filesystem, no capabilities", () => {
  assert.equal(pod.securityContext.runAsNonRoot, true);
  assert.equal(pod.securityContext.seccompProfile.type, "RuntimeDefault");
  assert.equal(pod.automountServiceAccountToken, false);
  const users: Record<string, number> = { envoy: 101, host: 1000 };
  for (const c of pod.containers) {
    const s = c.securityContext;
    assert.equal(s.allowPrivilegeEscalation, false);
    assert.equal(s.readOnlyRootFilesystem, true);
    assert.deepEqual(s.capabilities.drop, ["ALL"]);
    assert.equal(s.runAsUser, users[c.name]);
    assert.equal(s.privileged, undefined);
  }
  assert.match(read("Dockerfile"), /^USER 1000:1000$/m);
  assert.match(read("Dockerfile"), /^USER 101:101$/m);
  const ns = k8sObject("Namespace");
  assert.equal(ns.metadata.labels["pod-security.kubernetes.io/enforce"], "restricted");
  assert.equal(ns.metadata.name, kustomization.namespace);
});

test("Prometheus scrape annotations: Envoy's /stats/prometheus on the pod, the host's /metrics on its Service", () => {
  const a = deployment.spec.template.metadata.annotations;
  assert.equal(a["prometheus.io/scrape"], "true");
  assert.equal(Number(a["prometheus.io/port"]), portNumber(envoyC, "envoy-metrics"));
  assert.equal(routeFor(envoyYaml, "admin_readonly", a["prometheus.io/path"]).route.cluster, "envoy_admin");
  const hm = k8sObject("Service", "nexus-rtb-host-metrics");
  assert.equal(hm.metadata.annotations["prometheus.io/path"], "/metrics");
  assert.equal(Number(hm.metadata.annotations["prometheus.io/port"]), portNumber(hostC, "control"));
  assert.equal(hm.spec.clusterIP, "None");
});

test("Services select the pod and target its named ports (bids, metrics)", () => {
  const labels = deployment.spec.template.metadata.labels;
  assert.deepEqual(deployment.spec.selector.matchLabels, Object.fromEntries(Object.entries(labels).filter(([k]) => k in deployment.spec.selector.matchLabels)));
  const names = new Set(pod.containers.flatMap((c: any) => c.ports.map((p: any) => p.name)));
  for (const svc of k8sObjects().filter((o) => o.kind === "Service")) {
    for (const [k, v] of Object.entries(svc.spec.selector)) assert.equal(labels[k], v, `${svc.metadata.name} selects the pod`);
    for (const p of svc.spec.ports) assert.ok(names.has(p.targetPort), `${svc.metadata.name}: targetPort ${p.targetPort}`);
  }
  const main = k8sObject("Service", "nexus-rtb");
  assert.deepEqual(main.spec.ports.map((p: any) => p.targetPort), ["bids", "envoy-metrics"], "the host's control port is not on the main Service");
});

test("HPA (autoscaling/v2) on CPU for the Deployment; PDB (policy/v1) keeps pods up during disruptions", () => {
  const hpa = k8sObject("HorizontalPodAutoscaler");
  assert.equal(hpa.apiVersion, "autoscaling/v2");
  assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: "apps/v1", kind: "Deployment", name: deployment.metadata.name });
  const cpu = hpa.spec.metrics.find((m: any) => m.type === "Resource" && m.resource.name === "cpu");
  assert.equal(cpu.resource.target.type, "Utilization");
  assert.ok(cpu.resource.target.averageUtilization > 0 && cpu.resource.target.averageUtilization <= 80);
  assert.ok(hpa.spec.minReplicas >= 2 && hpa.spec.maxReplicas > hpa.spec.minReplicas);
  const pdb = k8sObject("PodDisruptionBudget");
  assert.equal(pdb.apiVersion, "policy/v1");
  assert.deepEqual(pdb.spec.selector.matchLabels, deployment.spec.selector.matchLabels);
  assert.ok(pdb.spec.maxUnavailable < hpa.spec.minReplicas);
  assert.equal(deployment.spec.strategy.rollingUpdate.maxUnavailable, 0);
});

test("NetworkPolicy: bids open, metrics and the host's control port only from monitoring", () => {
  const np = k8sObject("NetworkPolicy");
  assert.deepEqual(np.spec.podSelector.matchLabels, deployment.spec.selector.matchLabels);
  const open = np.spec.ingress.filter((r: any) => !r.from);
  assert.deepEqual(open.flatMap((r: any) => r.ports.map((p: any) => p.port)), [8080]);
  const restricted = np.spec.ingress.filter((r: any) => r.from).flatMap((r: any) => r.ports.map((p: any) => p.port)).sort();
  assert.deepEqual(restricted, [9090, 9901]);
});

// ---- real validators, when installed ------------------------------------------------------------

function rendered(): any[] | undefined {
  const kubectl = which("kubectl");
  if (!kubectl) return undefined;
  const r = spawnSync(kubectl, ["kustomize", join(ROOT, K8S_DIR)], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return parseAllDocuments(r.stdout).map((d) => d.toJS()).filter(Boolean);
}

test("kubectl kustomize renders the manifests and wires the generated ConfigMaps (skipped without kubectl)", (t) => {
  const docs = rendered();
  if (!docs) {
    t.skip("kubectl is not installed; the kustomization is checked by parsing its files");
    return;
  }
  const cms = docs.filter((d) => d.kind === "ConfigMap");
  assert.equal(cms.length, 3);
  for (const cm of cms) assert.equal(cm.metadata.namespace, "nexus-rtb");
  const dep = docs.find((d) => d.kind === "Deployment");
  const vols = dep.spec.template.spec.volumes;
  const cmNames = new Set(cms.map((c) => c.metadata.name));
  for (const v of vols.filter((v: any) => v.configMap)) assert.ok(cmNames.has(v.configMap.name), `volume ${v.name} -> ${v.configMap.name}`);
  const envFrom = dep.spec.template.spec.containers.find((c: any) => c.name === "host").envFrom[0].configMapRef.name;
  assert.ok(cmNames.has(envFrom));
  const envoyCm = cms.find((c) => c.metadata.name.startsWith("nexus-rtb-envoy-"));
  assert.equal(envoyCm.data["envoy.yaml"], read(`${K8S_DIR}/envoy.yaml`));
  const hostCm = cms.find((c) => c.metadata.name.startsWith("nexus-rtb-host-"));
  assert.equal(hostCm.data.NEXUS_MODE, "sidecar");
});

const VALIDATORS = process.env.NEXUS_VALIDATORS_DIR ?? "/tmp/nexus-validators";
const MODELS = join(VALIDATORS, "node_modules", "kubernetes-models");

/** kubernetes-models module of an object: kubernetes-models/<group/version>/<Kind>. */
const modelPath = (o: any) => `kubernetes-models/${o.apiVersion}/${o.kind}`;

test("the Kubernetes schemas (kubernetes-models) accept every object (skipped when not installed)", async (t) => {
  if (!existsSync(join(MODELS, "package.json"))) {
    t.skip(`kubernetes-models is not installed in ${VALIDATORS} (npm install --prefix ${VALIDATORS} kubernetes-models@5.1.0)`);
    return;
  }
  const objects = rendered() ?? k8sObjects();
  for (const o of objects) {
    const file = join(VALIDATORS, "node_modules", `${modelPath(o)}.js`);
    const mod = await import(pathToFileURL(file).href);
    const Model = mod[o.kind];
    assert.doesNotThrow(() => new Model(o).validate(), `${o.kind} ${o.metadata.name}`);
  }
  // Unknown fields: TypeScript's excess-property check against the same package's types.
  const dir = join(VALIDATORS, `nexus-check-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  try {
    const lines = objects.map((o, i) => `import type { I${o.kind} as T${i} } from "${modelPath(o)}";\nexport const o${i}: T${i} = ${JSON.stringify(o, null, 1)};`);
    writeFileSync(join(dir, "check.ts"), lines.join("\n") + "\n");
    writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions: { strict: true, noEmit: true, module: "esnext", moduleResolution: "bundler", target: "es2022", skipLibCheck: true }, files: ["check.ts"] }));
    const tsc = join(ROOT, "node_modules/typescript/bin/tsc");
    const r = spawnSync(process.execPath, [tsc, "-p", join(dir, "tsconfig.json")], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the TypeScript check above catches an unknown field (control; skipped when not installed)", (t) => {
  if (!existsSync(join(MODELS, "package.json"))) {
    t.skip(`kubernetes-models is not installed in ${VALIDATORS}`);
    return;
  }
  const dir = join(VALIDATORS, `nexus-control-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  try {
    const bad = structuredClone(deployment);
    bad.spec.template.spec.containers[0].resourcez = {};
    writeFileSync(join(dir, "check.ts"), `import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";\nexport const d: IDeployment = ${JSON.stringify(bad)};\n`);
    writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions: { strict: true, noEmit: true, module: "esnext", moduleResolution: "bundler", target: "es2022", skipLibCheck: true }, files: ["check.ts"] }));
    const r = spawnSync(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", join(dir, "tsconfig.json")], { encoding: "utf8" });
    assert.notEqual(r.status, 0);
    assert.match(r.stdout, /resourcez/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("deploy/k8s/campaigns.json starts as the demo campaign set", () => {
  assert.deepEqual(JSON.parse(read(`${K8S_DIR}/campaigns.json`)), JSON.parse(readFileSync(join(ROOT, "models/demo/campaigns.json"), "utf8")));
});
