package terraform_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// The HCL check "site" holds what the moto apply cannot show of the page's
// hosting and the API's CORS and binary handling: moto keeps no OAC id on a
// distribution's origin and no binary media types on a REST API, and does
// not serve CloudFront or API Gateway at all.

func init() {
	checks["site"] = checkSite
}

// AWS managed CloudFront policies the /v1/* behaviour must use.
const (
	cachingDisabledID           = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
	allViewerExceptHostHeaderID = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
)

func checkSite(m *module) []string {
	var problems []string
	ctx := m.evalContext(nil)
	add := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }

	// The REST API takes every body as binary.
	if api := m.resources["aws_api_gateway_rest_api.this"]; api == nil {
		add("no aws_api_gateway_rest_api.this")
	} else if got := strList(api.Body.Attributes["binary_media_types"], ctx); !slices.Equal(got, []string{"*/*"}) {
		add("aws_api_gateway_rest_api.this: binary_media_types %q, want [\"*/*\"]", got)
	}

	dist := m.resources["aws_cloudfront_distribution.site"]
	if dist == nil {
		return append(problems, "no aws_cloudfront_distribution.site")
	}
	// Origins: the page bucket through an OAC that always signs; the API stage.
	origins := map[string]*hclsyntax.Block{}
	for _, o := range blocksOf(dist, "origin") {
		id, err := str(o.Body.Attributes["origin_id"].Expr, ctx)
		if err != nil {
			add("an origin without a literal origin_id: %v", err)
			continue
		}
		origins[id] = o
		dom := o.Body.Attributes["domain_name"]
		if dom == nil {
			add("origin %s: no domain_name", id)
			continue
		}
		if b, ok := refersTo(dom.Expr, "aws_s3_bucket"); ok {
			oac, ok := o.Body.Attributes["origin_access_control_id"]
			name, refers := "", false
			if ok {
				name, refers = refersTo(oac.Expr, "aws_cloudfront_origin_access_control")
			}
			if !refers {
				add("origin %s (bucket %s): no origin_access_control_id of this configuration: the bucket would have to be public", id, b)
				continue
			}
			ob := m.resources["aws_cloudfront_origin_access_control."+name]
			if ob == nil {
				add("origin %s: aws_cloudfront_origin_access_control.%s does not exist", id, name)
				continue
			}
			for attr, want := range map[string]string{"signing_behavior": "always", "signing_protocol": "sigv4", "origin_access_control_origin_type": "s3"} {
				if v, err := str(ob.Body.Attributes[attr].Expr, ctx); err != nil || v != want {
					add("aws_cloudfront_origin_access_control.%s: %s %q, want %q (%v)", name, attr, v, want, err)
				}
			}
			if bp := m.resources["aws_s3_bucket_public_access_block."+b]; bp == nil {
				add("bucket %s behind CloudFront has no aws_s3_bucket_public_access_block.%s", b, b)
			} else {
				for _, attr := range []string{"block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"} {
					if v, diags := bp.Body.Attributes[attr].Expr.Value(ctx); diags.HasErrors() || !v.RawEquals(cty.True) {
						add("aws_s3_bucket_public_access_block.%s: %s is not true", b, attr)
					}
				}
			}
			problems = append(problems, checkSitePolicy(m, b)...)
		}
	}

	// Every behaviour is HTTPS only.
	behaviours := append(blocksOf(dist, "default_cache_behavior"), blocksOf(dist, "ordered_cache_behavior")...)
	v1 := false
	for _, b := range behaviours {
		where := "default_cache_behavior"
		if p, ok := b.Body.Attributes["path_pattern"]; ok {
			where, _ = str(p.Expr, ctx)
		}
		if v, err := str(b.Body.Attributes["viewer_protocol_policy"].Expr, ctx); err != nil || v != "https-only" {
			add("behaviour %s: viewer_protocol_policy %q, want https-only (%v)", where, v, err)
		}
		if where != "/v1/*" {
			continue
		}
		v1 = true
		target, _ := str(b.Body.Attributes["target_origin_id"].Expr, ctx)
		o := origins[target]
		if o == nil {
			add("behaviour /v1/*: target origin %q is not an origin of the distribution", target)
		} else {
			if _, ok := refersTo(o.Body.Attributes["domain_name"].Expr, "aws_api_gateway_rest_api"); !ok {
				add("behaviour /v1/*: origin %s is not the REST API", target)
			}
			if p, ok := o.Body.Attributes["origin_path"]; !ok || !refersToAttr(p.Expr, "aws_api_gateway_stage") {
				add("behaviour /v1/*: origin %s has no origin_path of the API stage", target)
			}
		}
		if v, err := str(b.Body.Attributes["cache_policy_id"].Expr, ctx); err != nil || v != cachingDisabledID {
			add("behaviour /v1/*: cache_policy_id %q, want CachingDisabled %s (%v)", v, cachingDisabledID, err)
		}
		if a, ok := b.Body.Attributes["origin_request_policy_id"]; !ok {
			add("behaviour /v1/*: no origin_request_policy_id (x-api-key would not reach the API)")
		} else if v, err := str(a.Expr, ctx); err != nil || v != allViewerExceptHostHeaderID {
			add("behaviour /v1/*: origin_request_policy_id %q, want AllViewerExceptHostHeader %s (%v)", v, allViewerExceptHostHeaderID, err)
		}
		methods := strList(b.Body.Attributes["allowed_methods"], ctx)
		for _, want := range []string{"GET", "POST", "OPTIONS"} {
			if !slices.Contains(methods, want) {
				add("behaviour /v1/*: allowed_methods %q lack %s", methods, want)
			}
		}
	}
	if !v1 {
		add("no ordered_cache_behavior for /v1/*: the page and the API would not share an origin")
	}

	// Gateway responses with the CORS headers, and the JSON 413.
	gr := m.resources["aws_api_gateway_gateway_response.this"]
	if gr == nil {
		add("no aws_api_gateway_gateway_response.this")
	} else if a, ok := m.locals["api_gateway_responses"]; ok {
		types := map[string]bool{}
		if obj, ok := a.Expr.(*hclsyntax.ObjectConsExpr); ok {
			for _, item := range obj.Items {
				types[hcl.ExprAsKeyword(item.KeyExpr)] = true
			}
		}
		for _, want := range []string{"DEFAULT_4XX", "DEFAULT_5XX", "REQUEST_TOO_LARGE"} {
			if !types[want] {
				add("no gateway response %s in local.api_gateway_responses", want)
			}
		}
		if p, ok := gr.Body.Attributes["response_parameters"]; !ok || exprText(m, p.Expr) != "local.api_cors_response_parameters" {
			add("aws_api_gateway_gateway_response.this: response_parameters are not local.api_cors_response_parameters")
		}
	}
	return problems
}

// checkSitePolicy checks that bucket b's policy lets only CloudFront (this
// configuration's distribution) read it.
func checkSitePolicy(m *module, b string) []string {
	var pol *hclsyntax.Block
	for _, key := range sortedKeys(m.resources) {
		r := m.resources[key]
		if !strings.HasPrefix(key, "aws_s3_bucket_policy.") {
			continue
		}
		if name, ok := refersTo(r.Body.Attributes["bucket"].Expr, "aws_s3_bucket"); ok && name == b {
			pol = r
		}
	}
	if pol == nil {
		return []string{fmt.Sprintf("bucket %s behind CloudFront has no bucket policy letting the distribution read it", b)}
	}
	doc, ok := refersTo(pol.Body.Attributes["policy"].Expr, "data")
	if !ok || doc != "aws_iam_policy_document" {
		return []string{fmt.Sprintf("bucket %s: policy is not an aws_iam_policy_document", b)}
	}
	var name string
	for _, tr := range pol.Body.Attributes["policy"].Expr.Variables() {
		if len(tr) > 2 {
			if a, ok := tr[2].(hcl.TraverseAttr); ok {
				name = a.Name
			}
		}
	}
	d := m.data["aws_iam_policy_document."+name]
	if d == nil {
		return []string{fmt.Sprintf("bucket %s: data.aws_iam_policy_document.%s not found", b, name)}
	}
	var problems []string
	allows := 0
	for _, st := range blocksOf(d, "statement") {
		effect := "Allow"
		if e, ok := st.Body.Attributes["effect"]; ok {
			effect, _ = str(e.Expr, nil)
		}
		if effect != "Allow" {
			continue
		}
		allows++
		ps := blocksOf(st, "principals")
		if len(ps) != 1 || strings.Join(strList(ps[0].Body.Attributes["identifiers"], nil), ",") != "cloudfront.amazonaws.com" {
			problems = append(problems, fmt.Sprintf("data.aws_iam_policy_document.%s: an Allow to someone else than cloudfront.amazonaws.com", name))
		}
		scoped := false
		for _, c := range blocksOf(st, "condition") {
			v, _ := str(c.Body.Attributes["variable"].Expr, nil)
			if strings.EqualFold(v, "AWS:SourceArn") && refersToAttr(c.Body.Attributes["values"].Expr, "aws_cloudfront_distribution") {
				scoped = true
			}
		}
		if !scoped {
			problems = append(problems, fmt.Sprintf("data.aws_iam_policy_document.%s: the CloudFront Allow is not limited to this distribution (AWS:SourceArn)", name))
		}
	}
	if allows == 0 {
		problems = append(problems, fmt.Sprintf("data.aws_iam_policy_document.%s allows nothing: CloudFront could not read the page", name))
	}
	return problems
}

// strList evaluates an attribute to a list of known strings (nil if it
// cannot).
func strList(a *hclsyntax.Attribute, ctx *hcl.EvalContext) []string {
	if a == nil {
		return nil
	}
	v, diags := a.Expr.Value(ctx)
	if diags.HasErrors() || !v.IsWhollyKnown() || !v.CanIterateElements() {
		return nil
	}
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.Type() != cty.String {
			return nil
		}
		out = append(out, e.AsString())
	}
	return out
}

// refersToAttr reports whether expr refers to a resource of kind.
func refersToAttr(expr hcl.Expression, kind string) bool {
	_, ok := refersTo(expr, kind)
	return ok
}

func TestSiteCheckCatchesBrokenConfigurations(t *testing.T) {
	tests := []struct {
		name string
		file string
		old  string
		new  string
		want string
	}{
		{name: "page over plain HTTP", file: "site.tf", old: `    target_origin_id           = "page"
    viewer_protocol_policy     = "https-only"`, new: `    target_origin_id           = "page"
    viewer_protocol_policy     = "allow-all"`, want: "viewer_protocol_policy \"allow-all\""},
		{name: "bucket origin without OAC", file: "site.tf", old: `    origin_access_control_id = aws_cloudfront_origin_access_control.site.id
`, new: "", want: "no origin_access_control_id"},
		{name: "API responses cached", file: "site.tf", old: `    cache_policy_id          = local.cloudfront_caching_disabled`, new: `    cache_policy_id          = local.cloudfront_caching_optimized`, want: "want CachingDisabled"},
		{name: "x-api-key not forwarded", file: "site.tf", old: `    origin_request_policy_id = local.cloudfront_all_viewer_except_host
`, new: "", want: "no origin_request_policy_id"},
		{name: "no /v1/* behaviour", file: "site.tf", old: `    path_pattern             = "/v1/*"`, new: `    path_pattern             = "/api/*"`, want: "no ordered_cache_behavior for /v1/*"},
		{name: "only some bodies binary", file: "api.tf", old: `binary_media_types = ["*/*"]`, new: `binary_media_types = ["image/*", "application/octet-stream"]`, want: "binary_media_types"},
		{name: "any service may read the page bucket", file: "site.tf", old: `identifiers = ["cloudfront.amazonaws.com"]`, new: `identifiers = ["*"]`, want: "someone else than cloudfront.amazonaws.com"},
		{name: "no CORS on the key's 403", file: "api.tf", old: `    DEFAULT_4XX = { status = null, templates = {} }
`, new: "", want: "no gateway response DEFAULT_4XX"},
		{name: "any distribution may read the page bucket", file: "site.tf", old: `      variable = "AWS:SourceArn"`, new: `      variable = "aws:SourceAccount"`, want: "not limited to this distribution"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := broken(t, tc.file, replaced(t, tc.file, tc.old, tc.new))
			joined := strings.Join(checkSite(m), "\n")
			if !strings.Contains(joined, tc.want) {
				t.Errorf("check site found %q, want a problem containing %q", joined, tc.want)
			}
		})
	}
}
