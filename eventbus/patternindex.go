package eventbus

import (
	"net/netip"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxPatternLength is the longest event pattern EventBridge's API takes, in
// characters (the EventPattern shape of TestEventPattern and PutRule; rules
// have a default quota of 2048). ParsePattern itself takes any length, and
// matches in time linear in the pattern and the event: the edges that take
// patterns from callers refuse longer ones.
const MaxPatternLength = 4096

// PatternLengthOK reports whether a pattern is within MaxPatternLength.
func PatternLengthOK(pattern string) bool {
	return len(pattern) <= MaxPatternLength || utf8.RuneCountInString(pattern) <= MaxPatternLength
}

// valueIndex is a leaf list's exact values, prefixes, suffixes and
// equals-ignore-case values in hash tables: a leaf of the event is checked
// against all of them in time independent of their number (prefixes and
// suffixes: of the number of their distinct lengths), so a pattern with
// thousands of values matches an event with thousands of elements in linear
// time, not in their product.
type valueIndex struct {
	strs       map[string]struct{}
	ips        map[netip.Addr]struct{} // exact strings that are IP addresses, by address
	numKeys    map[int64]struct{}      // numbers within ±numericLimit, by comparableNumber
	numFloats  map[float64]struct{}    // finite numbers outside it
	numTexts   map[string]struct{}     // numbers that are not finite float64s, by their text
	null       bool
	bools      [2]bool // false, true
	prefixes   affixSet
	suffixes   affixSet
	iprefixes  affixSet            // lower-cased
	isuffixes  affixSet            // lower-cased
	ignoreCase map[string]struct{} // by foldKey
}

// affixSet is a set of prefixes (or suffixes) with their distinct lengths.
type affixSet struct {
	set  map[string]struct{}
	lens []int // sorted
}

func (a *affixSet) add(s string) {
	if a.set == nil {
		a.set = map[string]struct{}{}
	}
	if _, ok := a.set[s]; ok {
		return
	}
	a.set[s] = struct{}{}
	if i, found := slices.BinarySearch(a.lens, len(s)); !found {
		a.lens = slices.Insert(a.lens, i, len(s))
	}
}

func (a *affixSet) hasPrefixOf(s string) bool {
	for _, n := range a.lens {
		if n > len(s) {
			return false
		}
		if _, ok := a.set[s[:n]]; ok {
			return true
		}
	}
	return false
}

func (a *affixSet) hasSuffixOf(s string) bool {
	for _, n := range a.lens {
		if n > len(s) {
			return false
		}
		if _, ok := a.set[s[len(s)-n:]]; ok {
			return true
		}
	}
	return false
}

func (x *valueIndex) match(s scalar) bool {
	switch s.kind {
	case kindString:
		if _, ok := x.strs[s.str]; ok {
			return true
		}
		if len(x.ips) > 0 {
			if a := parseIP(s.str); a.IsValid() {
				if _, ok := x.ips[a]; ok {
					return true
				}
			}
		}
		if x.prefixes.hasPrefixOf(s.str) || x.suffixes.hasSuffixOf(s.str) {
			return true
		}
		if len(x.iprefixes.lens) > 0 || len(x.isuffixes.lens) > 0 {
			lower := strings.ToLower(s.str)
			if x.iprefixes.hasPrefixOf(lower) || x.isuffixes.hasSuffixOf(lower) {
				return true
			}
		}
		if len(x.ignoreCase) > 0 {
			if _, ok := x.ignoreCase[foldKey(s.str)]; ok {
				return true
			}
		}
		return false
	case kindNumber:
		var ok bool
		switch {
		case s.inRange:
			_, ok = x.numKeys[s.key]
		case s.ok:
			_, ok = x.numFloats[s.num]
		default:
			_, ok = x.numTexts[s.str]
		}
		return ok
	case kindBool:
		if s.b {
			return x.bools[1]
		}
		return x.bools[0]
	case kindNull:
		return x.null
	}
	return false
}

// add puts m in the index if it is a kind the index holds.
func (x *valueIndex) add(m matcher) bool {
	switch m := m.(type) {
	case exactMatcher:
		w := m.want
		switch w.kind {
		case kindString:
			setAdd(&x.strs, w.str)
			if m.ip.IsValid() {
				if x.ips == nil {
					x.ips = map[netip.Addr]struct{}{}
				}
				x.ips[m.ip] = struct{}{}
			}
		case kindNumber:
			switch {
			case w.inRange:
				if x.numKeys == nil {
					x.numKeys = map[int64]struct{}{}
				}
				x.numKeys[w.key] = struct{}{}
			case w.ok:
				if x.numFloats == nil {
					x.numFloats = map[float64]struct{}{}
				}
				x.numFloats[w.num] = struct{}{}
			default:
				setAdd(&x.numTexts, w.str)
			}
		case kindBool:
			if w.b {
				x.bools[1] = true
			} else {
				x.bools[0] = true
			}
		case kindNull:
			x.null = true
		}
	case prefixMatcher:
		if m.ignoreCase {
			x.iprefixes.add(m.prefix)
		} else {
			x.prefixes.add(m.prefix)
		}
	case suffixMatcher:
		if m.ignoreCase {
			x.isuffixes.add(m.suffix)
		} else {
			x.suffixes.add(m.suffix)
		}
	case ignoreCaseMatcher:
		setAdd(&x.ignoreCase, foldKey(m.want))
	default:
		return false
	}
	return true
}

func setAdd(m *map[string]struct{}, s string) {
	if *m == nil {
		*m = map[string]struct{}{}
	}
	(*m)[s] = struct{}{}
}

// indexed replaces the exact, prefix, suffix and equals-ignore-case
// matchers of a list (an OR) by one valueIndex; the other matchers stay as
// they are. Lists of one matcher are left alone.
func indexed(ms []matcher) []matcher {
	if len(ms) < 2 {
		return ms
	}
	x := &valueIndex{}
	out := make([]matcher, 0, len(ms))
	n := 0
	for _, m := range ms {
		if x.add(m) {
			n++
			continue
		}
		out = append(out, m)
	}
	if n == 0 {
		return ms
	}
	return append(out, x)
}

// foldKey maps s to a string that is equal for two strings exactly when
// strings.EqualFold says they are: each rune becomes the smallest rune of
// its case-folding orbit.
func foldKey(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		min := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < min {
				min = f
			}
		}
		b.WriteRune(min)
	}
	return b.String()
}
