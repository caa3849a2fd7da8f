// Package lambdatest lets the tests of the Lambda entry points run their
// handlers as the Lambda runtime would: the function's environment points
// the AWS SDK at a paused local stack (nothing else consumes its queues),
// and a fixture from testdata/ is handed to lambda.NewHandler(h).Invoke.
// Only tests import it.
package lambdatest

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/imagepipe/imagepipe/local"
	"github.com/imagepipe/imagepipe/local/localtest"
)

// Start starts a paused local stack and sets the environment a Lambda
// function would have, with AWS_ENDPOINT_URL at the stack's edge, plus env
// (the function's own variables).
func Start(t *testing.T, env map[string]string) *local.Stack {
	t.Helper()
	st := localtest.Start(t, func(c *local.Config) { c.Paused = true })
	creds := st.Credentials()
	none := filepath.Join(t.TempDir(), "none")
	vars := map[string]string{
		"AWS_ENDPOINT_URL":             st.EdgeURL(),
		"AWS_ACCESS_KEY_ID":            creds.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY":        creds.SecretAccessKey,
		"AWS_REGION":                   local.Region,
		"AWS_SESSION_TOKEN":            "",
		"AWS_PROFILE":                  "",
		"AWS_ENDPOINT_URL_S3":          "",
		"AWS_ENDPOINT_URL_EVENTBRIDGE": "",
		"AWS_CONFIG_FILE":              none,
		"AWS_SHARED_CREDENTIALS_FILE":  none,
		"AWS_EC2_METADATA_DISABLED":    "true",
	}
	for k, v := range env {
		vars[k] = v
	}
	for k, v := range vars {
		t.Setenv(k, v)
	}
	return st
}

// Invoke hands the fixture testdata/<name> to handler through the Lambda
// library's JSON decoding and returns the response JSON.
func Invoke(t *testing.T, handler any, name string) []byte {
	t.Helper()
	return InvokeEdited(t, handler, name, nil)
}

// InvokeEdited is Invoke with the fixture's text passed through edit first
// (for values only known when the test runs, such as an object's ETag).
func InvokeEdited(t *testing.T, handler any, name string, edit func(string) string) []byte {
	t.Helper()
	payload, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		payload = []byte(edit(string(payload)))
	}
	resp, err := lambda.NewHandler(handler).Invoke(context.Background(), payload)
	if err != nil {
		t.Fatalf("invoke with %s: %v", name, err)
	}
	return resp
}
