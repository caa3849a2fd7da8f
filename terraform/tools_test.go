//go:build unix

package terraform_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// requireTool returns the path of an executable the test needs. Without it
// the test skips, naming what is missing, unless CI=true: then it fails.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required under CI=true but is not on PATH: %v", name, err)
	}
	t.Skipf("%s is not on PATH; install it to run this test", name)
	return ""
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// terraformCLI runs terraform in one working directory with a clean,
// emulator-only environment.
type terraformCLI struct {
	bin string
	dir string
	env []string
}

func newTerraformCLI(t *testing.T, bin, dir string) *terraformCLI {
	t.Helper()
	cliConfig := filepath.Join(t.TempDir(), "terraformrc")
	if err := os.WriteFile(cliConfig, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		// Never let the caller's AWS credentials, profile or Terraform
		// variables reach a test apply.
		if strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "TF_") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env,
		"AWS_ACCESS_KEY_ID=test",
		"AWS_SECRET_ACCESS_KEY=test",
		"AWS_REGION="+testRegion,
		"AWS_EC2_METADATA_DISABLED=true",
		"TF_IN_AUTOMATION=1",
		"TF_CLI_CONFIG_FILE="+cliConfig,
		"CHECKPOINT_DISABLE=1",
	)
	return &terraformCLI{bin: bin, dir: dir, env: env}
}

// run runs terraform with args and returns its combined output.
func (c *terraformCLI) run(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, c.bin, append([]string{"-chdir=" + c.dir}, args...)...)
	cmd.Env = c.env
	cmd.WaitDelay = 10 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("terraform %s: %w\n%s", args[0], err, tail(out.Bytes(), 8000))
	}
	return out.String(), nil
}

// outputs reads `terraform output -json` into dst (a struct of json.RawMessage
// or typed fields keyed by output name).
func (c *terraformCLI) outputs(ctx context.Context, dst any) error {
	raw, err := c.run(ctx, "output", "-json")
	if err != nil {
		return err
	}
	var wrapped map[string]struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal([]byte(raw), &wrapped); err != nil {
		return fmt.Errorf("parse terraform output: %w", err)
	}
	flat := make(map[string]json.RawMessage, len(wrapped))
	for k, v := range wrapped {
		flat[k] = v.Value
	}
	b, err := json.Marshal(flat)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, dst)
}

var (
	resourcesAdded = regexp.MustCompile(`Resources: (\d+) added`)
	resourceTook   = regexp.MustCompile(`(?m)^(\S+): (?:Creation|Destruction) complete after (\d+)s`)
)

// slowest names the n resources of an apply or destroy output that took
// longest, for the test log.
func slowest(out string, n int) string {
	type took struct {
		addr string
		secs int
	}
	var all []took
	for _, m := range resourceTook.FindAllStringSubmatch(out, -1) {
		s, _ := strconv.Atoi(m[2])
		all = append(all, took{m[1], s})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].secs > all[j].secs })
	if len(all) > n {
		all = all[:n]
	}
	parts := make([]string, len(all))
	for i, x := range all {
		parts[i] = fmt.Sprintf("%s %ds", x.addr, x.secs)
	}
	return strings.Join(parts, ", ")
}

// addedCount returns N of "Resources: N added" in an apply's output.
func addedCount(out string) (int, error) {
	m := resourcesAdded.FindStringSubmatch(out)
	if m == nil {
		return 0, errors.New("no \"Resources: N added\" line in the apply output")
	}
	return strconv.Atoi(m[1])
}

// copyFiles copies the regular files of src matching one of the globs into
// dst (not recursive).
func copyFiles(t *testing.T, src, dst string, globs ...string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, g := range globs {
		matches, err := filepath.Glob(filepath.Join(src, g))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range matches {
			in, err := os.Open(m)
			if err != nil {
				t.Fatal(err)
			}
			out, err := os.Create(filepath.Join(dst, filepath.Base(m)))
			if err != nil {
				in.Close()
				t.Fatal(err)
			}
			_, err = io.Copy(out, in)
			in.Close()
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
	}
	if n == 0 {
		t.Fatalf("no files matching %v in %s", globs, src)
	}
}

// TestDeployTakesTheZipsItBuilt: `make deploy LAMBDA_DIST=out` builds the
// zips into out/ and hands terraform that directory (not dist/).
func TestDeployTakesTheZipsItBuilt(t *testing.T) {
	makeBin := requireTool(t, "make")
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	for _, dist := range []string{"out", "dist", "/tmp/imagepipe-zips"} {
		cmd := exec.Command(makeBin, "-n", "-C", root, "deploy", "LAMBDA_DIST="+dist, "TF=terraform")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("make -n deploy: %v\n%s", err, out)
		}
		abs := dist
		if !filepath.IsAbs(abs) {
			abs = filepath.Join(root, dist)
		}
		var built, applied bool
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, "go run ./scripts/lambdazip -o "+dist+"/process.zip") {
				built = true
			}
			if strings.Contains(line, " apply ") {
				applied = strings.Contains(line, "-var 'lambda_dist_dir="+abs+"'")
				if !applied {
					t.Errorf("LAMBDA_DIST=%s: terraform apply line %q does not take %s", dist, line, abs)
				}
			}
		}
		if !built || !applied {
			t.Errorf("LAMBDA_DIST=%s: zips built there %v, applied from there %v:\n%s", dist, built, applied, out)
		}
	}
}
