// Lint rules that guard the architecture: no floating promises, no import cycles,
// no deep imports into another package's src/.
import js from "@eslint/js";
import tseslint from "typescript-eslint";
import { importX } from "eslint-plugin-import-x";

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
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { group: ["@eas/*/src", "@eas/*/src/*", "@eas/*/dist/*"], message: "import the package's public surface, not its files" },
            {
              group: ["../../libs/*", "../../../libs/*", "../../services/*", "../../../services/*", "../../processors/*", "../libs/*"],
              message: "import other packages by name (@eas/...)",
            },
          ],
        },
      ],
    },
  },
);
