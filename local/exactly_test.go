package local_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/imagepipe/imagepipe/eventbus"
	"github.com/imagepipe/imagepipe/local"
	"github.com/imagepipe/imagepipe/local/bus"
	"github.com/imagepipe/imagepipe/local/localtest"
)

// TestSimultaneousPutsOfOneURLCompleteOnce: two PUTs of the same presigned
// URL at the same moment (two S3 events of one version) give one
// completion per image in the events archive, not two.
func TestSimultaneousPutsOfOneURLCompleteOnce(t *testing.T) {
	st := localtest.Start(t)
	a := newAPI(t, st)
	start := time.Now().Add(-time.Minute)
	var ids []string
	for i := range 5 {
		data := encodePNG(t, colourful(160+i, 120))
		up := a.createUpload("twice.png", "image/png", len(data))
		ids = append(ids, up.ImageID)
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				if code, body := put(t, up.Upload.URL, up.Upload.Headers, data); code != http.StatusOK {
					t.Errorf("PUT: %d %s", code, body)
				}
			})
		}
		wg.Wait()
	}
	for _, id := range ids {
		if v := a.waitStatus(id); v.Status != "done" {
			t.Fatalf("image %s: %+v", id, v)
		}
	}
	uploads := map[string]int{}
	completions := map[string][]string{}
	ctx := context.Background()
	err := st.Router().ArchivedEvents(ctx, local.UploadsArchive, start, time.Now().Add(time.Minute), func(e bus.ArchivedEvent) error {
		uploads[e.Event.ID]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(uploads) != 2*len(ids) {
		t.Fatalf("%d upload events archived, want two per image (%d)", len(uploads), 2*len(ids))
	}
	err = st.Router().ArchivedEvents(ctx, local.CompletionsArchive, start, time.Now().Add(time.Minute), func(e bus.ArchivedEvent) error {
		var d eventbus.ImageDetail
		if err := json.Unmarshal(e.Event.Detail, &d); err != nil {
			return err
		}
		completions[d.ImageID] = append(completions[d.ImageID], e.Event.DetailType+" "+d.CompletionID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if c := completions[id]; len(c) != 1 || c[0] == "" {
			t.Errorf("image %s: completions %q, want exactly one", id, c)
		}
	}
}
