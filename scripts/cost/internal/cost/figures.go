package cost

import (
	"fmt"
	"regexp"
)

// A figure in the README's prose that comes from the bench record is
// written between markers naming the benchmark and the unit:
//
//	<!-- bench BenchmarkUploadToDone/serial p50-ms -->80.9<!-- /bench --> ms
//
// make cost fills in the value; a test fails when one differs.
var figure = regexp.MustCompile(`<!-- bench (Benchmark\S+) (\S+) -->([^<]*)<!-- /bench -->`)

// FillFigures returns text with every marked figure set from b, and how
// many it found; an unknown benchmark or unit is an error.
func FillFigures(text string, b *Bench) (string, int, error) {
	var err error
	n := 0
	out := figure.ReplaceAllStringFunc(text, func(m string) string {
		sub := figure.FindStringSubmatch(m)
		v, e := b.Metric(sub[1], sub[2])
		if e != nil {
			if err == nil {
				err = fmt.Errorf("figure %q: %w", m, e)
			}
			return m
		}
		n++
		return fmt.Sprintf("<!-- bench %s %s -->%s<!-- /bench -->", sub[1], sub[2], num(v))
	})
	return out, n, err
}
