// Command cost turns the recorded `make bench` results into dollars per
// million images on AWS and writes them into the README (make cost), with
// the other figures the README quotes from the bench record (the Lambda
// binaries' table, the measured choices, figures marked in its prose):
//
//	go run ./scripts/cost            # print the README section
//	go run ./scripts/cost -write     # replace it in README.md
//
// Inputs: docs/bench.txt (written by make bench), docs/cost/prices.json
// (the dated price table and the usage assumptions) and terraform/ (the
// functions' memory settings and architecture).
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/imagepipe/imagepipe/scripts/cost/internal/cost"
)

func main() {
	var c cost.Files
	flag.StringVar(&c.Bench, "bench", "docs/bench.txt", "benchmark results (make bench)")
	flag.StringVar(&c.Prices, "prices", "docs/cost/prices.json", "dated price table")
	flag.StringVar(&c.Terraform, "terraform", "terraform", "Terraform directory (memory settings, architecture)")
	readme := flag.String("readme", "README.md", "README whose cost section -write replaces")
	write := flag.Bool("write", false, "replace the section in -readme instead of printing it")
	flag.Parse()
	g, err := c.Generate()
	if err != nil {
		fmt.Fprintln(os.Stderr, "cost:", err)
		os.Exit(1)
	}
	if !*write {
		fmt.Print(g.Section + "\n" + g.Summary + "\n\n" + g.Binaries + "\n" + g.Choices)
		return
	}
	if err := cost.Splice(*readme, g); err != nil {
		fmt.Fprintln(os.Stderr, "cost:", err)
		os.Exit(1)
	}
	fmt.Printf("cost: %s updated from %s and %s\n", *readme, c.Bench, c.Prices)
}
