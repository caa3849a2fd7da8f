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

// Section computes the README section from the files.
func (f Files) Section() (string, error) {
	section, _, err := f.Both()
	return section, err
}

// Both computes the README section and its one-line summary.
func (f Files) Both() (string, string, error) {
	raw, err := os.Open(f.Bench)
	if err != nil {
		return "", "", fmt.Errorf("%w (make bench writes it)", err)
	}
	defer raw.Close()
	b, err := ParseBench(raw)
	if err != nil {
		return "", "", fmt.Errorf("%s: %w", f.Bench, err)
	}
	p, err := ReadPrices(f.Prices)
	if err != nil {
		return "", "", err
	}
	s, err := ReadSettings(f.Terraform)
	if err != nil {
		return "", "", err
	}
	images, err := Model(b, p, s)
	if err != nil {
		return "", "", fmt.Errorf("%s: %w", f.Bench, err)
	}
	return Render(b, p, s, images), Summary(images), nil
}

// Current returns the README's section between the markers, markers
// included.
func Current(readme string) (string, error) {
	raw, err := os.ReadFile(readme)
	if err != nil {
		return "", err
	}
	text := string(raw)
	i := strings.Index(text, Begin)
	j := strings.Index(text, End)
	if i < 0 || j < i {
		return "", fmt.Errorf("%s has no cost section (%s ... %s)", readme, Begin, End)
	}
	end := j + len(End)
	if end < len(text) && text[end] == '\n' {
		end++
	}
	return text[i:end], nil
}

// CurrentSummary returns the README's one-line summary, markers included.
func CurrentSummary(readme string) (string, error) {
	raw, err := os.ReadFile(readme)
	if err != nil {
		return "", err
	}
	text := string(raw)
	i := strings.Index(text, SummaryBegin)
	j := strings.Index(text, SummaryEnd)
	if i < 0 || j < i {
		return "", fmt.Errorf("%s has no cost summary (%s ... %s)", readme, SummaryBegin, SummaryEnd)
	}
	return text[i : j+len(SummaryEnd)], nil
}

// Splice replaces the README's section and summary.
func Splice(readme, section, summary string) error {
	cur, err := Current(readme)
	if err != nil {
		return err
	}
	curSummary, err := CurrentSummary(readme)
	if err != nil {
		return err
	}
	raw, err := os.ReadFile(readme)
	if err != nil {
		return err
	}
	text := strings.Replace(string(raw), cur, section, 1)
	text = strings.Replace(text, curSummary, summary, 1)
	return os.WriteFile(readme, []byte(text), 0o644)
}
