package cost

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const benchOut = `# make bench: 2026-12-02, 2 cores, load average 0.10 0.20 0.30 at the start
goos: linux
cpu: Test CPU
BenchmarkBinaries/warm/process-2MP-2     	       9	 246764967 ns/op	   2.44 MB/s	        100 cpu-ms	        30 peak-MB	       243.9 report-ms
BenchmarkBinaries/warm/process-12MP-2    	       1	1302678431 ns/op	   2.74 MB/s	        500 cpu-ms	        50 peak-MB	      1287 report-ms
BenchmarkBinaries/warm/presign-2         	     272	   5505606 ns/op	         2 cpu-ms	         4.305 report-ms
BenchmarkBinaries/warm/notify-2          	     150	   7894231 ns/op	         3 cpu-ms	         6.849 report-ms
BenchmarkRequestsPerImage/2MP-2 	5	 1 ns/op	 1000 completion-bytes/img	1 events-put/img	2000 log-bytes/img	500000 output-bytes/img	1 s3-delete/img	500 s3-event-bytes/img	7 s3-get/img	7 s3-put/img	600000 source-bytes/img
BenchmarkRequestsPerImage/12MP-2 	5	 1 ns/op	 1000 completion-bytes/img	1 events-put/img	2000 log-bytes/img	3000000 output-bytes/img	1 s3-delete/img	500 s3-event-bytes/img	7 s3-get/img	7 s3-put/img	3000000 source-bytes/img
PASS
`

func testPrices(t *testing.T) *Prices {
	t.Helper()
	p, err := ReadPrices("../../../../docs/cost/prices.json")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseBench(t *testing.T) {
	b, err := ParseBench(strings.NewReader(benchOut))
	if err != nil {
		t.Fatal(err)
	}
	if v, err := b.Metric("BenchmarkBinaries/warm/process-12MP", "peak-MB"); err != nil || v != 50 {
		t.Errorf("peak-MB = %v, %v", v, err)
	}
	if v, _ := b.Metric("BenchmarkRequestsPerImage/2MP", "s3-put/img"); v != 7 {
		t.Errorf("s3-put/img = %v", v)
	}
	if got := b.HeaderValue("cpu:"); got != "Test CPU" {
		t.Errorf("cpu header %q", got)
	}
	if _, err := b.Metric("BenchmarkNope", "cpu-ms"); err == nil || !strings.Contains(err.Error(), "make bench") {
		t.Errorf("a missing benchmark: %v, want an error naming make bench", err)
	}
}

// TestModel checks the arithmetic against numbers worked out by hand from
// the prices and the fixture.
func TestModel(t *testing.T) {
	b, _ := ParseBench(strings.NewReader(benchOut))
	p := testPrices(t)
	s := &Settings{ProcessMemoryMB: 1769, PresignMemoryMB: 256, NotifyMemoryMB: 128, Architecture: "arm64"}
	images, err := Model(b, p, s)
	if err != nil {
		t.Fatal(err)
	}
	im := images[0]
	// 100 ms CPU at exactly one vCPU: 100 ms billed, 1769/1024 GB for 0.1 s.
	if im.ProcessDurMs != 100 || math.Abs(im.ProcessGBs-1769.0/1024*0.1) > 1e-12 {
		t.Errorf("process: %v ms, %v GB-s", im.ProcessDurMs, im.ProcessGBs)
	}
	// 2 ms CPU at 256 MB (0.1447 vCPU): ceil(13.82) = 14 ms, twice.
	if im.PresignDurMs != 14 || math.Abs(im.PresignGBs-2*0.25*0.014) > 1e-12 {
		t.Errorf("presign: %v ms, %v GB-s", im.PresignDurMs, im.PresignGBs)
	}
	line := func(what string) float64 {
		for _, l := range im.Lines {
			if l.What == what {
				return l.Dollars
			}
		}
		t.Fatalf("no line %q", what)
		return 0
	}
	near := func(name string, got, want float64) {
		if math.Abs(got-want) > 1e-9*math.Max(1, want) {
			t.Errorf("%s: $%v per million, want $%v", name, got, want)
		}
	}
	near("Lambda process", line("Lambda process"), 1e6*(1769.0/1024*0.1*p.Lambda.Arm64GBSecond)+p.Lambda.RequestsPerMillion)
	// 8 PUT-class (7 + the client's upload), 7 GET-class, 1 DELETE.
	near("S3 requests", line("S3 requests"), 8*p.S3.PutClassPer1000*1000+7*p.S3.GetClassPer1000*1000+p.S3.DeletePer1000*1000)
	near("API Gateway (REST)", line("API Gateway (REST)"), 2*p.APIGateway.RESTRequestsPerMillion)
	near("EventBridge events", line("EventBridge events"), p.EventBridge.S3EventsPerMillion+p.EventBridge.CustomEventsPerMillion)
	near("EventBridge archives", line("EventBridge archives"), 1e6*1500/(1<<30)*p.EventBridge.ArchivePerGB)
	total := 0.0
	for _, l := range im.Lines {
		total += l.Dollars
	}
	near("total", im.Total, total)

	// Memory does not change CPU-bound GB-seconds below one vCPU.
	s.ProcessMemoryMB = 884.5
	half, _ := Model(b, p, s)
	if math.Abs(half[0].ProcessGBs-im.ProcessGBs) > 1e-9 || half[0].ProcessDurMs != 200 {
		t.Errorf("at half a vCPU: %v ms, %v GB-s; want 200 ms and the same GB-s", half[0].ProcessDurMs, half[0].ProcessGBs)
	}
}

func TestReadPricesRefusesUndated(t *testing.T) {
	raw, err := os.ReadFile("../../../../docs/cost/prices.json")
	if err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(string) string{
		"no date":     func(s string) string { return strings.Replace(s, `"date": "2026-12-02"`, `"date": "December"`, 1) },
		"no source":   func(s string) string { return strings.Replace(s, `"https://aws.amazon.com/sqs/pricing/"`, `""`, 1) },
		"unknown key": func(s string) string { return strings.Replace(s, `"currency"`, `"currencyy"`, 1) },
		"a zero price": func(s string) string {
			return strings.Replace(s, `"requests_per_million": 0.20`, `"requests_per_million": 0`, 1)
		},
	} {
		t.Run(name, func(t *testing.T) {
			changed := edit(string(raw))
			if changed == string(raw) {
				t.Fatal("the edit changed nothing: the fixture moved")
			}
			path := filepath.Join(t.TempDir(), "prices.json")
			os.WriteFile(path, []byte(changed), 0o644)
			if _, err := ReadPrices(path); err == nil {
				t.Error("accepted")
			}
		})
	}
}

func TestReadSettings(t *testing.T) {
	s, err := ReadSettings("../../../../terraform")
	if err != nil {
		t.Fatal(err)
	}
	if s.ProcessMemoryMB < 128 || s.PresignMemoryMB < 128 || s.NotifyMemoryMB < 128 || s.Architecture != "arm64" {
		t.Errorf("%+v", s)
	}
}

func TestFillFigures(t *testing.T) {
	b, _ := ParseBench(strings.NewReader(benchOut))
	in := "CPU <!-- bench BenchmarkBinaries/warm/process-12MP cpu-ms -->12<!-- /bench --> ms, peak <!-- bench BenchmarkBinaries/warm/process-2MP peak-MB -->30<!-- /bench --> MB"
	out, n, err := FillFigures(in, b)
	if err != nil || n != 2 {
		t.Fatalf("%d figures, %v", n, err)
	}
	if want := strings.Replace(in, "-->12<", "-->500<", 1); out != want {
		t.Errorf("got %q, want %q", out, want)
	}
	if _, _, err := FillFigures("<!-- bench BenchmarkNope cpu-ms -->1<!-- /bench -->", b); err == nil {
		t.Error("a figure of an unknown benchmark was accepted")
	}
}

func TestRenderChoicesNeedsItsBenchmarks(t *testing.T) {
	b, _ := ParseBench(strings.NewReader(benchOut))
	if _, err := RenderChoices(b, testPrices(t)); err == nil || !strings.Contains(err.Error(), "make bench") {
		t.Errorf("without the thumbnail and ranged-GET results: %v, want an error naming make bench", err)
	}
}

// TestSpliceReplacesEveryOccurrence: a part the README repeats (the
// summary, at the top and in the cost section) is replaced everywhere.
func TestSpliceReplacesEveryOccurrence(t *testing.T) {
	g := &Generated{
		Section: Begin + "\nnew section\n" + End + "\n", Summary: SummaryBegin + "new" + SummaryEnd,
		Binaries: BinariesBegin + "\nnew\n" + BinariesEnd + "\n", Choices: ChoicesBegin + "\nnew\n" + ChoicesEnd + "\n",
	}
	g.Bench, _ = ParseBench(strings.NewReader(benchOut))
	old := "top " + SummaryBegin + "old" + SummaryEnd + "\n" + Begin + "\nold\n" + End + "\nmid " + SummaryBegin + "old" + SummaryEnd + "\n" +
		BinariesBegin + "\nold\n" + BinariesEnd + "\n" + ChoicesBegin + "\nold\n" + ChoicesEnd + "\n"
	path := filepath.Join(t.TempDir(), "README.md")
	os.WriteFile(path, []byte(old), 0o644)
	if err := Splice(path, g); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	if strings.Contains(string(got), "old") || strings.Count(string(got), SummaryBegin+"new"+SummaryEnd) != 2 {
		t.Errorf("after Splice:\n%s", got)
	}
	cur, err := Current(path)
	if err != nil || *cur != (Generated{Section: g.Section, Summary: g.Summary, Binaries: g.Binaries, Choices: g.Choices}) {
		t.Errorf("Current after Splice: %+v, %v", cur, err)
	}
}
