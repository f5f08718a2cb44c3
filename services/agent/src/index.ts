export { agentConfigSpec } from "./config.js";
