package cost

import (
	"fmt"
	"os"
	"strings"
)

// Files are the inputs of the README section.
type Files struct {
	Bench, Prices, Terraform string
}

// Generated is what make cost writes into the README, each part with
// its markers, and the bench record the README's marked figures come from.
type Generated struct {
	Section, Summary, Binaries, Choices string
	Bench                               *Bench
}

// Generate computes the README's generated parts from the files.
func (f Files) Generate() (*Generated, error) {
	raw, err := os.Open(f.Bench)
	if err != nil {
		return nil, fmt.Errorf("%w (make bench writes it)", err)
	}
	defer raw.Close()
	b, err := ParseBench(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Bench, err)
	}
	p, err := ReadPrices(f.Prices)
	if err != nil {
		return nil, err
	}
	s, err := ReadSettings(f.Terraform)
	if err != nil {
		return nil, err
	}
	images, err := Model(b, p, s)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Bench, err)
	}
	bins, err := RenderBinaries(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Bench, err)
	}
	choices, err := RenderChoices(b, p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Bench, err)
	}
	return &Generated{Section: Render(b, p, s, images), Summary: Summary(images), Binaries: bins, Choices: choices, Bench: b}, nil
}

// part is one generated part of the README: where it is kept in
// Generated and its markers.
type part struct {
	dst        func(*Generated) *string
	begin, end string
	line       bool // the part ends its line
}

var parts = []part{
	{func(g *Generated) *string { return &g.Section }, Begin, End, true},
	{func(g *Generated) *string { return &g.Summary }, SummaryBegin, SummaryEnd, false},
	{func(g *Generated) *string { return &g.Binaries }, BinariesBegin, BinariesEnd, true},
	{func(g *Generated) *string { return &g.Choices }, ChoicesBegin, ChoicesEnd, true},
}

// Current reads the README's generated parts, markers included. A part
// the README holds more than once (the summary) must be the same each
// time, or the first that differs is returned.
func Current(readme string) (*Generated, error) {
	raw, err := os.ReadFile(readme)
	if err != nil {
		return nil, err
	}
	var g Generated
	for _, p := range parts {
		occ := occurrences(string(raw), p)
		if len(occ) == 0 {
			return nil, fmt.Errorf("%s lacks %s ... %s", readme, p.begin, p.end)
		}
		*p.dst(&g) = occ[0]
		for _, o := range occ[1:] {
			if o != occ[0] {
				*p.dst(&g) = o
			}
		}
	}
	return &g, nil
}

// occurrences are the texts of every occurrence of a part, markers
// included.
func occurrences(text string, p part) []string {
	var out []string
	for from := 0; ; {
		i := strings.Index(text[from:], p.begin)
		if i < 0 {
			return out
		}
		i += from
		j := strings.Index(text[i:], p.end)
		if j < 0 {
			return out
		}
		end := i + j + len(p.end)
		if p.line && end < len(text) && text[end] == '\n' {
			end++
		}
		out = append(out, text[i:end])
		from = end
	}
}

// Splice replaces the README's generated parts with g's and fills in its
// marked figures.
func Splice(readme string, g *Generated) error {
	raw, err := os.ReadFile(readme)
	if err != nil {
		return err
	}
	text := string(raw)
	for _, p := range parts {
		occ := occurrences(text, p)
		if len(occ) == 0 {
			return fmt.Errorf("%s lacks %s ... %s", readme, p.begin, p.end)
		}
		for _, o := range occ {
			text = strings.Replace(text, o, *p.dst(g), 1)
		}
	}
	text, _, err = FillFigures(text, g.Bench)
	if err != nil {
		return fmt.Errorf("%s: %w", readme, err)
	}
	return os.WriteFile(readme, []byte(text), 0o644)
}
