#!/usr/bin/env node
// Bundles the TypeScript host (CLI, standalone server, worker-thread VM entry)
// with esbuild. Dependencies stay external: they are installed from the lock.
import { build } from "esbuild";
import { readFileSync } from "node:fs";

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
const external = [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.devDependencies ?? {})];

await build({
  entryPoints: {
    "nexus-rtb": "host/src/cli/main.ts",
    "vm-worker": "host/src/proxy-wasm/worker-entry.ts",
  },
  outdir: "dist",
  outExtension: { ".js": ".mjs" },
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: "linked",
  external,
  banner: { js: "#!/usr/bin/env node" },
  logLevel: "warning",
});
