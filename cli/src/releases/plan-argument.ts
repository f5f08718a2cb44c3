import { existsSync, readFileSync } from "node:fs";
import { InvalidArgumentError } from "commander";
import { ReleasePlan, type ReleaseGates } from "@eas/proto";

const STEP = /^(\d+)(?:%)?(?::(\d+)(s|m)?)?$/;

/**
 * `--plan`: a JSON file (ReleasePlan in proto3 JSON: `{"steps": [{"weight": 10, "bake_seconds": 30}], "gates": {...}}`)
 * or inline steps `10:30s,50:30s,100` (weight, then bake time in seconds or minutes; a last 100 is the promotion).
 * The deployer checks the values and names the bad field; this only reads the shape.
 */
export function parsePlanArgument(value: string): ReleasePlan {
  if (existsSync(value)) {
    try {
      return ReleasePlan.fromJSON(JSON.parse(readFileSync(value, "utf8")));
    } catch (error) {
      throw new InvalidArgumentError(`${value} is not a JSON release plan: ${(error as Error).message}`);
    }
  }
  const steps = value.split(",").map((text) => {
    const match = STEP.exec(text.trim());
    if (!match) throw new InvalidArgumentError(`"${text}" is not a step: write weight:bake, e.g. 10:30s,50:1m,100`);
    const bake = Number(match[2] ?? 0) * (match[3] === "m" ? 60 : 1);
    return { weight: Number(match[1]), bakeSeconds: bake };
  });
  return { steps, gates: undefined };
}

/** The gate options of `eas release` over a plan's own gates (absent ones keep the plan's, or the defaults). */
export function withGateOptions(
  plan: ReleasePlan,
  options: { maxErrorIncrease?: number; maxP99Ratio?: number; minRequests?: number },
): ReleasePlan {
  const gates: ReleaseGates = { ...plan.gates };
  if (options.maxErrorIncrease !== undefined) gates.maxErrorRatioIncrease = options.maxErrorIncrease;
  if (options.maxP99Ratio !== undefined) gates.maxP99Ratio = options.maxP99Ratio;
  if (options.minRequests !== undefined) gates.minRequests = options.minRequests;
  return { ...plan, gates };
}

/** `--member iris=90` (repeatable) into group members. */
export function parseMember(value: string, previous: { service: string; weight: number }[] = []): { service: string; weight: number }[] {
  const match = /^([^=]+)=(\d+)$/.exec(value.trim());
  if (!match) throw new InvalidArgumentError(`"${value}" is not a member: write service=weight, e.g. iris=90`);
  return [...previous, { service: match[1]!, weight: Number(match[2]) }];
}
