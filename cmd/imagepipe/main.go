// Command imagepipe runs the local pipeline (dev) and talks to a running one
// (upload, status, replay), and runs the worker's image steps on local files
// (convert). Each subcommand lives in its own file and registers itself.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// command is one subcommand. run returns the process exit code.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("imagepipe: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				return c.run(ctx, []string{"--help"}, stdout, stderr)
			}
		}
		usage(stdout)
		return 0
	case "-version", "--version", "-v":
		return runVersion(ctx, args[1:], stdout, stderr)
	}
	c, ok := commands[args[0]]
	if !ok {
		if strings.HasPrefix(args[0], "-") {
			fmt.Fprintf(stderr, "imagepipe: unknown flag %s (flags come after the command: imagepipe COMMAND --help)\n", args[0])
		} else {
			fmt.Fprintf(stderr, "imagepipe: unknown command %q\n", args[0])
			if s := suggest(args[0], commandNames()); s != "" {
				fmt.Fprintf(stderr, "Did you mean 'imagepipe %s'?\n", s)
			}
		}
		fmt.Fprintln(stderr, "Run 'imagepipe --help' for the commands.")
		return 2
	}
	return c.run(ctx, args[1:], stdout, stderr)
}

func commandNames() []string {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "imagepipe: an event-driven, S3-native image pipeline.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: imagepipe COMMAND [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, n := range commandNames() {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'imagepipe COMMAND --help' for a command's flags and an example;")
	fmt.Fprintln(w, "'imagepipe --version' for the version of this build.")
}
