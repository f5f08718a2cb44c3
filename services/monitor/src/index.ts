export { monitorConfigSpec } from "./config.js";
