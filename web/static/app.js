// The upload page: the connection (key checked when saved), choosing or
// dropping images, one tile per image that follows it through upload link →
// PUT → processing → result, the failures one line each, the overall bar,
// and the history that brings recent images back after a reload.

import { Api, UploadError, allowedTypes, contentTypeFor, fetchOutput, put } from "./api.js";
import { describe } from "./messages.js";
import { formatBytes, formatClock, formatDimensions, formatDuration } from "./format.js";
import { history, settings, store } from "./history.js";

const maxActive = 3; // files uploading at once
const maxLoading = 4; // history statuses fetched at once
const firstPollMs = 60; // the local stack finishes a photo in about 50 ms
const maxPollMs = 5000;
const pollBackoff = 1.6;
const maxWaitMs = 3 * 60 * 1000; // stop polling one image after this (API quotas)
const unknownGraceMs = 30 * 1000; // a fresh id may be unknown to GET for a moment
const linkMarginMs = 15 * 1000; // refresh download links this long before they expire

const $ = (sel, root = document) => root.querySelector(sel);

const els = {
  connect: $("#connect"),
  connectState: $("#connect-state"),
  keyForm: $("#key-form"),
  key: $("#api-key"),
  keyShow: $("#key-show"),
  keyForget: $("#key-forget"),
  keyStatus: $("#key-status"),
  base: $("#api-base"),
  advanced: $("#advanced"),
  pick: $("#pick"),
  drop: $("#drop"),
  overview: $("#overview"),
  overallBar: $("#overall-bar"),
  overallText: $("#overall-text"),
  clear: $("#clear"),
  failedSection: $("#failed-section"),
  failed: $("#failed"),
  results: $("#results"),
  empty: $("#empty"),
  tileTemplate: $("#tile-template"),
  lineTemplate: $("#line-template"),
};

let config = { api_base_url: "", api_key: "", max_upload_bytes: 0 };

// connection is the key and address that were checked and work; null until then.
let connection = null;

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

const apiBase = () => (connection ? connection.base : els.base.value.trim());
const api = () => new Api(connection ? connection.base : els.base.value.trim(), connection ? connection.key : els.key.value.trim());

// ---- the connection -------------------------------------------------------

function setKeyStatus(text, problem = false) {
  els.keyStatus.textContent = text;
  els.keyStatus.classList.toggle("problem", problem);
  if (problem) els.key.setAttribute("aria-invalid", "true");
  else els.key.removeAttribute("aria-invalid");
}

function showConnection() {
  if (connection) {
    const where = connection.base ? new URL(connection.base, location.href).host : "this site's API";
    els.connectState.textContent = `connected to ${where} · key …${connection.key.slice(-4)}`;
    els.connect.dataset.connected = "true";
  } else {
    els.connectState.textContent = "not connected: enter the API key";
    delete els.connect.dataset.connected;
  }
}

// connect checks key against the API with a cheap authenticated call and,
// when it works, keeps it (save: in this browser too), folds the panel away,
// shows the history and retries what was waiting for a key.
async function connect(key, base, { save }) {
  if (!key) {
    setKeyStatus("Enter a key first.", true);
    els.key.focus();
    return false;
  }
  setKeyStatus("Checking the key…");
  els.connect.dataset.checking = "true";
  try {
    await new Api(base, key).checkKey();
  } catch (err) {
    delete els.connect.dataset.checking;
    connection = null;
    showConnection();
    els.connect.open = true;
    if (err.kind === "forbidden") {
      setKeyStatus("The server refused this key: it was not saved. Check it and try again.", true);
    } else if (err.kind === "network") {
      setKeyStatus(`The API at ${base || "this site"} could not be reached, so the key could not be checked. Is the server running? Is the API address right?`, true);
    } else {
      setKeyStatus(`The key could not be checked: ${describe(err, { apiBase: base }).text}`, true);
    }
    return false;
  }
  delete els.connect.dataset.checking;
  const changed = !connection || connection.base !== base;
  connection = { key, base };
  if (save) settings.save(key, base);
  const kept = save ? (store.persistent ? "Saved in this browser." : "Kept until this page is closed (this browser does not allow saving it).") : "";
  setKeyStatus(`The key works. ${kept}`.trim());
  showConnection();
  els.connect.open = false;
  if (changed) showHistory();
  for (const item of items) {
    if (item.keyProblem && item.canRetry()) item.retry();
  }
  return true;
}

function initConnection() {
  els.keyForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    connect(els.key.value.trim(), els.base.value.trim(), { save: true });
  });
  els.keyForget.addEventListener("click", () => {
    settings.forgetKey();
    connection = null;
    showConnection();
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

// ---- choosing and dropping ------------------------------------------------

function initPicking() {
  els.pick.addEventListener("change", () => {
    addFiles(els.pick.files);
    els.pick.value = ""; // the same file may be chosen again later
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

// ---- the queue ------------------------------------------------------------

const items = [];
const waiting = [];
let active = 0;

function addFiles(fileList) {
  for (const file of [...fileList].reverse()) {
    const item = new Item({ file });
    items.push(item);
    item.schedule();
  }
  update();
}

function pump() {
  while (active < maxActive && waiting.length > 0) {
    const item = waiting.shift();
    active++;
    item
      .upload()
      .catch((err) => item.fail(err))
      .finally(() => {
        active--;
        pump();
        update();
      });
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// pool runs jobs, at most n at a time.
async function pool(jobs, n) {
  const queue = [...jobs];
  const run = async () => {
    while (queue.length > 0) await queue.shift()();
  };
  await Promise.all(Array.from({ length: Math.min(n, queue.length) }, run));
}

// showHistory brings back the recent images of this API, newest first.
function showHistory() {
  const shown = new Set(items.map((i) => i.id).filter(Boolean));
  const entries = history.list(apiBase()).filter((e) => !shown.has(e.id));
  const restored = entries.map((e) => new Item({ entry: e }));
  items.push(...restored);
  for (const item of restored) item.render();
  update();
  pool(restored.map((item) => () => item.follow().catch((err) => item.fail(err)).finally(update)), maxLoading);
}

// update redraws the overall bar and the lists' visibility.
function update() {
  const total = items.length;
  let done = 0;
  let failed = 0;
  let sent = 0;
  for (const i of items) {
    if (i.state === "done") done++;
    else if (i.finished()) failed++;
    sent += i.sent || 0;
  }
  const busy = total - done - failed;
  els.overview.hidden = total === 0;
  els.drop.closest(".pick").classList.toggle("compact", total > 0);
  els.empty.hidden = total > 0;
  els.failedSection.hidden = els.failed.children.length === 0;
  els.overallBar.max = Math.max(total, 1);
  els.overallBar.value = done + failed;
  const parts = [`${done} of ${total} done`];
  if (failed) parts.push(`${failed} not processed`);
  if (busy) parts.push(`${busy} in progress`);
  if (sent) parts.push(`${formatBytes(sent)} sent`);
  els.overallText.textContent = parts.join(" · ");
  els.overview.dataset.done = String(done);
  els.overview.dataset.failed = String(failed);
  els.overview.dataset.total = String(total);
  els.clear.disabled = done + failed === 0;
}

function initClear() {
  els.clear.addEventListener("click", () => {
    const finished = items.filter((i) => i.finished() || i.state === "done");
    history.remove(finished.map((i) => i.id).filter(Boolean));
    for (const i of finished) i.dispose();
    items.splice(0, items.length, ...items.filter((i) => !finished.includes(i)));
    update();
    els.pick.focus();
  });
}

// ---- one image --------------------------------------------------------------

// The states of an item; "pending", "processing", "done", "failed" and
// "expired" are the API's (DESIGN.md §3).
const stateWords = {
  queued: "Waiting to start",
  preparing: "Asking for an upload link",
  loading: "Reading its status",
  pending: "Waiting for the upload",
  uploaded: "Uploaded · waiting for a worker",
  processing: "Processing…",
  timeout: "Still not finished",
};

class Item {
  // Either a File chosen now, or a history entry {id, name, size, type, at}.
  constructor({ file = null, entry = null }) {
    this.file = file;
    this.id = entry ? entry.id : "";
    this.name = file ? file.name || "(unnamed file)" : entry.name || entry.id;
    this.size = file ? file.size : entry.size;
    this.contentType = file ? contentTypeFor(file) : entry.type || "";
    this.at = entry ? entry.at : Date.now();
    this.state = entry ? "loading" : "queued";
    this.view = null;
    this.error = null;
    this.keyProblem = false;
    this.sent = 0;
    this.linkRefreshes = 0;
    this.localURL = "";
    this.tile = null;
    this.line = null;
  }

  finished() {
    return ["failed", "expired", "refused"].includes(this.state);
  }

  canRetry() {
    return Boolean(this.file) || (this.id && ["timeout", "refused"].includes(this.state));
  }

  schedule() {
    this.error = null;
    this.keyProblem = false;
    this.setState("queued");
    waiting.push(this);
    pump();
  }

  retry() {
    if (this.file && this.state !== "timeout") {
      if (this.id) history.remove([this.id]);
      this.id = "";
      this.sent = 0;
      this.schedule();
      return;
    }
    this.error = null;
    this.setState("loading");
    this.follow().catch((err) => this.fail(err)).finally(update);
  }

  async upload() {
    const file = this.file;
    if (!this.contentType) throw new UploadError("client", { code: "unsupported_type" });
    if (file.size === 0) throw new UploadError("client", { code: "empty" });
    if (config.max_upload_bytes > 0 && file.size > config.max_upload_bytes) throw new UploadError("client", { code: "too_large" });
    if (!connection) throw new UploadError("nokey");
    const client = api();
    this.t0 = performance.now();
    this.setState("preparing");
    const created = await client.createUpload({ filename: file.name, contentType: this.contentType, size: file.size });
    this.id = created.image_id;
    history.add({ id: this.id, name: this.name, size: this.size, type: this.contentType, at: this.at, api: apiBase() });
    this.uploadExpiresAt = created.upload.expires_at;
    this.setState("uploading");
    await put(created.upload, file, (loaded, total) => this.progress(loaded, total));
    this.tUploaded = performance.now();
    this.setState("uploaded");
    await this.follow();
  }

  // follow polls the image's status until it is finished, or the page
  // stops waiting.
  async follow() {
    const client = api();
    const started = performance.now();
    let delay = firstPollMs;
    for (;;) {
      let view;
      try {
        view = await client.image(this.id);
      } catch (err) {
        const young = performance.now() - started < unknownGraceMs;
        if (!(err.kind === "api" && err.code === "not_found" && young && this.file)) throw err;
        view = { status: "pending" };
      }
      this.view = view;
      if (view.filename && !this.file) this.name = view.filename;
      switch (view.status) {
        case "done":
          this.tDone = performance.now();
          this.setLinks(view);
          this.setState("done");
          return;
        case "failed": {
          const e = view.error || {};
          throw new UploadError("failed", { code: e.code || "", detail: e.message || "" });
        }
        case "expired":
          throw new UploadError("expired", { uploadExpiresAt: view.upload_expires_at, detail: (view.error || {}).message || "" });
        case "processing":
          this.setState("processing");
          break;
        default:
          if (this.state !== "uploaded") this.setState("pending");
      }
      if (performance.now() - started > maxWaitMs) {
        this.setState("timeout");
        return;
      }
      await sleep(delay);
      delay = Math.min(maxPollMs, delay * pollBackoff);
    }
  }

  fail(err) {
    if (err && err.name === "AbortError") return;
    const e = err instanceof UploadError ? err : new UploadError("unexpected", { detail: String((err && err.message) || err) });
    this.error = e;
    this.keyProblem = Boolean(describe(e).keyProblem);
    this.setState(e.kind === "expired" ? "expired" : e.kind === "failed" ? "failed" : "refused");
    if (e.kind === "forbidden" || e.kind === "nokey") {
      connection = e.kind === "forbidden" ? null : connection;
      showConnection();
      els.connect.open = true;
      setKeyStatus(e.kind === "forbidden" ? "The server refused this key. Check it and save it again." : "Enter the API key, then save it.", true);
    }
  }

  setState(state) {
    this.state = state;
    this.render();
    update();
  }

  // setLinks keeps the presigned download URLs of a done image and when the
  // first of them expires.
  setLinks(view) {
    const outs = Object.values(view.outputs || {});
    const times = outs.map((o) => Date.parse(o.expires_at)).filter(Number.isFinite);
    this.linksExpireAt = times.length ? Math.min(...times) : Infinity;
    const el = this.tile;
    if (el) el.dataset.linksExpireAt = String(this.linksExpireAt);
  }

  // freshView returns the status with download URLs that still work,
  // fetching them again when they expire within linkMarginMs (force: now).
  async freshView(force = false) {
    const expiresAt = Number(this.tile && this.tile.dataset.linksExpireAt);
    if (!force && this.view && Number.isFinite(expiresAt) && expiresAt - Date.now() > linkMarginMs) return this.view;
    const view = await api().image(this.id);
    if (view.status !== "done") throw new UploadError("api", { status: 409, code: view.status, detail: `the image is ${view.status}` });
    this.view = view;
    this.setLinks(view);
    this.linkRefreshes++;
    if (this.tile) {
      this.tile.dataset.linkRefreshes = String(this.linkRefreshes);
      this.showLinks();
    }
    return view;
  }

  // download saves one output without leaving the page: fetch it (fresh
  // links first; once more with new ones if storage says it expired), then
  // save the bytes under the name the server gives it.
  async download(name, link) {
    link.setAttribute("aria-busy", "true");
    const status = this.tile.querySelector(".state");
    try {
      let view = await this.freshView();
      let blob;
      try {
        blob = await fetchOutput(view.outputs[name].url);
      } catch (err) {
        if (err.kind === "network") {
          // Storage does not let this page read it (CORS): the link is an
          // attachment, so a hidden frame saves it and the page stays.
          saveThroughFrame(view.outputs[name].url);
          return;
        }
        if (err.kind !== "storage" || err.status !== 403) throw err;
        view = await this.freshView(true);
        blob = await fetchOutput(view.outputs[name].url);
      }
      saveBlob(blob, this.outputFilename(name));
      this.tile.dataset.downloads = String(Number(this.tile.dataset.downloads || 0) + 1);
    } catch (err) {
      const e = err instanceof UploadError ? err : new UploadError("unexpected", { detail: String(err.message || err) });
      status.textContent = `The download failed: ${describe(e, { apiBase: apiBase() }).text}`;
    } finally {
      link.removeAttribute("aria-busy");
    }
  }

  // outputFilename is what the server names the output in its
  // Content-Disposition: "cat.jpg" → "cat.gray.jpg".
  outputFilename(name) {
    const o = (this.view.outputs || {})[name] || {};
    const ext = (o.key || "").match(/\.[^./]+$/);
    const base = this.view.filename || this.name || this.id;
    const stem = base.replace(/\.[^.]*$/, "") || this.id;
    return `${stem}.${name}${ext ? ext[0] : ""}`;
  }

  progress(loaded, total) {
    this.sent = loaded;
    const pct = total > 0 ? (loaded / total) * 100 : 0;
    if (this.tile) {
      this.tile.dataset.progress = String(Math.round(pct));
      const bar = this.tile.querySelector(".bar");
      bar.value = pct;
      this.tile.querySelector(".state").textContent = `Uploading ${Math.round(pct)}% · ${formatBytes(loaded)} of ${formatBytes(total)}`;
    }
    update();
  }

  // render shows the item as a tile, or, once it failed, as one line.
  render() {
    if (this.finished()) {
      if (this.tile) this.tile.remove();
      this.renderLine();
      return;
    }
    if (this.line) {
      this.line.remove();
      this.line = null;
    }
    this.renderTile();
  }

  renderTile() {
    if (!this.tile) {
      this.tile = els.tileTemplate.content.firstElementChild.cloneNode(true);
      const t = this.tile;
      $(".name", t).textContent = this.name;
      $(".name", t).title = this.name;
      t.setAttribute("aria-label", this.name);
      $(".download", t).addEventListener("click", (ev) => {
        ev.preventDefault();
        this.download("gray", ev.currentTarget);
      });
      $(".download-thumb", t).addEventListener("click", (ev) => {
        ev.preventDefault();
        this.download("thumb", ev.currentTarget);
      });
      $(".check", t).addEventListener("click", () => this.retry());
      $(".more", t).addEventListener("toggle", (ev) => {
        if (ev.currentTarget.open) this.showDetails();
      });
      const fresh = Boolean(this.file);
      if (fresh) els.results.prepend(t);
      else els.results.append(t);
      if (this.file && this.contentType) {
        this.localURL = URL.createObjectURL(this.file);
        showImage($(".thumb", t), this.localURL, "", () => {});
      }
      $(".placeholder", t).textContent = (allowedTypes.get(this.contentType) || "?").slice(0, 4);
    } else if (!this.tile.isConnected) {
      els.results.prepend(this.tile);
    }
    const t = this.tile;
    t.dataset.state = this.state;
    if (this.id) t.dataset.imageId = this.id;
    const bar = $(".bar", t);
    bar.hidden = !["uploading", "preparing", "uploaded", "pending", "processing", "loading", "queued"].includes(this.state);
    bar.setAttribute("aria-label", `Progress of ${this.name}`);
    if (this.state !== "uploading") bar.removeAttribute("value");
    $(".check", t).hidden = this.state !== "timeout";
    const state = $(".state", t);
    if (this.state === "uploading") state.textContent = "Uploading";
    else if (this.state === "done") state.textContent = this.doneWords();
    else if (this.state === "pending" && this.view && this.view.upload_expires_at) {
      state.textContent = `Waiting for the upload (its link works until ${formatClock(this.view.upload_expires_at)})`;
    } else state.textContent = stateWords[this.state] || this.state;
    if (this.state === "done") this.showLinks();
  }

  doneWords() {
    const gray = (this.view.outputs || {}).gray || {};
    const dims = formatDimensions(gray.width, gray.height);
    const total = this.tDone - this.t0;
    const when = Number.isFinite(total) ? `Done in ${formatDuration(total)}` : `Done · ${formatClock(this.view.updated_at || this.at)}`;
    return dims ? `${when} · ${dims}` : when;
  }

  // showLinks points the tile's thumbnail and download links at the
  // current URLs.
  showLinks() {
    const t = this.tile;
    const outs = this.view.outputs || {};
    const thumb = outs.thumb || outs.gray;
    if (thumb) {
      showImage($(".thumb", t), thumb.url, `Gray thumbnail of ${this.name}`, () => this.onImageError($(".thumb", t)));
    }
    const dl = $(".download", t);
    if (outs.gray) {
      dl.href = outs.gray.url;
      dl.hidden = false;
      dl.setAttribute("aria-label", `Download the gray image of ${this.name}`);
      dl.title = `${this.outputFilename("gray")} · ${formatBytes(outs.gray.bytes)}`;
    }
    const dt = $(".download-thumb", t);
    if (outs.thumb) {
      dt.href = outs.thumb.url;
      dt.setAttribute("aria-label", `Download the thumbnail of ${this.name}`);
    }
    dt.hidden = !outs.thumb;
    if ($(".more", t).open) this.showDetails();
  }

  // onImageError fetches new links once when the shown ones have expired.
  async onImageError(img) {
    const expiresAt = Number(this.tile.dataset.linksExpireAt);
    if (img.dataset.retried || !(Number.isFinite(expiresAt) && expiresAt - Date.now() < linkMarginMs)) return;
    img.dataset.retried = "true";
    try {
      await this.freshView(true);
    } catch {
      // The tile keeps its placeholder; the download button says what fails.
    }
  }

  // showDetails fills the details: original beside gray, and the facts.
  showDetails() {
    const t = this.tile;
    const outs = (this.view && this.view.outputs) || {};
    const gray = outs.gray || {};
    const thumb = outs.thumb || {};
    const original = $("img.original", t);
    const figOriginal = $(".fig-original", t);
    if (this.localURL) {
      figOriginal.hidden = false;
      showImage(original, this.localURL, `Original: ${this.name}`, () => {
        // The browser cannot show this format (TIFF): show the PNG output.
        $("figcaption", figOriginal).textContent = `Original (this browser cannot show ${allowedTypes.get(this.contentType) || "this format"}; the gray result is shown)`;
        showImage(original, gray.url, `Gray result of ${this.name}, standing in for the original`, () => {});
      });
    } else {
      figOriginal.hidden = true; // a restored image: the original is not in this browser
    }
    showImage($("img.gray", t), gray.url, `Gray version of ${this.name}`, () => this.onImageError($("img.gray", t)));
    const rows = [];
    if (this.file || this.size) rows.push(["Original", [formatBytes(this.size), allowedTypes.get(this.contentType) || this.contentType]]);
    if (gray.url) rows.push(["Gray", [formatDimensions(gray.width, gray.height), formatBytes(gray.bytes), gray.content_type]]);
    if (thumb.url) rows.push(["Thumbnail", [formatDimensions(thumb.width, thumb.height), formatBytes(thumb.bytes), thumb.content_type]]);
    const times = [];
    if (Number.isFinite(this.tUploaded - this.t0)) times.push(`upload ${formatDuration(this.tUploaded - this.t0)}`);
    if (Number.isFinite(this.tDone - this.tUploaded)) times.push(`processing ${formatDuration(this.tDone - this.tUploaded)}`);
    if (this.view && this.view.duration_ms > 0) times.push(`worker ${formatDuration(this.view.duration_ms)}`);
    if (times.length) rows.push(["Time", times]);
    if (this.view && Array.isArray(this.view.warnings) && this.view.warnings.length) rows.push(["Notes", this.view.warnings]);
    if (this.id) rows.push(["Image id", [this.id]]);
    const dl = $(".facts", t);
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

  renderLine() {
    if (!this.line) {
      this.line = els.lineTemplate.content.firstElementChild.cloneNode(true);
      $(".retry", this.line).addEventListener("click", () => this.retry());
      $(".remove", this.line).addEventListener("click", () => {
        if (this.id) history.remove([this.id]);
        this.dispose();
        items.splice(items.indexOf(this), 1);
        update();
        els.pick.focus();
      });
    }
    const l = this.line;
    els.failed.prepend(l);
    const d = describe(this.error || new UploadError("unexpected"), { size: this.size, limit: config.max_upload_bytes, apiBase: apiBase() });
    l.dataset.state = this.state;
    l.dataset.errorKind = this.error ? this.error.kind : "";
    l.dataset.errorCode = d.code || (this.error && this.error.code) || "";
    if (this.id) l.dataset.imageId = this.id;
    $(".name", l).textContent = `${this.name}:`;
    $(".reason", l).textContent = d.text;
    const code = $(".code", l);
    code.textContent = d.code;
    code.hidden = !d.code;
    const retry = $(".retry", l);
    retry.hidden = !(d.retry || d.keyProblem) || !this.canRetry();
    retry.setAttribute("aria-label", `Try ${this.name} again`);
    $(".remove", l).setAttribute("aria-label", `Remove ${this.name} from the list`);
  }

  dispose() {
    if (this.tile) this.tile.remove();
    if (this.line) this.line.remove();
    if (this.localURL) URL.revokeObjectURL(this.localURL);
    this.state = "removed";
  }
}

// showImage loads url into img. It asks for CORS so that the pixels stay
// readable (the test samples them); if storage sends no CORS headers it
// shows the image anyway; onError runs when even that fails.
function showImage(img, url, alt, onError) {
  if (!url) return;
  img.alt = alt;
  if (img.dataset.src === url) return;
  img.dataset.src = url;
  delete img.dataset.loaded;
  img.onload = () => {
    img.dataset.loaded = "true";
    img.hidden = false;
  };
  img.onerror = () => {
    if (img.crossOrigin !== null && !url.startsWith("blob:")) {
      img.removeAttribute("crossorigin");
      img.src = url;
      return;
    }
    img.hidden = true;
    onError();
  };
  if (url.startsWith("blob:")) img.removeAttribute("crossorigin");
  else img.crossOrigin = "anonymous";
  img.src = url;
}

function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60 * 1000);
}

function saveThroughFrame(url) {
  const f = document.createElement("iframe");
  f.hidden = true;
  f.title = "download";
  f.src = url;
  document.body.append(f);
  setTimeout(() => f.remove(), 60 * 1000);
}

// ---- start ----------------------------------------------------------------

async function init() {
  initConnection();
  initPicking();
  initClear();
  update();
  await loadConfig();
  const key = settings.key() || config.api_key || "";
  const base = settings.base() || config.api_base_url || "";
  els.key.value = key;
  els.base.value = base;
  if (base) els.advanced.open = true;
  showConnection();
  if (key) await connect(key, base, { save: false });
  document.body.dataset.ready = "true";
}

init();
