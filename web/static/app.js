// The upload page: key entry, choosing or dropping images, and one card per
// file that follows it through upload link → PUT → processing → result.

import { Api, UploadError, allowedTypes, contentTypeFor, put } from "./api.js";
import { describe } from "./messages.js";
import { formatBytes, formatDimensions, formatDuration } from "./format.js";

const storageKeys = { key: "imagepipe.apiKey", base: "imagepipe.apiBase" };
const maxActive = 3; // files uploading or processing at once
const firstPollMs = 60; // the local stack finishes a photo in about 50 ms
const maxPollMs = 5000;
const pollBackoff = 1.6;
const maxWaitMs = 3 * 60 * 1000; // stop waiting on one image after this
const unknownGraceMs = 30 * 1000; // a fresh id may be unknown to GET for a moment

const $ = (sel, root = document) => root.querySelector(sel);

const els = {
  keyForm: $("#key-form"),
  key: $("#api-key"),
  keyShow: $("#key-show"),
  keyForget: $("#key-forget"),
  keyStatus: $("#key-status"),
  base: $("#api-base"),
  advanced: $("#advanced"),
  pick: $("#pick"),
  drop: $("#drop"),
  results: $("#results"),
  template: $("#card-template"),
};

// store is localStorage when the browser allows it, memory otherwise
// (private windows and locked-down browsers throw on access).
const store = (() => {
  const memory = new Map();
  let ls = null;
  try {
    ls = window.localStorage;
    const probe = "imagepipe.probe";
    ls.setItem(probe, "1");
    ls.removeItem(probe);
  } catch {
    ls = null;
  }
  return {
    get: (k) => (ls ? ls.getItem(k) : memory.get(k)) || "",
    set: (k, v) => (ls ? ls.setItem(k, v) : memory.set(k, v)),
    remove: (k) => (ls ? ls.removeItem(k) : memory.delete(k)),
    persistent: ls !== null,
  };
})();

let config = { api_base_url: "", api_key: "" };

async function loadConfig() {
  try {
    const res = await fetch("config.json", { cache: "no-store" });
    if (!res.ok) return;
    const data = await res.json();
    if (data && typeof data === "object") config = { ...config, ...data };
  } catch {
    // No config.json beside the page: the API is on this origin unless typed in.
  }
}

const apiBase = () => els.base.value.trim();
const apiKey = () => els.key.value.trim();
const api = () => new Api(apiBase(), apiKey());

function setKeyStatus(text, problem = false) {
  els.keyStatus.textContent = text;
  els.keyStatus.classList.toggle("problem", problem);
  if (problem) els.key.setAttribute("aria-invalid", "true");
  else els.key.removeAttribute("aria-invalid");
}

function saveSettings() {
  const key = apiKey();
  if (!key) {
    setKeyStatus("Enter a key first.", true);
    els.key.focus();
    return false;
  }
  store.set(storageKeys.key, key);
  if (apiBase()) store.set(storageKeys.base, apiBase());
  else store.remove(storageKeys.base);
  setKeyStatus(store.persistent ? "Key saved in this browser." : "Key kept until this page is closed (this browser does not allow saving it).");
  return true;
}

function initKeyForm() {
  els.keyForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (saveSettings()) retryWhere((card) => card.keyProblem);
  });
  els.keyForget.addEventListener("click", () => {
    store.remove(storageKeys.key);
    els.key.value = "";
    els.key.type = "password";
    els.keyShow.textContent = "Show";
    els.keyShow.setAttribute("aria-pressed", "false");
    setKeyStatus("Key forgotten: it is no longer stored in this browser.");
    els.key.focus();
  });
  els.keyShow.addEventListener("click", () => {
    const show = els.key.type === "password";
    els.key.type = show ? "text" : "password";
    els.keyShow.textContent = show ? "Hide" : "Show";
    els.keyShow.setAttribute("aria-pressed", String(show));
  });
  els.key.addEventListener("input", () => {
    if (els.key.getAttribute("aria-invalid")) setKeyStatus("");
  });
}

function initPicking() {
  els.pick.addEventListener("change", () => {
    addFiles(els.pick.files);
    // Let the same file be chosen again later.
    els.pick.value = "";
  });

  // Files may be dropped anywhere on the page; the zone lights up meanwhile.
  let depth = 0;
  const hasFiles = (ev) => ev.dataTransfer && [...ev.dataTransfer.types].includes("Files");
  window.addEventListener("dragenter", (ev) => {
    if (!hasFiles(ev)) return;
    ev.preventDefault();
    depth++;
    els.drop.classList.add("dragging");
  });
  window.addEventListener("dragleave", (ev) => {
    if (!hasFiles(ev)) return;
    depth = Math.max(0, depth - 1);
    if (depth === 0) els.drop.classList.remove("dragging");
  });
  window.addEventListener("dragover", (ev) => {
    if (!hasFiles(ev)) return;
    ev.preventDefault();
    ev.dataTransfer.dropEffect = "copy";
  });
  window.addEventListener("drop", (ev) => {
    if (!hasFiles(ev)) return;
    ev.preventDefault();
    depth = 0;
    els.drop.classList.remove("dragging");
    addFiles(ev.dataTransfer.files);
  });
}

// ---- the queue ---------------------------------------------------------

const cards = [];
const waiting = [];
let active = 0;

function addFiles(fileList) {
  for (const file of fileList) {
    const card = new Card(file);
    cards.push(card);
    els.results.append(card.el);
    schedule(card, runUpload);
  }
}

function schedule(card, job) {
  card.reset();
  card.setState("queued");
  card.setPhase("Waiting for a free slot", null);
  waiting.push([card, job]);
  pump();
}

function pump() {
  while (active < maxActive && waiting.length > 0) {
    const [card, job] = waiting.shift();
    active++;
    job(card)
      .catch((err) => card.fail(err))
      .finally(() => {
        active--;
        pump();
      });
  }
}

function retryWhere(pred) {
  for (const card of cards) {
    if (card.state === "failed" && pred(card)) schedule(card, card.retryJob());
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function runUpload(card) {
  const file = card.file;
  card.reset();
  const contentType = contentTypeFor(file);
  if (!contentType) throw new UploadError("client", { code: "unsupported_type" });
  if (file.size === 0) throw new UploadError("client", { code: "empty" });
  if (!apiKey()) throw new UploadError("nokey");
  if (store.get(storageKeys.key) !== apiKey()) saveSettings();

  const client = api();
  card.contentType = contentType;
  card.t0 = performance.now();
  card.setState("preparing");
  card.setPhase("Getting an upload link", null);
  const created = await client.createUpload({ filename: file.name, contentType, size: file.size });
  card.imageId = created.image_id;
  card.el.dataset.imageId = created.image_id;

  card.setState("uploading");
  card.setPhase("Uploading", 0);
  await put(created.upload, file, (loaded, total) => card.setProgress(loaded, total));
  card.tUploaded = performance.now();
  await waitForResult(card, client);
}

async function waitForResult(card, client) {
  card.setState("processing");
  card.setPhase("Processing", null);
  const started = performance.now();
  let delay = firstPollMs;
  for (;;) {
    let st;
    try {
      st = await client.image(card.imageId);
    } catch (err) {
      const young = performance.now() - started < unknownGraceMs;
      if (!(err.kind === "api" && err.code === "not_found" && young)) throw err;
      st = { status: "pending" };
    }
    if (st.status === "done") {
      card.tDone = performance.now();
      card.showResult(st);
      return;
    }
    if (st.status === "failed") {
      const e = st.error || {};
      throw new UploadError("failed", { code: e.code || "", detail: e.message || "" });
    }
    const waited = performance.now() - started;
    if (waited > maxWaitMs) throw new UploadError("timeout");
    card.setMessage(`Processing… ${formatDuration(waited)} so far.`);
    await sleep(delay);
    delay = Math.min(maxPollMs, delay * pollBackoff);
  }
}

// ---- one card per file ---------------------------------------------------

class Card {
  constructor(file) {
    this.file = file;
    this.el = els.template.content.firstElementChild.cloneNode(true);
    this.state = "queued";
    this.keyProblem = false;
    this.lastError = null;
    this.imageId = "";
    this.originalURL = "";
    const q = (sel) => $(sel, this.el);
    this.parts = {
      name: q(".name"),
      meta: q(".meta"),
      progressRow: q(".progress-row"),
      phase: q(".phase"),
      bar: q(".bar"),
      percent: q(".percent"),
      message: q(".message"),
      error: q(".error"),
      errorText: q(".error-text"),
      errorCode: q(".error-code"),
      retry: q(".retry"),
      result: q(".result"),
      original: q("img.original"),
      gray: q("img.gray"),
      thumb: q("img.thumb"),
      facts: q(".facts"),
      grayLink: q(".gray-link"),
      thumbLink: q(".thumb-link"),
    };
    const p = this.parts;
    p.name.textContent = file.name || "(unnamed file)";
    const kind = allowedTypes.get(contentTypeFor(file));
    p.meta.textContent = [formatBytes(file.size), kind || file.type || "unknown type"].join(" · ");
    p.retry.addEventListener("click", () => {
      if (this.state === "failed") schedule(this, this.retryJob());
    });
    this.el.setAttribute("aria-label", file.name);
  }

  retryJob() {
    // After a timeout the upload itself went through: only wait again.
    if (this.lastError && this.lastError.kind === "timeout" && this.imageId) {
      return (card) => waitForResult(card, api());
    }
    return runUpload;
  }

  setState(state) {
    this.state = state;
    this.el.dataset.state = state;
  }

  reset() {
    const p = this.parts;
    this.keyProblem = false;
    this.lastError = null;
    p.error.hidden = true;
    p.result.hidden = true;
    p.progressRow.hidden = false;
    p.message.textContent = "";
    delete this.el.dataset.errorKind;
    delete this.el.dataset.errorCode;
  }

  // setPhase shows what is happening; percent null means "busy, no measure".
  setPhase(text, percent) {
    const p = this.parts;
    p.phase.textContent = text;
    if (percent === null) {
      p.bar.removeAttribute("value");
      p.percent.textContent = "";
    } else {
      p.bar.value = percent;
      p.percent.textContent = `${Math.round(percent)}%`;
    }
  }

  // setProgress is called for each upload progress event of the PUT.
  setProgress(loaded, total) {
    const pct = total > 0 ? (loaded / total) * 100 : 0;
    this.el.dataset.progress = String(Math.round(pct));
    this.setPhase("Uploading", pct);
    this.parts.message.textContent = `${formatBytes(loaded)} of ${formatBytes(total)} sent.`;
  }

  setMessage(text) {
    this.parts.message.textContent = text;
  }

  fail(err) {
    if (err && err.name === "AbortError") return;
    const p = this.parts;
    const uploadErr = err instanceof UploadError ? err : new UploadError("unexpected", { detail: String((err && err.message) || err) });
    const d = describe(uploadErr, { file: this.file, apiBase: apiBase() });
    this.lastError = uploadErr;
    this.keyProblem = Boolean(d.keyProblem);
    this.setState("failed");
    this.el.dataset.errorKind = uploadErr.kind;
    if (uploadErr.code) this.el.dataset.errorCode = uploadErr.code;
    p.progressRow.hidden = true;
    p.message.textContent = "";
    p.errorText.textContent = d.text;
    p.errorCode.replaceChildren();
    if (d.code) {
      const code = document.createElement("code");
      code.textContent = d.code;
      p.errorCode.append(reasonLabel(uploadErr), code);
    }
    if (uploadErr.kind === "failed" && uploadErr.detail) {
      p.errorCode.append(` (${uploadErr.detail})`);
    }
    p.errorCode.hidden = p.errorCode.childNodes.length === 0;
    p.retry.hidden = !d.retry;
    p.retry.textContent = d.retryLabel || "Try again";
    p.error.hidden = false;
    if (this.keyProblem) {
      setKeyStatus(uploadErr.kind === "forbidden" ? "The server refused this key. Check it and save it again." : "Enter the API key, then save it.", true);
    }
  }

  showResult(st) {
    const p = this.parts;
    const name = this.file.name;
    const outputs = st.outputs || {};
    const gray = outputs.gray || {};
    const thumb = outputs.thumb || {};
    this.setState("done");
    this.setPhase("Done", 100);
    p.progressRow.hidden = true;

    if (!this.originalURL) this.originalURL = URL.createObjectURL(this.file);
    p.original.alt = `Original: ${name}`;
    p.original.addEventListener("load", () => {
      p.original.dataset.loaded = "true";
      this.renderFacts(st);
    }, { once: true });
    p.original.addEventListener("error", () => noPreview(p.original, "Your browser cannot preview this format."), { once: true });
    p.original.src = this.originalURL;

    showRemote(p.gray, gray.url, `Gray version of ${name}`);
    showRemote(p.thumb, thumb.url, `Thumbnail of ${name}`);
    p.thumb.closest("figure").hidden = !thumb.url;

    const stem = name.replace(/\.[^.]*$/, "") || "image";
    setLink(p.grayLink, gray, `${stem}.gray`);
    setLink(p.thumbLink, thumb, `${stem}.thumb`);

    this.renderFacts(st);
    const total = this.tDone - this.t0;
    p.message.textContent = Number.isFinite(total) ? `Done in ${formatDuration(total)}.` : "Done.";
    p.result.hidden = false;
  }

  renderFacts(st) {
    const outputs = st.outputs || {};
    const gray = outputs.gray || {};
    const thumb = outputs.thumb || {};
    const orig = this.parts.original;
    const rows = [
      ["Original", [formatDimensions(orig.naturalWidth, orig.naturalHeight), formatBytes(this.file.size), this.contentType]],
      ["Gray", [formatDimensions(gray.width, gray.height), formatBytes(gray.bytes), gray.content_type]],
    ];
    if (thumb.url) rows.push(["Thumbnail", [formatDimensions(thumb.width, thumb.height), formatBytes(thumb.bytes), thumb.content_type]]);
    const times = [];
    if (Number.isFinite(this.tUploaded - this.t0)) times.push(`upload ${formatDuration(this.tUploaded - this.t0)}`);
    if (Number.isFinite(this.tDone - this.tUploaded)) times.push(`processing ${formatDuration(this.tDone - this.tUploaded)}`);
    if (Number.isFinite(this.tDone - this.t0)) times.push(`total ${formatDuration(this.tDone - this.t0)}`);
    if (times.length) rows.push(["Time", times]);
    if (st.duration_ms > 0) rows.push(["Worker", [`${formatDuration(st.duration_ms)} to make the outputs`]]);
    if (Array.isArray(st.warnings) && st.warnings.length) rows.push(["Notes", st.warnings]);

    const dl = this.parts.facts;
    dl.replaceChildren();
    for (const [label, values] of rows) {
      const dt = document.createElement("dt");
      dt.textContent = label;
      const dd = document.createElement("dd");
      dd.textContent = values.filter(Boolean).join(" · ");
      dd.dataset.fact = label.toLowerCase();
      dl.append(dt, dd);
    }
  }
}

function reasonLabel(err) {
  if (err.kind === "failed") return "Reason: ";
  return "Code: ";
}

// showRemote loads a presigned output URL. It asks for CORS first so the
// pixels stay readable (the page's test samples them); if storage sends no
// CORS headers for GET it still shows the image, just without that.
function showRemote(img, url, alt) {
  img.alt = alt;
  if (!url) return;
  img.addEventListener("load", () => {
    img.dataset.loaded = "true";
  });
  img.addEventListener("error", () => {
    if (img.crossOrigin !== null) {
      img.removeAttribute("crossorigin");
      img.src = url;
      return;
    }
    noPreview(img, "The image could not be loaded; the download link may still work.");
  });
  img.crossOrigin = "anonymous";
  img.src = url;
}

function noPreview(img, text) {
  const note = document.createElement("p");
  note.className = "no-preview";
  note.textContent = text;
  img.replaceWith(note);
}

function setLink(a, output, stem) {
  if (!output.url) {
    a.hidden = true;
    return;
  }
  const ext = { "image/jpeg": "jpg", "image/png": "png" }[output.content_type] || "img";
  a.href = output.url;
  a.download = `${stem}.${ext}`;
  a.hidden = false;
}

// ---- start -----------------------------------------------------------

async function init() {
  initKeyForm();
  initPicking();
  await loadConfig();
  els.key.value = store.get(storageKeys.key) || config.api_key || "";
  els.base.value = store.get(storageKeys.base) || config.api_base_url || "";
  if (els.base.value) els.advanced.open = true;
  if (store.get(storageKeys.key)) setKeyStatus("Using the key saved in this browser.");
  document.body.dataset.ready = "true";
}

init();
