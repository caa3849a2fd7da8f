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
	"strings"
	"time"

	"github.com/imagepipe/imagepipe/local/lambdarie"
	"github.com/imagepipe/imagepipe/local/runner"
	"github.com/imagepipe/imagepipe/metrics"
)

// apiRoutes are the API's Lambda proxy routes (terraform/api.tf's
// api_routes) and apiBinaryMediaTypes its binary media types, for the
// emulated API Gateway in front of the presign binary.
var (
	apiRoutes = []string{
		"POST /v1/uploads", "GET /v1/images/{id}", "POST /v1/images/upload",
		"OPTIONS /v1/uploads", "OPTIONS /v1/images/{id}", "OPTIONS /v1/images/upload",
	}
	apiRoutesWithoutKey = []string{"OPTIONS /v1/uploads", "OPTIONS /v1/images/{id}", "OPTIONS /v1/images/upload"}
	apiBinaryMediaTypes = []string{"*/*"}
)

// apiGatewayResponses are terraform/api.tf's gateway responses: API
// Gateway's own errors carry the CORS headers of the allowed origins.
func apiGatewayResponses(origins []string) map[string]lambdarie.GatewayResponse {
	params := map[string]string{}
	switch {
	case len(origins) == 1:
		params["gatewayresponse.header.Access-Control-Allow-Origin"] = "'" + origins[0] + "'"
	case len(origins) > 1:
		params["gatewayresponse.header.Access-Control-Allow-Origin"] = "method.request.header.Origin"
	}
	if len(params) > 0 {
		params["gatewayresponse.header.Vary"] = "'Origin'"
	}
	return map[string]lambdarie.GatewayResponse{
		"DEFAULT_4XX": {ResponseParameters: params},
		"DEFAULT_5XX": {ResponseParameters: params},
		"REQUEST_TOO_LARGE": {StatusCode: http.StatusRequestEntityTooLarge, ResponseParameters: params, ResponseTemplates: map[string]string{
			"application/json": `{"error":{"code":"too_large","message":"the request is larger than an API call takes (Lambda's 6 MB invocation payload, base64 included): POST /v1/images/upload takes bodies up to ` + strconv.Itoa(rawUploadMaxBytesOnLambda) + ` bytes; for larger files ask POST /v1/uploads for a presigned URL and PUT the file there"}}`,
		}},
	}
}

// rawUploadMaxBytesOnLambda is what Terraform gives the presign function
// (raw_upload_max_bytes): a raw body travels base64-encoded in a
// synchronous invocation of at most 6 MB.
const rawUploadMaxBytesOnLambda = 4 << 20

// functions are the handlers the runners and the API call: the same
// function code in this process, or its Lambda binary under the runtime
// emulator.
type functions struct {
	api     http.Handler
	process runner.Handler
	notify  runner.Handler
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
	pc := st.presignCfg
	presignFn, err := start("presign", map[string]string{
		"UPLOADS_BUCKET": pc.UploadsBucket, "PROCESSED_BUCKET": pc.ProcessedBucket,
		"MAX_UPLOAD_BYTES":     strconv.FormatInt(pc.MaxUploadBytes, 10),
		"RAW_UPLOAD_MAX_BYTES": strconv.Itoa(rawUploadMaxBytesOnLambda),
		"UPLOAD_URL_TTL":       pc.URLTTL.String(),
		"DOWNLOAD_URL_TTL":     pc.DownloadURLTTL.String(),
		"CORS_ALLOWED_ORIGINS": strings.Join(pc.CORSAllowedOrigins, ","),
	}, 10*time.Second, 4)
	if err != nil {
		return functions{}, err
	}
	processFn, err := start("process", map[string]string{
		"PROCESSED_BUCKET": ProcessedBucket, "EVENT_BUS_NAME": CustomBus,
		"MAX_RECEIVE_COUNT": strconv.Itoa(st.cfg.MaxReceiveCount), metrics.EnvStack: StackName,
	}, st.cfg.FunctionTimeout.Round(time.Second), 2)
	if err != nil {
		return functions{}, err
	}
	notifyFn, err := start("notify", map[string]string{"PROCESSED_BUCKET": ProcessedBucket, metrics.EnvStack: StackName}, 10*time.Second, 2)
	if err != nil {
		return functions{}, err
	}
	api := &lambdarie.RESTAPI{
		Function: presignFn, Routes: apiRoutes, Stage: "local", BinaryMediaTypes: apiBinaryMediaTypes,
		APIKey: st.creds.APIKey, RoutesWithoutAPIKey: apiRoutesWithoutKey,
		GatewayResponses: apiGatewayResponses(pc.CORSAllowedOrigins),
		AccountID:        Account, Logger: st.log.With("component", "apigateway"),
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
