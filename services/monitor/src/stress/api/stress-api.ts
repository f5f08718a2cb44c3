import type { ServerWritableStream, UntypedServiceImplementation } from "@grpc/grpc-js";
import { NotFoundError, PreconditionFailedError, ValidationError, type FieldViolation } from "@eas/decider";
import type { ProjectionRunner } from "@eas/projections";
import type { StressPoint, StressServer, StressTaskInfo, StressTaskRef, StressUpdate } from "@eas/proto";
import { toServiceError, unary } from "@eas/service-kit";
import type { Logger } from "@eas/telemetry";
import type { StressCommand } from "../domain/stress-decider.js";
import { isEnded, type TaskStatus } from "../domain/stress-decider.js";
import { parseStressTask, type TaskLimits } from "../domain/task-schema.js";
import type { StressTasksState } from "../projections/stress-tasks.js";
import type { DeployerPort } from "../runner/deployer-client.js";
import type { StressController } from "../runner/stress-controller.js";
import type { StressObjects } from "../runner/stress-objects.js";

export interface StressApiDeps {
  tasks: ProjectionRunner<StressTasksState>;
  controller: StressController;
  deployer: DeployerPort;
  objects: StressObjects;
  execute(taskId: string, command: StressCommand): Promise<number | undefined>;
  limits: TaskLimits;
  /** The report of a task now (a running task's is built from its points so far). */
  renderReport(info: StressTaskInfo, points: readonly StressPoint[]): { html: string; json: string };
  newTaskId(): string;
  logger: Logger;
  now(): Date;
}

const invalid = (path: string, message: string) => new ValidationError([{ path, message }]);

/** The Stress gRPC API: validates tasks completely before anything starts, then hands them to the controller. */
export function createStressApi(deps: StressApiDeps): StressServer {
  const { tasks, logger } = deps;

  const taskOf = (id: string): StressTaskInfo => {
    if (!id) throw invalid("id", "is required");
    const task = tasks.state[id];
    if (!task) throw new NotFoundError("stress task", id);
    return task;
  };

  const waitFor = async (position: number | undefined) => {
    if (position !== undefined) await tasks.waitForPosition(position);
  };

  const watchTask = (call: ServerWritableStream<StressTaskRef, StressUpdate>) => {
    const fail = (error: unknown) => {
      const status = toServiceError(error);
      call.destroy(Object.assign(new Error(status.details), status));
    };
    let task: StressTaskInfo;
    try {
      task = taskOf(call.request.id);
    } catch (error) {
      fail(error);
      return;
    }
    const runner = deps.controller.runner(task.id);
    if (!runner) {
      // An ended task: the task, then the points its report kept.
      void (async () => {
        call.write({ update: { $case: "task", value: task } });
        const stored = await deps.objects.getReport(task.id).catch(() => undefined);
        const points = stored ? ((JSON.parse(stored.json) as { points?: StressPoint[] }).points ?? []) : [];
        for (const point of points) call.write({ update: { $case: "point", value: point } });
        call.end();
      })().catch(fail);
      return;
    }
    call.write({ update: { $case: "task", value: task } });
    for (const point of runner.points) call.write({ update: { $case: "point", value: point } });
    // A client that stops reading misses points rather than growing our memory.
    let blocked = false;
    call.on("drain", () => (blocked = false));
    const stop = runner.watch((update) => {
      if (!blocked && !call.write(update)) blocked = true;
    });
    void runner.done.then(() => {
      stop();
      call.end();
    });
    call.on("cancelled", stop);
    call.on("close", stop);
    call.on("error", stop);
  };

  return {
    createTask: unary(logger, async (request) => {
      const parsed = parseStressTask(request.task, deps.limits);
      if (!parsed.ok) throw new ValidationError(parsed.violations);
      const { spec, data, secrets } = parsed.task;
      const violations: FieldViolation[] = [];
      const service = await deps.deployer.getService(spec.serviceName);
      if (!service)
        violations.push({
          path: parsed.task.serviceField,
          message: `unknown service "${spec.serviceName}" (not a service of this cluster)`,
        });
      else if (/"eas\.stress\/task"/.test(service.specJson))
        violations.push({ path: "service.serviceName", message: `"${spec.serviceName}" is a stress test's load workers` });
      else if (spec.endpointType === "direct" && !service.instances.some((i) => i.status === "Ready")) {
        violations.push({ path: "service.endpointType", message: `"direct" needs a Ready instance of "${spec.serviceName}"; it has none` });
      }
      if (data.kind === "file" && request.data.length === 0) {
        violations.push({
          path: "data.path",
          message: `${data.path} is a local file: the client reads it and sends its bytes (eas stress create does), or name an obj:// object`,
        });
      }
      if (data.kind === "object" && !(await deps.objects.exists(data.url)))
        violations.push({ path: "data.path", message: `${data.url} does not exist in the object store` });
      if (violations.length > 0) throw new ValidationError(violations);

      const taskId = deps.newTaskId();
      if (data.kind === "content" || data.kind === "file") {
        const bytes = data.kind === "content" ? data.bytes : request.data;
        spec.data = { ...spec.data!, objectUrl: await deps.objects.putData(taskId, bytes), sizeBytes: bytes.length };
      }
      const workerService = `stress_${taskId}`;
      await waitFor(await deps.execute(taskId, { type: "CreateTask", taskId, spec, workerService, now: deps.now().toISOString() }));
      deps.controller.start(taskId, spec, secrets, workerService);
      return taskOf(taskId);
    }),
    listTasks: unary(logger, async (request) => ({
      tasks: Object.values(tasks.state)
        .filter((task) => !request.service || task.spec?.serviceName === request.service)
        .sort((a, b) => b.createdAt.localeCompare(a.createdAt)),
    })),
    getTask: unary(logger, async (request) => taskOf(request.id)),
    stopTask: unary(logger, async (request) => {
      const task = taskOf(request.id);
      if (isEnded(task.status as TaskStatus))
        throw new PreconditionFailedError(`stress task ${task.id} has already ended (${task.status})`);
      await waitFor(await deps.controller.stop(task, "stopped by a user"));
      return taskOf(task.id);
    }),
    watchTask,
    getReport: unary(logger, async (request) => {
      const task = taskOf(request.id);
      const points = deps.controller.points(task.id);
      if (points) return { taskId: task.id, ...deps.renderReport(task, points), htmlUrl: "", jsonUrl: "" };
      const stored = await deps.objects.getReport(task.id);
      if (!stored)
        throw new PreconditionFailedError(`stress task ${task.id} has no report (${task.status}${task.reason ? `: ${task.reason}` : ""})`);
      return { taskId: task.id, ...stored };
    }),
  } satisfies StressServer & UntypedServiceImplementation;
}
