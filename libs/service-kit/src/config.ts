/** One environment variable a service reads: its name, default and parser, listed so docs and compose checks can see it. */
export interface EnvVar<T> {
  readonly name: string;
  readonly description: string;
  /** The default as written in the environment, or undefined when the variable is optional. */
  readonly defaultValue: string | undefined;
  parse(raw: string | undefined): T;
}

export class ConfigError extends Error {
  readonly variable: string;
  constructor(variable: string, message: string) {
    super(`${variable}: ${message}`);
    this.name = "ConfigError";
    this.variable = variable;
  }
}

export const envVar = {
  string(name: string, defaultValue: string, description: string): EnvVar<string> {
    return { name, description, defaultValue, parse: (raw) => (raw === undefined || raw === "" ? defaultValue : raw) };
  },
  optional(name: string, description: string): EnvVar<string | undefined> {
    return { name, description, defaultValue: undefined, parse: (raw) => (raw === undefined || raw === "" ? undefined : raw) };
  },
  int(name: string, defaultValue: number, description: string): EnvVar<number> {
    return {
      name,
      description,
      defaultValue: String(defaultValue),
      parse(raw) {
        if (raw === undefined || raw === "") return defaultValue;
        const value = Number(raw);
        if (!Number.isInteger(value) || value < 0) throw new ConfigError(name, `must be a non-negative integer, got "${raw}"`);
        return value;
      },
    };
  },
  number(name: string, defaultValue: number, description: string): EnvVar<number> {
    return {
      name,
      description,
      defaultValue: String(defaultValue),
      parse(raw) {
        if (raw === undefined || raw === "") return defaultValue;
        const value = Number(raw);
        if (!Number.isFinite(value)) throw new ConfigError(name, `must be a number, got "${raw}"`);
        return value;
      },
    };
  },
  bool(name: string, defaultValue: boolean, description: string): EnvVar<boolean> {
    return {
      name,
      description,
      defaultValue: String(defaultValue),
      parse(raw) {
        if (raw === undefined || raw === "") return defaultValue;
        if (["1", "true", "yes"].includes(raw.toLowerCase())) return true;
        if (["0", "false", "no"].includes(raw.toLowerCase())) return false;
        throw new ConfigError(name, `must be true or false, got "${raw}"`);
      },
    };
  },
  oneOf<const T extends string>(name: string, values: readonly T[], defaultValue: T, description: string): EnvVar<T> {
    return {
      name,
      description,
      defaultValue,
      parse(raw) {
        if (raw === undefined || raw === "") return defaultValue;
        if (!(values as readonly string[]).includes(raw)) throw new ConfigError(name, `must be one of ${values.join(", ")}, got "${raw}"`);
        return raw as T;
      },
    };
  },
};

export type ConfigSpec = Record<string, EnvVar<unknown>>;
export type ConfigOf<S extends ConfigSpec> = { [K in keyof S]: S[K] extends EnvVar<infer T> ? T : never };

/** Reads every variable of `spec` from `source`; throws ConfigError naming the first bad variable. */
export function readConfig<S extends ConfigSpec>(spec: S, source: NodeJS.ProcessEnv = process.env): ConfigOf<S> {
  const config: Record<string, unknown> = {};
  for (const [key, variable] of Object.entries(spec)) config[key] = variable.parse(source[variable.name]);
  return config as ConfigOf<S>;
}

/** The variables every EAS service reads; each service adds its own ports and settings. */
export function commonConfigSpec(defaults: { grpcPort: number; httpPort: number }) {
  return {
    natsUrl: envVar.string("NATS_URL", "nats://127.0.0.1:4222", "NATS server(s), comma separated"),
    eventStore: envVar.oneOf("EAS_EVENT_STORE", ["jetstream", "kurrentdb"] as const, "jetstream", "event log adapter"),
    kurrentDbUrl: envVar.optional("EAS_KURRENTDB_URL", "KurrentDB connection string when EAS_EVENT_STORE=kurrentdb"),
    bindHost: envVar.string("EAS_BIND_HOST", "127.0.0.1", "interface the gRPC and HTTP servers listen on"),
    advertiseHost: envVar.string("EAS_ADVERTISE_HOST", "127.0.0.1", "host other processes use to reach this one"),
    grpcPort: envVar.int("EAS_GRPC_PORT", defaults.grpcPort, "gRPC port (0 picks a free one)"),
    httpPort: envVar.int("EAS_HTTP_PORT", defaults.httpPort, "ops HTTP port: /healthz, /readyz, /metrics (0 picks a free one)"),
    dataDir: envVar.string("EAS_DATA_DIR", ".eas-data", "folder for local state"),
    logLevel: envVar.string("EAS_LOG_LEVEL", "info", "pino log level"),
    otlpEndpoint: envVar.optional("OTEL_EXPORTER_OTLP_ENDPOINT", "OTLP/HTTP endpoint; traces are exported only when set"),
  };
}
export type CommonConfig = ConfigOf<ReturnType<typeof commonConfigSpec>>;
