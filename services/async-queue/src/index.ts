export { asyncQueueConfigSpec } from "./config.js";
