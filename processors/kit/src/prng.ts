/** The one seeded PRNG of the project lives in @eas/testing; the training code and tests use it from here. */
export { mulberry32 } from "@eas/testing";
