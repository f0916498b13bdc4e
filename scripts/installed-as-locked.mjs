// Whether a package's node_modules holds exactly its locked packages, whoever installed them.
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

/**
 * npm's own record of what it installed, node_modules/.package-lock.json, against package-lock.json:
 * every locked package that is not optional is there, each at its locked version and integrity,
 * and nothing else is. As npm does, the record is not trusted when a package's folder changed after
 * it was written (a package deleted or edited by hand). False when either file is missing or unreadable.
 */
export function installedAsLocked(root) {
  const hidden = join(root, "node_modules", ".package-lock.json");
  if (!existsSync(hidden)) return false;
  try {
    const locked = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8")).packages ?? {};
    const installed = JSON.parse(readFileSync(hidden, "utf8")).packages ?? {};
    for (const [path, pkg] of Object.entries(locked)) {
      if (path === "") continue;
      const got = installed[path];
      if (got === undefined) {
        if (pkg.optional) continue; // another platform's binary, say
        return false;
      }
      if (got.version !== pkg.version || got.integrity !== pkg.integrity) return false;
    }
    const recorded = statSync(hidden).mtimeMs;
    return Object.keys(installed).every((path) => path in locked && existsSync(join(root, path)) && statSync(join(root, path)).mtimeMs <= recorded);
  } catch {
    return false;
  }
}
