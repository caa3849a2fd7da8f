// What the page keeps in the browser: the API key and address, and the ids
// of recent images, so that a reload shows them again (their statuses are
// fetched anew). Nothing else is stored: no image, no URL.

const keys = { apiKey: "imagepipe.apiKey", apiBase: "imagepipe.apiBase", history: "imagepipe.history.v1" };

// maxEntries bounds the history: each entry costs one status request when
// the page loads (API Gateway's usage plan counts them).
export const maxEntries = 50;

// store is localStorage when the browser allows it, memory otherwise
// (private windows and locked-down browsers throw on access).
export const store = (() => {
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

export const settings = {
  key: () => store.get(keys.apiKey),
  base: () => store.get(keys.apiBase),
  save(key, base) {
    store.set(keys.apiKey, key);
    if (base) store.set(keys.apiBase, base);
    else store.remove(keys.apiBase);
  },
  forgetKey: () => store.remove(keys.apiKey),
};

// An entry: {id, name, size, type, at (ms since epoch), api (base URL, "" for
// this site)}; newest first.
function readAll() {
  try {
    const v = JSON.parse(store.get(keys.history) || "[]");
    return Array.isArray(v) ? v.filter((e) => e && typeof e.id === "string") : [];
  } catch {
    return [];
  }
}

function writeAll(entries) {
  try {
    store.set(keys.history, JSON.stringify(entries.slice(0, maxEntries)));
  } catch {
    // Storage full or refused: the history is a convenience, the page goes on.
  }
}

export const history = {
  // list returns the entries of one API, newest first.
  list: (api) => readAll().filter((e) => (e.api || "") === (api || "")),
  add(entry) {
    const rest = readAll().filter((e) => e.id !== entry.id);
    writeAll([{ ...entry, at: entry.at || Date.now() }, ...rest]);
  },
  remove(ids) {
    const drop = new Set(ids);
    writeAll(readAll().filter((e) => !drop.has(e.id)));
  },
};
