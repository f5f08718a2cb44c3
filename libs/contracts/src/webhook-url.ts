/**
 * Why `raw` cannot be a webhook URL, or undefined when it can: http or https, with a host, and no
 * credentials (the URL travels in events that every subscriber of the log reads).
 */
export function webhookUrlProblem(raw: string): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return `"${raw}" is not a URL`;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return `must be http or https, got ${url.protocol}`;
  if (!url.hostname) return "has no host";
  if (url.username || url.password) return "must not carry credentials (events are readable by every subscriber)";
  return undefined;
}
