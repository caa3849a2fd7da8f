package metrics

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Datum is one metric value CloudWatch would record from a document: a
// metric of a namespace with the values of one dimension set.
type Datum struct {
	Namespace  string
	Name       string
	Unit       Unit
	Dimensions map[string]string
	Values     []float64
	Timestamp  time.Time
}

// validUnits are the units CloudWatch accepts.
var validUnits = map[string]bool{
	"Seconds": true, "Microseconds": true, "Milliseconds": true, "Bytes": true, "Kilobytes": true,
	"Megabytes": true, "Gigabytes": true, "Terabytes": true, "Bits": true, "Kilobits": true,
	"Megabits": true, "Gigabits": true, "Terabits": true, "Percent": true, "Count": true,
	"Bytes/Second": true, "Kilobytes/Second": true, "Megabytes/Second": true, "Gigabytes/Second": true,
	"Terabytes/Second": true, "Bits/Second": true, "Kilobits/Second": true, "Megabits/Second": true,
	"Gigabits/Second": true, "Terabits/Second": true, "Count/Second": true, "None": true,
}

// ErrNotEMF means the line is not an embedded metric format document (it
// has no "_aws" member): an ordinary log line.
var ErrNotEMF = errors.New("no _aws member: not an embedded metric format document")

// Extract does what CloudWatch Logs does with a log line in embedded
// metric format: it checks the document against the specification and
// returns the metric values it holds, one Datum per metric and dimension
// set. A line without "_aws" gives ErrNotEMF; a document that breaks the
// specification gives an error saying how (CloudWatch would publish
// nothing from it).
func Extract(line []byte) ([]Datum, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var root map[string]any
	if err := dec.Decode(&root); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	rawAWS, ok := root[AWSKey]
	if !ok {
		return nil, ErrNotEMF
	}
	meta, ok := rawAWS.(map[string]any)
	if !ok {
		return nil, errors.New("_aws is not an object")
	}
	ts, err := number(meta["Timestamp"])
	if err != nil {
		return nil, fmt.Errorf("_aws.Timestamp: %w", err)
	}
	directives, ok := meta["CloudWatchMetrics"].([]any)
	if !ok {
		return nil, errors.New("_aws.CloudWatchMetrics is not an array")
	}
	at := time.UnixMilli(int64(ts))
	var out []Datum
	for i, rd := range directives {
		d, ok := rd.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("CloudWatchMetrics[%d] is not an object", i)
		}
		ns, ok := d["Namespace"].(string)
		if !ok || ns == "" || len(ns) > 1024 {
			return nil, fmt.Errorf("CloudWatchMetrics[%d].Namespace must be a string of 1-1024 characters", i)
		}
		sets, err := dimensionSets(d["Dimensions"], root)
		if err != nil {
			return nil, fmt.Errorf("CloudWatchMetrics[%d].Dimensions: %w", i, err)
		}
		defs, ok := d["Metrics"].([]any)
		if !ok || len(defs) > 100 {
			return nil, fmt.Errorf("CloudWatchMetrics[%d].Metrics must be an array of at most 100 metric definitions", i)
		}
		for j, rm := range defs {
			md, ok := rm.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("CloudWatchMetrics[%d].Metrics[%d] is not an object", i, j)
			}
			name, ok := md["Name"].(string)
			if !ok || name == "" || len(name) > 1024 {
				return nil, fmt.Errorf("CloudWatchMetrics[%d].Metrics[%d].Name must be a string of 1-1024 characters", i, j)
			}
			unit := "None"
			if u, present := md["Unit"]; present {
				if unit, ok = u.(string); !ok || !validUnits[unit] {
					return nil, fmt.Errorf("metric %s: unit %v is not a CloudWatch unit", name, u)
				}
			}
			values, err := metricValues(root[name])
			if err != nil {
				return nil, fmt.Errorf("metric %s: %w", name, err)
			}
			for _, set := range sets {
				out = append(out, Datum{Namespace: ns, Name: name, Unit: Unit(unit), Dimensions: set, Values: values, Timestamp: at})
			}
		}
	}
	return out, nil
}

func dimensionSets(raw any, root map[string]any) ([]map[string]string, error) {
	list, ok := raw.([]any)
	if !ok {
		return nil, errors.New("not an array of dimension sets")
	}
	var sets []map[string]string
	for _, rs := range list {
		names, ok := rs.([]any)
		if !ok || len(names) > 30 {
			return nil, errors.New("a dimension set must be an array of at most 30 dimension names")
		}
		set := map[string]string{}
		for _, rn := range names {
			name, ok := rn.(string)
			if !ok {
				return nil, fmt.Errorf("dimension name %v is not a string", rn)
			}
			v, ok := root[name].(string)
			if !ok {
				return nil, fmt.Errorf("dimension %s has no string value at the top level", name)
			}
			set[name] = v
		}
		sets = append(sets, set)
	}
	return sets, nil
}

func metricValues(raw any) ([]float64, error) {
	if list, ok := raw.([]any); ok {
		if len(list) > 100 {
			return nil, errors.New("more than 100 values")
		}
		out := make([]float64, 0, len(list))
		for _, r := range list {
			f, err := number(r)
			if err != nil {
				return nil, err
			}
			out = append(out, f)
		}
		return out, nil
	}
	f, err := number(raw)
	if err != nil {
		return nil, err
	}
	return []float64{f}, nil
}

func number(raw any) (float64, error) {
	n, ok := raw.(json.Number)
	if !ok {
		return 0, fmt.Errorf("value %v is not a number", raw)
	}
	return n.Float64()
}
