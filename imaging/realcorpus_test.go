package imaging

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestRealCorpus runs every file of the real-photo corpus (scripts/corpus.sh,
// `make corpus`) through the image steps and compares the gray with the
// references the script computed: Pillow's gray (colour-managed when the
// file carries a profile) and, for JPEG, libjpeg-turbo's Y plane. Without
// a corpus it is skipped, except under CI=true, where .ci/run builds one.
//
// A file is "wrong" when it is accepted but its gray is more than a level
// off on average (JPEG: from both references); a refusal of a file that
// Pillow reads must be unsupported_format. The table goes to the log, and
// to IMAGEPIPE_CORPUS_REPORT when set.
func TestRealCorpus(t *testing.T) {
	dir := os.Getenv("IMAGEPIPE_CORPUS")
	if dir == "" {
		dir = filepath.Join("..", ".corpus")
	}
	raw, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no corpus under CI (make corpus builds it): %v", err)
		}
		t.Skipf("no corpus (%v): make corpus builds it", err)
	}
	var m struct {
		Go      string
		XImage  string `json:"x_image"`
		Entries []corpusEntry
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	rows := map[string]*corpusRow{}
	var problems []string
	for _, e := range m.Entries {
		data, err := os.ReadFile(filepath.Join(dir, e.File))
		if err != nil {
			t.Fatal(err)
		}
		format := corpusFormat(e, data)
		row := rows[format]
		if row == nil {
			row = &corpusRow{format: format, refusals: map[string]int{}}
			rows[format] = row
		}
		row.files++
		g, err := corpusGray(data)
		pillowOK := e.PillowError == ""
		if why, ok := knownDifferences[filepath.Base(e.File)]; ok && err == nil && pillowOK {
			row.known++
			t.Logf("%s: known difference from Pillow: %s", e.File, why)
			continue
		}
		switch {
		case err != nil && !pillowOK:
			row.bothRefused++
		case err != nil:
			row.refused++
			row.refusals[Code(err)+": "+shorten(Reason(err))]++
			if Code(err) != "unsupported_format" {
				problems = append(problems, fmt.Sprintf("%s: refused as %v, Pillow reads it", e.File, err))
			}
		case !pillowOK:
			row.onlyOurs++
		default:
			row.accepted++
			mean, maxd, ok := e.compare(dir, g)
			row.sum += mean
			row.n++
			row.max = max(row.max, maxd)
			if e.hasGap {
				row.gap += e.gapMean
				row.gapN++
			}
			limit := 1.0
			if !ok || mean > limit {
				row.wrong++
				problems = append(problems, fmt.Sprintf("%s: mean |diff| %.2f (max %d) from the reference, size ok=%v", e.File, mean, maxd, ok))
			}
		}
	}
	report := corpusTable(m.Go, m.XImage, rows)
	t.Log("\n" + report)
	if p := os.Getenv("IMAGEPIPE_CORPUS_REPORT"); p != "" {
		os.WriteFile(p, []byte(report+strings.Join(problems, "\n")+"\n"), 0o644)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// knownDifferences are files on which we differ from Pillow on purpose, or
// for a reason owned elsewhere.
var knownDifferences = map[string]string{
	"image-outside-bg.gif": "a frame past the logical screen: Pillow grows the canvas, we clip to the screen (as gdk-pixbuf's expected image and browsers do)",
	"image-overlap-bg.gif": "a frame past the logical screen: Pillow grows the canvas, we clip to the screen",
	"invalid-colors.gif":   "an index past the palette: Pillow shows its default gray ramp (level = index), we show black as image/png does",
	"video-001.rgb.jpeg":   "RGB JPEG with subsampled G and B, upsampled nearest-neighbour: the JPEG decoder's part of issue 16",
}

type corpusEntry struct {
	File         string
	Origin       string
	ID           int
	PillowFormat string `json:"pillow_format"`
	PillowError  string `json:"pillow_error"`
	W, H         int
	hasGap       bool    // a JPEG with both references
	gapMean      float64 // mean |Pillow's L - the Y plane|: what "gray" can mean for it
}

type corpusRow struct {
	format                                                        string
	files, accepted, refused, bothRefused, onlyOurs, wrong, known int
	n                                                             int
	sum                                                           float64
	max                                                           int
	gap                                                           float64
	gapN                                                          int
	refusals                                                      map[string]int
}

// corpusFormat names a file's format: ours when we sniff it, else Pillow's,
// else its extension.
func corpusFormat(e corpusEntry, data []byte) string {
	if f, _ := Sniff(data); f != "" {
		return f
	}
	if e.PillowFormat != "" {
		return strings.ToLower(e.PillowFormat)
	}
	return strings.ToLower(strings.TrimPrefix(filepath.Ext(e.File), ".")) + "?"
}

func shorten(s string) string {
	if i := strings.IndexAny(s, "0123456789"); i > 12 {
		s = s[:i]
	}
	return strings.TrimSpace(s[:min(len(s), 60)])
}

// compare returns the mean and largest difference of our gray from the
// best-fitting reference: Pillow's (colour-managed, or of the stored
// numbers when we say we did not apply a profile) and for JPEG also the
// Y plane. Only pixels that Pillow says are opaque count.
func (e *corpusEntry) compare(dir string, g corpusResult) (mean float64, maxd int, ok bool) {
	read := func(ext string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, "refs", fmt.Sprintf("%d.%s", e.ID, ext)))
		if err != nil {
			return nil
		}
		return b
	}
	if g.w != e.W || g.h != e.H {
		return 0, 0, false
	}
	alpha := read("A")
	refs := [][]byte{read("L")}
	if g.profile == "" && read("P") != nil {
		refs = [][]byte{read("P")} // we did not convert: the stored numbers' gray
	}
	y := read("Y")
	if y != nil {
		refs = append(refs, y)
	}
	best := -1.0
	for _, ref := range refs {
		if len(ref) != len(g.l) {
			continue
		}
		var a, b []byte
		for i := range ref {
			if alpha == nil || alpha[i] == 255 {
				a, b = append(a, g.l[i]), append(b, ref[i])
			}
		}
		md, mn := compare(a, b)
		if best < 0 || mn < best {
			best, maxd = mn, md
		}
	}
	plain := read("P")
	if plain == nil {
		plain = read("L")
	}
	if y != nil && len(y) == len(plain) {
		_, e.gapMean = compare(plain, y) // both of the stored numbers
		e.hasGap = true
	}
	return best, maxd, best >= 0
}

func corpusTable(goVersion, xImage string, rows map[string]*corpusRow) string {
	var b strings.Builder
	fmt.Fprintf(&b, "corpus (Go %s, %s): per format\n", goVersion, xImage)
	fmt.Fprintf(&b, "%-8s %6s %8s %8s %6s %6s %8s %10s %10s %8s %s\n", "format", "files", "accepted", "refused", "wrong", "known", "both-ref", "only-ours", "mean|d|", "max|d|", "Pillow L vs Y plane (JPEG)")
	var keys []string
	for k := range rows {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		r := rows[k]
		mean, gap := "-", "-"
		if r.n > 0 {
			mean = fmt.Sprintf("%.3f", r.sum/float64(r.n))
		}
		if r.gapN > 0 {
			gap = fmt.Sprintf("%.3f over %d files", r.gap/float64(r.gapN), r.gapN)
		}
		fmt.Fprintf(&b, "%-8s %6d %8d %8d %6d %6d %8d %10d %10s %8d %s\n", k, r.files, r.accepted, r.refused, r.wrong, r.known, r.bothRefused, r.onlyOurs, mean, r.max, gap)
		var rs []string
		for why, n := range r.refusals {
			rs = append(rs, fmt.Sprintf("    refused %dx %s", n, why))
		}
		sort.Strings(rs)
		for _, s := range rs {
			b.WriteString(s + "\n")
		}
	}
	return b.String()
}
