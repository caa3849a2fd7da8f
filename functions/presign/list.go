package presign

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/imagepipe/imagepipe/api"
	"github.com/imagepipe/imagepipe/functions/status"
)

// listImages serves GET /v1/images?since=&limit=&status=&cursor=, and
// GET /v1/images?content_md5= (DESIGN.md §3), from the status records.
func (h *Handler) listImages(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var o status.ListOptions
	o.Limit = api.DefaultListLimit
	if v := q.Get(api.QueryLimit); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > api.MaxListLimit {
			writeError(w, http.StatusBadRequest, "invalid_limit", fmt.Sprintf("limit must be a number from 1 to %d; got %q", api.MaxListLimit, v))
			return
		}
		o.Limit = n
	}
	if v := q.Get(api.QuerySince); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid_since", fmt.Sprintf("since must be an RFC 3339 time like 2026-11-28T04:00:00Z; got %q", v))
			return
		}
		o.Since = t
	}
	keep := map[string]bool{}
	if v := q.Get(api.QueryStatus); v != "" {
		for _, s := range strings.Split(v, ",") {
			s = strings.TrimSpace(s)
			if !slices.Contains(api.Statuses, s) {
				writeError(w, http.StatusBadRequest, "invalid_status", fmt.Sprintf("status %q is not one of %s", s, strings.Join(api.Statuses, ", ")))
				return
			}
			keep[s] = true
		}
	}
	if v := q.Get(api.QueryCursor); v != "" {
		raw, err := base64.RawURLEncoding.DecodeString(v)
		if err != nil || !strings.HasPrefix(string(raw), status.Prefix) {
			writeError(w, http.StatusBadRequest, "invalid_cursor", "cursor must be the next_cursor of an earlier answer, unchanged")
			return
		}
		o.After = string(raw)
	}

	// Each record read once: its view (with expired computed) decides the
	// filter and is what the answer shows.
	views := map[string]api.ImageView{}
	viewOf := func(rec *status.Record) api.ImageView {
		v, ok := views[rec.ImageID]
		if !ok {
			v = h.view(r.Context(), rec)
			views[rec.ImageID] = v
		}
		return v
	}
	if len(keep) > 0 {
		o.Keep = func(rec *status.Record) bool { return keep[viewOf(rec).Status] }
	}

	if v := q.Get(api.QueryContentMD5); v != "" {
		h.listByContent(r.Context(), w, strings.ToLower(v), o.Keep, viewOf)
		return
	}
	page, err := h.statuses.List(r.Context(), h.client, o)
	if err != nil {
		h.internal(w, "list images", err)
		return
	}
	if len(page.Unreadable) > 0 {
		h.log.Warn("status records left out of a listing: they cannot be read", "keys", page.Unreadable)
	}
	out := api.ImageList{Images: make([]api.ImageView, 0, len(page.Records))}
	for _, rec := range page.Records {
		out.Images = append(out.Images, viewOf(rec))
	}
	if page.Next != "" {
		out.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(page.Next))
	}
	writeJSON(w, http.StatusOK, out)
}

// listByContent answers the images uploaded with the bytes whose MD5 is
// md5hex: the latest one handed an upload URL for them, if any.
func (h *Handler) listByContent(ctx context.Context, w http.ResponseWriter, md5hex string, keep func(*status.Record) bool, viewOf func(*status.Record) api.ImageView) {
	if !status.ValidMD5(md5hex) {
		writeError(w, http.StatusBadRequest, "invalid_content_md5", fmt.Sprintf("content_md5 must be 32 hex digits; got %q", md5hex))
		return
	}
	out := api.ImageList{Images: []api.ImageView{}}
	id, err := h.statuses.ContentImage(ctx, md5hex)
	if errors.Is(err, status.ErrNotFound) {
		writeJSON(w, http.StatusOK, out)
		return
	}
	if err != nil {
		h.internal(w, "read the content index", err)
		return
	}
	rec, err := h.statuses.Get(ctx, id)
	switch {
	case errors.Is(err, status.ErrNotFound):
	case err != nil:
		h.internal(w, "read status", err)
		return
	case keep == nil || keep(rec):
		out.Images = append(out.Images, viewOf(rec))
	}
	writeJSON(w, http.StatusOK, out)
}
