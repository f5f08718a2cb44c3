import { describe, it } from "node:test";
import { AlreadyExistsError, NotFoundError, PreconditionFailedError } from "@eas/decider";
import { deciderSpecification } from "@eas/decider/testing";
import { event } from "@eas/events";
import { stressDecider } from "./stress-decider.js";
import { specOf, stepsOf } from "./test-support.js";

const T0 = "2026-12-05T10:00:00.000Z";
const T1 = "2026-12-05T10:01:00.000Z";
const spec = specOf({ qps: 500 });
const created = event("StressTaskCreated", { taskId: "t1", spec, workerService: "stress_t1", createdAt: T0 });
const started = event("StressTaskStarted", { taskId: "t1", workerIds: ["a", "b"], loadStartsAtMs: 1_000, startedAt: T0 });
const [step1] = stepsOf([500, "ok"]);
const stepped = event("StressStepCompleted", { taskId: "t1", step: step1! });
const stopAsked = event("StressTaskStopRequested", { taskId: "t1", reason: "by the user", requestedAt: T1 });
const finish = {
  type: "FinishTask" as const,
  taskId: "t1",
  status: "Stopped" as const,
  reason: "stopped by the user",
  summary: undefined,
  reportHtmlUrl: "obj://eas-stress/t1/report.html",
  reportJsonUrl: "obj://eas-stress/t1/report.json",
  now: T1,
};
const finished = event("StressTaskFinished", {
  taskId: "t1",
  status: "Stopped",
  reason: "stopped by the user",
  summary: undefined,
  reportHtmlUrl: finish.reportHtmlUrl,
  reportJsonUrl: finish.reportJsonUrl,
  finishedAt: T1,
});
const given = deciderSpecification(stressDecider).given;

describe("Stress task decider", () => {
  it("creates a task once", () => {
    given([]).when({ type: "CreateTask", taskId: "t1", spec, workerService: "stress_t1", now: T0 }).then([created]);
    given([created]).when({ type: "CreateTask", taskId: "t1", spec, workerService: "stress_t1", now: T0 }).thenThrows(AlreadyExistsError);
  });
  it("starts the load once", () => {
    given([created])
      .when({ type: "StartLoad", taskId: "t1", workerIds: ["a", "b"], loadStartsAtMs: 1_000, now: T0 })
      .then([started]);
    given([created, started])
      .when({ type: "StartLoad", taskId: "t1", workerIds: ["a"], loadStartsAtMs: 2_000, now: T0 })
      .then([]);
  });
  it("records each step once, in order", () => {
    given([created, started]).when({ type: "CompleteStep", taskId: "t1", step: step1! }).then([stepped]);
    given([created, started, stepped]).when({ type: "CompleteStep", taskId: "t1", step: step1! }).then([]);
  });
  it("a stop is asked once, and refused after the end", () => {
    given([created, started]).when({ type: "RequestStop", taskId: "t1", reason: "by the user", now: T1 }).then([stopAsked]);
    given([created, started, stopAsked]).when({ type: "RequestStop", taskId: "t1", reason: "again", now: T1 }).then([]);
    given([created, started, stopAsked, finished])
      .when({ type: "RequestStop", taskId: "t1", reason: "late", now: T1 })
      .thenThrows(PreconditionFailedError);
  });
  it("finishes once; nothing is recorded after", () => {
    given([created, started, stopAsked]).when(finish).then([finished]);
    given([created, started, stopAsked, finished]).when(finish).then([]);
    given([created, started, finished])
      .when({ type: "CompleteStep", taskId: "t1", step: { ...step1!, index: 2 } })
      .then([]);
  });
  it("refuses commands on a task that does not exist", () => {
    given([]).when({ type: "RequestStop", taskId: "t9", reason: "x", now: T1 }).thenThrows(NotFoundError);
  });
});
