package main

import (
	"os"
	"testing"

	"github.com/imagepipe/imagepipe/scripts/cost/internal/cost"
)

// TestREADMEMatchesMakeCost: the README's generated parts (the cost
// section and summary, the binaries' table, the measured choices) are exactly what
// `make cost` writes from the recorded bench, the price file and
// terraform/, so no figure in it is typed by hand or left stale.
func TestREADMEMatchesMakeCost(t *testing.T) {
	want := generate(t)
	got, err := cost.Current("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct{ name, got, want string }{
		{"cost section", got.Section, want.Section},
		{"cost summary", got.Summary, want.Summary},
		{"binaries' table", got.Binaries, want.Binaries},
		{"measured choices", got.Choices, want.Choices},
	} {
		if p.got != p.want {
			t.Errorf("README.md's %s is not what make cost writes; run make cost.\n--- README.md\n%s\n--- make cost\n%s", p.name, p.got, p.want)
		}
	}
}

// TestREADMEFiguresMatchBench: every figure the README's prose marks as
// coming from the bench record is the recorded value.
func TestREADMEFiguresMatchBench(t *testing.T) {
	g := generate(t)
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	want, n, err := cost.FillFigures(string(raw), g.Bench)
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Error("the README marks no figure from the bench record (<!-- bench Benchmark... unit -->)")
	}
	if want != string(raw) {
		t.Error("a figure marked in README.md is not the recorded one; run make cost")
	}
}

// generate is what make cost writes from the repository's files.
func generate(t *testing.T) *cost.Generated {
	t.Helper()
	g, err := cost.Files{Bench: "../../docs/bench.txt", Prices: "../../docs/cost/prices.json", Terraform: "../../terraform"}.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return g
}
