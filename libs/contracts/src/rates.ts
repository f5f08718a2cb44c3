import { InvalidMoneyError, parseMoney } from "./money.js";

/** The classes of capacity EAS sells, each with its own rates: a dedicated resource group, the public pool, spot. */
export const CapacityClass = {
  Dedicated: "dedicated",
  Public: "public",
  Spot: "spot",
} as const;
export type CapacityClass = (typeof CapacityClass)[keyof typeof CapacityClass];
export const CAPACITY_CLASSES: readonly CapacityClass[] = [CapacityClass.Dedicated, CapacityClass.Public, CapacityClass.Spot];

/**
 * The class of capacity a node or an instance is: spot when preemptible (whatever its group), else dedicated
 * when it belongs to a resource group (an instance: placed in its pool "dedicated"), else the public pool.
 */
export function capacityClassOf(placement: { spot: boolean; dedicated: boolean }): CapacityClass {
  if (placement.spot) return CapacityClass.Spot;
  return placement.dedicated ? CapacityClass.Dedicated : CapacityClass.Public;
}

/** Hourly prices of resources, in micro-units (the proto `ResourceRates`). */
export interface HourlyRates {
  readonly cpuCoreHourMicros: number;
  readonly memoryGibHourMicros: number;
  readonly gpuHourMicros: number;
}

export const FREE_RATES: HourlyRates = { cpuCoreHourMicros: 0, memoryGibHourMicros: 0, gpuHourMicros: 0 };

/** Default rates per class of capacity, as a rates file gives them; a class it leaves out is free. */
export type RatesTable = Readonly<Partial<Record<CapacityClass, HourlyRates>>>;

/** The keys of a class in a rates file, and the field of {@link HourlyRates} each one fills. */
export const RATE_KEYS = {
  cpu_core_hour: "cpuCoreHourMicros",
  memory_gib_hour: "memoryGibHourMicros",
  gpu_hour: "gpuHourMicros",
} as const satisfies Record<string, keyof HourlyRates>;

/** A rates file or rate that is not valid; `field` is its path ("spot.gpu_hour"). */
export class InvalidRatesError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = "InvalidRatesError";
    this.field = field;
  }
}

/** A price per hour in currency units ("0.04" or 0.04) as micro-units; negative prices are refused. */
export function parseRate(value: unknown, field: string): number {
  if (typeof value !== "string" && typeof value !== "number") {
    throw new InvalidRatesError(field, `must be a price per hour such as "0.04", got ${JSON.stringify(value)}`);
  }
  let micros: number;
  try {
    micros = parseMoney(value, field);
  } catch (error) {
    if (error instanceof InvalidMoneyError) throw new InvalidRatesError(field, error.message.slice(field.length + 2));
    throw error;
  }
  if (micros < 0) throw new InvalidRatesError(field, `must not be negative, got ${JSON.stringify(value)}`);
  return micros;
}

/**
 * Parses a rates file (docs/billing.md): a JSON object with up to three classes, "dedicated", "public"
 * and "spot", each with "cpu_core_hour", "memory_gib_hour" and "gpu_hour" in currency units per hour
 * (decimal strings or numbers, at most 6 decimals, >= 0; a key left out is 0).
 * @throws InvalidRatesError naming the first bad field.
 */
export function parseRatesFile(text: string): RatesTable {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new InvalidRatesError("(file)", `is not JSON: ${(error as Error).message}`);
  }
  if (typeof document !== "object" || document === null || Array.isArray(document)) {
    throw new InvalidRatesError("(file)", "must be a JSON object keyed by class: dedicated, public, spot");
  }
  const table: Partial<Record<CapacityClass, HourlyRates>> = {};
  for (const [key, entry] of Object.entries(document)) {
    if (key === "$comment") continue;
    if (!(CAPACITY_CLASSES as readonly string[]).includes(key)) {
      throw new InvalidRatesError(key, `is not a class of capacity (${CAPACITY_CLASSES.join(", ")})`);
    }
    table[key as CapacityClass] = parseRatesEntry(entry, key);
  }
  return table;
}

function parseRatesEntry(entry: unknown, path: string): HourlyRates {
  if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
    throw new InvalidRatesError(path, `must be an object with ${Object.keys(RATE_KEYS).join(", ")}`);
  }
  const rates: Record<keyof HourlyRates, number> = { ...FREE_RATES };
  for (const [key, value] of Object.entries(entry)) {
    const target = (RATE_KEYS as Record<string, keyof HourlyRates>)[key];
    if (!target) throw new InvalidRatesError(`${path}.${key}`, `is not a rate (${Object.keys(RATE_KEYS).join(", ")})`);
    rates[target] = parseRate(value, `${path}.${key}`);
  }
  return rates;
}

/** Problems with registered rates (micro-units), each naming its field under `path`; [] when valid. */
export function rateViolations(rates: HourlyRates | undefined, path: string): { path: string; message: string }[] {
  if (!rates) return [];
  return (Object.values(RATE_KEYS) as (keyof HourlyRates)[]).flatMap((field) => {
    const value = rates[field];
    if (!Number.isSafeInteger(value))
      return [{ path: `${path}.${field}`, message: `must be an integer number of micro-units, got ${value}` }];
    if (value < 0) return [{ path: `${path}.${field}`, message: `must not be negative, got ${value}` }];
    return [];
  });
}
