package main

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

// TestClientKeepsItsConnections: the CLI's client, making requests eight at
// a time as upload --concurrency 8 does, keeps its connections for the
// next ones: a few rounds open no more than eight. (With net/http's
// default of two idle connections per host, every round dialed six anew.)
func TestClientKeepsItsConnections(t *testing.T) {
	var conns atomic.Int32
	var inFlight sync.WaitGroup
	var release atomic.Pointer[chan struct{}]
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inFlight.Done()
		<-*release.Load() // all eight requests of a round are in flight at once
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"error":{"code":"not_found","message":"no image"}}`))
	}))
	ts.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	ts.Start()
	t.Cleanup(ts.Close)
	cl, err := endpoint{apiURL: ts.URL, key: "key"}.client()
	if err != nil {
		t.Fatal(err)
	}
	const at, rounds = 8, 4
	for range rounds {
		inFlight.Add(at)
		round := make(chan struct{})
		release.Store(&round)
		var wg sync.WaitGroup
		for range at {
			wg.Go(func() { cl.Image(context.Background(), "00000000000000000000000000000000") })
		}
		inFlight.Wait()
		close(round)
		wg.Wait()
	}
	if n := conns.Load(); n > at {
		t.Fatalf("%d connections for %d rounds of %d requests at once, want at most %d", n, rounds, at, at)
	}
}
