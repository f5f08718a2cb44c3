import type { Command } from "commander";
import { CliError } from "../client.js";
import type { CliContext } from "../context.js";
import { table } from "../format.js";
import type { CommandGroup } from "./registry.js";

/** `upload`: files into the built-in object store (NATS Object Store), for `obj://` mounts. */
export const uploadCommands: CommandGroup = {
  name: "upload",
  register(program: Command, context: CliContext): void {
    program
      .command("upload")
      .description("upload a file or folder to the built-in object store (NATS Object Store)")
      .argument("<path>", "local file or folder")
      .argument("<destination>", "obj://bucket/key")
      .option("--nats <url>", "NATS server", process.env.NATS_URL ?? "nats://127.0.0.1:4222")
      .action(async (path: string, destination: string, options: { nats: string }) => {
        // Loaded here, not at start: the NATS client and the object store client are only needed by this command.
        const [{ connect }, { uploadToObjectStore }] = await Promise.all([import("@nats-io/transport-node"), import("@eas/object-store")]);
        const nc = await connect({ servers: options.nats.split(","), name: "eas-cli" }).catch((error: unknown) => {
          throw new CliError(`cannot reach NATS at ${options.nats}: ${(error as Error).message}`);
        });
        try {
          const objects = await uploadToObjectStore(nc, path, destination);
          context.print(objects, () =>
            table(
              ["Object", "Bytes", "Digest"],
              objects.map((o) => [o.name, o.size, o.digest]),
            ),
          );
        } finally {
          await nc.close();
        }
      });
  },
};
