package metrics

import (
	"log/slog"
	"sort"
	"strings"
	"time"
)

// Namespace is the CloudWatch namespace of every imagepipe metric.
const Namespace = "imagepipe"

// EnvStack is the environment variable that names the stack (Terraform's
// name), the value of the Stack dimension; the functions need it on Lambda,
// where a wrong default would file the metrics under another stack.
// DefaultStack is the local stack's name and Terraform's default.
const (
	EnvStack     = "IMAGEPIPE_STACK"
	DefaultStack = "imagepipe"
)

// Unit is a CloudWatch metric unit.
type Unit string

// The units the catalog uses.
const (
	Count        Unit = "Count"
	Milliseconds Unit = "Milliseconds"
	Bytes        Unit = "Bytes"
	Megabytes    Unit = "Megabytes"
	None         Unit = "None"
)

// Dimension names.
const (
	Stack     = "Stack"
	ErrorCode = "ErrorCode"
	Function  = "Function"
	Outcome   = "Outcome"
)

// Metric is one metric of the catalog.
type Metric struct {
	Name string
	Unit Unit
	// Dimensions are the dimension sets the metric is published with:
	// {Stack} for the stack's total, {Stack, ErrorCode} for a breakdown.
	Dimensions [][]string
	Help       string
}

var (
	stackOnly = [][]string{{Stack}}

	// ImagesDone counts images the worker finished: outputs written and
	// "Image Processed" emitted.
	ImagesDone = Metric{Name: "ImagesDone", Unit: Count, Dimensions: stackOnly,
		Help: "Images processed: outputs written and Image Processed emitted."}
	// ImagesFailed counts images the worker gave up on, by error code
	// (permanent errors, and retries_exhausted on the last attempt).
	ImagesFailed = Metric{Name: "ImagesFailed", Unit: Count, Dimensions: [][]string{{Stack}, {Stack, ErrorCode}},
		Help: "Images failed, by error code: Image Processing Failed emitted."}
	// DuplicatesSkipped counts events for images already done from the same
	// source (at-least-once delivery, replays).
	DuplicatesSkipped = Metric{Name: "DuplicatesSkipped", Unit: Count, Dimensions: stackOnly,
		Help: "Upload events skipped because the image was already done from the same source."}
	// TransientErrors counts attempts that failed transiently and will be
	// retried (the message comes back after the visibility timeout).
	TransientErrors = Metric{Name: "TransientErrors", Unit: Count, Dimensions: stackOnly,
		Help: "Attempts that failed transiently (S3, the bus, a deadline) and will be retried."}
	// ProcessingTime is the worker's time on one image, from receiving its
	// event to emitting "Image Processed".
	ProcessingTime = Metric{Name: "ProcessingTime", Unit: Milliseconds, Dimensions: stackOnly,
		Help: "Worker time per image done, from receiving the event to emitting Image Processed."}
	// InputBytes is the size of each source image.
	InputBytes = Metric{Name: "InputBytes", Unit: Bytes, Dimensions: stackOnly,
		Help: "Size of each source image done."}
	// InputMegapixels is the pixel count of each source image, in millions.
	InputMegapixels = Metric{Name: "InputMegapixels", Unit: None, Dimensions: stackOnly,
		Help: "Pixels of each source image done, in millions."}
	// QueueToDoneTime is the time from the upload event entering the
	// process queue to the image being done (queueing, retries, work).
	QueueToDoneTime = Metric{Name: "QueueToDoneTime", Unit: Milliseconds, Dimensions: stackOnly,
		Help: "Time from the upload event entering the process queue to the image being done."}
	// StatusUpdates counts the status records notify wrote, by outcome.
	StatusUpdates = Metric{Name: "StatusUpdates", Unit: Count, Dimensions: [][]string{{Stack, Outcome}},
		Help: "Status records written by notify, by outcome (done, failed)."}
	// StatusDelay is the time from a completion event to its status record
	// being written (the bus, Lambda's async queue, notify).
	StatusDelay = Metric{Name: "StatusDelay", Unit: Milliseconds, Dimensions: stackOnly,
		Help: "Time from a completion event to its status record being written."}
	// PeakMemory is the function's resident memory high-water mark, the
	// figure Lambda's REPORT line calls Max Memory Used.
	PeakMemory = Metric{Name: "PeakMemory", Unit: Megabytes, Dimensions: [][]string{{Stack, Function}},
		Help: "Peak resident memory of the function's process."}
)

// Catalog lists every metric the functions emit.
func Catalog() []Metric {
	return []Metric{ImagesDone, ImagesFailed, DuplicatesSkipped, TransientErrors, ProcessingTime,
		InputBytes, InputMegapixels, QueueToDoneTime, StatusUpdates, StatusDelay, PeakMemory}
}

// Lookup finds a metric of the catalog by name.
func Lookup(name string) (Metric, bool) {
	for _, m := range Catalog() {
		if m.Name == name {
			return m, true
		}
	}
	return Metric{}, false
}

// Sample is one value of one metric.
type Sample struct {
	Metric Metric
	Value  float64
}

// Line is the metrics one log line carries, with the values of their
// dimensions.
type Line struct {
	Dimensions map[string]string
	Samples    []Sample
}

// AWSKey is the member of an embedded-metric document that holds its
// metadata.
const AWSKey = "_aws"

// Attrs returns the attributes that make a JSON log line an embedded
// metric format document: the dimension values and metric values as
// top-level members, and "_aws" with the directives (one per distinct set
// of dimension sets). A dimension set naming a dimension the line has no
// value for is left out (ImagesFailed without an ErrorCode is published
// only with Stack).
func (l Line) Attrs(at time.Time) []slog.Attr {
	type directive struct {
		Namespace  string              `json:"Namespace"`
		Dimensions [][]string          `json:"Dimensions"`
		Metrics    []map[string]string `json:"Metrics"`
	}
	var (
		directives []*directive
		byDims     = map[string]*directive{}
		attrs      []slog.Attr
		usedDims   = map[string]bool{}
	)
	for _, s := range l.Samples {
		var sets [][]string
		for _, set := range s.Metric.Dimensions {
			complete := true
			for _, d := range set {
				if l.Dimensions[d] == "" {
					complete = false
				}
			}
			if complete {
				sets = append(sets, set)
			}
		}
		if len(sets) == 0 {
			continue
		}
		key := dimsKey(sets)
		d, ok := byDims[key]
		if !ok {
			d = &directive{Namespace: Namespace, Dimensions: sets}
			byDims[key] = d
			directives = append(directives, d)
			for _, set := range sets {
				for _, name := range set {
					usedDims[name] = true
				}
			}
		}
		d.Metrics = append(d.Metrics, map[string]string{"Name": s.Metric.Name, "Unit": string(s.Metric.Unit)})
		attrs = append(attrs, slog.Float64(s.Metric.Name, s.Value))
	}
	if len(directives) == 0 {
		return nil
	}
	dims := make([]string, 0, len(usedDims))
	for d := range usedDims {
		dims = append(dims, d)
	}
	sort.Strings(dims)
	for _, d := range dims {
		attrs = append(attrs, slog.String(d, l.Dimensions[d]))
	}
	return append(attrs, slog.Any(AWSKey, map[string]any{
		"Timestamp":         at.UnixMilli(),
		"CloudWatchMetrics": directives,
	}))
}

func dimsKey(sets [][]string) string {
	parts := make([]string, len(sets))
	for i, s := range sets {
		parts[i] = strings.Join(s, ",")
	}
	return strings.Join(parts, ";")
}
