package eventbus

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// FuzzPattern checks that ParsePattern and Match never panic, that every
// parse error is a *PatternError with EventBridge's message, and that Match
// and MatchValue agree. Run it with
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
	f.Fuzz(func(t *testing.T, pattern, event string) {
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
