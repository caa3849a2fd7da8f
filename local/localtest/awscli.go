package localtest

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imagepipe/imagepipe/local"
)

// AWSCLI runs the aws CLI against the stack's edge with the stack's
// credentials, as `imagepipe dev` tells users to (AWSCLIAt).
func AWSCLI(t testing.TB, st *local.Stack, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	creds := st.Credentials()
	return AWSCLIAt(t, st.EdgeURL(), creds.AccessKeyID, creds.SecretAccessKey, local.Region, args...)
}

// AWSCLIAt runs the aws CLI against an endpoint with the credentials given
// (the endpoint given with --endpoint-url: aws CLI v1 sends sqs commands
// in us-east-1 to queue.amazonaws.com whatever AWS_ENDPOINT_URL says). The
// user's own AWS_* environment and files are hidden. Without the aws CLI
// the test skips, except under CI=true, where it fails. It returns stdout,
// stderr and the exit code.
func AWSCLIAt(t testing.TB, endpoint, accessKeyID, secretAccessKey, region string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	bin, err := exec.LookPath("aws")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("aws CLI not found on PATH (required under CI=true): %v", err)
		}
		t.Skipf("aws CLI not found on PATH: %v", err)
	}
	cfgFile := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(cfgFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	env = append(env,
		"AWS_ACCESS_KEY_ID="+accessKeyID,
		"AWS_SECRET_ACCESS_KEY="+secretAccessKey,
		"AWS_REGION="+region, "AWS_DEFAULT_REGION="+region,
		"AWS_CONFIG_FILE="+cfgFile, "AWS_SHARED_CREDENTIALS_FILE="+cfgFile,
		"AWS_EC2_METADATA_DISABLED=true", "AWS_MAX_ATTEMPTS=1", "AWS_PAGER=",
	)
	cmd := exec.Command(bin, append([]string{"--endpoint-url", endpoint, "--output", "json"}, args...)...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("aws %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errb.String(), code
}
