/**
 * The one shape of latency histogram on the wire: microseconds from 1 µs to one hour, 2 significant
 * digits (values are exact within 1%). Producers and the monitor must agree on it, so it lives here.
 */
export const LATENCY_HISTOGRAM_RANGE = {
  lowestDiscernibleValue: 1,
  highestTrackableValue: 3_600_000_000,
  numberOfSignificantValueDigits: 2,
} as const;
