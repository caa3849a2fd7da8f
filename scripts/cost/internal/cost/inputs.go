// Package cost turns what `make bench` measured into what a million images
// cost on AWS: Lambda GB-seconds and requests at the functions' memory
// settings (terraform/variables.tf), S3, SQS, EventBridge, API Gateway and
// CloudWatch Logs requests and bytes, at the prices of one dated data file
// (docs/cost/prices.json). `make cost` writes the result into the README
// between the markers Begin and End; a test holds the README to it.
package cost

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"
)

// Prices is docs/cost/prices.json: one region's on-demand prices in USD,
// with the day they were read and where, and the usage assumptions the
// model needs besides the measurements.
type Prices struct {
	Date     string            `json:"date"`
	Region   string            `json:"region"`
	Currency string            `json:"currency"`
	Note     string            `json:"note"`
	Sources  map[string]string `json:"sources"`
	Lambda   struct {
		Arm64GBSecond      float64 `json:"arm64_gb_second"`
		X8664GBSecond      float64 `json:"x86_64_gb_second"`
		RequestsPerMillion float64 `json:"requests_per_million"`
		MBPerVCPU          float64 `json:"mb_per_vcpu"`
	} `json:"lambda"`
	S3 struct {
		PutClassPer1000 float64 `json:"put_copy_post_list_per_1000"`
		GetClassPer1000 float64 `json:"get_and_other_per_1000"`
		DeletePer1000   float64 `json:"delete_per_1000"`
		StandardGBMonth float64 `json:"standard_gb_month"`
	} `json:"s3"`
	SQS struct {
		RequestsPerMillion float64 `json:"standard_requests_per_million"`
	} `json:"sqs"`
	EventBridge struct {
		CustomEventsPerMillion float64 `json:"custom_events_per_million"`
		S3EventsPerMillion     float64 `json:"opt_in_data_events_per_million"`
		ArchivePerGB           float64 `json:"archive_processed_per_gb"`
	} `json:"eventbridge"`
	APIGateway struct {
		RESTRequestsPerMillion float64 `json:"rest_requests_per_million"`
	} `json:"api_gateway"`
	Logs struct {
		IngestPerGB float64 `json:"ingest_per_gb"`
	} `json:"cloudwatch_logs"`
	Assumptions Assumptions `json:"assumptions"`
}

// Assumptions are the usage figures no benchmark can give: how clients and
// AWS's own machinery use the stack per image.
type Assumptions struct {
	StatusReadsPerImage       float64           `json:"status_reads_per_image"`
	ImagesPerProcessBatch     float64           `json:"images_per_process_invocation"`
	SQSRequestsPerImage       float64           `json:"sqs_requests_per_image"`
	PlatformLogBytesPerInvoke float64           `json:"lambda_platform_log_bytes_per_invocation"`
	AccessLogBytesPerRequest  float64           `json:"api_access_log_bytes_per_request"`
	UploadRetentionDays       float64           `json:"upload_retention_days"`
	Why                       map[string]string `json:"why"`
}

// ReadPrices reads and checks the price file.
func ReadPrices(path string) (*Prices, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var p Prices
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if !regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`).MatchString(p.Date) {
		return nil, fmt.Errorf("%s: date %q is not YYYY-MM-DD: the prices must say when they were read", path, p.Date)
	}
	for _, s := range []string{"lambda", "s3", "sqs", "eventbridge", "api_gateway", "cloudwatch_logs"} {
		if !strings.HasPrefix(p.Sources[s], "https://") {
			return nil, fmt.Errorf("%s: sources.%s must name the page the prices were read from", path, s)
		}
	}
	for name, v := range map[string]float64{
		"lambda.arm64_gb_second": p.Lambda.Arm64GBSecond, "lambda.x86_64_gb_second": p.Lambda.X8664GBSecond,
		"lambda.requests_per_million": p.Lambda.RequestsPerMillion, "lambda.mb_per_vcpu": p.Lambda.MBPerVCPU,
		"s3.put_copy_post_list_per_1000": p.S3.PutClassPer1000, "s3.get_and_other_per_1000": p.S3.GetClassPer1000,
		"s3.standard_gb_month": p.S3.StandardGBMonth, "sqs.standard_requests_per_million": p.SQS.RequestsPerMillion,
		"eventbridge.custom_events_per_million":      p.EventBridge.CustomEventsPerMillion,
		"eventbridge.opt_in_data_events_per_million": p.EventBridge.S3EventsPerMillion,
		"eventbridge.archive_processed_per_gb":       p.EventBridge.ArchivePerGB, "api_gateway.rest_requests_per_million": p.APIGateway.RESTRequestsPerMillion,
		"cloudwatch_logs.ingest_per_gb":             p.Logs.IngestPerGB,
		"assumptions.images_per_process_invocation": p.Assumptions.ImagesPerProcessBatch,
	} {
		if v <= 0 {
			return nil, fmt.Errorf("%s: %s must be a positive number", path, name)
		}
	}
	return &p, nil
}

// Bench is the parsed output of `go test -bench`: each benchmark's metrics
// by unit, its name without the -GOMAXPROCS suffix.
type Bench struct {
	Header  []string // lines before the first result: when, where
	Results map[string]map[string]float64
}

var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+(\d+)\s+(.*)$`)

// ParseBench reads benchmark output; lines that are not results are kept
// as the header while no result has been seen, and ignored after.
func ParseBench(r io.Reader) (*Bench, error) {
	b := &Bench{Results: map[string]map[string]float64{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		m := benchLine.FindStringSubmatch(line)
		if m == nil {
			if len(b.Results) == 0 && strings.TrimSpace(line) != "" && !strings.HasPrefix(line, "Benchmark") {
				b.Header = append(b.Header, line)
			}
			continue
		}
		f := strings.Fields(m[3])
		if len(f)%2 != 0 {
			return nil, fmt.Errorf("benchmark line %q: values and units do not pair", line)
		}
		metrics := map[string]float64{}
		for i := 0; i < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("benchmark line %q: %w", line, err)
			}
			metrics[f[i+1]] = v
		}
		b.Results[m[1]] = metrics
	}
	return b, sc.Err()
}

// Metric returns one measurement, or an error naming what to run.
func (b *Bench) Metric(bench, unit string) (float64, error) {
	r, ok := b.Results[bench]
	if !ok {
		return 0, fmt.Errorf("the bench results have no %s: run make bench", bench)
	}
	v, ok := r[unit]
	if !ok {
		return 0, fmt.Errorf("%s reports no %s: run make bench", bench, unit)
	}
	return v, nil
}

// Metrics returns several measurements of one benchmark, in the order of
// units, or the first error.
func (b *Bench) Metrics(bench string, units ...string) ([]float64, error) {
	out := make([]float64, len(units))
	for i, u := range units {
		v, err := b.Metric(bench, u)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// Header returns the header line starting with prefix, without it.
func (b *Bench) HeaderValue(prefix string) string {
	for _, h := range b.Header {
		if v, ok := strings.CutPrefix(h, prefix); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// Settings are the deployment's figures the model needs, read from the
// variables' defaults and the functions' architecture in terraform/.
type Settings struct {
	ProcessMemoryMB, PresignMemoryMB, NotifyMemoryMB float64
	Architecture                                     string
}

// ReadSettings reads the defaults of the memory variables from
// variables.tf and the architecture local from lambda.tf in dir.
func ReadSettings(dir string) (*Settings, error) {
	p := hclparse.NewParser()
	vars, diags := p.ParseHCLFile(dir + "/variables.tf")
	if diags.HasErrors() {
		return nil, diags
	}
	content, _, diags := vars.Body.PartialContent(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "variable", LabelNames: []string{"name"}}}})
	if diags.HasErrors() {
		return nil, diags
	}
	defaults := map[string]cty.Value{}
	for _, blk := range content.Blocks {
		attrs, _ := blk.Body.JustAttributes()
		if a, ok := attrs["default"]; ok {
			if v, d := a.Expr.Value(nil); !d.HasErrors() {
				defaults[blk.Labels[0]] = v
			}
		}
	}
	s := &Settings{}
	for name, dst := range map[string]*float64{"process_memory_mb": &s.ProcessMemoryMB, "presign_memory_mb": &s.PresignMemoryMB, "notify_memory_mb": &s.NotifyMemoryMB} {
		v, ok := defaults[name]
		if !ok || v.Type() != cty.Number {
			return nil, fmt.Errorf("%s/variables.tf: no number default for %s", dir, name)
		}
		*dst, _ = v.AsBigFloat().Float64()
	}
	lambda, diags := p.ParseHCLFile(dir + "/lambda.tf")
	if diags.HasErrors() {
		return nil, diags
	}
	lc, _, diags := lambda.Body.PartialContent(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "locals"}}})
	if diags.HasErrors() {
		return nil, diags
	}
	for _, blk := range lc.Blocks {
		attrs, _ := blk.Body.JustAttributes()
		if a, ok := attrs["lambda_architecture"]; ok {
			if v, d := a.Expr.Value(nil); !d.HasErrors() && v.Type() == cty.String {
				s.Architecture = v.AsString()
			}
		}
	}
	if s.Architecture != "arm64" && s.Architecture != "x86_64" {
		return nil, fmt.Errorf("%s/lambda.tf: local lambda_architecture is %q, want arm64 or x86_64", dir, s.Architecture)
	}
	return s, nil
}
