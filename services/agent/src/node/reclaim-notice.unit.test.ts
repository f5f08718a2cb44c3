import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseReclaimNotice } from "./reclaim-notice.js";

const NOW = Date.parse("2026-12-01T10:00:00.000Z");

describe("parseReclaimNotice", () => {
  const rows: [string, string, number | RegExp][] = [
    ["a cloud's instance-action", '{"action": "terminate", "time": "2026-12-01T10:00:30Z"}', NOW + 30_000],
    ["a stop action", '{"action": "stop", "time": "2026-12-01T10:02:00.000Z"}', NOW + 120_000],
    ["a time alone", '{"time": "2026-12-01T10:00:05Z"}', NOW + 5_000],
    ["a relative notice", '{"in_seconds": 12.5}', NOW + 12_500],
    ["not JSON", "terminate soon", /not JSON/],
    ["an array", "[1]", /time must be an RFC 3339 time/],
    ["another action", '{"action": "hibernate", "time": "2026-12-01T10:00:30Z"}', /action must be "terminate" or "stop"/],
    ["a time that is not a time", '{"action": "terminate", "time": "in a bit"}', /time must be an RFC 3339 time/],
    ["a negative relative notice", '{"in_seconds": -3}', /in_seconds must be a number > 0/],
  ];
  for (const [name, text, expected] of rows) {
    it(name, () => {
      const parsed = parseReclaimNotice(text, NOW);
      if (typeof expected === "number") {
        assert.ok(!("error" in parsed), "error" in parsed ? parsed.error : "");
        assert.equal(parsed.deadline, expected);
        assert.equal(parsed.reason, "agent: notice file");
      } else {
        assert.ok("error" in parsed, "an error");
        assert.match(parsed.error, expected);
      }
    });
  }
});
