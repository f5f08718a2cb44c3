// Lint rules that guard the architecture: no floating promises, no import cycles,
// no deep imports into another package's src/, no service importing another service
// (services share contracts: proto/ and libs/), no test helpers in production code.
import { readdirSync, readFileSync } from "node:fs";
import js from "@eslint/js";
import tseslint from "typescript-eslint";
import { importX } from "eslint-plugin-import-x";

/** `@eas/deployer`, `@eas/agent`, ...: every package under services/. */
const servicePackages = readdirSync(new URL("./services", import.meta.url), { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => JSON.parse(readFileSync(new URL(`./services/${entry.name}/package.json`, import.meta.url), "utf8")).name);

/** Files that are tests or test helpers; everything else is production code. */
const testCode = [
  "**/*.test.ts",
  "**/testing/**",
  "**/testing.ts",
  "**/test-support.ts",
  "**/fixtures.ts",
  "**/test-fixture.ts",
  "e2e/**",
  "bench/**",
];

const packageSurface = [
  { group: ["@eas/*/src", "@eas/*/src/*", "@eas/*/dist/*"], message: "import the package's public surface, not its files" },
  {
    group: ["../../libs/*", "../../../libs/*", "../../services/*", "../../../services/*", "../../processors/*", "../libs/*"],
    message: "import other packages by name (@eas/...)",
  },
];
const noServiceImports = {
  group: servicePackages.flatMap((name) => [name, `${name}/*`]),
  message: "a service package is not a library: share contracts through proto/ and libs/ (see docs/adr/0015)",
};
// no-restricted-imports sees static imports only; this catches `await import("@eas/agent")`.
// (esquery's regex literals cannot hold "/", so it is spelled \x2F.)
const asPattern = (text) => text.replace(/[.*+?^${}()|[\]\\-]/g, "\\$&").replaceAll("/", "\\x2F");
const noDynamicServiceImports = {
  selector: `ImportExpression[source.value=/^(${servicePackages.map(asPattern).join("|")})(\\x2F.*)?$/]`,
  message: "a service package is not a library: share contracts through proto/ and libs/ (see docs/adr/0015)",
};
const noTestHelpers = {
  group: ["**/testing", "**/testing/*", "**/test-support*", "**/fixtures*", "**/test-fixture*"],
  message: "test helpers are for tests; move what production code needs into a lib",
};

export default tseslint.config(
  { ignores: ["**/node_modules/**", "**/dist/**", "libs/proto/src/gen/**", "**/*.mjs", ".eas-data/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { "import-x": importX },
    rules: {
      "@typescript-eslint/no-floating-promises": [
        "error",
        { allowForKnownSafeCalls: [{ from: "package", package: "node:test", name: ["describe", "it", "test", "suite"] }] },
      ],
      "@typescript-eslint/no-misused-promises": ["error", { checksVoidReturn: false }],
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", destructuredArrayIgnorePattern: "^_" },
      ],
      "import-x/no-cycle": ["error", { maxDepth: 10 }],
      "no-restricted-imports": ["error", { patterns: [...packageSurface, noServiceImports, noTestHelpers] }],
      "no-restricted-syntax": ["error", noDynamicServiceImports],
    },
  },
  {
    // Tests may use test helpers; e2e and bench drive whole services, so they may import them too.
    files: testCode,
    rules: { "no-restricted-imports": ["error", { patterns: [...packageSurface, noServiceImports] }] },
  },
  {
    files: ["e2e/**", "bench/**"],
    rules: { "no-restricted-imports": ["error", { patterns: packageSurface }], "no-restricted-syntax": "off" },
  },
);
