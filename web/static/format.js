// Small formatting helpers for the upload page.

const units = ["bytes", "KB", "MB", "GB"];

// formatBytes renders a byte count the way people read file sizes
// (1 KB = 1000 bytes, as file managers on phones and macOS show them).
export function formatBytes(n) {
  if (!Number.isFinite(n) || n < 0) return "unknown size";
  if (n < 1000) return `${n} ${n === 1 ? "byte" : "bytes"}`;
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v >= 100 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

// formatDuration renders milliseconds as "850 ms", "1.4 s" or "2 min 5 s".
export function formatDuration(ms) {
  if (!Number.isFinite(ms) || ms < 0) return "unknown";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - m * 60)} s`;
}

// formatDimensions renders "640 × 480", or "" when unknown.
export function formatDimensions(w, h) {
  if (!w || !h) return "";
  return `${w} × ${h}`;
}
