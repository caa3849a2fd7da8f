// Formatting for the upload page. Sizes are in one system everywhere on the
// page: SI units, 1 kB = 1000 bytes, as phones and macOS show file sizes
// (and as `imagepipe` prints them).

const units = ["bytes", "kB", "MB", "GB"];

// formatBytes renders a byte count: "999 bytes", "12.3 kB", "4.5 MB".
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

// formatClock renders a time of day in the reader's locale ("10:32"), with
// the date when it is not today.
export function formatClock(when) {
  const d = when instanceof Date ? when : new Date(when);
  if (Number.isNaN(d.getTime())) return "";
  const time = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  if (d.toDateString() === new Date().toDateString()) return time;
  return `${d.toLocaleDateString([], { month: "short", day: "numeric" })} ${time}`;
}
