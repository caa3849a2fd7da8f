package eventbus

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestIndexedLeafAgreesWithTheList: an indexed leaf list matches exactly
// the scalars that its matchers, tried one by one, match (numbers of any
// spelling and range, IP spellings, case folding, prefixes and suffixes).
func TestIndexedLeafAgreesWithTheList(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	words := []string{"", "a", "A", "ab", "Ab", "abc", "ABC", "k", "K", "\u212a" /* Kelvin */, "straße", "STRASSE", "ß", "10.0.0.1", "10.000.0.1", "::1", "0:0::1", "x/y", "y"}
	numbers := []string{"0", "-0", "1", "1.0", "1e0", "1.0000001", "5000000000", "5000000001", "5e9", "1e300", "-1e300", "1e999"}
	pick := func(xs []string) string { return xs[rng.IntN(len(xs))] }
	for iter := range 3000 {
		var elems []string
		for range 1 + rng.IntN(8) {
			switch rng.IntN(8) {
			case 0:
				elems = append(elems, fmt.Sprintf(`{"prefix":%q}`, pick(words)))
			case 1:
				elems = append(elems, fmt.Sprintf(`{"suffix":%q}`, pick(words)))
			case 2:
				elems = append(elems, fmt.Sprintf(`{"prefix":{"equals-ignore-case":%q}}`, pick(words)))
			case 3:
				elems = append(elems, fmt.Sprintf(`{"suffix":{"equals-ignore-case":%q}}`, pick(words)))
			case 4:
				elems = append(elems, fmt.Sprintf(`{"equals-ignore-case":%q}`, pick(words)))
			case 5:
				elems = append(elems, pick(numbers))
			case 6:
				elems = append(elems, []string{"true", "false", "null"}[rng.IntN(3)])
			default:
				elems = append(elems, fmt.Sprintf("%q", pick(words)))
			}
		}
		raw := "[" + strings.Join(elems, ",") + "]"
		dec := json.NewDecoder(strings.NewReader(raw))
		dec.UseNumber()
		var arr []any
		if err := dec.Decode(&arr); err != nil {
			t.Fatal(err)
		}
		list := make([]matcher, 0, len(arr))
		for _, e := range arr {
			var m matcher
			var err error
			if obj, ok := e.(map[string]any); ok {
				m, err = compileExpression(obj, "k")
			} else {
				m, err = compileValue(e, "k")
			}
			if err != nil {
				t.Fatalf("%s: %v", raw, err)
			}
			list = append(list, m)
		}
		idx := anyOf(indexed(list))
		plain := anyOf(list)
		for _, v := range append(append([]string{}, words...), numbers...) {
			for _, s := range []string{fmt.Sprintf("%q", v), v} {
				var x any
				d := json.NewDecoder(strings.NewReader(s))
				d.UseNumber()
				if d.Decode(&x) != nil {
					continue
				}
				sc, ok := toScalar(x)
				if !ok {
					continue
				}
				if got, want := idx.match(sc), plain.match(sc); got != want {
					t.Fatalf("iteration %d: leaf %s on %s: indexed %v, one by one %v", iter, raw, s, got, want)
				}
			}
		}
	}
}

// TestThousandsOfValuesAreOneLookup: a leaf of 30,000 values (the list that
// took 17.6 s against an event of 30,000 elements when tried one by one)
// compiles to one hash index, and matches.
func TestThousandsOfValuesAreOneLookup(t *testing.T) {
	const n = 30000
	pattern, elems := manyValues(n)
	p, err := ParsePattern(pattern)
	if err != nil {
		t.Fatal(err)
	}
	leaf := p.root.fields[0].object.fields[0].leaf
	if len(leaf) != 1 {
		t.Fatalf("leaf of %d values compiled to %d matchers, want 1 index", n, len(leaf))
	}
	if _, ok := leaf[0].(*valueIndex); !ok {
		t.Fatalf("leaf compiled to %T, want *valueIndex", leaf[0])
	}
	miss := `{"detail":{"k":[` + strings.Join(elems, ",") + `]}}`
	if ok, err := p.Match([]byte(miss)); err != nil || ok {
		t.Fatalf("no common value: %v %v", ok, err)
	}
	elems[n-1] = fmt.Sprintf("%q", "value-12345")
	hit := `{"detail":{"k":[` + strings.Join(elems, ",") + `]}}`
	if ok, err := p.Match([]byte(hit)); err != nil || !ok {
		t.Fatalf("one common value: %v %v", ok, err)
	}
}

func TestPatternLengthOK(t *testing.T) {
	if !PatternLengthOK(strings.Repeat("é", MaxPatternLength)) {
		t.Error("4096 two-byte characters refused: the limit is in characters")
	}
	if PatternLengthOK(strings.Repeat("a", MaxPatternLength+1)) {
		t.Error("4097 characters accepted")
	}
}

func BenchmarkManyValuesManyElements(b *testing.B) {
	for _, n := range []int{1000, 10000, 30000} {
		pattern, elems := manyValues(n)
		p, err := ParsePattern(pattern)
		if err != nil {
			b.Fatal(err)
		}
		var ev any
		if err := json.Unmarshal([]byte(`{"detail":{"k":[`+strings.Join(elems, ",")+`]}}`), &ev); err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				if p.MatchValue(ev) {
					b.Fatal("matched")
				}
			}
		})
	}
}

// manyValues is a pattern whose detail.k lists n strings, and n event
// elements (JSON strings) none of which is among them.
func manyValues(n int) (pattern string, elems []string) {
	vals := make([]string, n)
	elems = make([]string, n)
	for i := range n {
		vals[i] = fmt.Sprintf("%q", fmt.Sprintf("value-%d", i))
		elems[i] = fmt.Sprintf("%q", fmt.Sprintf("other-%d", i))
	}
	return `{"detail":{"k":[` + strings.Join(vals, ",") + `]}}`, elems
}
