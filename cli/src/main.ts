import { Command } from "commander";
import { describeError } from "./client.js";
import { commandGroups } from "./commands/index.js";
import { createContext } from "./context.js";

const program = new Command();
program
  .name("eas")
  .description("EAS command line: deploy models as online inference services and manage them")
  .option("-e, --endpoint <host:port>", "deployer gRPC address", process.env.EAS_ENDPOINT ?? "127.0.0.1:50051")
  .option("--scheduler <host:port>", "scheduler gRPC address", process.env.EAS_SCHEDULER_ENDPOINT ?? "127.0.0.1:50052")
  .option("--json", "print JSON instead of tables", false)
  .showHelpAfterError();

const context = createContext(program);
for (const group of commandGroups) group.register(program, context);

try {
  await program.parseAsync();
  process.exit(0);
} catch (error) {
  console.error(`error: ${describeError(error, context.globals().endpoint)}`);
  process.exit(1);
}
