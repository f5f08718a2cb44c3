import { Command, InvalidArgumentError, Option } from "commander";
import { unaryCall, type ReleasePlan, type ReleaseStatus } from "@eas/proto";
import { CliError } from "../client.js";
import type { CliContext } from "../context.js";
import { table } from "../format.js";
import { positiveInt, readUserFile } from "../options.js";
import { describeGroup, describeRelease } from "../releases/format-release.js";
import { parseMember, parsePlanArgument, withGateOptions } from "../releases/plan-argument.js";
import type { CommandGroup } from "./registry.js";

function ratio(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError("must be a number >= 0");
  return n;
}

interface ReleaseOptions {
  version?: number;
  file?: string;
  replace: boolean;
  weight?: number;
  replicas?: number;
  plan?: ReleasePlan;
  maxErrorIncrease?: number;
  maxP99Ratio?: number;
  minRequests?: number;
  promote: boolean;
  abort: boolean;
  reason?: string;
  status: boolean;
}

/** `release`, `mirror` and `group create|update|get|list|delete`: the deployer's ReleaseManager. */
export const releasesCommands: CommandGroup = {
  name: "releases",
  register(program: Command, context: CliContext): void {
    const print = (status: ReleaseStatus) => context.print(status, () => describeRelease(status));

    program
      .command("release")
      .description(
        "canary release: run a version beside the stable one for a share of the requests (--weight), optionally driven by a " +
          "release plan that promotes or rolls back on the monitor's figures; --promote, --abort, --status",
      )
      .argument("<service>")
      .option("--version <n>", "the canary's version (an existing one: `eas modify --stage` records one)", positiveInt)
      .option("-f, --file <file>", "a new version from a full or partial spec, recorded and started as the canary")
      .option("--replace", "with -f: replace the whole spec instead of merging", false)
      .option("--weight <percent>", "share of the requests (0-100) the canary takes", positiveInt)
      .option("--replicas <n>", "canary instances (default: follow the weight)", positiveInt)
      .option("--plan <file|steps>", "a release plan: a JSON file, or steps weight:bake such as 10:30s,50:30s,100", parsePlanArgument)
      .option("--max-error-increase <ratio>", "gate: canary error ratio at most the stable's plus this (0.01 = 1 point)", ratio)
      .option("--max-p99-ratio <x>", "gate: canary p99 at most the stable's times this (plus 5 ms)", ratio)
      .option("--min-requests <n>", "gate: requests each version must answer in a window before it is judged", positiveInt)
      .addOption(new Option("--promote", "make the canary the stable version").default(false).conflicts(["abort", "status"]))
      .addOption(new Option("--abort", "remove the canary").default(false).conflicts(["status"]))
      .option("--reason <text>", "with --abort: why, recorded in the event")
      .option("--status", "show the canary, its plan with every measurement, the last release and the mirror", false)
      .action(async (service: string, options: ReleaseOptions) => {
        const rm = context.releaseManager();
        try {
          if (options.promote) return print(await unaryCall(rm, rm.promoteRelease, { name: service }));
          if (options.abort) return print(await unaryCall(rm, rm.abortRelease, { name: service, reason: options.reason ?? "" }));
          const starting = options.version !== undefined || options.file !== undefined;
          if (!starting) {
            if (options.weight !== undefined || options.plan) throw new CliError("name the canary: --version <n> or -f <spec file>");
            return print(await unaryCall(rm, rm.getRelease, { name: service }));
          }
          const plan = options.plan && withGateOptions(options.plan, options);
          const status = await unaryCall(rm, rm.startRelease, {
            name: service,
            version: options.version ?? 0,
            spec: options.file ? readUserFile(options.file) : "",
            updateType: options.replace ? "replace" : "merge",
            weight: options.weight,
            replicas: options.replicas,
            plan,
          });
          print(status);
        } finally {
          rm.close();
        }
      });

    program
      .command("mirror")
      .description("copy a share of a service's requests to another service; the copies' answers are measured and discarded")
      .argument("<service>")
      .option("--target <service>", "the service that receives the copies")
      .option("--target-version <n>", "one version of the target (default: any Ready instance)", positiveInt)
      .option("--ratio <percent>", "share of the requests copied (1-100)", positiveInt)
      .option("--off", "stop mirroring", false)
      .action(async (service: string, options: { target?: string; targetVersion?: number; ratio?: number; off: boolean }) => {
        if (!options.off && (!options.target || options.ratio === undefined)) throw new CliError("give --target and --ratio, or --off");
        const rm = context.releaseManager();
        try {
          const request = options.off
            ? { name: service, target: "", targetVersion: 0, ratio: 0 }
            : { name: service, target: options.target!, targetVersion: options.targetVersion ?? 0, ratio: options.ratio! };
          print(await unaryCall(rm, rm.setMirror, request));
        } finally {
          rm.close();
        }
      });

    const group = program.command("group").description("service groups: several services behind /api/predict/<group>, with weights");
    const withGroup = async <T>(call: (rm: ReturnType<CliContext["releaseManager"]>) => Promise<T>): Promise<T> => {
      const rm = context.releaseManager();
      try {
        return await call(rm);
      } finally {
        rm.close();
      }
    };
    const memberOption = (command: Command) =>
      command.requiredOption("--member <service=weight>", "a member and its weight (0-100); repeat for each", parseMember);
    memberOption(group.command("create").description("create a group; prints its endpoint and its own token").argument("<name>")).action(
      async (name: string, options: { member: { service: string; weight: number }[] }) => {
        const info = await withGroup((rm) => unaryCall(rm, rm.createGroup, { name, members: options.member }));
        context.print(info, () => describeGroup(info));
      },
    );
    memberOption(group.command("update").description("replace a group's members and weights").argument("<name>")).action(
      async (name: string, options: { member: { service: string; weight: number }[] }) => {
        const info = await withGroup((rm) => unaryCall(rm, rm.updateGroup, { name, members: options.member }));
        context.print(info, () => describeGroup(info));
      },
    );
    group
      .command("get")
      .argument("<name>")
      .action(async (name: string) => {
        const info = await withGroup((rm) => unaryCall(rm, rm.getGroup, { name }));
        context.print(info, () => describeGroup(info));
      });
    group.command("list").action(async () => {
      const { groups } = await withGroup((rm) => unaryCall(rm, rm.listGroups, {}));
      context.print(groups, () =>
        table(
          ["Group", "Members", "Endpoint"],
          groups.map((g) => [g.name, g.members.map((m) => `${m.service}=${m.weight}`).join(" "), g.endpoint]),
        ),
      );
    });
    group
      .command("delete")
      .argument("<name>")
      .action(async (name: string) => {
        const info = await withGroup((rm) => unaryCall(rm, rm.deleteGroup, { name }));
        context.print(info, () => `Group ${info.name} deleted.`);
      });
  },
};
