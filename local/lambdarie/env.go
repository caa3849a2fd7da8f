package lambdarie

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// reserved are the variables Lambda sets itself; a function's own
// environment may not set them (the Lambda API refuses it).
var reserved = map[string]bool{
	"_HANDLER": true, "_X_AMZN_TRACE_ID": true, "AWS_DEFAULT_REGION": true, "AWS_REGION": true,
	"AWS_EXECUTION_ENV": true, "AWS_LAMBDA_FUNCTION_NAME": true, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": true,
	"AWS_LAMBDA_FUNCTION_VERSION": true, "AWS_LAMBDA_INITIALIZATION_TYPE": true, "AWS_LAMBDA_LOG_GROUP_NAME": true,
	"AWS_LAMBDA_LOG_STREAM_NAME": true, "AWS_ACCESS_KEY": true, "AWS_ACCESS_KEY_ID": true,
	"AWS_SECRET_ACCESS_KEY": true, "AWS_SESSION_TOKEN": true, "AWS_LAMBDA_RUNTIME_API": true,
	"LAMBDA_TASK_ROOT": true, "LAMBDA_RUNTIME_DIR": true,
}

// Environment is the whole environment of the emulator process, which
// hands all of it to the bootstrap: what Lambda sets for a function
// (region, credentials, name, memory, log settings, task root), the
// function's own variables, AWS_ENDPOINT_URL when the AWS services are an
// emulator, and AWS_LAMBDA_FUNCTION_TIMEOUT, which the emulator reads.
// Nothing of this process's environment leaks in.
func Environment(cfg Config) ([]string, error) {
	cfg.defaults()
	if cfg.Name == "" {
		return nil, fmt.Errorf("lambdarie: a function needs a name")
	}
	if cfg.AWS.Region == "" {
		return nil, fmt.Errorf("function %s: no region", cfg.Name)
	}
	if cfg.Timeout%time.Second != 0 {
		return nil, fmt.Errorf("function %s: timeout %s is not whole seconds", cfg.Name, cfg.Timeout)
	}
	var bad []string
	for k := range cfg.Env {
		if reserved[k] || strings.HasPrefix(k, "AWS_LAMBDA_") {
			bad = append(bad, k)
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return nil, fmt.Errorf("function %s: the environment sets Lambda's reserved variables %s", cfg.Name, strings.Join(bad, ", "))
	}
	vars := map[string]string{
		"PATH":                            "/usr/local/bin:/usr/bin/:/bin:/opt/bin",
		"LANG":                            "en_US.UTF-8",
		"TZ":                              ":UTC",
		"LAMBDA_TASK_ROOT":                filepath.Dir(cfg.Bootstrap),
		"LAMBDA_RUNTIME_DIR":              "/var/runtime",
		"AWS_REGION":                      cfg.AWS.Region,
		"AWS_DEFAULT_REGION":              cfg.AWS.Region,
		"AWS_ACCESS_KEY_ID":               cfg.AWS.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY":           cfg.AWS.SecretAccessKey,
		"AWS_LAMBDA_FUNCTION_NAME":        cfg.Name,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": strconv.Itoa(cfg.MemoryMB),
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_INITIALIZATION_TYPE":  "on-demand",
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/" + cfg.Name,
		"AWS_LAMBDA_LOG_STREAM_NAME":      time.Now().UTC().Format("2006/01/02") + "/[$LATEST]" + strings.ReplaceAll(newRequestID(), "-", ""),
		"AWS_LAMBDA_LOG_FORMAT":           cfg.LogFormat,
		"AWS_LAMBDA_LOG_LEVEL":            cfg.LogLevel,
		"AWS_LAMBDA_FUNCTION_TIMEOUT":     strconv.Itoa(int(cfg.Timeout / time.Second)),
	}
	if cfg.AWS.SessionToken != "" {
		vars["AWS_SESSION_TOKEN"] = cfg.AWS.SessionToken
	}
	if cfg.AWS.EndpointURL != "" {
		vars["AWS_ENDPOINT_URL"] = cfg.AWS.EndpointURL
	}
	for k, v := range cfg.Env {
		vars[k] = v
	}
	env := make([]string, 0, len(vars))
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	return env, nil
}
