// Supply chain and secrets: no private key or cloud secret in the repository,
// base images pinned to exact versions, dependencies pinned and locked with
// integrity hashes from the public registry, and images that run as non-root.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { PACKAGE_ROOT } from "../../host/src/paths.ts";

/** Tracked files, plus untracked ones that are not ignored (about to be committed). */
function repoFiles(): string[] {
  try {
    const out = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: PACKAGE_ROOT, maxBuffer: 64 << 20 });
    return out.toString("utf8").split("\0").filter((f) => f.length > 0);
  } catch {
    // No git (an exported tree): walk it, skipping what git would ignore.
    const skip = new Set(["node_modules", ".git", "build", "dist"]);
    const walk = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) => (skip.has(e.name) ? [] : e.isDirectory() ? walk(join(dir, e.name)) : [relative(PACKAGE_ROOT, join(dir, e.name))]));
    return walk(PACKAGE_ROOT);
  }
}

// Built from pieces so that this file does not match itself. A key is the PEM header followed by
// its base64 body (optionally after "Proc-Type:"-style header lines), so that a test asserting
// on the header text alone (tests/host/models/load.test.ts) is not a finding.
const PEM = (kind: string) => new RegExp(`-----BEGIN ${kind}PRIVATE KEY( BLOCK)?-----\\r?\\n(?:[A-Za-z-]+: [^\\n]*\\r?\\n)*(?:\\r?\\n)?[A-Za-z0-9+/=]{40,}`);
const SECRET_PATTERNS: Array<[string, RegExp]> = [
  ["PEM private key", PEM("")],
  ["PEM RSA private key", PEM("RSA ")],
  ["PEM EC private key", PEM("EC ")],
  ["PEM DSA private key", PEM("DSA ")],
  ["PEM encrypted private key", PEM("ENCRYPTED ")],
  ["OpenSSH private key", PEM("OPENSSH ")],
  ["PGP private key", PEM("PGP ")],
  ["AWS access key id", new RegExp("\\b(AKIA|ASIA)" + "[0-9A-Z]{16}\\b")],
  ["AWS secret access key", new RegExp("aws_?secret_?access_?key[\"']?\\s*[:=]\\s*[\"']?[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])", "i")],
  ["GitHub token", new RegExp("\\bgh[pousr]_" + "[A-Za-z0-9]{36,}")],
  ["Slack token", new RegExp("\\bxox[baprs]-" + "[A-Za-z0-9-]{10,}")],
  ["Google API key", new RegExp("\\bAIza" + "[0-9A-Za-z_-]{35}\\b")],
];

describe("secrets", () => {
  const files = repoFiles();

  it("the scan sees the repository", () => {
    assert.ok(files.length > 100, `${files.length} files`);
    assert.ok(files.includes("package.json"));
  });

  it("no tracked (or about to be tracked) file holds a private key or a cloud secret", () => {
    const found: string[] = [];
    for (const f of files) {
      const p = join(PACKAGE_ROOT, f);
      let st;
      try {
        st = statSync(p);
      } catch {
        continue; // deleted in the working tree
      }
      if (!st.isFile() || st.size > 8 << 20) continue;
      const text = readFileSync(p).toString("latin1");
      for (const [what, re] of SECRET_PATTERNS) if (re.test(text)) found.push(`${f}: ${what}`);
    }
    assert.deepEqual(found, []);
  });

  it("the patterns do catch secrets (checked on synthetic samples)", () => {
    const samples = [
      `-----BEGIN ${"PRIVATE KEY"}-----\nMC4CAQAwBQYDK2VwBCIEIGh5c3RlcmljYWxseSBub3QgYSByZWFsIGtleSEhIQ==\n-----END PRIVATE KEY-----`,
      `-----BEGIN ${"OPENSSH PRIVATE KEY"}-----\r\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\r\n`,
      `-----BEGIN ${"RSA PRIVATE KEY"}-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,0123\n\nMIIEpAIBAAKCAQEAwJKGb8ayHBxJe0Nw5m0zRVNyd2hM\n`,
      `aws_secret_access_key = ${"wJalrXUtnFEMI/K7MDENG/bPxRfiCY"}EXAMPLEKEY`,
      `key: ${"AKIA"}IOSFODNN7EXAMPLE`,
    ];
    for (const s of samples) assert.ok(SECRET_PATTERNS.some(([, re]) => re.test(s)), s.slice(0, 30));
    // Real keys, as Node writes them.
    const pems = [
      generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
      generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "sec1", format: "pem" }).toString(),
      generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ type: "pkcs1", format: "pem" }).toString(),
      generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ type: "pkcs8", format: "pem", cipher: "aes-128-cbc", passphrase: "x" }).toString(),
    ];
    for (const pem of pems) assert.ok(SECRET_PATTERNS.some(([, re]) => re.test(pem)), pem.slice(0, 40));
    // A header in a test's assertion is not a key.
    assert.ok(!SECRET_PATTERNS.some(([, re]) => re.test(`/^-----BEGIN ${"PRIVATE KEY"}-----\\n/`)));
  });

  it("the only key material shipped is the demo model's public key", () => {
    const keys = files.filter((f) => /\.(pem|key|p12|pfx|jks)$/i.test(f) || /(^|\/)id_(rsa|ed25519|ecdsa)$/.test(f));
    assert.deepEqual(keys, ["models/demo/demo-public.pem"]);
    assert.match(readFileSync(join(PACKAGE_ROOT, "models/demo/demo-public.pem"), "utf8"), /BEGIN PUBLIC KEY/);
    assert.ok(!files.some((f) => /(^|\/)\.env$/.test(f)), ".env is never committed");
  });
});

describe("pinned images and dependencies", () => {
  const exactTag = /^[a-z0-9./_-]+(:[A-Za-z0-9._-]*\d[A-Za-z0-9._-]*)?(@sha256:[0-9a-f]{64})?$/;
  const pinned = (image: string) => exactTag.test(image) && (image.includes("@sha256:") || (/:/.test(image) && !/:latest$/.test(image) && !/:\d+$/.test(image)));

  it("every Dockerfile base image has an exact version (no latest, no bare major)", () => {
    const from = readFileSync(join(PACKAGE_ROOT, "Dockerfile"), "utf8")
      .split("\n")
      .filter((l) => /^FROM\s/i.test(l))
      .map((l) => l.split(/\s+/)[1]!);
    assert.ok(from.length >= 2);
    const stages = new Set(readFileSync(join(PACKAGE_ROOT, "Dockerfile"), "utf8").match(/ AS (\S+)/gi)?.map((s) => s.slice(4).toLowerCase()) ?? []);
    for (const img of from) if (!stages.has(img.toLowerCase())) assert.ok(pinned(img), `FROM ${img}`);
  });

  it("every image in docker-compose and the Kubernetes manifests has an exact version", () => {
    const docs = ["docker-compose.yml", ...repoFiles().filter((f) => f.startsWith("deploy/") && /\.ya?ml$/.test(f))];
    let n = 0;
    for (const f of docs) {
      let text: string;
      try {
        text = readFileSync(join(PACKAGE_ROOT, f), "utf8");
      } catch {
        continue;
      }
      for (const m of text.matchAll(/^\s*image:\s*["']?([^"'\s#]+)/gm)) {
        n++;
        assert.ok(pinned(m[1]!), `${f}: image ${m[1]}`);
      }
    }
    assert.ok(n > 0);
  });

  it("images install from the lockfile and run as non-root", () => {
    const df = readFileSync(join(PACKAGE_ROOT, "Dockerfile"), "utf8");
    assert.doesNotMatch(df, /npm install/, "npm ci, never npm install");
    assert.match(df, /npm ci/);
    const stages = df.split(/^FROM /m).slice(1);
    for (const stage of stages) {
      const name = /AS (\S+)/i.exec(stage)?.[1] ?? "";
      if (name === "build") continue; // not shipped
      const user = [...stage.matchAll(/^USER\s+(\S+)/gm)].at(-1)?.[1];
      assert.ok(user && user !== "root" && user !== "0" && !user.startsWith("0:"), `stage ${name} runs as ${user ?? "root"}`);
    }
  });

  it("package.json pins every dependency exactly; the lockfile has an integrity hash from the public registry for each", () => {
    const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, "package.json"), "utf8")) as Record<string, Record<string, string> | undefined>;
    for (const section of ["dependencies", "devDependencies"]) {
      for (const [name, range] of Object.entries(pkg[section] ?? {})) assert.match(range, /^\d+\.\d+\.\d+$/, `${section}.${name}: "${range}" is not an exact version`);
    }
    const lock = JSON.parse(readFileSync(join(PACKAGE_ROOT, "package-lock.json"), "utf8")) as { lockfileVersion: number; packages: Record<string, { integrity?: string; resolved?: string; link?: boolean; inBundle?: boolean }> };
    assert.ok(lock.lockfileVersion >= 2);
    const missing: string[] = [];
    const foreign: string[] = [];
    for (const [path, p] of Object.entries(lock.packages)) {
      if (path === "" || p.link || p.inBundle) continue;
      if (!p.integrity?.startsWith("sha512-") && !p.integrity?.startsWith("sha1-")) missing.push(path);
      if (p.resolved && !p.resolved.startsWith("https://registry.npmjs.org/")) foreign.push(`${path}: ${p.resolved}`);
    }
    assert.deepEqual(missing, [], "packages without an integrity hash");
    assert.deepEqual(foreign, [], "packages resolved outside the public registry");
  });
});
