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
// its markers.
type Generated struct {
	Section, Summary, Binaries string
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
	return &Generated{Section: Render(b, p, s, images), Summary: Summary(images), Binaries: bins}, nil
}

// Current reads the README's generated parts, markers included.
func Current(readme string) (*Generated, error) {
	raw, err := os.ReadFile(readme)
	if err != nil {
		return nil, err
	}
	text := string(raw)
	var g Generated
	for _, part := range []struct {
		dst        *string
		begin, end string
		line       bool // the part ends its line
	}{{&g.Section, Begin, End, true}, {&g.Summary, SummaryBegin, SummaryEnd, false}, {&g.Binaries, BinariesBegin, BinariesEnd, true}} {
		i := strings.Index(text, part.begin)
		j := strings.Index(text, part.end)
		if i < 0 || j < i {
			return nil, fmt.Errorf("%s lacks %s ... %s", readme, part.begin, part.end)
		}
		end := j + len(part.end)
		if part.line && end < len(text) && text[end] == '\n' {
			end++
		}
		*part.dst = text[i:end]
	}
	return &g, nil
}

// Splice replaces the README's generated parts with g's.
func Splice(readme string, g *Generated) error {
	cur, err := Current(readme)
	if err != nil {
		return err
	}
	raw, err := os.ReadFile(readme)
	if err != nil {
		return err
	}
	text := strings.Replace(string(raw), cur.Section, g.Section, 1)
	text = strings.Replace(text, cur.Summary, g.Summary, 1)
	text = strings.Replace(text, cur.Binaries, g.Binaries, 1)
	return os.WriteFile(readme, []byte(text), 0o644)
}
