/** The README's command lines work as written: the files they name exist in a fresh clone. */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const readme = readFileSync(`${repoRoot}README.md`, "utf8");

describe("README commands", () => {
  const fileArguments = [...readme.matchAll(/^\.\/eas (create|upload) (\S+)/gm)].map((m) => ({ command: m[1]!, path: m[2]! }));

  it("has eas create and eas upload examples", () => {
    assert.ok(fileArguments.some((a) => a.command === "upload"));
    assert.ok(fileArguments.some((a) => a.command === "create"));
  });

  for (const { command, path } of fileArguments) {
    it(`\`./eas ${command} ${path}\` names a file of the repository`, () => {
      assert.ok(existsSync(`${repoRoot}${path}`), `${path} does not exist: the README example would fail as written`);
    });
  }
});
