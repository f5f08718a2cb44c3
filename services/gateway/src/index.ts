export { gatewayConfigSpec } from "./config.js";
