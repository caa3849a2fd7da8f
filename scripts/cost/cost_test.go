package main

import (
	"testing"

	"github.com/imagepipe/imagepipe/scripts/cost/internal/cost"
)

// TestREADMEMatchesMakeCost: the README's cost section is exactly what
// `make cost` writes from the recorded bench, the price file and
// terraform/, so no figure in it is typed by hand or left stale.
func TestREADMEMatchesMakeCost(t *testing.T) {
	want, wantSummary, err := cost.Files{Bench: "../../docs/bench.txt", Prices: "../../docs/cost/prices.json", Terraform: "../../terraform"}.Both()
	if err != nil {
		t.Fatal(err)
	}
	gotSummary, err := cost.CurrentSummary("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if gotSummary != wantSummary {
		t.Errorf("README.md's cost summary is %q, make cost writes %q; run make cost", gotSummary, wantSummary)
	}
	got, err := cost.Current("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("README.md's cost section is not what make cost writes; run make cost.\n--- README.md\n%s\n--- make cost\n%s", got, want)
	}
}
