package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/imagepipe/imagepipe/local/lambdarie"
)

// apiRoutes are the API's Lambda proxy routes (terraform/api.tf's
// api_routes) and apiBinaryMediaTypes its binary media types, for the
// emulated API Gateway in front of the presign binary.
var (
	apiRoutes           = []string{"POST /v1/uploads", "GET /v1/images/{id}", "POST /v1/images/upload"}
	apiBinaryMediaTypes = []string{"image/*", "application/octet-stream"}
)

// rawUploadMaxBytesOnLambda is what Terraform gives the presign function
// (raw_upload_max_bytes): a raw body travels base64-encoded in a
// synchronous invocation of at most 6 MB.
const rawUploadMaxBytesOnLambda = 4 << 20

// functions are the handlers the runners and the API call: the same
// function code in this process, or its Lambda binary under the runtime
// emulator.
type functions struct {
	api     http.Handler
	process lambda.Handler
	notify  lambda.Handler
}

// binaryFunctions starts the three functions as their bootstraps in
// cfg.LambdaBinaries, with the environment Terraform would give them
// pointed at the edge. The emulator starts each one at its first
// invocation.
func (st *Stack) binaryFunctions() (functions, error) {
	dir := st.cfg.LambdaBinaries
	emulator, err := findEmulator(dir, st.cfg.LambdaEmulator)
	if err != nil {
		return functions{}, err
	}
	aws := lambdarie.AWS{EndpointURL: st.edge, Region: Region, AccessKeyID: st.creds.AccessKeyID, SecretAccessKey: st.creds.SecretAccessKey}
	start := func(role string, env map[string]string, timeout time.Duration, concurrency int) (*lambdarie.Function, error) {
		log := st.log.With("function", role)
		fn, err := lambdarie.New(lambdarie.Config{
			Name:        "imagepipe-" + role,
			Bootstrap:   filepath.Join(dir, role, "bootstrap"),
			Emulator:    emulator,
			Env:         env,
			AWS:         aws,
			MemoryMB:    map[string]int{"presign": 256, "process": 1536, "notify": 128}[role],
			Timeout:     timeout,
			Concurrency: concurrency,
			Log:         func(line string) { logFunctionLine(log, line) },
		})
		if err != nil {
			return nil, fmt.Errorf("--lambda-binaries %s: %w (make lambda-host builds them into dist/host)", dir, err)
		}
		st.binaries = append(st.binaries, fn)
		return fn, nil
	}
	presignFn, err := start("presign", map[string]string{
		"UPLOADS_BUCKET": UploadsBucket, "PROCESSED_BUCKET": ProcessedBucket,
		"RAW_UPLOAD_MAX_BYTES": strconv.Itoa(rawUploadMaxBytesOnLambda),
	}, 10*time.Second, 4)
	if err != nil {
		return functions{}, err
	}
	processFn, err := start("process", map[string]string{
		"PROCESSED_BUCKET": ProcessedBucket, "EVENT_BUS_NAME": CustomBus,
		"MAX_RECEIVE_COUNT": strconv.Itoa(st.cfg.MaxReceiveCount),
	}, st.cfg.FunctionTimeout.Round(time.Second), 2)
	if err != nil {
		return functions{}, err
	}
	notifyFn, err := start("notify", map[string]string{"PROCESSED_BUCKET": ProcessedBucket}, 10*time.Second, 2)
	if err != nil {
		return functions{}, err
	}
	api := &lambdarie.RESTAPI{
		Function: presignFn, Routes: apiRoutes, Stage: "local", BinaryMediaTypes: apiBinaryMediaTypes,
		APIKey: st.creds.APIKey, AccountID: Account, Logger: st.log.With("component", "apigateway"),
	}
	st.log.Info("functions run as Lambda binaries under the runtime emulator", "dir", dir, "emulator", emulator)
	return functions{api: api, process: processFn, notify: notifyFn}, nil
}

// findEmulator is the explicit path, else aws-lambda-rie in the binaries
// directory, else on PATH.
func findEmulator(dir, explicit string) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	if p := filepath.Join(dir, "aws-lambda-rie"); fileExists(p) {
		return p, nil
	}
	if p, err := exec.LookPath("aws-lambda-rie"); err == nil {
		return p, nil
	}
	return "", errors.New("aws-lambda-rie is neither in " + dir + " nor on PATH: `make lambda-host` installs it into dist/host beside the binaries")
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}

// logFunctionLine logs a line of a function or of the emulator: the
// function's JSON lines at their own level with their fields, the
// emulator's lines at debug.
func logFunctionLine(log *slog.Logger, line string) {
	if lambdarie.IsEmulatorLine(line) {
		log.Debug(line)
		return
	}
	var rec map[string]any
	if json.Unmarshal([]byte(line), &rec) != nil {
		log.Info(line)
		return
	}
	level := slog.LevelInfo
	if s, ok := rec["level"].(string); ok {
		_ = level.UnmarshalText([]byte(s))
	}
	msg, _ := rec["message"].(string)
	attrs := make([]any, 0, 2*len(rec))
	for k, v := range rec {
		if k == "level" || k == "message" || k == "timestamp" {
			continue
		}
		attrs = append(attrs, k, v)
	}
	log.Log(context.Background(), level, msg, attrs...)
}
