export { autoscalerConfigSpec } from "./config.js";
