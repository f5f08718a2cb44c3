import { PreconditionFailedError, ValidationError, type FieldViolation } from "@eas/decider";
import { event, type EventOf } from "@eas/events";
import type { GateResult, ReleasePlan, VersionFigures } from "@eas/proto";
import { MAX_INSTANCES } from "@eas/service-spec";
import { failedGatesText, type Verdict } from "./gates.js";
import { judgedSteps, normalizePlan } from "./release-plan.js";
import { requireVersion, type LiveService } from "./service-state.js";
import type { TrafficEvent } from "./traffic.js";

export type ReleaseCause = "user" | "release plan";

/** Commands on a service's traffic: its canary, the release plan driving it, its mirror. */
export type ReleaseCommand =
  | {
      type: "StartCanary";
      name: string;
      version: number;
      /** Undefined: 0 for a new canary, unchanged for the running one. */
      weight?: number;
      /** Undefined: 0 (follow the weight) for a new canary, unchanged for the running one. */
      replicas?: number;
      plan?: ReleasePlan;
      now: string;
    }
  | { type: "PromoteCanary"; name: string; cause: ReleaseCause; reason: string; now: string }
  | { type: "AbortCanary"; name: string; cause: ReleaseCause; reason: string; now: string }
  /** The release analyser: the canary has a Ready instance, the plan's first step starts. */
  | { type: "StartFirstStep"; name: string; version: number; now: string }
  /** The release analyser judged a window of the current step. */
  | {
      type: "RecordStepMeasurement";
      name: string;
      version: number;
      step: number;
      windowFrom: string;
      windowTo: string;
      canary: VersionFigures;
      stable: VersionFigures;
      gates: GateResult[];
      verdict: Verdict;
      now: string;
    }
  | { type: "SetMirror"; name: string; target: string; targetVersion: number; ratio: number; now: string };

export type ReleaseEvent = TrafficEvent | EventOf<"eas.v1.ServiceVersionAdded">;

const RELEASE_COMMANDS = new Set<string>([
  "StartCanary",
  "PromoteCanary",
  "AbortCanary",
  "StartFirstStep",
  "RecordStepMeasurement",
  "SetMirror",
]);

export function isReleaseCommand(command: { type: string }): command is ReleaseCommand {
  return RELEASE_COMMANDS.has(command.type);
}

function percentViolation(path: string, value: number | undefined): FieldViolation[] {
  if (value === undefined) return [];
  return Number.isInteger(value) && value >= 0 && value <= 100 ? [] : [{ path, message: `must be 0 to 100, got ${value}` }];
}

/** A plan's step as events: its start and the weight it sets. */
function stepEvents(
  service: LiveService,
  version: number,
  step: number,
  plan: ReleasePlan,
  fromWeight: number,
  replicas: number,
  now: string,
): ReleaseEvent[] {
  const { weight, bakeSeconds } = plan.steps[step - 1]!;
  return [
    event("ReleaseStepStarted", { name: service.name, version, step, weight, bakeSeconds, at: now }),
    event("CanaryWeightChanged", { name: service.name, version, fromWeight, toWeight: weight, replicas, cause: "release plan", at: now }),
  ];
}

function startCanary(command: Extract<ReleaseCommand, { type: "StartCanary" }>, service: LiveService): ReleaseEvent[] {
  const violations = [...percentViolation("weight", command.weight)];
  if (command.replicas !== undefined && command.replicas > MAX_INSTANCES) {
    violations.push({ path: "replicas", message: `must be at most ${MAX_INSTANCES}` });
  }
  const normalized = command.plan ? normalizePlan(command.plan) : undefined;
  if (normalized) violations.push(...normalized.violations);
  if (violations.length > 0) throw new ValidationError(violations);
  requireVersion(service, command.version);
  if (command.version === service.currentVersion) {
    throw new ValidationError([
      { path: "version", message: `${command.version} is the stable version of ${service.name}; name another version` },
    ]);
  }

  const { canary, plan } = service.traffic;
  if (canary) {
    if (canary.version !== command.version || normalized) {
      throw new PreconditionFailedError(
        `version ${canary.version} of ${service.name} runs as a canary at ${canary.weight}%: promote or abort it first`,
      );
    }
    if (plan) {
      throw new PreconditionFailedError(`a release plan drives the canary of ${service.name}: promote or abort it to take over`);
    }
    const weight = command.weight ?? canary.weight;
    const replicas = command.replicas ?? canary.replicas;
    if (weight === canary.weight && replicas === canary.replicas) return [];
    const changed = { name: service.name, version: canary.version, fromWeight: canary.weight, toWeight: weight, replicas, cause: "user" };
    return [event("CanaryWeightChanged", { ...changed, at: command.now })];
  }

  const started = event("CanaryStarted", {
    name: service.name,
    version: command.version,
    stableVersion: service.currentVersion,
    // A plan's first step sets the weight once the canary has a Ready instance to measure.
    weight: normalized ? 0 : (command.weight ?? 0),
    replicas: command.replicas ?? 0,
    cause: normalized ? "release plan" : "user",
    at: command.now,
  });
  if (!normalized) return [started];
  return [started, event("ReleasePlanStarted", { name: service.name, version: command.version, plan: normalized.plan, at: command.now })];
}

function recordMeasurement(command: Extract<ReleaseCommand, { type: "RecordStepMeasurement" }>, service: LiveService): ReleaseEvent[] {
  const { canary, plan } = service.traffic;
  // A judgement of a step that is over (a retried or late call) changes nothing.
  if (!canary || !plan || canary.version !== command.version || plan.step !== command.step || plan.step === 0) return [];
  const lastWindow = plan.measurements.at(-1);
  if (lastWindow && lastWindow.step === command.step && Date.parse(command.windowFrom) < Date.parse(lastWindow.windowTo)) return [];

  const { name } = service;
  const { step, version, now } = command;
  const measured = event("ReleaseStepMeasured", {
    name,
    version,
    step,
    windowFrom: command.windowFrom,
    windowTo: command.windowTo,
    canary: command.canary,
    stable: command.stable,
    gates: command.gates,
    verdict: command.verdict,
    at: now,
  });
  const steps = judgedSteps(plan.plan);
  const weight = plan.plan.steps[step - 1]!.weight;
  switch (command.verdict) {
    case "inconclusive":
      return [measured];
    case "fail":
      return [
        measured,
        event("CanaryAborted", {
          name,
          version,
          cause: "release plan",
          reason: `step ${step} at ${weight}%: ${failedGatesText(command.gates) || "a gate failed"}`,
          at: now,
        }),
      ];
    case "pass":
      if (step < steps.length) return [measured, ...stepEvents(service, version, step + 1, plan.plan, canary.weight, canary.replicas, now)];
      return [
        measured,
        event("CanaryPromoted", {
          name,
          fromVersion: service.currentVersion,
          toVersion: version,
          cause: "release plan",
          reason: `all ${steps.length} step${steps.length === 1 ? "" : "s"} passed their gates`,
          at: now,
        }),
      ];
  }
}

function setMirror(command: Extract<ReleaseCommand, { type: "SetMirror" }>, service: LiveService): ReleaseEvent[] {
  const violations = percentViolation("ratio", command.ratio);
  if (command.ratio > 0 && command.target === service.name) {
    violations.push({ path: "target", message: `cannot mirror ${service.name} to itself: name another service` });
  }
  if (command.ratio > 0 && !command.target) violations.push({ path: "target", message: "is required" });
  if (violations.length > 0) throw new ValidationError(violations);
  const current = service.traffic.mirror;
  if (command.ratio === 0) return current ? [event("MirrorRemoved", { name: service.name, at: command.now })] : [];
  if (current && current.target === command.target && current.targetVersion === command.targetVersion && current.ratio === command.ratio)
    return [];
  return [
    event("MirrorSet", {
      name: service.name,
      target: command.target,
      targetVersion: command.targetVersion,
      ratio: command.ratio,
      at: command.now,
    }),
  ];
}

/** Decides a release command on an existing service (the Service decider hands them here). */
export function decideRelease(command: ReleaseCommand, service: LiveService): ReleaseEvent[] {
  const { canary, plan } = service.traffic;
  switch (command.type) {
    case "StartCanary":
      return startCanary(command, service);
    case "PromoteCanary":
      if (!canary) throw new PreconditionFailedError(`service ${service.name} has no canary to promote`);
      return [
        event("CanaryPromoted", {
          name: service.name,
          fromVersion: service.currentVersion,
          toVersion: canary.version,
          cause: command.cause,
          reason: command.reason,
          at: command.now,
        }),
      ];
    case "AbortCanary":
      if (!canary) throw new PreconditionFailedError(`service ${service.name} has no canary to abort`);
      return [
        event("CanaryAborted", {
          name: service.name,
          version: canary.version,
          cause: command.cause,
          reason: command.reason,
          at: command.now,
        }),
      ];
    case "StartFirstStep":
      if (!canary || !plan || canary.version !== command.version || plan.step !== 0) return [];
      return stepEvents(service, command.version, 1, plan.plan, canary.weight, canary.replicas, command.now);
    case "RecordStepMeasurement":
      return recordMeasurement(command, service);
    case "SetMirror":
      return setMirror(command, service);
  }
}
