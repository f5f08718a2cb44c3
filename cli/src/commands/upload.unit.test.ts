import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Command } from "commander";
import { createContext } from "../context.js";
import { uploadCommands } from "./upload.js";

describe("eas upload", () => {
  it("offers only the destinations it accepts: obj://bucket/key", () => {
    const program = new Command();
    uploadCommands.register(program, createContext(program));
    const help = program.commands.find((c) => c.name() === "upload")!.helpInformation();
    assert.match(help, /obj:\/\/bucket\/key/);
    // `file://` and `empty_dir://` are storage sources of a spec, not places to upload to.
    assert.doesNotMatch(help, /file:\/\/|empty_dir/);
  });
});
