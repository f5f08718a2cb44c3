export { eventStoreContract } from "./contract.js";
export type { ContractFixture, ContractOptions } from "./contract.js";
