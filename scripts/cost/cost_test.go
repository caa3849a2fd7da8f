package main

import (
	"testing"

	"github.com/imagepipe/imagepipe/scripts/cost/internal/cost"
)

// TestREADMEMatchesMakeCost: the README's cost section is exactly what
// `make cost` writes from the recorded bench, the price file and
// terraform/, so no figure in it is typed by hand or left stale.
func TestREADMEMatchesMakeCost(t *testing.T) {
	want, err := cost.Files{Bench: "../../docs/bench.txt", Prices: "../../docs/cost/prices.json", Terraform: "../../terraform"}.Generate()
	if err != nil {
		t.Fatal(err)
	}
	got, err := cost.Current("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct{ name, got, want string }{
		{"cost section", got.Section, want.Section},
		{"cost summary", got.Summary, want.Summary},
		{"binaries' table", got.Binaries, want.Binaries},
	} {
		if p.got != p.want {
			t.Errorf("README.md's %s is not what make cost writes; run make cost.\n--- README.md\n%s\n--- make cost\n%s", p.name, p.got, p.want)
		}
	}
}
