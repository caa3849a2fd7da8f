// Client for imagepipe's HTTP API (DESIGN.md §3) and for the presigned S3
// PUT. Every failure is thrown as an UploadError whose kind tells the page
// which human message to show.

// The content types the API accepts, and the extensions that map to them
// for files the browser could not type itself.
export const allowedTypes = new Map([
  ["image/jpeg", "JPEG"],
  ["image/png", "PNG"],
  ["image/gif", "GIF"],
  ["image/webp", "WebP"],
  ["image/tiff", "TIFF"],
  ["image/bmp", "BMP"],
]);

const byExtension = new Map([
  ["jpg", "image/jpeg"],
  ["jpeg", "image/jpeg"],
  ["jpe", "image/jpeg"],
  ["jfif", "image/jpeg"],
  ["png", "image/png"],
  ["gif", "image/gif"],
  ["webp", "image/webp"],
  ["tif", "image/tiff"],
  ["tiff", "image/tiff"],
  ["bmp", "image/bmp"],
  ["dib", "image/bmp"],
]);

const aliases = new Map([
  ["image/jpg", "image/jpeg"],
  ["image/pjpeg", "image/jpeg"],
  ["image/x-png", "image/png"],
  ["image/x-ms-bmp", "image/bmp"],
  ["image/x-bmp", "image/bmp"],
  ["image/tif", "image/tiff"],
]);

// contentTypeFor returns the allowed content type for a File, or "" when
// the file is not a type the pipeline accepts.
export function contentTypeFor(file) {
  let t = (file.type || "").toLowerCase();
  t = aliases.get(t) || t;
  if (allowedTypes.has(t)) return t;
  const dot = file.name.lastIndexOf(".");
  if (dot < 0) return "";
  return byExtension.get(file.name.slice(dot + 1).toLowerCase()) || "";
}

// UploadError carries what went wrong, in fields the page turns into words.
//   kind: "client"     checked in the page before any request (code: unsupported_type, empty, too_large)
//         "nokey"      no working API key yet
//         "forbidden"  the API refused the key (403 {"message":"Forbidden"})
//         "api"        the API answered {"error":{code,message}} (status, code, detail)
//         "network"    no answer at all (where: "api" | "storage")
//         "storage"    S3 refused the PUT or a download (code, detail, expired)
//         "failed"     processing ended with a failure event (code, detail)
//         "expired"    no upload arrived before the upload link expired (code upload_expired)
//         "timeout"    still not finished when the page stopped waiting
export class UploadError extends Error {
  constructor(kind, fields = {}) {
    super(fields.detail || kind);
    this.name = "UploadError";
    this.kind = kind;
    Object.assign(this, fields);
  }
}

// An image id nothing is stored under: GET of it is the cheapest call that
// needs the key (404 means the key works).
const probeID = "00000000000000000000000000000000";

// Api talks to one API base URL with one key.
export class Api {
  constructor(baseURL, key) {
    this.base = (baseURL || "").trim().replace(/\/+$/, "");
    this.key = key;
  }

  url(path) {
    return this.base + path;
  }

  async request(method, path, body, signal) {
    const headers = { "x-api-key": this.key, Accept: "application/json" };
    const init = { method, headers, signal, cache: "no-store" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(this.url(path), init);
    } catch (err) {
      if (err.name === "AbortError") throw err;
      throw new UploadError("network", { where: "api", detail: String(err.message || err) });
    }
    let data = null;
    const text = await res.text();
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (res.ok) return data;
    if (res.status === 403 && !(data && data.error)) {
      throw new UploadError("forbidden", { status: 403, detail: (data && data.message) || "Forbidden" });
    }
    const e = (data && data.error) || {};
    throw new UploadError("api", {
      status: res.status,
      code: e.code || `http_${res.status}`,
      detail: e.message || (data && data.message) || text.slice(0, 200) || res.statusText,
    });
  }

  // createUpload asks for a presigned upload: POST /v1/uploads.
  createUpload({ filename, contentType, size }, signal) {
    return this.request("POST", "/v1/uploads", { filename, content_type: contentType, size }, signal);
  }

  // image reads the status of one image: GET /v1/images/{id}.
  image(id, signal) {
    return this.request("GET", `/v1/images/${encodeURIComponent(id)}`, undefined, signal);
  }

  // checkKey resolves when the API takes the key, and throws the
  // UploadError of the answer otherwise ("forbidden" for a wrong key).
  async checkKey(signal) {
    try {
      await this.image(probeID, signal);
    } catch (err) {
      if (err.kind === "api" && err.code === "not_found") return;
      throw err;
    }
  }
}

// fetchOutput downloads a presigned output URL into a Blob. Storage's
// refusal is an UploadError of kind "storage" (expired when the link has
// run out); a network or CORS failure one of kind "network".
export async function fetchOutput(url, signal) {
  let res;
  try {
    res = await fetch(url, { signal, cache: "no-store", credentials: "omit" });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new UploadError("network", { where: "storage", detail: String(err.message || err) });
  }
  if (!res.ok) throw storageError(res.status, await res.text(), "");
  return res.blob();
}

// put sends the file to the presigned URL with exactly the signed headers,
// reporting progress as (loaded, total). It resolves when storage answers 2xx.
export function put(upload, file, onProgress, signal) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(upload.method || "PUT", upload.url);
    for (const [name, value] of Object.entries(upload.headers || {})) {
      // The browser sets Content-Length (and Host) itself and refuses to be told.
      const lower = name.toLowerCase();
      if (lower === "content-length" || lower === "host") continue;
      xhr.setRequestHeader(name, value);
    }
    xhr.upload.addEventListener("progress", (ev) => {
      if (ev.lengthComputable) onProgress(ev.loaded, ev.total);
    });
    xhr.addEventListener("load", () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        resolve({ etag: xhr.getResponseHeader("ETag") });
        return;
      }
      reject(storageError(xhr.status, xhr.responseText, upload.expires_at));
    });
    xhr.addEventListener("error", () => {
      reject(new UploadError("network", { where: "storage", detail: "the connection to storage failed" }));
    });
    xhr.addEventListener("abort", () => reject(new DOMException("upload aborted", "AbortError")));
    if (signal) {
      if (signal.aborted) {
        reject(new DOMException("upload aborted", "AbortError"));
        return;
      }
      signal.addEventListener("abort", () => xhr.abort(), { once: true });
    }
    xhr.send(file);
  });
}

// storageError reads S3's XML error body (<Error><Code>…</Code><Message>…</Message></Error>).
function storageError(status, body, expiresAt) {
  let code = "";
  let message = "";
  const m = /<Code>([^<]*)<\/Code>/.exec(body || "");
  if (m) code = m[1];
  const mm = /<Message>([^<]*)<\/Message>/.exec(body || "");
  if (mm) message = mm[1];
  const past = expiresAt && Date.parse(expiresAt) < Date.now();
  const expired = (status === 403 && /expired/i.test(message)) || (status === 403 && Boolean(past));
  return new UploadError("storage", {
    status,
    code: code || `http_${status}`,
    detail: message || `storage answered ${status}`,
    expired,
  });
}
