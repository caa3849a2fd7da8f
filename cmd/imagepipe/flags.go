package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// parseInterleaved parses flags that may come before, between or after the
// positional arguments (`imagepipe upload DIR --wait`), which the flag
// package alone stops at. Everything after "--" is positional. --help
// prints the usage on stdout and returns flag.ErrHelp; a bad flag prints
// "<command>: <error>", a "did you mean" when a flag is close, and the
// usage, on the flag set's output (stderr).
func parseInterleaved(fs *flag.FlagSet, args []string, stdout io.Writer) ([]string, error) {
	out, usage := fs.Output(), fs.Usage
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	defer func() {
		fs.SetOutput(out)
		fs.Usage = usage
	}()
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(stdout)
				usage()
				return nil, err
			}
			fs.SetOutput(out)
			fmt.Fprintf(out, "%s: %v\n", fs.Name(), err)
			if hint := flagHint(fs, err); hint != "" {
				fmt.Fprintln(out, hint)
			}
			usage()
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// flagHint suggests the flag closest to an unknown one.
func flagHint(fs *flag.FlagSet, err error) string {
	name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: ")
	if !ok {
		return ""
	}
	name = strings.TrimLeft(name, "-")
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	if s := suggest(name, names); s != "" {
		return fmt.Sprintf("Did you mean --%s?", s)
	}
	return ""
}

// suggest returns the candidate closest to name when it is close enough
// to be a typo (or name is a prefix of it), "" otherwise.
func suggest(name string, candidates []string) string {
	sort.Strings(candidates)
	best, bestDist := "", len(name)/3+2
	for _, c := range candidates {
		if c == name {
			continue
		}
		d := editDistance(strings.ToLower(name), strings.ToLower(c))
		if len(name) >= 3 && strings.HasPrefix(c, name) {
			d = min(d, 1)
		}
		if d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the Damerau–Levenshtein distance (adjacent swaps count
// as one edit: "wiat" is one from "wait").
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// unknownSubcommand says that sub is not one of a command's subcommands,
// with the closest one.
func unknownSubcommand(w io.Writer, command, sub string, subs []string) {
	if strings.HasPrefix(sub, "-") {
		fmt.Fprintf(w, "imagepipe %s: unknown flag %s\n", command, sub)
	} else {
		fmt.Fprintf(w, "imagepipe %s: unknown subcommand %q\n", command, sub)
	}
	if s := suggest(strings.TrimLeft(sub, "-"), subs); s != "" {
		fmt.Fprintf(w, "Did you mean 'imagepipe %s %s'?\n", command, s)
	}
}
