package metrics

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// emfLine logs line through a JSON handler, as the functions do on Lambda,
// and returns the bytes written.
func emfLine(t *testing.T, l Line, at time.Time) []byte {
	t.Helper()
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).LogAttrs(context.Background(), slog.LevelInfo, "image done",
		append([]slog.Attr{slog.String("image_id", "abc")}, l.Attrs(at)...)...)
	return buf.Bytes()
}

func TestAttrsMakeAValidDocument(t *testing.T) {
	at := time.UnixMilli(1_800_000_000_123)
	raw := emfLine(t, Line{
		Dimensions: map[string]string{Stack: "prod", ErrorCode: "not_an_image", Function: "process"},
		Samples: []Sample{
			{ImagesFailed, 1},
			{InputBytes, 2048},
			{PeakMemory, 61.5},
		},
	}, at)
	got, err := Extract(raw)
	if err != nil {
		t.Fatalf("Extract(%s): %v", raw, err)
	}
	type key struct{ name, unit, dims string }
	want := map[key]float64{
		{"ImagesFailed", "Count", "Stack=prod"}:                        1,
		{"ImagesFailed", "Count", "ErrorCode=not_an_image,Stack=prod"}: 1,
		{"InputBytes", "Bytes", "Stack=prod"}:                          2048,
		{"PeakMemory", "Megabytes", "Function=process,Stack=prod"}:     61.5,
	}
	if len(got) != len(want) {
		t.Errorf("got %d data, want %d: %+v", len(got), len(want), got)
	}
	for _, d := range got {
		var dims []string
		for _, k := range []string{ErrorCode, Function, Stack} {
			if v, ok := d.Dimensions[k]; ok {
				dims = append(dims, k+"="+v)
			}
		}
		k := key{d.Name, string(d.Unit), strings.Join(dims, ",")}
		v, ok := want[k]
		if !ok || len(d.Values) != 1 || d.Values[0] != v {
			t.Errorf("unexpected datum %+v (%v)", d, k)
		}
		if d.Namespace != Namespace || !d.Timestamp.Equal(at) {
			t.Errorf("datum %s: namespace %q, time %v", d.Name, d.Namespace, d.Timestamp)
		}
	}
}

func TestAttrsLeaveOutIncompleteDimensionSets(t *testing.T) {
	raw := emfLine(t, Line{Dimensions: map[string]string{Stack: "s"}, Samples: []Sample{{ImagesFailed, 1}, {PeakMemory, 3}}}, time.Now())
	got, err := Extract(raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Name != "ImagesFailed" || len(got[0].Dimensions) != 1 {
		t.Errorf("got %+v, want ImagesFailed by Stack only (no ErrorCode, and PeakMemory needs Function)", got)
	}
	if attrs := (Line{Samples: []Sample{{ImagesDone, 1}}}).Attrs(time.Now()); attrs != nil {
		t.Errorf("a line without the Stack dimension makes %v, want nothing", attrs)
	}
}

func TestExtractRefusesBrokenDocuments(t *testing.T) {
	tests := []struct{ name, doc, want string }{
		{"plain log line", `{"msg":"hello"}`, ErrNotEMF.Error()},
		{"no timestamp", `{"_aws":{"CloudWatchMetrics":[]}}`, "Timestamp"},
		{"dimension without value", `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[["Stack"]],"Metrics":[{"Name":"M"}]}]},"M":1}`, "dimension Stack"},
		{"numeric dimension", `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[["Stack"]],"Metrics":[{"Name":"M"}]}]},"M":1,"Stack":3}`, "dimension Stack"},
		{"metric without value", `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[[]],"Metrics":[{"Name":"M"}]}]}}`, "metric M"},
		{"string value", `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[[]],"Metrics":[{"Name":"M"}]}]},"M":"1"}`, "not a number"},
		{"bad unit", `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[[]],"Metrics":[{"Name":"M","Unit":"Pixels"}]}]},"M":1}`, "not a CloudWatch unit"},
		{"no namespace", `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Dimensions":[[]],"Metrics":[]}]}}`, "Namespace"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Extract([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Extract = %v, want an error about %q", err, tc.want)
			}
			if tc.name == "plain log line" && !errors.Is(err, ErrNotEMF) {
				t.Errorf("a plain line gives %v, want ErrNotEMF", err)
			}
		})
	}
}

func TestCatalogUnitsAreCloudWatchUnits(t *testing.T) {
	seen := map[string]bool{}
	for _, m := range Catalog() {
		if !validUnits[string(m.Unit)] || m.Help == "" || len(m.Dimensions) == 0 || seen[m.Name] {
			t.Errorf("catalog entry %+v: unit, help, dimensions and a unique name are required", m)
		}
		seen[m.Name] = true
		for _, set := range m.Dimensions {
			if len(set) == 0 || set[0] != Stack {
				t.Errorf("%s: dimension set %v does not start with Stack (two stacks must not mix)", m.Name, set)
			}
		}
		if got, ok := Lookup(m.Name); !ok || got.Name != m.Name {
			t.Errorf("Lookup(%q) = %v, %v", m.Name, got, ok)
		}
	}
}

func TestPeakMemory(t *testing.T) {
	if mb := PeakMemoryMB(); mb < 1 || mb > 1<<20 {
		t.Errorf("PeakMemoryMB = %v, want a plausible number of MB", mb)
	}
}
