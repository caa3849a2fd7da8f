package terraform_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// The checks below read the configuration's HCL and enforce what an apply
// to moto cannot show: moto ignores IAM, log retention, queue timing and
// lifecycle rules. Each check returns the problems it found; the tests run
// every check on the real configuration (no problems allowed) and on small
// broken configurations (problems required), so a check that stopped
// looking would fail too.

// module is the parsed top level of a Terraform configuration.
type module struct {
	dir       string
	src       map[string][]byte               // file name -> source
	blocks    []*hclsyntax.Block              // every top-level block
	variables map[string]*hclsyntax.Block     // variable "x"
	locals    map[string]*hclsyntax.Attribute // locals { x = ... }
	resources map[string]*hclsyntax.Block     // "type.name"
	data      map[string]*hclsyntax.Block     // "type.name" of data blocks
}

func parseModule(dir string, files map[string][]byte) (*module, error) {
	m := &module{
		dir:       dir,
		src:       files,
		variables: map[string]*hclsyntax.Block{},
		locals:    map[string]*hclsyntax.Attribute{},
		resources: map[string]*hclsyntax.Block{},
		data:      map[string]*hclsyntax.Block{},
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	p := hclparse.NewParser()
	for _, name := range names {
		f, diags := p.ParseHCL(files[name], name)
		if diags.HasErrors() {
			return nil, diags
		}
		for _, b := range f.Body.(*hclsyntax.Body).Blocks {
			m.blocks = append(m.blocks, b)
			switch b.Type {
			case "variable":
				m.variables[b.Labels[0]] = b
			case "locals":
				for n, a := range b.Body.Attributes {
					m.locals[n] = a
				}
			case "resource":
				m.resources[b.Labels[0]+"."+b.Labels[1]] = b
			case "data":
				m.data[b.Labels[0]+"."+b.Labels[1]] = b
			}
		}
	}
	return m, nil
}

func loadModule(t *testing.T, dir string) *module {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files[filepath.Base(p)] = b
	}
	if len(files) == 0 {
		t.Fatalf("no .tf files in %s", dir)
	}
	m, err := parseModule(dir, files)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// evalContext holds var.* (defaults, then overrides), path.module and every
// local that can be computed from them; locals that need resources or data
// sources stay out.
func (m *module) evalContext(overrides map[string]cty.Value) *hcl.EvalContext {
	return m.context(overrides, nil)
}

// context is evalContext with some locals given (those that come from data
// sources, e.g. local.account_id), Terraform's functions, and every
// resource and data source as an unknown value: an expression that refers
// to one evaluates to unknown instead of failing. Locals are computed when
// they evaluate without error, even if partly unknown (local.functions has
// known keys and unknown names).
func (m *module) context(overrides, givenLocals map[string]cty.Value) *hcl.EvalContext {
	vars := map[string]cty.Value{}
	for name, b := range m.variables {
		v := cty.DynamicVal
		if a, ok := b.Body.Attributes["default"]; ok {
			if dv, diags := a.Expr.Value(nil); !diags.HasErrors() {
				v = dv
			}
		}
		vars[name] = v
	}
	for k, v := range overrides {
		vars[k] = v
	}
	// As Terraform does, a value takes its variable's declared type ({}
	// becomes an empty map(string)).
	for name, v := range vars {
		if a, ok := m.variables[name].Body.Attributes["type"]; ok && v != cty.DynamicVal {
			if ty, diags := typeexpr.TypeConstraint(a.Expr); !diags.HasErrors() {
				if cv, err := convert.Convert(v, ty); err == nil {
					vars[name] = cv
				}
			}
		}
	}
	ctx := &hcl.EvalContext{
		Variables: map[string]cty.Value{
			"var":  cty.ObjectVal(vars),
			"path": cty.ObjectVal(map[string]cty.Value{"module": cty.StringVal(m.dir)}),
			"data": cty.DynamicVal,
		},
		Functions: terraformFunctions(),
	}
	for key := range m.resources {
		ctx.Variables[strings.SplitN(key, ".", 2)[0]] = cty.DynamicVal
	}
	locals := map[string]cty.Value{}
	for k, v := range givenLocals {
		locals[k] = v
	}
	for progress := true; progress; {
		progress = false
		ctx.Variables["local"] = cty.ObjectVal(locals)
		for name, a := range m.locals {
			if _, done := locals[name]; done {
				continue
			}
			v, diags := a.Expr.Value(ctx)
			if diags.HasErrors() || v == cty.DynamicVal {
				continue
			}
			locals[name] = v
			progress = true
		}
	}
	ctx.Variables["local"] = cty.ObjectVal(locals)
	return ctx
}

// number evaluates expr to a known number.
func number(expr hcl.Expression, ctx *hcl.EvalContext) (float64, error) {
	v, diags := expr.Value(ctx)
	if diags.HasErrors() {
		return 0, diags
	}
	if !v.IsKnown() || v.IsNull() || v.Type() != cty.Number {
		return 0, fmt.Errorf("not a known number: %#v", v)
	}
	f, _ := v.AsBigFloat().Float64()
	return f, nil
}

// str evaluates expr to a known string.
func str(expr hcl.Expression, ctx *hcl.EvalContext) (string, error) {
	v, diags := expr.Value(ctx)
	if diags.HasErrors() {
		return "", diags
	}
	if !v.IsKnown() || v.IsNull() || v.Type() != cty.String {
		return "", fmt.Errorf("not a known string: %#v", v)
	}
	return v.AsString(), nil
}

// refersTo returns the name of the first "<kind>.<name>" that expr refers
// to, e.g. refersTo(e, "aws_sqs_queue") == "process" for
// aws_sqs_queue.process.arn.
func refersTo(expr hcl.Expression, kind string) (string, bool) {
	for _, tr := range expr.Variables() {
		if tr.RootName() != kind || len(tr) < 2 {
			continue
		}
		if a, ok := tr[1].(hcl.TraverseAttr); ok {
			return a.Name, true
		}
	}
	return "", false
}

func blocksOf(b *hclsyntax.Block, typ string) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, c := range b.Body.Blocks {
		if c.Type == typ {
			out = append(out, c)
		}
	}
	return out
}

func blockName(b *hclsyntax.Block) string {
	return strings.Join(append([]string{b.Type}, b.Labels...), ".")
}

// --- check: no wildcard IAM action -------------------------------------------

// managedPolicies are the AWS managed policies the configuration may attach.
var managedPolicies = []string{"service-role/AmazonAPIGatewayPushToCloudWatchLogs"}

// unscopedActions are actions IAM grants only on every resource ("*": they
// have no resource-level permissions); a statement of these alone may say
// so.
var unscopedActions = []string{"tag:GetResources"}

// policyAttributes are attributes that hold an IAM policy document.
var policyAttributes = []string{"policy", "assume_role_policy"}

func checkIAMActions(m *module) []string {
	var problems []string
	keys := sortedKeys(m.data)
	for _, key := range keys {
		if !strings.HasPrefix(key, "aws_iam_policy_document.") {
			continue
		}
		for i, st := range blocksOf(m.data[key], "statement") {
			where := fmt.Sprintf("data.%s statement %d", key, i)
			effect := "Allow"
			if a, ok := st.Body.Attributes["effect"]; ok {
				e, err := str(a.Expr, nil)
				if err != nil {
					problems = append(problems, fmt.Sprintf("%s: effect is not a literal: %v", where, err))
					continue
				}
				effect = e
			}
			if _, ok := st.Body.Attributes["not_actions"]; ok {
				problems = append(problems, where+": not_actions grants every other action")
			}
			a, ok := st.Body.Attributes["actions"]
			if !ok {
				problems = append(problems, where+": no actions")
				continue
			}
			v, diags := a.Expr.Value(nil)
			if diags.HasErrors() || !v.IsWhollyKnown() || !v.CanIterateElements() {
				problems = append(problems, where+": actions must be a literal list")
				continue
			}
			unscoped := true
			for it := v.ElementIterator(); it.Next(); {
				_, av := it.Element()
				action := av.AsString()
				unscoped = unscoped && slices.Contains(unscopedActions, action)
				switch {
				case action == "*":
					problems = append(problems, fmt.Sprintf("%s: action %q", where, action))
				case effect == "Allow" && strings.Contains(action, "*"):
					problems = append(problems, fmt.Sprintf("%s: allows wildcard action %q", where, action))
				}
			}
			if r, ok := st.Body.Attributes["resources"]; ok && effect == "Allow" {
				if rv, diags := r.Expr.Value(nil); !diags.HasErrors() && rv.IsWhollyKnown() && rv.CanIterateElements() {
					for it := rv.ElementIterator(); it.Next(); {
						if _, e := it.Element(); e.AsString() == "*" && !unscoped {
							problems = append(problems, where+": allows on every resource (\"*\")")
						}
					}
				}
			}
		}
	}
	// Every policy must come from an aws_iam_policy_document checked above.
	for _, b := range m.blocks {
		if b.Type != "resource" {
			continue
		}
		for _, name := range policyAttributes {
			a, ok := b.Body.Attributes[name]
			if !ok {
				continue
			}
			kind, _ := refersTo(a.Expr, "data")
			switch a.Expr.(type) {
			case *hclsyntax.ScopeTraversalExpr, *hclsyntax.RelativeTraversalExpr:
			default:
				kind = ""
			}
			if kind != "aws_iam_policy_document" {
				problems = append(problems, fmt.Sprintf("%s: %s is not an aws_iam_policy_document, so it cannot be checked", blockName(b), name))
			}
		}
		for _, c := range b.Body.Blocks {
			if c.Type == "inline_policy" {
				problems = append(problems, blockName(b)+": inline_policy block; use aws_iam_role_policy with a policy document")
			}
		}
		if _, ok := b.Body.Attributes["managed_policy_arns"]; ok {
			problems = append(problems, blockName(b)+": managed_policy_arns cannot be checked")
		}
		if b.Type == "resource" && (b.Labels[0] == "aws_iam_role_policy_attachment" || b.Labels[0] == "aws_iam_policy_attachment") {
			arn := exprText(m, b.Body.Attributes["policy_arn"].Expr)
			allowed := false
			for _, p := range managedPolicies {
				if strings.HasSuffix(strings.Trim(arn, `"`), ":iam::aws:policy/"+p) {
					allowed = true
				}
			}
			if !allowed {
				problems = append(problems, fmt.Sprintf("%s: attaches %s, not an allow-listed AWS managed policy", blockName(b), arn))
			}
		}
	}
	return problems
}

// exprText is the source text of expr.
func exprText(m *module, expr hcl.Expression) string {
	r := expr.Range()
	src, ok := m.src[r.Filename]
	if !ok || r.End.Byte > len(src) {
		return ""
	}
	return string(src[r.Start.Byte:r.End.Byte])
}

// --- check: every function has a log group with retention --------------------

func checkFunctionLogs(m *module) []string {
	var problems []string
	ctx := m.evalContext(nil)
	for _, key := range sortedKeys(m.resources) {
		if !strings.HasPrefix(key, "aws_lambda_function.") {
			continue
		}
		fn := m.resources[key]
		lcs := blocksOf(fn, "logging_config")
		if len(lcs) != 1 {
			problems = append(problems, key+": no logging_config block")
			continue
		}
		lc := lcs[0].Body.Attributes
		if a, ok := lc["log_format"]; !ok {
			problems = append(problems, key+": no log_format")
		} else if f, err := str(a.Expr, ctx); err != nil || f != "JSON" {
			problems = append(problems, fmt.Sprintf("%s: log_format %q, want JSON (%v)", key, f, err))
		}
		a, ok := lc["log_group"]
		if !ok {
			problems = append(problems, key+": logging_config has no log_group")
			continue
		}
		lgName, ok := refersTo(a.Expr, "aws_cloudwatch_log_group")
		lg := m.resources["aws_cloudwatch_log_group."+lgName]
		if !ok || lg == nil {
			problems = append(problems, key+": log_group is not an aws_cloudwatch_log_group of this configuration")
			continue
		}
		ret, ok := lg.Body.Attributes["retention_in_days"]
		if !ok {
			problems = append(problems, "aws_cloudwatch_log_group."+lgName+": no retention_in_days")
		} else if days, err := number(ret.Expr, ctx); err != nil || days <= 0 {
			problems = append(problems, fmt.Sprintf("aws_cloudwatch_log_group.%s: retention_in_days %v (%v), want > 0", lgName, days, err))
		}
		// Lambda's own default group, so nothing else creates a second one
		// without retention.
		fnName, err1 := str(fn.Body.Attributes["function_name"].Expr, ctx)
		group, err2 := str(lg.Body.Attributes["name"].Expr, ctx)
		if err1 != nil || err2 != nil || group != "/aws/lambda/"+fnName {
			problems = append(problems, fmt.Sprintf("%s: log group %q, want /aws/lambda/%s (%v %v)", key, group, fnName, err1, err2))
		}
	}
	return problems
}

// --- check: queue visibility >= 6 x function timeout ------------------------

// timeoutsToTry are values given to every variable a worker's timeout
// depends on, besides the defaults, so that the rule holds whatever an
// operator sets and not only by coincidence of two defaults.
var timeoutsToTry = []int64{1, 30, 300, 900}

func checkQueueVisibility(m *module) []string {
	var problems []string
	found := 0
	for _, key := range sortedKeys(m.resources) {
		if !strings.HasPrefix(key, "aws_lambda_event_source_mapping.") {
			continue
		}
		esm := m.resources[key].Body.Attributes
		qName, ok1 := refersTo(esm["event_source_arn"].Expr, "aws_sqs_queue")
		fName, ok2 := refersTo(esm["function_name"].Expr, "aws_lambda_function")
		queue, fn := m.resources["aws_sqs_queue."+qName], m.resources["aws_lambda_function."+fName]
		if !ok1 || !ok2 || queue == nil || fn == nil {
			problems = append(problems, key+": not an aws_sqs_queue -> aws_lambda_function mapping of this configuration")
			continue
		}
		found++
		vis, ok := queue.Body.Attributes["visibility_timeout_seconds"]
		if !ok {
			problems = append(problems, "aws_sqs_queue."+qName+": no visibility_timeout_seconds (default 30 s)")
			continue
		}
		timeout, ok := fn.Body.Attributes["timeout"]
		if !ok {
			problems = append(problems, "aws_lambda_function."+fName+": no timeout")
			continue
		}
		scenarios := []map[string]cty.Value{nil}
		for _, s := range timeoutsToTry {
			o := map[string]cty.Value{}
			for _, tr := range timeout.Expr.Variables() {
				if tr.RootName() == "var" && len(tr) > 1 {
					o[tr[1].(hcl.TraverseAttr).Name] = cty.NumberIntVal(s)
				}
			}
			scenarios = append(scenarios, o)
		}
		for _, o := range scenarios {
			ctx := m.evalContext(o)
			v, err1 := number(vis.Expr, ctx)
			ft, err2 := number(timeout.Expr, ctx)
			if err1 != nil || err2 != nil {
				problems = append(problems, fmt.Sprintf("%s: cannot evaluate visibility or timeout statically: %v %v", key, err1, err2))
				break
			}
			if v < 6*ft {
				problems = append(problems, fmt.Sprintf("aws_sqs_queue.%s: visibility %v s < 6 x aws_lambda_function.%s timeout %v s (with %v)", qName, v, fName, ft, o))
			}
		}
	}
	if found == 0 {
		problems = append(problems, "no aws_lambda_event_source_mapping from a queue")
	}
	return problems
}

// --- check: uploads expire after 7 days ---------------------------------------

func checkUploadsLifecycle(m *module) []string {
	ctx := m.evalContext(nil)
	var lc *hclsyntax.Block
	for _, key := range sortedKeys(m.resources) {
		if !strings.HasPrefix(key, "aws_s3_bucket_lifecycle_configuration.") {
			continue
		}
		if b, ok := refersTo(m.resources[key].Body.Attributes["bucket"].Expr, "aws_s3_bucket"); ok && b == "uploads" {
			lc = m.resources[key]
		}
	}
	if lc == nil {
		return []string{"no aws_s3_bucket_lifecycle_configuration on aws_s3_bucket.uploads"}
	}
	expires, aborts := false, false
	var problems []string
	for _, rule := range blocksOf(lc, "rule") {
		if s, err := str(rule.Body.Attributes["status"].Expr, ctx); err != nil || s != "Enabled" {
			continue
		}
		covers := true // no filter, or a filter on the uploads/ prefix
		for _, f := range blocksOf(rule, "filter") {
			if p, ok := f.Body.Attributes["prefix"]; ok {
				if v, err := str(p.Expr, ctx); err != nil || !strings.HasPrefix("uploads/", v) {
					covers = false
				}
			}
			if len(f.Body.Blocks) > 0 {
				covers = false
			}
		}
		if !covers {
			continue
		}
		for _, e := range blocksOf(rule, "expiration") {
			a, ok := e.Body.Attributes["days"]
			if !ok {
				continue
			}
			if d, err := number(a.Expr, ctx); err == nil && d == 7 {
				expires = true
			} else {
				problems = append(problems, fmt.Sprintf("uploads expire after %v days (%v), want 7", d, err))
			}
		}
		for _, ab := range blocksOf(rule, "abort_incomplete_multipart_upload") {
			if d, err := number(ab.Body.Attributes["days_after_initiation"].Expr, ctx); err == nil && d == 1 {
				aborts = true
			}
		}
	}
	if !expires {
		problems = append(problems, "no enabled rule expires uploads/ after 7 days")
	}
	if !aborts {
		problems = append(problems, "no enabled rule aborts incomplete multipart uploads after 1 day")
	}
	return problems
}

// --- check: the emulator swaps only what moto cannot do ----------------------

// emulatorSwaps is every block allowed to depend on var.emulator: the
// Lambda rule target and the event source mapping (moto runs no Lambdas),
// the tap that replaces the target, the TLS-only bucket policies (moto
// evaluates no policy conditions; the page bucket's keeps its CloudFront
// statement), and the reset of API Gateway's account settings on destroy
// (moto fails it).
var emulatorSwaps = []string{
	"data.aws_iam_policy_document.site",
	"data.aws_iam_policy_document.tap",
	"resource.aws_api_gateway_account.this",
	"resource.aws_cloudwatch_event_target.completions_tap",
	"resource.aws_cloudwatch_event_target.completions_to_notify",
	"resource.aws_lambda_event_source_mapping.deadletter_events",
	"resource.aws_lambda_event_source_mapping.deadletter_process",
	"resource.aws_lambda_event_source_mapping.process",
	"resource.aws_s3_bucket_policy.tls_only",
	"resource.aws_sqs_queue.tap",
}

func checkEmulatorSwaps(m *module) []string {
	var users []string
	for _, b := range m.blocks {
		if b.Type == "variable" {
			continue
		}
		if b.Type == "locals" {
			for name, a := range b.Body.Attributes {
				if usesVar(a.Expr, "emulator") {
					users = append(users, "local."+name)
				}
			}
			continue
		}
		if bodyUsesVar(b.Body, "emulator") {
			users = append(users, blockName(b))
		}
	}
	sort.Strings(users)
	if strings.Join(users, ",") != strings.Join(emulatorSwaps, ",") {
		return []string{fmt.Sprintf("blocks depending on var.emulator: %v, want exactly %v", users, emulatorSwaps)}
	}
	return nil
}

func usesVar(expr hcl.Expression, name string) bool {
	for _, tr := range expr.Variables() {
		if tr.RootName() == "var" && len(tr) > 1 {
			if a, ok := tr[1].(hcl.TraverseAttr); ok && a.Name == name {
				return true
			}
		}
	}
	return false
}

func bodyUsesVar(body *hclsyntax.Body, name string) bool {
	for _, a := range body.Attributes {
		if usesVar(a.Expr, name) {
			return true
		}
	}
	for _, b := range body.Blocks {
		if bodyUsesVar(b.Body, name) {
			return true
		}
	}
	return false
}

// --- check: rule patterns come from eventbus/patterns -------------------------

func checkRulePatterns(m *module, patternDir string) []string {
	var problems []string
	ctx := m.evalContext(nil)
	files, _ := filepath.Glob(filepath.Join(patternDir, "*.json"))
	want := map[string]bool{}
	for _, f := range files {
		want[strings.TrimSuffix(filepath.Base(f), ".json")] = true
	}
	if len(want) == 0 {
		return []string{"no pattern files in " + patternDir}
	}
	got := map[string]bool{}
	for _, key := range sortedKeys(m.resources) {
		if !strings.HasPrefix(key, "aws_cloudwatch_event_rule.") {
			continue
		}
		rule := m.resources[key].Body.Attributes
		expr := rule["event_pattern"].Expr
		// Follow local.<x> to its definition.
		if st, ok := expr.(*hclsyntax.ScopeTraversalExpr); ok && st.Traversal.RootName() == "local" {
			if a, ok := m.locals[st.Traversal[1].(hcl.TraverseAttr).Name]; ok {
				expr = a.Expr
			}
		}
		call, ok := expr.(*hclsyntax.FunctionCallExpr)
		if !ok || call.Name != "templatefile" || len(call.Args) != 2 {
			problems = append(problems, key+": event_pattern is not templatefile(<pattern file>, vars)")
			continue
		}
		path, err := str(call.Args[0], ctx)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: pattern path: %v", key, err))
			continue
		}
		if filepath.Clean(filepath.Dir(path)) != filepath.Clean(patternDir) {
			problems = append(problems, fmt.Sprintf("%s: pattern %s is not under %s", key, path, patternDir))
			continue
		}
		name := strings.TrimSuffix(filepath.Base(path), ".json")
		if !want[name] {
			problems = append(problems, fmt.Sprintf("%s: no pattern file %s", key, path))
		}
		if rn, err := str(rule["name"].Expr, ctx); err != nil || !strings.HasSuffix(rn, name) {
			problems = append(problems, fmt.Sprintf("%s: rule name %q does not end in its pattern's name %q", key, rn, name))
		}
		got[name] = true
	}
	for name := range want {
		if !got[name] {
			problems = append(problems, "no rule uses eventbus/patterns/"+name+".json")
		}
	}
	sort.Strings(problems)
	return problems
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// --- the tests ----------------------------------------------------------------

var checks = map[string]func(*module) []string{
	"iam actions":       checkIAMActions,
	"function logs":     checkFunctionLogs,
	"queue visibility":  checkQueueVisibility,
	"uploads lifecycle": checkUploadsLifecycle,
	"emulator swaps":    checkEmulatorSwaps,
	"rule patterns": func(m *module) []string {
		return checkRulePatterns(m, filepath.Join(m.dir, "..", "eventbus", "patterns"))
	},
	"variable ranges":  checkVariableRanges,
	"name limits":      checkNameLimits,
	"regional names":   checkRegionalNames,
	"partition":        checkPartition,
	"required version": checkRequiredVersion,
	"alarm descriptions": func(m *module) []string {
		return checkAlarmDescriptions(m, filepath.Join(m.dir, runbookPath))
	},
}

func TestConfigurationPassesChecks(t *testing.T) {
	m := loadModule(t, ".")
	for _, name := range sortedKeys(checks) {
		t.Run(name, func(t *testing.T) {
			for _, p := range checks[name](m) {
				t.Error(p)
			}
		})
	}
}

func TestEveryVariableAndOutputIsTypedAndDescribed(t *testing.T) {
	m := loadModule(t, ".")
	n := 0
	for _, b := range m.blocks {
		switch b.Type {
		case "variable":
			if _, ok := b.Body.Attributes["type"]; !ok {
				t.Errorf("variable %s has no type", b.Labels[0])
			}
		case "output":
		default:
			continue
		}
		n++
		d, ok := b.Body.Attributes["description"]
		if !ok {
			t.Errorf("%s has no description", blockName(b))
			continue
		}
		if s, err := str(d.Expr, nil); err != nil || len(s) < 10 {
			t.Errorf("%s: description %q is too short or not literal (%v)", blockName(b), s, err)
		}
	}
	if n == 0 {
		t.Fatal("no variables or outputs found")
	}
}

// broken returns the real configuration with one file replaced or added.
func broken(t *testing.T, file, src string) *module {
	t.Helper()
	paths, err := filepath.Glob("*.tf")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files[p] = b
	}
	files[file] = []byte(src)
	m, err := parseModule(".", files)
	if err != nil {
		t.Fatalf("parse broken %s: %v", file, err)
	}
	return m
}

// replaced is the real file with old replaced by new (which must occur).
func replaced(t *testing.T, file, old, new string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s does not contain %q", file, old)
	}
	return strings.Replace(string(b), old, new, 1)
}

func TestChecksCatchBrokenConfigurations(t *testing.T) {
	tests := []struct {
		name  string
		check string
		file  string
		src   func(t *testing.T) string
		want  string
	}{
		{
			name: "allow service wildcard", check: "iam actions", file: "extra.tf",
			src: func(*testing.T) string {
				return `data "aws_iam_policy_document" "x" {
  statement {
    actions   = ["s3:*"]
    resources = ["arn:aws:s3:::b/*"]
  }
}`
			},
			want: `wildcard action "s3:*"`,
		},
		{
			name: "deny star action", check: "iam actions", file: "extra.tf",
			src: func(*testing.T) string {
				return `data "aws_iam_policy_document" "x" {
  statement {
    effect    = "Deny"
    actions   = ["*"]
    resources = ["arn:aws:s3:::b"]
  }
}`
			},
			want: `action "*"`,
		},
		{
			name: "allow on every resource", check: "iam actions", file: "extra.tf",
			src: func(*testing.T) string {
				return `data "aws_iam_policy_document" "x" {
  statement {
    actions   = ["s3:GetObject"]
    resources = ["*"]
  }
}`
			},
			want: "every resource",
		},
		{
			// tag:GetResources has no resource-level permissions, but it
			// does not make "*" good for the actions beside it.
			name: "unscoped action beside a scoped one", check: "iam actions", file: "extra.tf",
			src: func(*testing.T) string {
				return `data "aws_iam_policy_document" "x" {
  statement {
    actions   = ["tag:GetResources", "s3:GetObject"]
    resources = ["*"]
  }
}`
			},
			want: "every resource",
		},
		{
			name: "hand-written policy JSON", check: "iam actions", file: "extra.tf",
			src: func(*testing.T) string {
				return `resource "aws_iam_role_policy" "x" {
  role   = "r"
  policy = jsonencode({ Statement = [{ Effect = "Allow", Action = "*", Resource = "*" }] })
}`
			},
			want: "cannot be checked",
		},
		{
			name: "other managed policy", check: "iam actions", file: "extra.tf",
			src: func(*testing.T) string {
				return `resource "aws_iam_role_policy_attachment" "x" {
  role       = "r"
  policy_arn = "arn:aws:iam::aws:policy/AdministratorAccess"
}`
			},
			want: "not an allow-listed",
		},
		{
			name: "function without logging_config", check: "function logs", file: "extra.tf",
			src: func(*testing.T) string {
				return `resource "aws_lambda_function" "x" {
  function_name = "x"
  role          = "r"
}`
			},
			want: "no logging_config",
		},
		{
			name: "log group without retention", check: "function logs", file: "lambda.tf",
			src: func(t *testing.T) string {
				return replaced(t, "lambda.tf", `  name              = "/aws/lambda/${var.name}-notify"
  retention_in_days = var.log_retention_days`, `  name              = "/aws/lambda/${var.name}-notify"`)
			},
			want: "aws_cloudwatch_log_group.notify: no retention_in_days",
		},
		{
			name: "visibility below 6x timeout", check: "queue visibility", file: "sqs.tf",
			src: func(t *testing.T) string {
				return replaced(t, "sqs.tf", "visibility_timeout_seconds = local.queue_visibility_timeout", "visibility_timeout_seconds = 300")
			},
			want: "< 6 x aws_lambda_function.process timeout",
		},
		{
			name: "visibility right only for the default timeout", check: "queue visibility", file: "sqs.tf",
			src: func(t *testing.T) string {
				return replaced(t, "sqs.tf", "visibility_timeout_seconds = local.queue_visibility_timeout", "visibility_timeout_seconds = 360")
			},
			want: "timeout 900 s",
		},
		{
			name: "uploads kept 30 days", check: "uploads lifecycle", file: "s3.tf",
			src: func(t *testing.T) string {
				return replaced(t, "s3.tf", "days = 7", "days = 30")
			},
			want: "no enabled rule expires uploads/ after 7 days",
		},
		{
			name: "emulator changes the worker queue", check: "emulator swaps", file: "extra.tf",
			src: func(*testing.T) string {
				return `resource "aws_sqs_queue" "other" {
  name = var.emulator ? "a" : "b"
}`
			},
			want: "resource.aws_sqs_queue.other",
		},
		{
			name: "role name without the region", check: "regional names", file: "iam.tf",
			src: func(t *testing.T) string {
				return replaced(t, "iam.tf", `"${var.name}-presign-${local.region}"`, `"${var.name}-presign"`)
			},
			want: `aws_iam_role.presign is named "imagepipe-presign" in every region`,
		},
		{
			name: "CloudFront setting named without the region", check: "regional names", file: "site.tf",
			src: func(t *testing.T) string {
				return replaced(t, "site.tf", `"${var.name}-site-${local.region}"`, `"${var.name}-site"`)
			},
			want: `aws_cloudfront_origin_access_control.site is named "imagepipe-site" in every region`,
		},
		{
			name: "name long enough to overflow bucket names", check: "name limits", file: "variables.tf",
			src: func(t *testing.T) string {
				return replaced(t, "variables.tf", `^[a-z][a-z0-9-]{0,22}[a-z0-9]$`, `^[a-z][a-z0-9-]{0,29}[a-z0-9]$`)
			},
			want: "aws_s3_bucket.processed.bucket is 70 characters",
		},
		{
			name: "bucket override longer than S3 allows", check: "name limits", file: "variables.tf",
			src: func(t *testing.T) string {
				return replaced(t, "variables.tf", `can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.uploads_bucket_name))`, `can(regex("^[a-z0-9][a-z0-9.-]{1,70}[a-z0-9]$", var.uploads_bucket_name))`)
			},
			want: "aws_s3_bucket.uploads.bucket is 72 characters with the longest bucket names the overrides accept",
		},
		{
			name: "notify event age up to a day", check: "variable ranges", file: "variables.tf",
			src: func(t *testing.T) string {
				return replaced(t, "variables.tf", "var.notify_max_event_age_seconds <= 21600", "var.notify_max_event_age_seconds <= 86400")
			},
			want: "notify_max_event_age_seconds: accepts 86400",
		},
		{
			name: "large batch without a window", check: "variable ranges", file: "variables.tf",
			src: func(t *testing.T) string {
				return replaced(t, "variables.tf", "(var.process_batch_size <= 10 || var.process_batching_window_seconds >= 1)", "true")
			},
			want: "process_batch_size: accepts 11",
		},
		{
			name: "number variable without validation", check: "variable ranges", file: "extra.tf",
			src: func(*testing.T) string {
				return `variable "x" {
  type = number
}`
			},
			want: "variable x is a number without a validation",
		},
		{
			name: "alarm without description", check: "alarm descriptions", file: "extra.tf",
			src: func(*testing.T) string {
				return `resource "aws_cloudwatch_metric_alarm" "x" {
  alarm_name = "x"
}`
			},
			want: "aws_cloudwatch_metric_alarm.x: no alarm_description",
		},
		{
			name: "alarm linking a missing runbook section", check: "alarm descriptions", file: "monitoring.tf",
			src: func(t *testing.T) string {
				return replaced(t, "monitoring.tf", "#api-latency", "#api-slowness")
			},
			want: "links #api-slowness, which is no section",
		},
		{
			name: "alarm linking another alarm's section", check: "alarm descriptions", file: "monitoring.tf",
			src: func(t *testing.T) string {
				return replaced(t, "monitoring.tf", "#api-latency", "#api-5xx-errors")
			},
			want: "alarm STACK-api-latency links #api-5xx-errors, whose section does not name it",
		},
		{
			name: "alarm description without what to do", check: "alarm descriptions", file: "extra.tf",
			src: func(*testing.T) string {
				return `resource "aws_cloudwatch_metric_alarm" "x" {
  alarm_description = "Broken. ${local.runbook}#api-latency"
}`
			},
			want: "says too little",
		},
		{
			name: "hard-coded partition", check: "partition", file: "extra.tf",
			src: func(*testing.T) string {
				return `locals {
  x = "arn:aws:s3:::bucket"
}`
			},
			want: "extra.tf:2: ARN with the aws partition",
		},
		{
			name: "pinned to Terraform 1.11", check: "required version", file: "versions.tf",
			src: func(t *testing.T) string {
				return replaced(t, "versions.tf", `">= 1.11.0, < 2.0.0"`, `"~> 1.11.0"`)
			},
			want: "refuses Terraform 1.12.0",
		},
		{
			name: "retyped pattern", check: "rule patterns", file: "extra.tf",
			src: func(*testing.T) string {
				return `resource "aws_cloudwatch_event_rule" "x" {
  name          = "x-uploads-to-queue"
  event_pattern = jsonencode({ source = ["aws.s3"] })
}`
			},
			want: "is not templatefile",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := broken(t, tc.file, tc.src(t))
			problems := checks[tc.check](m)
			joined := strings.Join(problems, "\n")
			if !strings.Contains(joined, tc.want) {
				t.Errorf("check %q found %q, want a problem containing %q", tc.check, joined, tc.want)
			}
		})
	}
}

func TestReadmeListsEveryVariableAndOutput(t *testing.T) {
	m := loadModule(t, ".")
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range m.blocks {
		if b.Type != "variable" && b.Type != "output" {
			continue
		}
		if !strings.Contains(string(readme), "| `"+b.Labels[0]+"` |") {
			t.Errorf("README.md has no table row for %s", blockName(b))
		}
	}
}
