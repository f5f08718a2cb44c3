/**
 * @eas/service-spec: reads a user's EAS-shaped service.json (or YAML) into the normalized `ServiceSpec`,
 * reports every problem with its path, and merges updates onto a stored spec. Pure: no I/O.
 */
export { InvalidServiceSpecError, formatIssues, formatPath, unwrapResult, type ParseResult, type SpecIssue } from "./issues.js";
export { checkServiceDocument, isValidServiceName, parseDocumentText, parseServiceDocument, validateServiceDocument } from "./parse.js";
export { applyServiceUpdate, isUpdateType, mergeServiceDocuments, UPDATE_TYPES, type UpdateType } from "./merge.js";
export { specToDocument } from "./to-document.js";
export { IGNORED_FIELDS, defaultReadiness } from "./to-spec.js";
export {
  BUILT_IN_PROCESSORS,
  MAX_INSTANCES,
  PROBE_DEFAULTS,
  SERVICE_NAME_PATTERN,
  SPEC_DEFAULTS,
  readSource,
  type BuiltInProcessor,
  type SourceReading,
} from "./rules.js";
export { serviceDocumentSchema, type ProbeDocument, type ServiceDocument } from "./schema.js";
export { SPOT_STRATEGIES, type SpotStrategy } from "./resources-schema.js";
export { MAX_ASYNC_PAYLOAD_KB, QUEUE_DEFAULTS, SERVICE_TYPES, type ServiceType } from "./queue-schema.js";
