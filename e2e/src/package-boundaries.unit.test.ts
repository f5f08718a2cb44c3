import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";

// Services share contracts (proto/ and libs/), never code: no package may depend on a service package,
// except the end-to-end tests and the benchmarks, which start and drive whole services. Test helpers
// (@eas/testing) are for tests: a production dependency on them is refused too. The lint rules in
// eslint.config.mjs refuse the imports; this checks what package.json and tsconfig.json declare, and
// that every dependency a package declares is one it uses (new services copy what they find).

const root = fileURLToPath(new URL("../..", import.meta.url));
const DRIVERS = new Set(["e2e", "bench"]);

interface Manifest {
  name: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}
interface WorkspacePackage {
  dir: string;
  manifest: Manifest;
  references: string[];
}

/** The package's own source files (and scripts), outside node_modules and dist. */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (entry.name === "node_modules" || entry.name === "dist") return [];
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.(ts|mts|mjs|js)$/.test(entry.name) ? [path] : [];
  });
}

function workspacePackages(): WorkspacePackage[] {
  const { packages } = parse(readFileSync(join(root, "pnpm-workspace.yaml"), "utf8")) as { packages: string[] };
  const dirs = packages.flatMap((pattern) => {
    if (!pattern.endsWith("/*")) return [pattern];
    const parent = pattern.slice(0, -2);
    return readdirSync(join(root, parent), { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && existsSync(join(root, parent, entry.name, "package.json")))
      .map((entry) => `${parent}/${entry.name}`);
  });
  return dirs.map((dir) => {
    const tsconfig = join(root, dir, "tsconfig.json");
    const references = existsSync(tsconfig)
      ? ((JSON.parse(readFileSync(tsconfig, "utf8")) as { references?: { path: string }[] }).references ?? []).map((reference) =>
          relative(root, resolve(root, dir, reference.path)),
        )
      : [];
    return { dir, manifest: JSON.parse(readFileSync(join(root, dir, "package.json"), "utf8")) as Manifest, references };
  });
}

const packages = workspacePackages();
const services = packages.filter((p) => p.dir.startsWith("services/"));
const serviceNames = new Set(services.map((p) => p.manifest.name));
const serviceDirs = new Set(services.map((p) => p.dir));
const declared = (manifest: Manifest) => ({
  ...manifest.peerDependencies,
  ...manifest.devDependencies,
  ...manifest.dependencies,
});

describe("package boundaries", () => {
  it("finds the workspace's packages, services among them", () => {
    assert.ok(services.length >= 8, `services found: ${[...serviceNames].join(", ")}`);
    assert.ok(packages.some((p) => p.dir === "libs/contracts"));
  });

  it("no package but e2e and bench depends on a service package", () => {
    const offending = packages
      .filter((p) => !DRIVERS.has(p.dir))
      .flatMap((p) =>
        Object.keys(declared(p.manifest))
          .filter((name) => serviceNames.has(name) && name !== p.manifest.name)
          .map((name) => `${p.dir} depends on ${name}`),
      );
    assert.deepEqual(offending, []);
  });

  it("no tsconfig but e2e's and bench's references a service", () => {
    const offending = packages
      .filter((p) => !DRIVERS.has(p.dir))
      .flatMap((p) => p.references.filter((ref) => serviceDirs.has(ref) && ref !== p.dir).map((ref) => `${p.dir} references ${ref}`));
    assert.deepEqual(offending, []);
  });

  it("test helpers are only ever development dependencies", () => {
    const offending = packages
      .filter((p) => !DRIVERS.has(p.dir) && p.manifest.name !== "@eas/testing")
      .filter((p) => p.manifest.dependencies?.["@eas/testing"] !== undefined)
      .map((p) => p.dir);
    assert.deepEqual(offending, []);
  });

  it("every declared dependency is imported somewhere in its package", () => {
    const unused = packages.flatMap((p) => {
      const text = sourceFiles(join(root, p.dir))
        .map((file) => readFileSync(file, "utf8"))
        .join("\n");
      return Object.keys(declared(p.manifest))
        .filter((name) => !name.startsWith("@types/"))
        .filter((name) => !text.includes(`"${name}"`) && !text.includes(`"${name}/`))
        .map((name) => `${p.dir} declares ${name}`);
    });
    assert.deepEqual(unused, []);
  });
});
