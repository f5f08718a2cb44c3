import type { Bus } from "@eas/bus";
import { parseObjectUrl } from "@eas/object-store";

/** The object store bucket of stress tests: request data and reports, under the task id. */
export const STRESS_BUCKET = "eas-stress";

/** What stress tests keep in the object store (NATS Object Store). */
export interface StressObjects {
  /** Stores a task's request data; returns its obj:// URL. */
  putData(taskId: string, data: Uint8Array): Promise<string>;
  /** Whether an obj:// URL names an existing object. */
  exists(url: string): Promise<boolean>;
  putReport(taskId: string, html: string, json: string): Promise<{ htmlUrl: string; jsonUrl: string }>;
  /** A stored report, or undefined when the task has none. */
  getReport(taskId: string): Promise<{ html: string; json: string; htmlUrl: string; jsonUrl: string } | undefined>;
}

const urlOf = (key: string) => `obj://${STRESS_BUCKET}/${key}`;

export function createStressObjects(bus: Bus): StressObjects {
  const bucket = () => bus.objectStore().create(STRESS_BUCKET);
  const put = async (key: string, data: Uint8Array) => {
    await (await bucket()).putBlob({ name: key }, data);
    return urlOf(key);
  };
  const get = async (key: string) => {
    const found = await (await bucket()).getBlob(key);
    return found ? Buffer.from(found).toString("utf8") : undefined;
  };
  return {
    putData: (taskId, data) => put(`${taskId}/data`, data),
    async exists(url) {
      const { bucket: name, key } = parseObjectUrl(url);
      try {
        const store = await bus.objectStore().open(name);
        return (await store.info(key)) !== null;
      } catch {
        return false;
      }
    },
    async putReport(taskId, html, json) {
      const [htmlUrl, jsonUrl] = [
        await put(`${taskId}/report.html`, Buffer.from(html)),
        await put(`${taskId}/report.json`, Buffer.from(json)),
      ];
      return { htmlUrl, jsonUrl };
    },
    async getReport(taskId) {
      const [html, json] = [await get(`${taskId}/report.html`), await get(`${taskId}/report.json`)];
      if (html === undefined || json === undefined) return undefined;
      return { html, json, htmlUrl: urlOf(`${taskId}/report.html`), jsonUrl: urlOf(`${taskId}/report.json`) };
    },
  };
}
