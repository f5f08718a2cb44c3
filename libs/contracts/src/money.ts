/**
 * Money in EAS is an integer number of micro-units of the currency (1 unit = 1,000,000 micro-units),
 * never a float: prices, costs and budgets add up exactly and replay to the same total.
 */
export const MICROS_PER_UNIT = 1_000_000;

const DECIMAL = /^(-?)(\d+)(?:\.(\d{1,6}))?$/;

/** A money value that is not a decimal with at most six places; `field` names where it came from. */
export class InvalidMoneyError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = "InvalidMoneyError";
    this.field = field;
  }
}

/**
 * Parses an amount in currency units ("12.5", "0.000001", "-3", or a JSON number such as 0.04) into
 * micro-units, from its decimal digits: no float arithmetic, so "0.1" is exactly 100000.
 * @throws InvalidMoneyError for anything else (exponents, more than six decimals, beyond 2^53 micro-units).
 */
export function parseMoney(value: string | number, field: string): number {
  const text = typeof value === "number" ? String(value) : value.trim();
  const match = DECIMAL.exec(text);
  if (!match) throw new InvalidMoneyError(field, `must be an amount with at most 6 decimals, got ${JSON.stringify(value)}`);
  const [, sign, whole, fraction = ""] = match;
  const micros = BigInt(whole!) * BigInt(MICROS_PER_UNIT) + BigInt(fraction.padEnd(6, "0"));
  if (micros > BigInt(Number.MAX_SAFE_INTEGER)) throw new InvalidMoneyError(field, `is too large, got ${JSON.stringify(value)}`);
  const result = Number(micros);
  return sign === "-" && result !== 0 ? -result : result;
}

/**
 * Formats micro-units as currency units with at least `minDecimals` places and no trailing zeros beyond
 * them: 1234500 -> "1.2345", 1000000 -> "1.00", -5 -> "-0.000005".
 */
export function formatMoney(micros: number | bigint, minDecimals = 2): string {
  const value = BigInt(micros);
  const negative = value < 0n;
  const magnitude = negative ? -value : value;
  const unit = BigInt(MICROS_PER_UNIT);
  let fraction = (magnitude % unit).toString().padStart(6, "0");
  while (fraction.length > minDecimals && fraction.endsWith("0")) fraction = fraction.slice(0, -1);
  return `${negative ? "-" : ""}${magnitude / unit}${fraction ? `.${fraction}` : ""}`;
}
