// Command testfn is a Lambda function for lambdarie's own tests: it does
// what its event says, including what well-behaved functions never do
// (ignore the deadline, exit mid-invocation).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

type event struct {
	SleepMS int    `json:"sleep_ms"` // sleep, ignoring the deadline
	Exit    bool   `json:"exit"`     // exit 3 mid-invocation
	Error   string `json:"error"`    // return this error
	Lines   int    `json:"lines"`    // print this many long lines first
}

func handle(_ context.Context, ev event) (map[string]any, error) {
	for i := range ev.Lines {
		fmt.Println(i, strings.Repeat("x", 100<<10))
	}
	time.Sleep(time.Duration(ev.SleepMS) * time.Millisecond)
	if ev.Exit {
		fmt.Fprintln(os.Stderr, "testfn: exiting mid-invocation")
		os.Exit(3)
	}
	if ev.Error != "" {
		return nil, errors.New(ev.Error)
	}
	return map[string]any{"ok": true, "env": os.Getenv("TESTFN_VALUE")}, nil
}

func main() {
	if os.Getenv("TESTFN_VALUE") == "" {
		fmt.Fprintln(os.Stderr, `{"level":"ERROR","message":"TESTFN_VALUE is required"}`)
		os.Exit(1)
	}
	lambda.Start(handle)
}
