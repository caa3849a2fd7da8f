package eventbus

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// FuzzPattern checks that ParsePattern and Match never panic, that every
// parse error is a *PatternError with EventBridge's message, and that Match
// and MatchValue agree. It also uses the pattern string as a wildcard and
// checks the compiled glob against a simple quadratic reference matcher on
// the event string. Run it with
//
//	go test ./eventbus -run '^$' -fuzz '^FuzzPattern$' -fuzztime 30s
func FuzzPattern(f *testing.F) {
	for _, tc := range patternCases {
		event := tc.event
		if event == "" {
			event = ec2Event
		}
		f.Add(tc.pattern, event)
	}
	for _, tc := range invalidPatternCases {
		f.Add(tc.pattern, ec2Event)
	}
	f.Add(`*a*a*a*a*b`, `aaaaaaaaaaaaaaab`)
	f.Add(`ab*ba`, `aba`)
	f.Add(`\*\\*`, `*\\abc`)
	f.Fuzz(func(t *testing.T, pattern, event string) {
		if g, err := compileGlob(pattern, "k"); err == nil {
			if got, want := g.match(event), referenceGlob(pattern, event); got != want {
				t.Fatalf("wildcard %q on %q: %v, reference says %v", pattern, event, got, want)
			}
		}
		p, err := ParsePattern(pattern)
		if err != nil {
			var perr *PatternError
			if !errors.As(err, &perr) {
				t.Fatalf("ParsePattern(%q): error %T, want *PatternError", pattern, err)
			}
			if !strings.HasPrefix(err.Error(), "Event pattern is not valid. Reason: ") || perr.Reason == "" {
				t.Fatalf("ParsePattern(%q): error %q", pattern, err)
			}
			return
		}
		got, err := p.Match([]byte(event))
		if err != nil {
			if got {
				t.Fatalf("Match(%q) = true with error %v", event, err)
			}
			return
		}
		dec := json.NewDecoder(strings.NewReader(event))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("Match accepted %q but it does not decode: %v", event, err)
		}
		if mv := p.MatchValue(v); mv != got {
			t.Fatalf("pattern %s event %s: Match = %v, MatchValue(json.Number) = %v", pattern, event, got, mv)
		}
		var plain any
		if json.Unmarshal([]byte(event), &plain) == nil {
			if mv := p.MatchValue(plain); mv != got {
				t.Fatalf("pattern %s event %s: Match = %v, MatchValue(float64) = %v", pattern, event, got, mv)
			}
		}
	})
}

// referenceGlob matches s against an EventBridge wildcard by dynamic
// programming over (pattern token, string position), independently of glob.
// The pattern is assumed valid.
func referenceGlob(pattern, s string) bool {
	type token struct {
		star bool
		c    byte
	}
	var toks []token
	for i := 0; i < len(pattern); i++ {
		switch pattern[i] {
		case '\\':
			i++
			toks = append(toks, token{c: pattern[i]})
		case '*':
			toks = append(toks, token{star: true})
		default:
			toks = append(toks, token{c: pattern[i]})
		}
	}
	// ok[j]: the tokens so far match s[:j].
	ok := make([]bool, len(s)+1)
	ok[0] = true
	for _, tk := range toks {
		next := make([]bool, len(s)+1)
		for j := 0; j <= len(s); j++ {
			if tk.star {
				next[j] = ok[j] || (j > 0 && next[j-1])
			} else {
				next[j] = j > 0 && ok[j-1] && s[j-1] == tk.c
			}
		}
		ok = next
	}
	return ok[len(s)]
}
