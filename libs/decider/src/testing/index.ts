export { deciderSpecification } from "./specification.js";
