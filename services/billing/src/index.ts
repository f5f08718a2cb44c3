export { billingConfigSpec } from "./config.js";
