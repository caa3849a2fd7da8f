package main

import (
	"context"
	"testing"

	"github.com/imagepipe/imagepipe/cmd/lambda/internal/awsenv"
	"github.com/imagepipe/imagepipe/cmd/lambda/internal/lambdatest"
	"github.com/imagepipe/imagepipe/functions/notify"
	"github.com/imagepipe/imagepipe/functions/status"
	"github.com/imagepipe/imagepipe/local"
	"github.com/imagepipe/imagepipe/metrics"
)

// TestNotifyFunction runs the function on the "Image Processed" event of
// testdata and reads the status record it writes.
func TestNotifyFunction(t *testing.T) {
	st := lambdatest.Start(t, map[string]string{notify.EnvProcessedBucket: local.ProcessedBucket, metrics.EnvStack: local.StackName})
	h, err := awsenv.Build(context.Background(), nil, newHandler)
	if err != nil {
		t.Fatal(err)
	}
	if raw := lambdatest.Invoke(t, h, "eventbridge-image-processed.json"); string(raw) != "null" {
		t.Errorf("response %s, want null", raw)
	}
	const id = "5f2b3c4d6e7f80912a3b4c5d6e7f8091"
	rec, err := status.Store{Client: st.S3Client(), Bucket: local.ProcessedBucket}.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Status != status.Done || rec.SourceETag != "b1946ac92492d2347c6235b4d2611184" || rec.DurationMS != 41 {
		t.Errorf("record %+v", rec)
	}
	names := map[string]string{}
	for _, o := range rec.Outputs {
		names[o.Name] = o.Key
	}
	if names["gray"] != "processed/"+id+"/gray.jpg" || names["thumb"] != "processed/"+id+"/thumb.jpg" {
		t.Errorf("outputs %+v", rec.Outputs)
	}
}
