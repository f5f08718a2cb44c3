import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { ModelLoadError } from "./errors.js";

/**
 * Resolves `EAS_MODEL_PATH` to one `.onnx` file: the path itself when it is a file, else
 * `model.onnx` inside the folder, else the folder's only `.onnx` file.
 */
export async function resolveModelFile(path: string): Promise<string> {
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    throw new ModelLoadError(`model path '${path}' does not exist`, path, { cause: error });
  }
  if (info.isFile()) return path;
  if (!info.isDirectory()) throw new ModelLoadError(`model path '${path}' is neither a file nor a folder`, path);
  const onnxFiles = (await readdir(path, { withFileTypes: true }))
    .filter((entry) => entry.isFile() && entry.name.endsWith(".onnx"))
    .map((entry) => entry.name)
    .sort();
  if (onnxFiles.includes("model.onnx")) return join(path, "model.onnx");
  if (onnxFiles.length === 1) return join(path, onnxFiles[0] as string);
  const found = onnxFiles.length === 0 ? "none" : onnxFiles.join(", ");
  throw new ModelLoadError(`folder '${path}' must hold model.onnx or exactly one .onnx file (found: ${found})`, path);
}
