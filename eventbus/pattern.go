package eventbus

// This file implements the EventBridge event pattern language:
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html
//
// A pattern is parsed once into a tree of compiled matchers; matching walks the
// pattern tree and the decoded event together. The exact values, prefixes,
// suffixes and equals-ignore-case values of a leaf list sit in hash tables
// (valueIndex), so a leaf of thousands of values costs one lookup per event
// leaf, not thousands. Wildcards are compiled to literal segments matched
// greedily left to right, which never backtracks.
//
// Semantics worth knowing, all as in EventBridge (its rule engine is the open
// source aws/event-ruler):
//   - A field matches when any of its leaf values matches any element of the
//     pattern's list; an array in the event contributes each element.
//   - The fields of one pattern object must match inside the same element of
//     an array of objects (no mixing fields of different elements).
//   - exists looks at leaf values only: a field holding an object, or an empty
//     array, does not exist. exists:false also matches when a parent object
//     is missing.
//   - anything-but never matches a missing field.
//   - Numbers compare to six decimal places within ±5e9 (numeric operands must
//     lie there; event values outside never match numeric). Exact numbers
//     outside that range compare as float64 (EventBridge compares their JSON
//     text there; we must also serve events decoded into float64).
//   - A string value that is an IP address matches any spelling of it.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"sort"
	"strconv"
	"strings"
)

// Pattern is a parsed EventBridge event pattern. It is immutable and safe for
// concurrent use.
type Pattern struct {
	root *objectPattern
	text string
}

// PatternError is the error of an invalid pattern. Reason says what is wrong;
// Error gives EventBridge's message for it.
type PatternError struct {
	Reason string
}

func (e *PatternError) Error() string {
	return "Event pattern is not valid. Reason: " + e.Reason
}

func invalidf(format string, args ...any) error {
	return &PatternError{Reason: fmt.Sprintf(format, args...)}
}

// numericLimit bounds the numbers that numeric matching works on, as in
// EventBridge: operands outside it are refused, event values outside it never
// match a numeric comparison.
const numericLimit = 5e9

// comparableNumber is how EventBridge compares numbers: as integers counting
// millionths above -numericLimit, so precise to six decimal places. ok is
// false outside ±numericLimit.
func comparableNumber(f float64) (key int64, ok bool) {
	if !(f >= -numericLimit && f <= numericLimit) {
		return 0, false
	}
	return int64(1e6 * (numericLimit + f)), true
}

// ParsePattern parses and validates an EventBridge event pattern. An invalid
// pattern gives a *PatternError.
func ParsePattern(pattern string) (*Pattern, error) {
	dec := json.NewDecoder(strings.NewReader(pattern))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, invalidf("Filter is not valid JSON: %s", jsonErrText(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, invalidf("Filter is not valid JSON: unexpected data after the top-level object")
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, invalidf("Filter is not an object")
	}
	root, err := compileObject(obj, "", false)
	if err != nil {
		return nil, err
	}
	return &Pattern{root: root, text: pattern}, nil
}

// String returns the pattern's JSON text as given to ParsePattern.
func (p *Pattern) String() string { return p.text }

// Match reports whether the event, given as JSON, matches the pattern. Event
// JSON that does not decode to an object gives false and an error.
func (p *Pattern) Match(event []byte) (bool, error) {
	dec := json.NewDecoder(bytes.NewReader(event))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return false, fmt.Errorf("event is not valid JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return false, errors.New("event is not valid JSON: unexpected data after the top-level value")
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return false, errors.New("event is not a JSON object")
	}
	return p.root.match(obj), nil
}

// MatchValue is Match on an already-decoded event: a map[string]any as
// encoding/json produces it, with numbers as json.Number (Decoder.UseNumber)
// or float64. Anything that is not an object does not match.
func (p *Pattern) MatchValue(event any) bool {
	obj, ok := event.(map[string]any)
	if !ok {
		return false
	}
	return p.root.match(obj)
}

func jsonErrText(err error) string {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "unexpected end of input"
	}
	return err.Error()
}

// ---------------------------------------------------------------------------
// Compiled pattern tree

// objectPattern matches a JSON object: every field must match (AND), and, if
// present, at least one of the $or alternatives.
type objectPattern struct {
	fields []fieldPattern
	or     []*objectPattern
}

// fieldPattern is one key of a pattern object: either a nested object pattern
// or a leaf list of matchers (OR).
type fieldPattern struct {
	name   string
	object *objectPattern
	leaf   []matcher
}

const orKey = "$or"

// at names the field a reason is about, as EventBridge's messages end with
// the location of the problem.
func at(path string) string {
	if path == "" {
		return ""
	}
	return " at " + strconv.Quote(path)
}

// compileObject compiles a pattern object found at path ("" for the top).
// inOr says it is (inside) a branch of "$or", where operator names are
// reserved and may not be field names.
func compileObject(obj map[string]any, path string, inOr bool) (*objectPattern, error) {
	if len(obj) == 0 {
		return nil, invalidf("Empty objects are not allowed%s", at(path))
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	op := &objectPattern{}
	for _, k := range keys {
		v := obj[k]
		if k == orKey {
			alts, err := compileOr(v, path)
			if err != nil {
				return nil, err
			}
			op.or = alts
			continue
		}
		fieldPath := k
		if path != "" {
			fieldPath = path + "." + k
		}
		if inOr && reservedInOr[k] {
			return nil, invalidf("%s is Ruler reserved fieldName which cannot be used inside %s.%s", k, orKey, at(fieldPath))
		}
		switch v := v.(type) {
		case map[string]any:
			c, err := compileObject(v, fieldPath, inOr)
			if err != nil {
				return nil, err
			}
			op.fields = append(op.fields, fieldPattern{name: k, object: c})
		case []any:
			ms, err := compileLeaf(v, fieldPath)
			if err != nil {
				return nil, err
			}
			op.fields = append(op.fields, fieldPattern{name: k, leaf: ms})
		default:
			return nil, invalidf("%s must be an object or an array%s", strconv.Quote(k), at(fieldPath))
		}
	}
	return op, nil
}

// compileOr compiles the value of "$or": an array of at least two pattern
// objects, which apply to the object holding "$or" (its path is theirs).
func compileOr(v any, path string) ([]*objectPattern, error) {
	arr, ok := v.([]any)
	if !ok {
		return nil, invalidf("It must be an Array followed with %s.%s", orKey, at(path))
	}
	alts := make([]*objectPattern, 0, len(arr))
	for _, e := range arr {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, invalidf("Only JSON object is allowed in array of %s relationship.%s", orKey, at(path))
		}
		c, err := compileObject(m, path, true)
		if err != nil {
			return nil, err
		}
		alts = append(alts, c)
	}
	if len(alts) < 2 {
		return nil, invalidf("There must have at least 2 Objects in %s relationship.%s", orKey, at(path))
	}
	return alts, nil
}

// reservedInOr are the names EventBridge keeps for operators, present and
// future, and refuses as field names inside "$or".
var reservedInOr = map[string]bool{
	"exactly": true, "equals-ignore-case": true, "prefix": true, "suffix": true,
	"anything-but": true, "exists": true, "wildcard": true, "numeric": true, "cidr": true,
	"=": true, "<": true, "<=": true, ">": true, ">=": true,
	"regex": true, "not-wildcard": true, "not-equals-ignore-case": true,
	"date-after": true, "date-on-or-after": true, "date-before": true, "date-on-or-before": true,
	"in-date-range": true, "ip-address-in-range": true, "ip-address-not-in-range": true,
}

// ---------------------------------------------------------------------------
// Matching

// match reports whether obj matches; obj nil stands for a missing object (so
// only patterns made of "exists": false can match it).
func (op *objectPattern) match(obj map[string]any) bool {
	for i := range op.fields {
		f := &op.fields[i]
		v, present := obj[f.name]
		if !f.match(v, present) {
			return false
		}
	}
	if len(op.or) == 0 {
		return true
	}
	for _, alt := range op.or {
		if alt.match(obj) {
			return true
		}
	}
	return false
}

func (f *fieldPattern) match(v any, present bool) bool {
	if f.object != nil {
		return matchNested(f.object, v, present)
	}
	return matchLeaf(f.leaf, v, present)
}

// matchNested matches a nested object pattern against an event value. An
// array of objects matches when one of its elements does (so fields of one
// pattern object always come from the same array element). A value that holds
// no object at all is treated as a missing object.
func matchNested(op *objectPattern, v any, present bool) bool {
	if present {
		sawObject := false
		if forEachObject(v, func(m map[string]any) bool {
			sawObject = true
			return op.match(m)
		}) {
			return true
		}
		if sawObject {
			return false
		}
	}
	return op.match(nil)
}

// forEachObject calls fn for v if it is an object, or for each object inside
// v if it is an array (arrays nest), until fn returns true.
func forEachObject(v any, fn func(map[string]any) bool) bool {
	switch v := v.(type) {
	case map[string]any:
		return fn(v)
	case []any:
		for _, e := range v {
			if forEachObject(e, fn) {
				return true
			}
		}
	}
	return false
}

// matchLeaf matches a leaf list against an event value. The value's leaves are
// its scalars (an array contributes each scalar element, at any depth);
// objects are not leaves. Any matcher matching any leaf is a match; a value
// without leaves only matches "exists": false.
func matchLeaf(ms []matcher, v any, present bool) bool {
	found := false
	if present && forEachScalar(v, func(s scalar) bool {
		found = true
		for _, m := range ms {
			if m.match(s) {
				return true
			}
		}
		return false
	}) {
		return true
	}
	if found {
		return false
	}
	for _, m := range ms {
		if e, ok := m.(existsMatcher); ok && !bool(e) {
			return true
		}
	}
	return false
}

// scalarKind is the JSON type of a leaf value.
type scalarKind uint8

const (
	kindString scalarKind = iota + 1
	kindNumber
	kindBool
	kindNull
)

// scalar is one leaf value of an event.
type scalar struct {
	kind    scalarKind
	str     string  // kindString: the string; kindNumber: its JSON text
	num     float64 // kindNumber
	ok      bool    // kindNumber: num holds a finite value
	key     int64   // kindNumber: comparableNumber(num), if inRange
	inRange bool
	b       bool // kindBool
}

func forEachScalar(v any, fn func(scalar) bool) bool {
	switch v := v.(type) {
	case []any:
		for _, e := range v {
			if forEachScalar(e, fn) {
				return true
			}
		}
		return false
	case map[string]any:
		return false
	}
	s, ok := toScalar(v)
	if !ok {
		return false
	}
	return fn(s)
}

func toScalar(v any) (scalar, bool) {
	switch v := v.(type) {
	case nil:
		return scalar{kind: kindNull}, true
	case string:
		return scalar{kind: kindString, str: v}, true
	case bool:
		return scalar{kind: kindBool, b: v}, true
	case json.Number:
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return scalar{kind: kindNumber, str: string(v)}, true
		}
		s := numberScalar(f)
		s.str = string(v)
		return s, true
	case float64:
		return numberScalar(v), true
	case float32:
		return numberScalar(float64(v)), true
	case int:
		return numberScalar(float64(v)), true
	case int64:
		return numberScalar(float64(v)), true
	case int32:
		return numberScalar(float64(v)), true
	case uint:
		return numberScalar(float64(v)), true
	case uint64:
		return numberScalar(float64(v)), true
	case uint32:
		return numberScalar(float64(v)), true
	}
	return scalar{}, false
}

func numberScalar(f float64) scalar {
	s := scalar{kind: kindNumber, str: strconv.FormatFloat(f, 'g', -1, 64), num: f,
		ok: !math.IsInf(f, 0) && !math.IsNaN(f)}
	s.key, s.inRange = comparableNumber(f)
	return s
}

// sameNumber reports whether two numbers are equal: to six decimal places
// within ±numericLimit, as EventBridge compares them; exactly outside it (where
// EventBridge compares the JSON text, so 1e10 and 10000000000 differ there);
// by their text when one does not fit a float64.
func sameNumber(a, b scalar) bool {
	switch {
	case a.inRange && b.inRange:
		return a.key == b.key
	case a.ok && b.ok:
		return a.num == b.num
	}
	return a.str == b.str
}

// matcher is one element of a leaf list.
type matcher interface {
	match(s scalar) bool
}

// exactMatcher matches an equal string, number (numerically), boolean or null.
// A string that is an IP address also matches other spellings of the same
// address ("2001:db8::1" and "2001:DB8:0:0:0:0:0:1"), as in EventBridge.
type exactMatcher struct {
	want scalar
	ip   netip.Addr // valid when want is an IP address string
}

func (m exactMatcher) match(s scalar) bool {
	if s.kind != m.want.kind {
		return false
	}
	switch s.kind {
	case kindString:
		if s.str == m.want.str {
			return true
		}
		return m.ip.IsValid() && parseIP(s.str) == m.ip
	case kindNumber:
		return sameNumber(s, m.want)
	case kindBool:
		return s.b == m.want.b
	}
	return true // null
}

type prefixMatcher struct {
	prefix     string
	ignoreCase bool // prefix is lower-cased
}

func (m prefixMatcher) match(s scalar) bool {
	if s.kind != kindString {
		return false
	}
	if m.ignoreCase {
		return strings.HasPrefix(strings.ToLower(s.str), m.prefix)
	}
	return strings.HasPrefix(s.str, m.prefix)
}

type suffixMatcher struct {
	suffix     string
	ignoreCase bool // suffix is lower-cased
}

func (m suffixMatcher) match(s scalar) bool {
	if s.kind != kindString {
		return false
	}
	if m.ignoreCase {
		return strings.HasSuffix(strings.ToLower(s.str), m.suffix)
	}
	return strings.HasSuffix(s.str, m.suffix)
}

type ignoreCaseMatcher struct{ want string }

func (m ignoreCaseMatcher) match(s scalar) bool {
	return s.kind == kindString && strings.EqualFold(s.str, m.want)
}

// existsMatcher is "exists": true or false. A present leaf matches true only;
// matchLeaf handles the absent case.
type existsMatcher bool

func (m existsMatcher) match(scalar) bool { return bool(m) }

type wildcardMatcher struct{ g glob }

func (m wildcardMatcher) match(s scalar) bool {
	return s.kind == kindString && m.g.match(s.str)
}

type cidrMatcher struct{ prefix netip.Prefix }

func (m cidrMatcher) match(s scalar) bool {
	if s.kind != kindString {
		return false
	}
	addr := parseIP(s.str)
	return addr.IsValid() && m.prefix.Contains(addr)
}

// parseIP parses an IPv4 or IPv6 address without a zone, IPv4-mapped IPv6
// addresses giving their IPv4 address; anything else gives the zero Addr.
func parseIP(s string) netip.Addr {
	if len(s) < 2 || len(s) > 45 {
		return netip.Addr{}
	}
	addr, err := netip.ParseAddr(s)
	if err != nil || addr.Zone() != "" {
		return netip.Addr{}
	}
	return addr.Unmap()
}

// numericMatcher is a range over comparableNumber keys; an unset bound is
// open-ended.
type numericMatcher struct {
	hasLow, lowIncl   bool
	low               int64
	hasHigh, highIncl bool
	high              int64
}

func (m numericMatcher) match(s scalar) bool {
	if s.kind != kindNumber || !s.inRange {
		return false
	}
	x := s.key
	if m.hasLow && (x < m.low || (x == m.low && !m.lowIncl)) {
		return false
	}
	if m.hasHigh && (x > m.high || (x == m.high && !m.highIncl)) {
		return false
	}
	return true
}

// anythingBut matches every leaf that its inner matcher does not. It never
// matches a missing field.
type anythingBut struct{ not matcher }

func (m anythingBut) match(s scalar) bool { return !m.not.match(s) }

// anyOf matches when one of its matchers does.
type anyOf []matcher

func (m anyOf) match(s scalar) bool {
	for _, x := range m {
		if x.match(s) {
			return true
		}
	}
	return false
}

// ---------------------------------------------------------------------------
// Compiling leaves

func compileLeaf(arr []any, path string) ([]matcher, error) {
	if len(arr) == 0 {
		return nil, invalidf("Empty arrays are not allowed%s", at(path))
	}
	ms := make([]matcher, 0, len(arr))
	for _, e := range arr {
		var m matcher
		var err error
		if obj, ok := e.(map[string]any); ok {
			m, err = compileExpression(obj, path)
		} else {
			m, err = compileValue(e, path)
		}
		if err != nil {
			return nil, err
		}
		ms = append(ms, m)
	}
	return indexed(ms), nil
}

// compileValue compiles an exact value: string, number, boolean or null.
func compileValue(v any, path string) (matcher, error) {
	switch v.(type) {
	case nil, string, bool, json.Number:
		s, _ := toScalar(v)
		m := exactMatcher{want: s}
		if s.kind == kindString {
			m.ip = parseIP(s.str)
		}
		return m, nil
	}
	return nil, invalidf("Match value must be String, number, true, false, or null%s", at(path))
}

// compileExpression compiles a match expression object like {"prefix": "x"}.
func compileExpression(obj map[string]any, path string) (matcher, error) {
	if len(obj) != 1 {
		if len(obj) == 0 {
			return nil, invalidf("Match expression name not found%s", at(path))
		}
		return nil, invalidf("Only one key allowed in match expression%s", at(path))
	}
	var op string
	var arg any
	for k, v := range obj {
		op, arg = k, v
	}
	switch op {
	case "prefix":
		s, ignoreCase, err := affixOperand(op, arg, path)
		if err != nil {
			return nil, err
		}
		return prefixMatcher{prefix: s, ignoreCase: ignoreCase}, nil
	case "suffix":
		s, ignoreCase, err := affixOperand(op, arg, path)
		if err != nil {
			return nil, err
		}
		return suffixMatcher{suffix: s, ignoreCase: ignoreCase}, nil
	case "equals-ignore-case":
		s, ok := arg.(string)
		if !ok {
			return nil, invalidf("equals-ignore-case match pattern must be a string%s", at(path))
		}
		return ignoreCaseMatcher{want: s}, nil
	case "wildcard":
		s, ok := arg.(string)
		if !ok {
			return nil, invalidf("wildcard match pattern must be a string%s", at(path))
		}
		g, err := compileGlob(s, path)
		if err != nil {
			return nil, err
		}
		return wildcardMatcher{g: g}, nil
	case "exists":
		b, ok := arg.(bool)
		if !ok {
			return nil, invalidf("exists match pattern must be either true or false%s", at(path))
		}
		return existsMatcher(b), nil
	case "cidr":
		return compileCIDR(arg, path)
	case "numeric":
		return compileNumeric(arg, path)
	case "anything-but":
		return compileAnythingBut(arg, path)
	}
	return nil, invalidf("Unrecognized match type %s%s", op, at(path))
}

// affixOperand reads the operand of prefix or suffix: a string, or
// {"equals-ignore-case": string}. An ignore-case operand is returned lower-cased.
func affixOperand(op string, arg any, path string) (string, bool, error) {
	switch a := arg.(type) {
	case string:
		return a, false, nil
	case map[string]any:
		if len(a) == 1 {
			if s, ok := a["equals-ignore-case"].(string); ok {
				return strings.ToLower(s), true, nil
			}
		}
	}
	return "", false, invalidf("%s match pattern must be a string or an equals-ignore-case object with a string%s", op, at(path))
}

// compileCIDR compiles "cidr": "ADDRESS/BITS". Like EventBridge it wants
// exactly one '/', and fewer mask bits than the address has (/32 and /128 are
// refused: match the address exactly instead).
func compileCIDR(arg any, path string) (matcher, error) {
	s, ok := arg.(string)
	if !ok {
		return nil, invalidf("cidr match pattern must be a string%s", at(path))
	}
	addrText, bitsText, ok := strings.Cut(s, "/")
	if !ok || strings.Contains(bitsText, "/") {
		return nil, invalidf("Malformed CIDR, one '/' required%s", at(path))
	}
	bits, err := strconv.Atoi(bitsText)
	if err != nil {
		return nil, invalidf("Malformed CIDR, mask bits must be an integer%s", at(path))
	}
	if bits < 0 {
		return nil, invalidf("Malformed CIDR, mask bits must not be negative%s", at(path))
	}
	addr, err := netip.ParseAddr(addrText)
	if err != nil || addr.Zone() != "" {
		return nil, invalidf("Invalid IP address: %s%s", addrText, at(path))
	}
	addr = addr.Unmap()
	if bits >= addr.BitLen() {
		if addr.Is4() {
			return nil, invalidf("IPv4 mask bits must be < 32%s", at(path))
		}
		return nil, invalidf("IPv6 mask bits must be < 128%s", at(path))
	}
	p, err := addr.Prefix(bits)
	if err != nil {
		return nil, invalidf("Malformed CIDR%s", at(path))
	}
	return cidrMatcher{prefix: p}, nil
}

// compileNumeric compiles the operand of "numeric": ["=", x], [">", x],
// [">=", x], ["<", x], ["<=", x], or a lower bound followed by an upper bound
// like [">", 0, "<=", 5].
func compileNumeric(arg any, path string) (matcher, error) {
	arr, ok := arg.([]any)
	if !ok {
		return nil, invalidf("Value of numeric must be an array.%s", at(path))
	}
	if len(arr) == 0 {
		return nil, invalidf("Empty arrays are not allowed%s", at(path))
	}
	op, ok := arr[0].(string)
	if !ok {
		return nil, invalidf("Invalid member in numeric match: %s%s", jsonText(arr[0]), at(path))
	}
	operand := func(i int, name string) (float64, error) {
		if i >= len(arr) {
			return 0, invalidf("Value of %s must be numeric%s", name, at(path))
		}
		return numericOperand(name, arr[i], path)
	}
	var m numericMatcher
	var bottom float64
	switch op {
	case "=":
		x, err := operand(1, "equals")
		if err != nil {
			return nil, err
		}
		if len(arr) > 2 {
			return nil, invalidf("Too many elements in numeric expression%s", at(path))
		}
		k := numericKey(x)
		return numericMatcher{hasLow: true, lowIncl: true, low: k, hasHigh: true, highIncl: true, high: k}, nil
	case "<", "<=":
		x, err := operand(1, op)
		if err != nil {
			return nil, err
		}
		if len(arr) > 2 {
			return nil, invalidf("Too many elements in numeric expression%s", at(path))
		}
		return numericMatcher{hasHigh: true, highIncl: op == "<=", high: numericKey(x)}, nil
	case ">", ">=":
		x, err := operand(1, op)
		if err != nil {
			return nil, err
		}
		bottom = x
		m = numericMatcher{hasLow: true, lowIncl: op == ">=", low: numericKey(x)}
	default:
		return nil, invalidf("Unrecognized numeric range operator: %s%s", op, at(path))
	}
	if len(arr) == 2 {
		return m, nil
	}
	top, ok := arr[2].(string)
	if !ok {
		return nil, invalidf("Bad value in numeric range: %s%s", jsonText(arr[2]), at(path))
	}
	if top != "<" && top != "<=" {
		return nil, invalidf("Bad numeric range operator: %s%s", top, at(path))
	}
	x, err := operand(3, top)
	if err != nil {
		return nil, err
	}
	if len(arr) > 4 {
		return nil, invalidf("Too many terms in numeric range expression%s", at(path))
	}
	if bottom >= x {
		return nil, invalidf("Bottom must be less than top%s", at(path))
	}
	m.hasHigh, m.highIncl, m.high = true, top == "<=", numericKey(x)
	return m, nil
}

// numericKey is comparableNumber of an operand already checked to be in range.
func numericKey(x float64) int64 {
	k, _ := comparableNumber(x)
	return k
}

func numericOperand(name string, v any, path string) (float64, error) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, invalidf("Value of %s must be numeric%s", name, at(path))
	}
	x, err := strconv.ParseFloat(string(n), 64)
	if err != nil || x < -numericLimit || x > numericLimit {
		return 0, invalidf("Value must be between -5.0E9 and 5.0E9, inclusive%s", at(path))
	}
	return x, nil
}

func compileAnythingBut(arg any, path string) (matcher, error) {
	switch a := arg.(type) {
	case string, json.Number:
		s, _ := toScalar(a)
		if s.kind == kindNumber && !s.inRange {
			return nil, invalidf("Value must be between -5.0E9 and 5.0E9, inclusive%s", at(path))
		}
		return anythingBut{not: exactMatcher{want: s}}, nil
	case []any:
		if len(a) == 0 {
			return nil, invalidf("Empty arrays are not allowed%s", at(path))
		}
		var kind scalarKind
		not := make(anyOf, 0, len(a))
		for _, e := range a {
			s, ok := toScalar(e)
			if !ok || (s.kind != kindString && s.kind != kindNumber) {
				return nil, invalidf("Inside anything but list, start|null|boolean is not supported.%s", at(path))
			}
			if kind != 0 && s.kind != kind {
				return nil, invalidf("Inside anything but list, either all values are number or string, mixed type is not supported%s", at(path))
			}
			if s.kind == kindNumber && !s.inRange {
				return nil, invalidf("Value must be between -5.0E9 and 5.0E9, inclusive%s", at(path))
			}
			kind = s.kind
			not = append(not, exactMatcher{want: s})
		}
		return anythingBut{not: anyOf(indexed(not))}, nil
	case map[string]any:
		if len(a) == 0 {
			return nil, invalidf("Anything-But expression name not found%s", at(path))
		}
		if len(a) != 1 {
			return nil, invalidf("Only one key allowed in match expression%s", at(path))
		}
		var op string
		var v any
		for k, x := range a {
			op, v = k, x
		}
		switch op {
		case "prefix", "suffix":
			s, ok := v.(string)
			if !ok {
				return nil, invalidf("prefix/suffix match pattern must be a string%s", at(path))
			}
			if s == "" {
				return nil, invalidf("Null prefix/suffix not allowed%s", at(path))
			}
			if op == "prefix" {
				return anythingBut{not: prefixMatcher{prefix: s}}, nil
			}
			return anythingBut{not: suffixMatcher{suffix: s}}, nil
		case "equals-ignore-case", "wildcard":
			vals, err := stringOrStrings(op, v, path)
			if err != nil {
				return nil, err
			}
			not := make(anyOf, 0, len(vals))
			for _, s := range vals {
				if op == "equals-ignore-case" {
					not = append(not, ignoreCaseMatcher{want: s})
					continue
				}
				g, err := compileGlob(s, path)
				if err != nil {
					return nil, err
				}
				not = append(not, wildcardMatcher{g: g})
			}
			return anythingBut{not: anyOf(indexed(not))}, nil
		}
		return nil, invalidf("Unsupported anything-but pattern: %s%s", op, at(path))
	}
	return nil, invalidf("Value of anything-but must be an array or single string/number value.%s", at(path))
}

func stringOrStrings(op string, v any, path string) ([]string, error) {
	switch v := v.(type) {
	case string:
		return []string{v}, nil
	case []any:
		if len(v) == 0 {
			return nil, invalidf("Empty arrays are not allowed%s", at(path))
		}
		out := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, invalidf("Inside anything-but/%s list, number|start|null|boolean is not supported.%s", op, at(path))
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, invalidf("anything-but %s must be a string or an array of strings%s", op, at(path))
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// ---------------------------------------------------------------------------
// Wildcards

// glob is a compiled wildcard: literal segments separated by '*'. With n
// segments, segs[0] must be a prefix (unless the pattern starts with '*'),
// segs[n-1] a suffix (unless it ends with '*'), and the ones between occur in
// order. Finding each middle segment at its leftmost position is always
// right for '*' globs, so matching is one left-to-right scan without
// backtracking.
type glob struct {
	segs []string
	star bool // at least one '*'
}

func compileGlob(p, path string) (glob, error) {
	var segs []string
	var cur strings.Builder
	star, prevStar := false, false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch c {
		case '\\':
			if i+1 >= len(p) || (p[i+1] != '*' && p[i+1] != '\\') {
				return glob{}, invalidf("Invalid escape character at pos %d%s", i, at(path))
			}
			i++
			cur.WriteByte(p[i])
		case '*':
			if prevStar {
				return glob{}, invalidf("Consecutive wildcard characters at pos %d%s", i, at(path))
			}
			star = true
			segs = append(segs, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
		prevStar = c == '*'
	}
	segs = append(segs, cur.String())
	return glob{segs: segs, star: star}, nil
}

func (g glob) match(s string) bool {
	if !g.star {
		return s == g.segs[0]
	}
	first, last := g.segs[0], g.segs[len(g.segs)-1]
	if len(s) < len(first)+len(last) || !strings.HasPrefix(s, first) || !strings.HasSuffix(s, last) {
		return false
	}
	rest := s[len(first) : len(s)-len(last)]
	for _, seg := range g.segs[1 : len(g.segs)-1] {
		i := strings.Index(rest, seg)
		if i < 0 {
			return false
		}
		rest = rest[i+len(seg):]
	}
	return true
}
