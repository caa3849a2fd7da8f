// Turns an UploadError into words a person understands, and says whether
// trying again can help.

import { allowedTypes } from "./api.js";
import { formatBytes, formatClock } from "./format.js";

const typeList = (() => {
  const names = [...allowedTypes.values()];
  return `${names.slice(0, -1).join(", ")} or ${names[names.length - 1]}`;
})();

// Reason codes of "Image Processing Failed" events (DESIGN.md §4, §5).
const failureText = {
  not_an_image: "This file is not an image, although its name says it is.",
  unsupported_format: "This image format cannot be processed.",
  corrupt_image: "The image is damaged or incomplete, so it could not be read.",
  too_many_pixels: "The image has too many pixels to be processed.",
  too_large: "The file is too large to be processed.",
  too_complex: "The image is built in a way that would take too long to read (for example a JPEG with hundreds of scans).",
  source_missing: "The uploaded file was gone before it could be processed.",
  retries_exhausted: "The server kept failing on this image and gave up.",
  internal: "Something went wrong on the server while processing this image.",
};

// Failures worth a second try: the rest would fail the same way again.
const retryableFailures = new Set(["source_missing", "retries_exhausted", "internal"]);

// describe returns {text, code, retry, keyProblem}.
//   text: the sentence to show; code: a machine code shown beside it;
//   retry: whether "Try again" can help; keyProblem: the key must change first.
// ctx: {size, limit, apiBase} — the file's size and the API's upload limit
// in bytes (0 when unknown), the API address for "cannot reach".
export function describe(err, ctx = {}) {
  switch (err.kind) {
    case "client":
      if (err.code === "empty") {
        return { text: "This file is empty (0 bytes), so there is nothing to upload.", code: "" };
      }
      if (err.code === "too_large") {
        return { text: tooLarge(ctx), code: "too_large" };
      }
      return { text: `This is not a kind of image the pipeline accepts. Use ${typeList}.`, code: "" };
    case "nokey":
      return { text: "Connect with an API key first; this file then uploads.", code: "", keyProblem: true };
    case "forbidden":
      return {
        text: "The API key was refused. Check the key and save it again; this file is then tried again.",
        code: "403 Forbidden",
        keyProblem: true,
      };
    case "api":
      return apiText(err, ctx);
    case "network":
      if (err.where === "storage") {
        return {
          text: "The connection to storage failed, or storage does not take requests from this page (CORS).",
          code: "",
          retry: true,
        };
      }
      return {
        text: `The API at ${ctx.apiBase || "this site"} could not be reached. Check that it is running and that it takes requests from this page (CORS).`,
        code: "",
        retry: true,
      };
    case "storage":
      if (err.expired) {
        return { text: "The upload link expired before the upload finished. Try again for a fresh link.", code: err.code, retry: true };
      }
      return { text: `Storage refused the upload: ${sentence(err.detail)}`, code: err.code, retry: true };
    case "failed":
      return {
        text: failureText[err.code] || "The server could not turn this file into a gray image.",
        code: err.code || "",
        retry: retryableFailures.has(err.code),
      };
    case "expired": {
      const when = err.uploadExpiresAt ? ` at ${formatClock(err.uploadExpiresAt)}` : "";
      return { text: `The upload never arrived: its link expired${when}. Upload the file again.`, code: "upload_expired", retry: true };
    }
    case "timeout":
      return { text: "Still not finished after a long wait. It may finish later.", code: "", retry: true };
    default:
      return { text: `Something unexpected went wrong: ${err.message || err}.`, code: "", retry: true };
  }
}

function tooLarge(ctx) {
  const size = Number.isFinite(ctx.size) ? ` (${formatBytes(ctx.size)})` : "";
  const limit = ctx.limit > 0 ? `; the most the server takes is ${formatBytes(ctx.limit)}` : "";
  return `This file is too large to upload${size}${limit}.`;
}

function apiText(err, ctx) {
  switch (err.code) {
    case "too_large":
      // The API's message counts in its own units: say it in the page's.
      return { text: tooLarge(ctx), code: err.code };
    case "unsupported_content_type":
      return { text: `This is not a kind of image the pipeline accepts. Use ${typeList}.`, code: err.code };
    case "invalid_size":
      return { text: "The file size was refused: the file is empty or its size could not be read.", code: err.code };
    case "invalid_image_id":
      return { text: "The server did not recognise this image's id.", code: err.code };
    case "not_found":
      return { text: "The server has no record of this image (it may belong to another API).", code: err.code };
    case "bad_request":
      return { text: `The server did not accept the request. ${sentence(err.detail)}`, code: err.code };
    default:
      if (err.status >= 500) {
        return { text: "The server had a problem. Try again in a moment.", code: err.code, retry: true };
      }
      if (err.status === 429) {
        return { text: "Too many requests at once. Wait a moment and try again.", code: err.code, retry: true };
      }
      return { text: `The server answered with an error. ${sentence(err.detail)}`, code: err.code, retry: true };
  }
}

function sentence(s) {
  if (!s) return "";
  const t = String(s).trim();
  const first = t.charAt(0).toUpperCase() + t.slice(1);
  return /[.!?]$/.test(first) ? first : `${first}.`;
}
