export { isObjectUrl, OBJECT_URL_SCHEME, ObjectUrlError, parseObjectUrl, type ObjectUrl } from "./object-url.js";
export { UploadError, uploadToObjectStore, type UploadedObject } from "./upload.js";
