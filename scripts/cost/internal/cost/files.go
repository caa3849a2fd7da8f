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
	raw, err := os.Open(f.Bench)
	if err != nil {
		return "", fmt.Errorf("%w (make bench writes it)", err)
	}
	defer raw.Close()
	b, err := ParseBench(raw)
	if err != nil {
		return "", fmt.Errorf("%s: %w", f.Bench, err)
	}
	p, err := ReadPrices(f.Prices)
	if err != nil {
		return "", err
	}
	s, err := ReadSettings(f.Terraform)
	if err != nil {
		return "", err
	}
	images, err := Model(b, p, s)
	if err != nil {
		return "", fmt.Errorf("%s: %w", f.Bench, err)
	}
	return Render(b, p, s, images), nil
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

// Splice replaces the README's section with section.
func Splice(readme, section string) error {
	cur, err := Current(readme)
	if err != nil {
		return err
	}
	raw, err := os.ReadFile(readme)
	if err != nil {
		return err
	}
	return os.WriteFile(readme, []byte(strings.Replace(string(raw), cur, section, 1)), 0o644)
}
