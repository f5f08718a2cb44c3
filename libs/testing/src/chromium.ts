/**
 * Headless Chromium for tests that open a page (the stress report): Debian's `chromium`, driven by
 * playwright-core, which downloads nothing. A missing browser fails the test with the install step,
 * never skips it (`scripts/bootstrap.sh --tests` installs it).
 */
import { existsSync } from "node:fs";
import { chromium, type Browser, type Page } from "playwright-core";

export type { Browser, Page } from "playwright-core";

/** Where the browser is: `EAS_CHROMIUM`, else Debian's. */
export const CHROMIUM_PATH = process.env.EAS_CHROMIUM ?? "/usr/bin/chromium";

// Without the networking flags it tries hosts that cannot be reached from here.
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Starts headless Chromium; throws, naming the install step, when it is not installed. */
export async function launchHeadlessChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH))
    throw new Error(`${CHROMIUM_PATH} is missing: install Debian's chromium (bash scripts/bootstrap.sh --tests does) or set EAS_CHROMIUM`);
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: FLAGS, headless: true });
}

/** A local HTML file opened offline: `errors` collects script errors, console errors and any request that leaves the page. */
export async function openLocalPage(
  browser: Browser,
  file: string,
  viewport = { width: 1200, height: 900 },
): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport });
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  await page.route("**/*", (route) => {
    if (route.request().url().startsWith("file://")) return route.continue();
    errors.push(`network: ${route.request().url()}`);
    return route.abort();
  });
  await page.goto(`file://${file}`);
  return { page, errors };
}

/** For each canvas matching `selector`, how many of its pixels are drawn in a colour (not transparent, not grey). */
export function colouredPixels(page: Page, selector: string): Promise<number[]> {
  return page.$$eval(selector, (canvases) =>
    canvases.map((canvas) => {
      // The DOM types are not in this package's lib: the canvas, as far as this reads it.
      const c = canvas as unknown as {
        width: number;
        height: number;
        getContext(kind: "2d"): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } };
      };
      const data = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
      let coloured = 0;
      for (let i = 0; i < data.length; i += 4)
        if (data[i + 3]! > 0 && !(data[i] === data[i + 1] && data[i + 1] === data[i + 2])) coloured++;
      return coloured;
    }),
  );
}
