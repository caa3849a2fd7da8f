package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/imagepipe/imagepipe/api"
	"github.com/imagepipe/imagepipe/cmd/lambda/internal/awsenv"
	"github.com/imagepipe/imagepipe/cmd/lambda/internal/lambdatest"
	"github.com/imagepipe/imagepipe/functions/presign"
	"github.com/imagepipe/imagepipe/functions/status"
	"github.com/imagepipe/imagepipe/local"
)

// TestPresignFunction runs the function on API Gateway's proxy event for
// POST /v1/uploads and PUTs the announced size to the URL it answers.
func TestPresignFunction(t *testing.T) {
	st := lambdatest.Start(t, map[string]string{
		presign.EnvUploadsBucket:   local.UploadsBucket,
		presign.EnvProcessedBucket: local.ProcessedBucket,
	})
	h, err := awsenv.Build(context.Background(), nil, newHandler)
	if err != nil {
		t.Fatal(err)
	}
	raw := lambdatest.Invoke(t, h, "apigw-post-uploads.json")

	var resp events.APIGatewayProxyResponse
	if err := json.Unmarshal(raw, &resp); err != nil {
		t.Fatalf("response %s: %v", raw, err)
	}
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("statusCode %d, body %s", resp.StatusCode, resp.Body)
	}
	var up api.UploadResponse
	if err := json.Unmarshal([]byte(resp.Body), &up); err != nil || up.Upload == nil || up.Upload.URL == "" {
		t.Fatalf("body %s: %v", resp.Body, err)
	}

	// The request said 1024 bytes of image/jpeg.
	req, err := http.NewRequest(up.Upload.Method, up.Upload.URL, bytes.NewReader(make([]byte, 1024)))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range up.Upload.Headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("PUT to the presigned URL: %s", res.Status)
	}
	ctx := context.Background()
	head, err := st.S3Client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(local.UploadsBucket), Key: aws.String(up.Key)})
	if err != nil || aws.ToInt64(head.ContentLength) != 1024 || aws.ToString(head.ContentType) != "image/jpeg" {
		t.Fatalf("uploaded object: %+v, %v", head, err)
	}
	rec, err := status.Store{Client: st.S3Client(), Bucket: local.ProcessedBucket}.Get(ctx, up.ImageID)
	if err != nil || rec.Status != status.Pending || rec.Filename != "cat.jpg" {
		t.Fatalf("status record %+v, %v", rec, err)
	}
}
