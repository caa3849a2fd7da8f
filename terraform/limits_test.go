package terraform_test

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// The checks of this file hold the limits AWS puts on names and values, so
// that a bad value stops at `terraform plan` (a variable validation) and a
// name never reaches AWS too long. They evaluate the configuration's own
// expressions, with the cty functions Terraform is built on.

// --- variables with an AWS range have a validation that holds it -------------

// rangeCase is what AWS (or the pipeline) accepts for one variable: good
// values must pass every validation, bad ones must fail one of them.
type rangeCase struct {
	variable string
	good     []cty.Value
	bad      []cty.Value
	// with sets other variables for this case (validations that relate two
	// variables, such as batch size and batching window).
	with map[string]cty.Value
}

func n(f float64) cty.Value { return cty.NumberFloatVal(f) }
func s(v string) cty.Value  { return cty.StringVal(v) }
func strs(vs ...string) cty.Value {
	if len(vs) == 0 {
		return cty.ListValEmpty(cty.String)
	}
	out := make([]cty.Value, len(vs))
	for i, v := range vs {
		out[i] = s(v)
	}
	return cty.ListVal(out)
}
func nums(fs ...float64) cty.Value {
	if len(fs) == 0 {
		return cty.ListValEmpty(cty.Number)
	}
	out := make([]cty.Value, len(fs))
	for i, f := range fs {
		out[i] = n(f)
	}
	return cty.ListVal(out)
}

var nullString = cty.NullVal(cty.String)

// awsRanges lists every variable whose values AWS limits (or that the
// pipeline limits for a reason the error message gives).
var awsRanges = []rangeCase{
	{variable: "name", good: []cty.Value{s("imagepipe"), s("ab"), s("a2345678901234567890123x")},
		bad: []cty.Value{s("a"), s("a23456789012345678901234y"), s("Imagepipe"), s("-ab"), s("ab-"), s("a_b"), s("1ab")}},
	{variable: "region", good: []cty.Value{s("us-east-1"), s("eu-west-1"), s("us-gov-west-1"), s("ap-southeast-7"), s("us-isof-south-1")},
		bad: []cty.Value{s("US-EAST-1"), s("useast1"), s("eu-west"), s("abcd-efghijkl-mn-1")}},
	{variable: "uploads_bucket_name", good: []cty.Value{nullString, s("abc"), s("my.bucket-1"), s(strings.Repeat("a", 63))},
		bad: []cty.Value{s("ab"), s(strings.Repeat("a", 64)), s("My-Bucket"), s("a..b"), s("192.168.1.1"), s("xn--abc"), s("abc-s3alias"), s("-abc")}},
	{variable: "processed_bucket_name", good: []cty.Value{nullString, s("abc"), s(strings.Repeat("b", 63))},
		bad: []cty.Value{s("ab"), s(strings.Repeat("b", 64)), s("b_b"), s("abc.")}},
	{variable: "event_bus_name", good: []cty.Value{nullString, s("imagepipe"), s("my.bus_1")},
		bad: []cty.Value{s("default"), s("aws.partner"), s("has space"), s(""), s(strings.Repeat("b", 257))}},
	{variable: "cors_allowed_origins", good: []cty.Value{strs("https://a.example.com", "http://localhost:8080"), strs()},
		bad: []cty.Value{strs("https://a.example.com/path"), strs("example.com"), strs("https://a.example.com/"), strs(func() []string {
			o := make([]string, 101)
			for i := range o {
				o[i] = fmt.Sprintf("https://p%d.example.com", i)
			}
			return o
		}()...)}},
	{variable: "tags", good: []cty.Value{cty.MapValEmpty(cty.String), cty.MapVal(map[string]cty.Value{"team": s("images")})},
		bad: []cty.Value{cty.MapVal(map[string]cty.Value{"aws:x": s("y")}), cty.MapVal(map[string]cty.Value{strings.Repeat("k", 129): s("v")}), cty.MapVal(map[string]cty.Value{"k": s(strings.Repeat("v", 257))})}},
	{variable: "log_retention_days", good: []cty.Value{n(1), n(14), n(3653)}, bad: []cty.Value{n(0), n(2), n(4000)}},
	{variable: "application_log_level", good: []cty.Value{s("INFO"), s("DEBUG"), s("TRACE")}, bad: []cty.Value{s("WARN"), s("ERROR"), s("FATAL"), s("info")}},
	{variable: "presign_memory_mb", good: []cty.Value{n(128), n(10240)}, bad: []cty.Value{n(127), n(10241), n(200.5)}},
	{variable: "process_memory_mb", good: []cty.Value{n(128), n(10240)}, bad: []cty.Value{n(127), n(10241)}},
	{variable: "notify_memory_mb", good: []cty.Value{n(128), n(10240)}, bad: []cty.Value{n(127), n(10241)}},
	{variable: "presign_timeout_seconds", good: []cty.Value{n(1), n(29)}, bad: []cty.Value{n(0), n(30), n(1.5)}},
	{variable: "process_timeout_seconds", good: []cty.Value{n(1), n(900)}, bad: []cty.Value{n(0), n(901)}},
	{variable: "notify_timeout_seconds", good: []cty.Value{n(1), n(900)}, bad: []cty.Value{n(0), n(901)}},
	{variable: "max_upload_bytes", good: []cty.Value{n(1), n(5368709120)}, bad: []cty.Value{n(0), n(5368709121)}},
	{variable: "raw_upload_max_bytes", good: []cty.Value{n(1), n(4456448)}, bad: []cty.Value{n(0), n(4456449)}},
	{variable: "site_bucket_name", good: []cty.Value{nullString, s("abc"), s(strings.Repeat("c", 63))},
		bad: []cty.Value{s("ab"), s(strings.Repeat("c", 64)), s("Site")}},
	{variable: "site_price_class", good: []cty.Value{s("PriceClass_100"), s("PriceClass_All")}, bad: []cty.Value{s("PriceClass_300")}},
	{variable: "download_url_ttl", good: []cty.Value{s("1h"), s("30m"), s("168h")}, bad: []cty.Value{s("169h"), s("1d"), s("")}},
	{variable: "upload_url_ttl", good: []cty.Value{s("300s"), s("5m"), s("168h"), s("604800s")},
		bad: []cty.Value{s("169h"), s("604801s"), s("5"), s("0s"), s("1d"), s("-5m"), s("")}},
	{variable: "max_input_bytes", good: []cty.Value{n(1), n(5368709120)}, bad: []cty.Value{n(0), n(5368709121)}},
	{variable: "max_pixels", good: []cty.Value{n(1), n(50000000)}, bad: []cty.Value{n(0), n(1.5)}},
	{variable: "jpeg_quality", good: []cty.Value{n(1), n(100)}, bad: []cty.Value{n(0), n(101)}},
	{variable: "thumbnail_sizes", good: []cty.Value{nums(256), nums(16, 4096)}, bad: []cty.Value{nums(), nums(15), nums(4097)}},
	{variable: "queue_max_receive_count", good: []cty.Value{n(1), n(1000)}, bad: []cty.Value{n(0), n(1001)}},
	{variable: "dlq_retention_seconds", good: []cty.Value{n(345600), n(1209600)}, bad: []cty.Value{n(60), n(345599), n(1209601)}},
	{variable: "process_batch_size", good: []cty.Value{n(1), n(10)}, bad: []cty.Value{n(0), n(11), n(10000)},
		with: map[string]cty.Value{"process_batching_window_seconds": n(0)}},
	{variable: "process_batch_size", good: []cty.Value{n(11), n(10000)}, bad: []cty.Value{n(10001)},
		with: map[string]cty.Value{"process_batching_window_seconds": n(1)}},
	{variable: "process_batching_window_seconds", good: []cty.Value{n(0), n(300)}, bad: []cty.Value{n(-1), n(301)}},
	{variable: "process_max_concurrency", good: []cty.Value{n(2), n(1000)}, bad: []cty.Value{n(1), n(1001)}},
	{variable: "archive_retention_days", good: []cty.Value{n(0), n(14)}, bad: []cty.Value{n(-1), n(1.5)}},
	{variable: "event_target_max_age_seconds", good: []cty.Value{n(60), n(86400)}, bad: []cty.Value{n(59), n(86401)}},
	{variable: "notify_max_event_age_seconds", good: []cty.Value{n(60), n(21600)}, bad: []cty.Value{n(59), n(21601), n(86400)}},
	{variable: "event_target_max_retries", good: []cty.Value{n(0), n(185)}, bad: []cty.Value{n(-1), n(186)}},
	{variable: "api_stage_name", good: []cty.Value{s("prod"), s("v1_beta-2")}, bad: []cty.Value{s(""), s("has space"), s(strings.Repeat("a", 129))}},
	{variable: "api_rate_limit", good: []cty.Value{n(0.5), n(10000)}, bad: []cty.Value{n(0), n(10001)}},
	{variable: "api_burst_limit", good: []cty.Value{n(1), n(5000)}, bad: []cty.Value{n(0), n(5001)}},
	{variable: "api_quota_limit", good: []cty.Value{n(1)}, bad: []cty.Value{n(0)}},
	{variable: "api_quota_period", good: []cty.Value{s("DAY"), s("WEEK"), s("MONTH")}, bad: []cty.Value{s("YEAR")}},
	{variable: "dlq_alarm_threshold", good: []cty.Value{n(1)}, bad: []cty.Value{n(0)}},
	{variable: "alarm_email", good: []cty.Value{nullString, s("ops@example.com")}, bad: []cty.Value{s("ops"), s("a@b")}},
	{variable: "alarm_topic_arns", good: []cty.Value{strs(), strs("arn:aws:sns:eu-west-1:123456789012:pager")},
		bad: []cty.Value{strs("arn:aws:sqs:eu-west-1:123456789012:q"), strs("pager")}},
	{variable: "runbook_url", good: []cty.Value{s("https://wiki.example.com/imagepipe")}, bad: []cty.Value{s("ftp://x/y"), s("https://x/y#frag"), s("https://x/" + strings.Repeat("y", 200))}},
	{variable: "oldest_message_alarm_seconds", good: []cty.Value{n(60), n(900)}, bad: []cty.Value{n(59)}},
	{variable: "api_5xx_alarm_threshold", good: []cty.Value{n(1)}, bad: []cty.Value{n(0)}},
	{variable: "api_latency_alarm_ms", good: []cty.Value{n(50), n(29000)}, bad: []cty.Value{n(49), n(29001)}},
	{variable: "failure_rate_alarm_percent", good: []cty.Value{n(0.5), n(100)}, bad: []cty.Value{n(0), n(101)}},
	{variable: "failure_rate_alarm_min_images", good: []cty.Value{n(1)}, bad: []cty.Value{n(0)}},
}

// accepts reports whether every validation of the variable holds for value
// (with the other variables at their defaults, then with). A condition that
// fails to evaluate rejects the value, as it stops terraform plan.
func (m *module) accepts(variable string, value cty.Value, with map[string]cty.Value) (bool, string) {
	b := m.variables[variable]
	overrides := map[string]cty.Value{variable: value}
	for k, v := range with {
		overrides[k] = v
	}
	ctx := m.context(overrides, nil)
	for _, vb := range blocksOf(b, "validation") {
		v, diags := vb.Body.Attributes["condition"].Expr.Value(ctx)
		if diags.HasErrors() {
			return false, diags.Error()
		}
		if !v.IsKnown() || v.IsNull() || v.Type() != cty.Bool || v.False() {
			return false, ""
		}
	}
	return true, ""
}

func checkVariableRanges(m *module) []string {
	var problems []string
	for _, name := range sortedKeys(m.variables) {
		b := m.variables[name]
		if t, ok := b.Body.Attributes["type"]; ok && exprText(m, t.Expr) == "number" && len(blocksOf(b, "validation")) == 0 {
			problems = append(problems, fmt.Sprintf("variable %s is a number without a validation: give it the range AWS accepts", name))
		}
	}
	for _, rc := range awsRanges {
		b, ok := m.variables[rc.variable]
		if !ok {
			problems = append(problems, fmt.Sprintf("variable %s is gone: update awsRanges", rc.variable))
			continue
		}
		if len(blocksOf(b, "validation")) == 0 {
			problems = append(problems, fmt.Sprintf("variable %s has an AWS range but no validation", rc.variable))
			continue
		}
		if d, ok := b.Body.Attributes["default"]; ok {
			if dv, diags := d.Expr.Value(nil); !diags.HasErrors() {
				if ok, why := m.accepts(rc.variable, dv, rc.with); !ok {
					problems = append(problems, fmt.Sprintf("variable %s: the default %s fails its own validation %s", rc.variable, show(dv), why))
				}
			}
		}
		for _, v := range rc.good {
			if ok, why := m.accepts(rc.variable, v, rc.with); !ok {
				problems = append(problems, fmt.Sprintf("variable %s: refuses %s (with %v) %s", rc.variable, show(v), rc.with, why))
			}
		}
		for _, v := range rc.bad {
			if ok, _ := m.accepts(rc.variable, v, rc.with); ok {
				problems = append(problems, fmt.Sprintf("variable %s: accepts %s (with %v), outside what AWS takes", rc.variable, show(v), rc.with))
			}
		}
	}
	return problems
}

func show(v cty.Value) string {
	switch {
	case v.IsNull():
		return "null"
	case v.Type() == cty.String:
		if s := v.AsString(); len(s) > 40 {
			return fmt.Sprintf("%q... (%d characters)", s[:20], len(s))
		}
		return strconv.Quote(v.AsString())
	case v.Type() == cty.Number:
		return v.AsBigFloat().Text('g', -1)
	}
	return v.GoString()
}

// --- names stay within AWS's limits for every allowed name and region -------

// nameLimits are the names AWS limits, by resource type.
var nameLimits = map[string]struct {
	attr string
	max  int
}{
	"aws_iam_role":                 {"name", 64},
	"aws_iam_role_policy":          {"name", 128},
	"aws_s3_bucket":                {"bucket", 63},
	"aws_lambda_function":          {"function_name", 64},
	"aws_sqs_queue":                {"name", 80},
	"aws_cloudwatch_event_rule":    {"name", 64},
	"aws_cloudwatch_event_archive": {"name", 48},
	"aws_cloudwatch_event_bus":     {"name", 256},
	"aws_cloudwatch_metric_alarm":  {"alarm_name", 255},
	"aws_cloudwatch_dashboard":     {"dashboard_name", 255},
	"aws_cloudwatch_log_group":     {"name", 512},
	"aws_sns_topic":                {"name", 256},
	"aws_api_gateway_api_key":      {"name", 1024},
	// CloudFront's names are global to the account, like IAM's.
	"aws_cloudfront_origin_access_control": {"name", 64},
}

// unknownPartLen bounds a part of a name that only AWS knows (an API id, a
// function name read back from its resource).
const unknownPartLen = 64

// testAccount is any AWS account id: they all have 12 digits.
const testAccount = "123456789012"

// longestAccepted returns the longest candidate the variable's validation
// accepts ("" if none).
func (m *module) longestAccepted(variable string, candidates []string) string {
	best := ""
	for _, c := range candidates {
		if ok, _ := m.accepts(variable, cty.StringVal(c), nil); ok && len(c) > len(best) {
			best = c
		}
	}
	return best
}

func nameCandidates() []string {
	var out []string
	for k := 0; k < 100; k++ {
		out = append(out, "a"+strings.Repeat("b", k))
	}
	return out
}

func regionCandidates() []string {
	out := []string{"us-east-1", "us-gov-west-1", "ap-southeast-7", "us-isof-south-1", "eusc-de-east-1", "ap-northeast-3"}
	for k := 1; k < 60; k++ {
		out = append(out, "aa-"+strings.Repeat("b", k)+"-1", "aaaa-bb-"+strings.Repeat("c", k)+"-12")
	}
	return out
}

func bucketCandidates() []string {
	var out []string
	for k := 3; k < 100; k++ {
		out = append(out, strings.Repeat("c", k))
	}
	return out
}

// scenario is one set of inputs the names are evaluated with.
type scenario struct {
	label  string
	vars   map[string]cty.Value
	locals map[string]cty.Value
}

func (m *module) nameScenarios(region string) []scenario {
	name := m.longestAccepted("name", nameCandidates())
	locals := map[string]cty.Value{
		"account_id": cty.StringVal(testAccount),
		"region":     cty.StringVal(region),
		"partition":  cty.StringVal("aws-us-gov"),
	}
	out := []scenario{{label: fmt.Sprintf("name %q, region %q", name, region), vars: map[string]cty.Value{"name": cty.StringVal(name), "region": cty.StringVal(region)}, locals: locals}}
	var overrides []string
	for _, v := range sortedKeys(m.variables) {
		if strings.HasSuffix(v, "_bucket_name") {
			overrides = append(overrides, v)
		}
	}
	if len(overrides) > 0 {
		vars := map[string]cty.Value{"name": cty.StringVal(name), "region": cty.StringVal(region)}
		for _, v := range overrides {
			vars[v] = cty.StringVal(m.longestAccepted(v, bucketCandidates()))
		}
		out = append(out, scenario{label: "the longest bucket names the overrides accept", vars: vars, locals: locals})
	}
	return out
}

// instances evaluates a block's name for each of its instances
// (for_each keys, count index 0).
func (m *module) instances(b *hclsyntax.Block, ctx *hcl.EvalContext) []*hcl.EvalContext {
	if fe, ok := b.Body.Attributes["for_each"]; ok {
		v, diags := fe.Expr.Value(ctx)
		if diags.HasErrors() || !v.IsKnown() || v.IsNull() || !v.CanIterateElements() {
			c := ctx.NewChild()
			c.Variables = map[string]cty.Value{"each": cty.ObjectVal(map[string]cty.Value{"key": cty.UnknownVal(cty.String), "value": cty.DynamicVal})}
			return []*hcl.EvalContext{c}
		}
		var out []*hcl.EvalContext
		for it := v.ElementIterator(); it.Next(); {
			k, ev := it.Element()
			if v.Type().IsSetType() {
				k = ev
			}
			c := ctx.NewChild()
			c.Variables = map[string]cty.Value{"each": cty.ObjectVal(map[string]cty.Value{"key": k, "value": ev})}
			out = append(out, c)
		}
		return out
	}
	if _, ok := b.Body.Attributes["count"]; ok {
		c := ctx.NewChild()
		c.Variables = map[string]cty.Value{"count": cty.ObjectVal(map[string]cty.Value{"index": cty.NumberIntVal(0)})}
		return []*hcl.EvalContext{c}
	}
	return []*hcl.EvalContext{ctx}
}

// maxLen bounds the length of a string expression: exact when it is known,
// with unknownPartLen for each part only AWS knows otherwise.
func maxLen(expr hcl.Expression, ctx *hcl.EvalContext) (int, bool, error) {
	v, diags := expr.Value(ctx)
	if diags.HasErrors() {
		return 0, false, diags
	}
	if v.IsKnown() && !v.IsNull() && v.Type().IsPrimitiveType() {
		sv, err := convert.Convert(v, cty.String)
		if err != nil {
			return 0, false, err
		}
		return len(sv.AsString()), true, nil
	}
	if t, ok := expr.(*hclsyntax.TemplateExpr); ok {
		total, exact := 0, true
		for _, part := range t.Parts {
			l, ex, err := maxLen(part, ctx)
			if err != nil {
				return 0, false, err
			}
			total += l
			exact = exact && ex
		}
		return total, exact, nil
	}
	if w, ok := expr.(*hclsyntax.TemplateWrapExpr); ok {
		return maxLen(w.Wrapped, ctx)
	}
	if !v.IsKnown() {
		return unknownPartLen, false, nil
	}
	return 0, false, fmt.Errorf("not a string: %#v", v)
}

func checkNameLimits(m *module) []string {
	var problems []string
	region := m.longestAccepted("region", regionCandidates())
	if region == "" {
		return []string{"var.region accepts none of the region names tried"}
	}
	for _, sc := range m.nameScenarios(region) {
		ctx := m.context(sc.vars, sc.locals)
		for _, key := range sortedKeys(m.resources) {
			typ := strings.SplitN(key, ".", 2)[0]
			limit, ok := nameLimits[typ]
			if !ok {
				continue
			}
			b := m.resources[key]
			a, ok := b.Body.Attributes[limit.attr]
			if !ok {
				continue
			}
			for _, ictx := range m.instances(b, ctx) {
				l, exact, err := maxLen(a.Expr, ictx)
				if err != nil {
					problems = append(problems, fmt.Sprintf("%s.%s: cannot evaluate with %s: %v", key, limit.attr, sc.label, err))
					continue
				}
				if l > limit.max {
					approx := ""
					if !exact {
						approx = fmt.Sprintf(" (counting %d for each part only AWS knows)", unknownPartLen)
					}
					problems = append(problems, fmt.Sprintf("%s.%s is %d characters with %s%s, AWS allows %d", key, limit.attr, l, sc.label, approx, limit.max))
				}
			}
		}
	}
	sort.Strings(problems)
	return problems
}

// accountWide are the resource types whose names are global to an account
// (IAM, CloudFront) or to S3: they must differ between two regions, so that
// a second region of the same stack does not collide (EntityAlreadyExists,
// BucketAlreadyExists, OriginAccessControlAlreadyExists).
var accountWide = map[string]bool{"aws_iam_role": true, "aws_s3_bucket": true, "aws_cloudfront_origin_access_control": true}

// checkRegionalNames holds that account-wide names differ between two
// regions.
func checkRegionalNames(m *module) []string {
	var problems []string
	names := map[string][2]string{}
	for i, region := range []string{"us-east-1", "eu-west-1"} {
		ctx := m.context(map[string]cty.Value{"region": cty.StringVal(region)}, map[string]cty.Value{
			"account_id": cty.StringVal(testAccount), "region": cty.StringVal(region), "partition": cty.StringVal("aws"),
		})
		for _, key := range sortedKeys(m.resources) {
			typ := strings.SplitN(key, ".", 2)[0]
			if !accountWide[typ] {
				continue
			}
			a := m.resources[key].Body.Attributes[nameLimits[typ].attr]
			if a == nil {
				problems = append(problems, key+": no name")
				continue
			}
			for _, ictx := range m.instances(m.resources[key], ctx) {
				v, diags := a.Expr.Value(ictx)
				if diags.HasErrors() || !v.IsKnown() || v.Type() != cty.String {
					problems = append(problems, fmt.Sprintf("%s: name cannot be evaluated: %v", key, diags))
					continue
				}
				k := key
				if e, ok := ictx.Variables["each"]; ok {
					k += "[" + e.GetAttr("key").AsString() + "]"
				}
				pair := names[k]
				pair[i] = v.AsString()
				names[k] = pair
			}
		}
	}
	for _, k := range sortedKeys(names) {
		if p := names[k]; p[0] == p[1] {
			problems = append(problems, fmt.Sprintf("%s is named %q in every region: IAM roles, CloudFront settings and S3 buckets are account-wide, so a second region would collide", k, p[0]))
		}
	}
	return problems
}

// --- every alarm says what to do, with a runbook section that exists ---------

// runbookPath is the runbook the alarm descriptions link to.
var runbookPath = filepath.Join("..", "docs", "runbook.md")

var runbookLink = regexp.MustCompile(`\$\{(?:local\.runbook|var\.runbook_url)\}#([a-z0-9-]+)`)

// githubAnchor is the fragment GitHub gives a Markdown heading.
func githubAnchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteRune('-')
		}
	}
	return b.String()
}

// runbookSections maps each "## " section of the runbook, by its anchor,
// to its text.
func runbookSections(path string) (map[string]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	sections := map[string]string{}
	current := ""
	for _, line := range strings.Split(string(raw), "\n") {
		if h, ok := strings.CutPrefix(line, "## "); ok {
			current = githubAnchor(h)
			sections[current] = ""
			continue
		}
		if current != "" {
			sections[current] += line + "\n"
		}
	}
	return sections, nil
}

func runbookAnchors(path string) (map[string]bool, error) {
	sections, err := runbookSections(path)
	if err != nil {
		return nil, err
	}
	anchors := map[string]bool{}
	for a := range sections {
		anchors[a] = true
	}
	return anchors, nil
}

func checkAlarmDescriptions(m *module, runbook string) []string {
	sections, err := runbookSections(runbook)
	if err != nil {
		return []string{fmt.Sprintf("runbook: %v", err)}
	}
	var problems []string
	found := 0
	longURL := cty.StringVal(m.longestAccepted("runbook_url", func() []string {
		var c []string
		for k := 0; k < 300; k += 5 {
			c = append(c, "https://runbooks.example.com/"+strings.Repeat("r", k))
		}
		return c
	}()))
	ctx := m.context(map[string]cty.Value{"runbook_url": longURL, "name": cty.StringVal(m.longestAccepted("name", nameCandidates()))}, nil)
	stackCtx := m.context(map[string]cty.Value{"name": cty.StringVal("STACK")}, nil)
	for _, key := range sortedKeys(m.resources) {
		if !strings.HasPrefix(key, "aws_cloudwatch_metric_alarm.") {
			continue
		}
		found++
		a, ok := m.resources[key].Body.Attributes["alarm_description"]
		if !ok {
			problems = append(problems, key+": no alarm_description; say what broke and what to do, and link its runbook section")
			continue
		}
		text := exprText(m, a.Expr)
		links := runbookLink.FindAllStringSubmatch(text, -1)
		if len(links) == 0 {
			problems = append(problems, key+": alarm_description does not end with ${local.runbook}#<section>")
		}
		for _, l := range links {
			if _, ok := sections[l[1]]; !ok {
				problems = append(problems, fmt.Sprintf("%s: links #%s, which is no section of %s", key, l[1], runbook))
			}
		}
		// The section linked is the alarm's own: it names the alarm (as
		// `STACK-...`, the stack's name written STACK).
		if nameAttr, ok := m.resources[key].Body.Attributes["alarm_name"]; ok {
			for _, ictx := range m.instances(m.resources[key], stackCtx) {
				v, diags := nameAttr.Expr.Value(ictx)
				if diags.HasErrors() || !v.IsKnown() || v.IsNull() || v.Type() != cty.String {
					problems = append(problems, fmt.Sprintf("%s: alarm_name cannot be evaluated for the runbook check", key))
					continue
				}
				for _, l := range links {
					if text, ok := sections[l[1]]; ok && !strings.Contains(text, "`"+v.AsString()+"`") {
						problems = append(problems, fmt.Sprintf("%s: alarm %s links #%s, whose section does not name it", key, v.AsString(), l[1]))
					}
				}
			}
		}
		if words := runbookLink.ReplaceAllString(text, ""); len(words) < 80 {
			problems = append(problems, fmt.Sprintf("%s: alarm_description %s says too little: what broke, and what to do first", key, text))
		}
		for _, ictx := range m.instances(m.resources[key], ctx) {
			if l, _, err := maxLen(a.Expr, ictx); err != nil {
				problems = append(problems, fmt.Sprintf("%s: alarm_description: %v", key, err))
			} else if l > 1024 {
				problems = append(problems, fmt.Sprintf("%s: alarm_description can be %d characters, CloudWatch allows 1024", key, l))
			}
		}
	}
	if found == 0 {
		problems = append(problems, "no aws_cloudwatch_metric_alarm")
	}
	return problems
}

// --- ARNs are built with the partition -----------------------------------------

var literalPartition = regexp.MustCompile(`arn:aws:`)

func checkPartition(m *module) []string {
	var problems []string
	for _, name := range sortedKeys(m.src) {
		for i, line := range strings.Split(string(m.src[name]), "\n") {
			if literalPartition.MatchString(line) && !strings.HasPrefix(strings.TrimSpace(line), "#") {
				problems = append(problems, fmt.Sprintf("%s:%d: ARN with the aws partition written out; use local.partition (aws_partition)", name, i+1))
			}
		}
	}
	return problems
}

// --- Terraform versions ---------------------------------------------------------

// versionsToAccept are the Terraform releases the configuration must apply
// with (the one the tests run and later 1.x), versionsToRefuse the ones it
// must not claim.
var (
	versionsToAccept = []string{"1.11.4", "1.12.0", "1.13.2", "1.14.0"}
	versionsToRefuse = []string{"1.8.5", "2.0.0"}
)

func checkRequiredVersion(m *module) []string {
	var constraint string
	for _, b := range m.blocks {
		if b.Type != "terraform" {
			continue
		}
		if a, ok := b.Body.Attributes["required_version"]; ok {
			c, err := str(a.Expr, nil)
			if err != nil {
				return []string{fmt.Sprintf("required_version: %v", err)}
			}
			constraint = c
		}
	}
	if constraint == "" {
		return []string{"no required_version"}
	}
	var problems []string
	for _, v := range versionsToAccept {
		if ok, err := satisfies(v, constraint); err != nil || !ok {
			problems = append(problems, fmt.Sprintf("required_version %q refuses Terraform %s (%v)", constraint, v, err))
		}
	}
	for _, v := range versionsToRefuse {
		if ok, err := satisfies(v, constraint); err != nil || ok {
			problems = append(problems, fmt.Sprintf("required_version %q accepts Terraform %s (%v)", constraint, v, err))
		}
	}
	return problems
}

// satisfies evaluates a Terraform version constraint ("~> 1.11.0",
// ">= 1.11.0, < 2.0.0") for a release version.
func satisfies(version, constraint string) (bool, error) {
	v, err := parseVersion(version)
	if err != nil {
		return false, err
	}
	for _, part := range strings.Split(constraint, ",") {
		part = strings.TrimSpace(part)
		op := "="
		for _, o := range []string{">=", "<=", "~>", "!=", ">", "<", "="} {
			if strings.HasPrefix(part, o) {
				op, part = o, strings.TrimSpace(part[len(o):])
				break
			}
		}
		want, err := parseVersion(part)
		if err != nil {
			return false, err
		}
		c := compareVersions(v, want)
		var ok bool
		switch op {
		case "=":
			ok = c == 0
		case "!=":
			ok = c != 0
		case ">":
			ok = c > 0
		case ">=":
			ok = c >= 0
		case "<":
			ok = c < 0
		case "<=":
			ok = c <= 0
		case "~>":
			// ~> 1.11.0 allows 1.11.x; ~> 1.11 allows 1.x from 1.11.
			upper := append([]int(nil), want[:max(len(want)-1, 1)]...)
			upper[len(upper)-1]++
			ok = c >= 0 && compareVersions(v, upper) < 0
		}
		if !ok {
			return false, nil
		}
	}
	return true, nil
}

func parseVersion(s string) ([]int, error) {
	var out []int
	for _, p := range strings.Split(s, ".") {
		i, err := strconv.Atoi(p)
		if err != nil {
			return nil, fmt.Errorf("version %q: %w", s, err)
		}
		out = append(out, i)
	}
	return out, nil
}

func compareVersions(a, b []int) int {
	for i := 0; i < max(len(a), len(b)); i++ {
		var x, y int
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			return cmp.Compare(x, y)
		}
	}
	return 0
}
