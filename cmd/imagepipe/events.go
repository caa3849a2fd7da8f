package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/imagepipe/imagepipe/eventbus"
	"github.com/imagepipe/imagepipe/local"
)

func init() {
	register(&command{
		name:    "events",
		summary: "watch the stack's events as they happen (tail), test event patterns (test-pattern)",
		run:     runEvents,
	})
}

const eventsUsage = `Usage: imagepipe events SUBCOMMAND [flags]

Subcommands:
  tail          print the stack's events as they happen
  test-pattern  test an EventBridge event pattern against an event

Run 'imagepipe events SUBCOMMAND --help' for its flags and an example.
`

const testPatternUsage = `Usage: imagepipe events test-pattern (--pattern JSON|@FILE | --rule NAME [--var NAME=VALUE]...) --event JSON|@FILE

Tests an EventBridge event pattern against an event with the same matcher the
local bus uses, like 'aws events test-event-pattern'. Prints "match" or
"no match". An argument starting with @ names a file to read.

Flags:
  --pattern JSON|@FILE  the event pattern
  --rule NAME           instead of --pattern, the pattern of one of imagepipe's
                        rules (` + "`" + `uploads-to-queue` + "`" + `, ` + "`" + `completions-to-notify` + "`" + `, or a
                        stack's full rule name such as imagepipe-uploads-to-queue), its
                        placeholders filled with the local stack's names
  --var NAME=VALUE      with --rule, fill ${NAME} with VALUE instead, e.g.
                        uploads_bucket=my-bucket for a deployed stack
  --event JSON|@FILE    the event (any JSON object; the envelope fields
                        EventBridge requires are not checked)

Exit status: 0 match, 1 no match, 2 invalid pattern, invalid event or bad usage.

Example:
  imagepipe events test-pattern \
    --pattern '{"source":["aws.s3"],"detail":{"object":{"key":[{"prefix":"uploads/"}]}}}' \
    --event '{"source":"aws.s3","detail":{"object":{"key":"uploads/cat.jpg"}}}'
  match
  imagepipe events test-pattern --rule uploads-to-queue \
    --event '{"source":"aws.s3","detail-type":"Object Created","detail":{"bucket":{"name":"imagepipe-uploads"},"object":{"key":"uploads/cat.jpg"}}}'
  match
`

// runEvents runs "imagepipe events SUBCOMMAND".
func runEvents(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, eventsUsage)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, eventsUsage)
		return 0
	case "test-pattern":
		return runTestPattern(args[1:], stdout, stderr)
	case "tail":
		return runTail(ctx, args[1:], stdout, stderr)
	}
	unknownSubcommand(stderr, "events", args[0], []string{"tail", "test-pattern"})
	fmt.Fprint(stderr, eventsUsage)
	return 2
}

func runTestPattern(args []string, stdout, stderr io.Writer) int {
	const name = "imagepipe events test-pattern"
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	patternArg := fs.String("pattern", "", "")
	ruleArg := fs.String("rule", "", "")
	vars := local.RuleVars()
	fs.Func("var", "", func(v string) error {
		k, val, ok := strings.Cut(v, "=")
		if !ok || k == "" {
			return fmt.Errorf("--var %q: want NAME=VALUE", v)
		}
		vars[k] = val
		return nil
	})
	eventArg := fs.String("event", "", "")
	usageErr := func(msg string) int {
		fmt.Fprintf(stderr, "%s: %s\n", name, msg)
		fmt.Fprint(stderr, testPatternUsage)
		return 2
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, testPatternUsage)
			return 0
		}
		msg := err.Error()
		if hint := flagHint(fs, err); hint != "" {
			msg += "\n" + hint
		}
		return usageErr(msg)
	}
	switch {
	case fs.NArg() > 0:
		return usageErr(fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	case *patternArg == "" && *ruleArg == "":
		return usageErr("--pattern or --rule is required")
	case *patternArg != "" && *ruleArg != "":
		return usageErr("--pattern and --rule exclude each other")
	case *eventArg == "":
		return usageErr("--event is required")
	}
	var patternText string
	var err error
	if *ruleArg != "" {
		// A stack's full rule name (imagepipe-uploads-to-queue) names the
		// same pattern.
		rule := *ruleArg
		for _, p := range eventbus.RuleNames() {
			if strings.HasSuffix(rule, "-"+p) {
				rule = p
			}
		}
		if !slices.Contains(eventbus.RuleNames(), rule) {
			return usageErr(fmt.Sprintf("no rule %q; the rules are %s", *ruleArg, strings.Join(eventbus.RuleNames(), ", ")))
		}
		patternText, err = eventbus.RulePattern(rule, vars)
	} else {
		patternText, err = readArg("--pattern", *patternArg)
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 2
	}
	eventText, err := readArg("--event", *eventArg)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 2
	}
	if !eventbus.PatternLengthOK(patternText) {
		fmt.Fprintf(stderr, "%s: the pattern is longer than %d characters, the most EventBridge takes\n", name, eventbus.MaxPatternLength)
		return 2
	}
	p, err := eventbus.ParsePattern(patternText)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 2
	}
	ok, err := p.Match([]byte(eventText))
	if err != nil {
		fmt.Fprintf(stderr, "%s: --event: %v\n", name, err)
		return 2
	}
	if !ok {
		fmt.Fprintln(stdout, "no match")
		return 1
	}
	fmt.Fprintln(stdout, "match")
	return 0
}

// readArg returns v, or the contents of the file it names as @FILE.
func readArg(flagName, v string) (string, error) {
	file, ok := strings.CutPrefix(v, "@")
	if !ok {
		return v, nil
	}
	if file == "" {
		return "", fmt.Errorf("%s: @ must be followed by a file name", flagName)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%s: %w", flagName, err)
	}
	return string(b), nil
}
