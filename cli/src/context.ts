import type { Command } from "commander";
import type { ServiceManagerClient } from "@eas/proto";
import { serviceManager } from "./client.js";

/** The options every command shares (`eas --endpoint ... --json <command>`). */
export interface GlobalOptions {
  endpoint: string;
  scheduler: string;
  json: boolean;
}

/** What a command group gets from the program: the global options, clients built from them, and output. */
export interface CliContext {
  globals(): GlobalOptions;
  /** A ServiceManager client for the deployer at `--endpoint`. */
  serviceManager(): ServiceManagerClient;
  /** Prints `value` as JSON with `--json`, else the text `text()` builds. */
  print(value: unknown, text: () => string): void;
}

export function createContext(program: Command): CliContext {
  const globals = () => program.opts<GlobalOptions>();
  return {
    globals,
    serviceManager: () => serviceManager(globals().endpoint),
    print: (value, text) => console.log(globals().json ? JSON.stringify(value, null, 2) : text()),
  };
}
