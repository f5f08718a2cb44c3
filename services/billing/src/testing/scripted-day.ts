import type { EasEvent } from "@eas/events";
import { drainedInstance, log, rates, resources, startedInstance } from "./log.js";

/*
 * A day of a small cluster, 2026-12-01 (UTC), as the services would record it.
 *
 * Nodes and their rates (micro-units per hour; chosen so that a whole second costs a whole number):
 *   node-a  public pool, on demand   CPU 36,000 /core-h (10/s)  memory 3,600 /GiB-h (1/s)
 *   node-s  public pool, spot        CPU 10,800 /core-h (3/s)   memory 1,800 /GiB-h (0.5/s)
 *   node-b  group team-a, dedicated  CPU 28,800 /core-h (8/s)   memory 3,600 /GiB-h (1/s)   GPU 720,000 /h (200/s),
 *           re-registered at 14:00 with GPU 900,000 /h (250/s)
 *
 * iris (1 core, 2 GiB: 12/s on node-a, 4/s on node-s): created 08:00 with 2 replicas on node-a, scaled to 3 at
 *   10:00 (the third on spot), updated at 12:00 (rolling: each old instance drained once its replacement is
 *   Ready), its spot instance moved to node-a before the spot node's reclaim at 15:00, stopped at 18:00.
 * bert (2 cores, 8 GiB, 1 GPU on node-b: 224/s, then 274/s): created 09:00; node-b's agent dies at 13:00
 *   (the scheduler's check notices at 13:00:05 and records NodeLost and the instance's InstanceLost: not an
 *   end, its resources stay reserved); bert's group has no room elsewhere, so the replacement waits for the
 *   node, which registers again at 14:00; the replacement is Ready at 14:02:00, the lost instance is drained
 *   and recorded Stopped by the deployer at 14:02:01; the replacement runs past midnight.
 * echo (0.5 core, 512 MiB on node-a: 5.5/s): created 16:00, crash-loops, Failed at 16:00:20, deleted.
 * ocr (1 core, 1 GiB on node-s: 3.5/s): created 11:00 on spot. node-s gets a reclaim notice at 14:59:30 for
 *   15:00:00: its instances are marked to move; iris's moves to node-a, ocr's has nowhere to go and is failed
 *   with NodeReclaimed at the deadline (`at` 15:00:00, though the scheduler's check writes them later).
 * Then the log repeats some events (a retried append): none of them may bill twice.
 */
const iris = resources(1000, 2048);
const bert = resources(2000, 8192, 1);
const echo = resources(500, 512);
const ocr = resources(1000, 1024);
const spot = { pool: "public", spot: true };
const dedicated = { pool: "dedicated" };

export const SCRIPTED_DAY: EasEvent[] = [
  log.nodeRegistered("node-a", "07:00:00", { rates: rates(36_000, 3_600) }),
  log.nodeRegistered("node-s", "07:00:00", { spot: true, rates: rates(10_800, 1_800) }),
  log.nodeRegistered("node-b", "07:00:00", { group: "team-a", rates: rates(28_800, 3_600, 720_000) }),

  log.serviceCreated("iris", "08:00:00", 2),
  ...startedInstance("i1", "iris", "node-a", "08:00:00", "08:00:05", iris),
  ...startedInstance("i2", "iris", "node-a", "08:00:00", "08:00:05", iris),

  log.serviceCreated("bert", "09:00:00"),
  ...startedInstance("j1", "bert", "node-b", "09:00:00", "09:01:00", bert, dedicated),

  ...startedInstance("i3", "iris", "node-s", "10:00:00", "10:00:05", iris, spot),

  log.serviceCreated("ocr", "11:00:00"),
  ...startedInstance("o1", "ocr", "node-s", "11:00:00", "11:00:30", ocr, spot),

  // iris v2, rolling: a new instance, Ready, then one old one drained and stopped; three times.
  ...startedInstance("i4", "iris", "node-a", "12:00:00", "12:00:10", iris),
  ...drainedInstance("i1", "iris", "node-a", "12:00:10", "12:00:40"),
  ...startedInstance("i5", "iris", "node-a", "12:00:40", "12:00:50", iris),
  ...drainedInstance("i2", "iris", "node-a", "12:00:50", "12:01:20"),
  ...startedInstance("i6", "iris", "node-s", "12:01:20", "12:01:30", iris, spot),
  ...drainedInstance("i3", "iris", "node-s", "12:01:30", "12:02:00"),

  // node-b's agent dies at 13:00: the scheduler's lost-node check records both at 13:00:05. j1 is Lost, not
  // ended: it is billed on until the deployer stops it once its replacement is Ready.
  log.nodeLost("node-b", "13:00:05"),
  log.lost("j1", "bert", "node-b", "13:00:05"),
  log.nodeRegistered("node-b", "14:00:00", { group: "team-a", rates: rates(28_800, 3_600, 900_000) }),
  ...startedInstance("j2", "bert", "node-b", "14:00:01", "14:02:00", bert, dedicated),
  ...drainedInstance("j1", "bert", "node-b", "14:02:00", "14:02:01"),

  // The spot node's reclaim notice at 14:59:30 for 15:00:00: iris moves to node-a first; ocr has nowhere to go.
  log.reclaimNoticed("node-s", "14:59:30", "15:00:00"),
  log.moveForReclaim("i6", "iris", "node-s", "14:59:30", "15:00:00"),
  log.moveForReclaim("o1", "ocr", "node-s", "14:59:30", "15:00:00"),
  ...startedInstance("i7", "iris", "node-a", "14:59:30", "14:59:40", iris),
  ...drainedInstance("i6", "iris", "node-s", "14:59:40", "14:59:50"),
  log.reclaimed("node-s", "15:00:00"),
  log.failed("o1", "ocr", "15:00:00", "node node-s reclaimed"),

  log.serviceCreated("echo", "16:00:00"),
  log.scheduled("e1", "echo", "node-a", "16:00:00", echo),
  log.starting("e1", "echo", "node-a", "16:00:01"),
  log.exited("e1", "echo", "16:00:05", 1),
  log.starting("e1", "echo", "node-a", "16:00:07", 1),
  log.exited("e1", "echo", "16:00:12", 2),
  log.failed("e1", "echo", "16:00:20", "restarted 2 times: exit 1"),

  ...drainedInstance("i4", "iris", "node-a", "18:00:00", "18:00:10"),
  ...drainedInstance("i5", "iris", "node-a", "18:00:00", "18:00:10"),
  ...drainedInstance("i7", "iris", "node-a", "18:00:00", "18:00:10"),

  // Repeats, as a retried append or an old writer could leave them: none may bill twice.
  log.scheduled("i4", "iris", "node-a", "19:00:00", iris),
  log.stopped("i1", "iris", "node-a", "19:00:00"),
  log.ready("i5", "iris", "node-a", "19:00:00"),
  log.failed("j1", "bert", "19:00:00"),
  log.lost("j1", "bert", "node-b", "19:00:00"),
  log.lost("o1", "ocr", "node-s", "19:00:00"),
  log.nodeLost("node-s", "19:30:00"),
  log.reclaimed("node-s", "19:30:00"),
  log.nodeRegistered("node-b", "19:30:30", { group: "team-a", rates: rates(28_800, 3_600, 900_000) }),
];

/**
 * The day's bill at the next midnight, by service and class, computed by hand (micro-units):
 *   iris public  i1 14,440 s + i2 14,480 s + i4 21,610 s + i5 21,570 s + i7 10,840 s = 82,940 s x 12 = 995,280
 *   iris spot    i3 7,320 s + i6 10,710 s = 18,030 s x 4                                   =      72,120
 *   bert dedic.  j1 09:00:00-14:02:01 (Lost at 13:00:05, stopped once replaced) 18,121 s x 224 = 4,059,104
 *                j2 14:00:01-24:00:00 (running: billed up to now) 35,999 s x 274 = 9,863,726    = 13,922,830
 *   echo public  e1 20 s x 5.5                                                                =         110
 *   ocr spot     o1 11:00:00-15:00:00 (failed at the reclaim's deadline): four hours x 12,600  =      50,400
 */
export const SCRIPTED_DAY_BILL = [
  { service: "bert", capacityClass: "dedicated", costMicros: 13_922_830n },
  { service: "echo", capacityClass: "public", costMicros: 110n },
  { service: "iris", capacityClass: "public", costMicros: 995_280n },
  { service: "iris", capacityClass: "spot", costMicros: 72_120n },
  { service: "ocr", capacityClass: "spot", costMicros: 50_400n },
] as const;

export const SCRIPTED_DAY_TOTAL = 15_040_740n;
