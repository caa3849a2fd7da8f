//go:build unix

package terraform_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	agtypes "github.com/aws/aws-sdk-go-v2/service/apigateway/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/imagepipe/imagepipe/api"
	"github.com/imagepipe/imagepipe/functions/presign"
)

// testPageOrigin is the cors_allowed_origins of the test apply: a page
// hosted elsewhere than CloudFront.
const testPageOrigin = "https://page.example.test"

// siteOutputs are the outputs of site.tf and what its checks compare with.
type siteOutputs struct {
	PageURL             string                       `json:"page_url"`
	SiteBucket          string                       `json:"site_bucket"`
	DistributionID      string                       `json:"cloudfront_distribution_id"`
	APIURL              string                       `json:"api_url"`
	UploadsBucket       string                       `json:"uploads_bucket"`
	ProcessedBucket     string                       `json:"processed_bucket"`
	FunctionEnvironment map[string]map[string]string `json:"function_environment"`
}

// checkSiteAndAPI checks, on the applied stack, what site.tf and the CORS
// and binary parts of api.tf made: the page in its bucket, the
// distribution, the buckets' CORS, the REST API's binary media types,
// OPTIONS methods and gateway responses, and a preflight through the API
// Gateway adapter configured as Terraform configured the function.
// What moto drops (the OAC id of the distribution's S3 origin, the REST
// API's binary media types) is held by the HCL check "site".
func checkSiteAndAPI(ctx context.Context, t *testing.T, endpoint string, tf *terraformCLI) {
	var out siteOutputs
	if err := tf.outputs(ctx, &out); err != nil {
		t.Fatal(err)
	}
	cfg := awsConfig(endpoint)
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })

	t.Run("the site bucket holds the page and its config.json", func(t *testing.T) {
		want := map[string][]byte{}
		err := fs.WalkDir(os.DirFS(filepath.Join("..", "web", "static")), ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(filepath.Join("..", "web", "static", p))
			want[p] = b
			return err
		})
		if err != nil || len(want) == 0 {
			t.Fatalf("read web/static: %v (%d files)", err, len(want))
		}
		list, err := s3c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(out.SiteBucket)})
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, o := range list.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
		wantKeys := []string{"config.json"}
		for k := range want {
			wantKeys = append(wantKeys, k)
		}
		slices.Sort(keys)
		slices.Sort(wantKeys)
		if !slices.Equal(keys, wantKeys) {
			t.Errorf("site bucket holds %v, want %v", keys, wantKeys)
		}
		types := map[string]string{".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml", ".json": "application/json"}
		for _, k := range wantKeys {
			obj, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(out.SiteBucket), Key: aws.String(k)})
			if err != nil {
				t.Errorf("get %s: %v", k, err)
				continue
			}
			body, _ := io.ReadAll(obj.Body)
			obj.Body.Close()
			if ct := aws.ToString(obj.ContentType); !strings.HasPrefix(ct, types[filepath.Ext(k)]) {
				t.Errorf("%s: Content-Type %q, want %s", k, ct, types[filepath.Ext(k)])
			}
			if k == "config.json" {
				var c struct {
					APIBaseURL     *string `json:"api_base_url"`
					APIKey         string  `json:"api_key"`
					MaxUploadBytes int64   `json:"max_upload_bytes"`
				}
				if err := json.Unmarshal(body, &c); err != nil || c.APIBaseURL == nil || *c.APIBaseURL != "" || c.APIKey != "" ||
					c.MaxUploadBytes != 26214400 || aws.ToString(obj.CacheControl) != "no-store" {
					t.Errorf("config.json %s (Cache-Control %q): want the same-origin API, no key, the upload limit, no-store (%v)", body, aws.ToString(obj.CacheControl), err)
				}
				continue
			}
			if string(body) != string(want[k]) {
				t.Errorf("%s in the bucket differs from web/static/%s", k, k)
			}
			if cc := aws.ToString(obj.CacheControl); cc != "no-cache" {
				t.Errorf("%s: Cache-Control %q, want no-cache", k, cc)
			}
		}
	})

	t.Run("the distribution serves the bucket and /v1/* from the API", func(t *testing.T) {
		cf := cloudfront.NewFromConfig(cfg)
		d, err := cf.GetDistribution(ctx, &cloudfront.GetDistributionInput{Id: aws.String(out.DistributionID)})
		if err != nil {
			t.Fatal(err)
		}
		if want := "https://" + aws.ToString(d.Distribution.DomainName) + "/"; out.PageURL != want {
			t.Errorf("page_url %q, want %q", out.PageURL, want)
		}
		dc := d.Distribution.DistributionConfig
		if aws.ToString(dc.DefaultRootObject) != "index.html" || !aws.ToBool(dc.Enabled) {
			t.Errorf("default root object %q, enabled %v", aws.ToString(dc.DefaultRootObject), aws.ToBool(dc.Enabled))
		}
		origins := map[string]string{}
		paths := map[string]string{}
		for _, o := range dc.Origins.Items {
			origins[aws.ToString(o.Id)] = aws.ToString(o.DomainName)
			paths[aws.ToString(o.Id)] = aws.ToString(o.OriginPath)
		}
		if dom := origins["page"]; !strings.HasPrefix(dom, out.SiteBucket+".s3.") {
			t.Errorf("page origin %q, want the site bucket %s", dom, out.SiteBucket)
		}
		apiHost := strings.TrimPrefix(out.APIURL, "https://")
		apiHost, stage, _ := strings.Cut(apiHost, "/")
		if origins["api"] != apiHost || paths["api"] != "/"+stage {
			t.Errorf("api origin %s%s, want %s/%s (the API stage)", origins["api"], paths["api"], apiHost, stage)
		}
		if p := dc.DefaultCacheBehavior.ViewerProtocolPolicy; p != "https-only" {
			t.Errorf("default behaviour viewer protocol %q, want https-only", p)
		}
		var v1 bool
		for _, b := range dc.CacheBehaviors.Items {
			if aws.ToString(b.PathPattern) != "/v1/*" {
				continue
			}
			v1 = true
			if aws.ToString(b.TargetOriginId) != "api" || b.ViewerProtocolPolicy != "https-only" ||
				aws.ToString(b.CachePolicyId) != "4135ea2d-6df8-44a3-9df3-4b5a84be39ad" || aws.ToString(b.OriginRequestPolicyId) != "b689b0a8-53d0-40ab-baf2-68738e2966ac" {
				t.Errorf("/v1/* behaviour %+v: want the api origin, https-only, CachingDisabled, AllViewerExceptHostHeader", b)
			}
			if m := b.AllowedMethods.Items; !slices.Contains(m, "POST") || !slices.Contains(m, "OPTIONS") {
				t.Errorf("/v1/* allows %v, want POST and OPTIONS", m)
			}
		}
		if !v1 {
			t.Error("no /v1/* behaviour")
		}
		oacs, err := cf.ListOriginAccessControls(ctx, &cloudfront.ListOriginAccessControlsInput{})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, o := range oacs.OriginAccessControlList.Items {
			found = found || (aws.ToString(o.Name) == "imagepipe-site-"+testRegion && o.SigningBehavior == "always" && o.OriginAccessControlOriginType == "s3")
		}
		if !found {
			t.Errorf("no origin access control imagepipe-site-"+testRegion+" (always signing, s3) among %d", len(oacs.OriginAccessControlList.Items))
		}
	})

	t.Run("the buckets' CORS allow the page and the other origins", func(t *testing.T) {
		page := strings.TrimSuffix(out.PageURL, "/")
		for _, b := range []string{out.UploadsBucket, out.ProcessedBucket} {
			c, err := s3c.GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: aws.String(b)})
			if err != nil {
				t.Fatal(err)
			}
			var origins []string
			for _, r := range c.CORSRules {
				origins = append(origins, r.AllowedOrigins...)
			}
			if !slices.Contains(origins, page) || !slices.Contains(origins, testPageOrigin) {
				t.Errorf("%s CORS origins %v, want %s and %s", b, origins, page, testPageOrigin)
			}
		}
	})

	t.Run("the REST API preflights without a key and puts CORS on its own errors", func(t *testing.T) {
		ag := apigateway.NewFromConfig(cfg)
		apiID, _, _ := strings.Cut(strings.TrimPrefix(out.APIURL, "https://"), ".")
		restAPI, err := ag.GetRestApi(ctx, &apigateway.GetRestApiInput{RestApiId: aws.String(apiID)})
		if err != nil {
			t.Fatal(err)
		}
		// moto 5.2 keeps no binaryMediaTypes (CreateRestApi drops them):
		// the HCL check "site" holds binary_media_types = ["*/*"].
		t.Logf("binary media types as moto keeps them: %q", restAPI.BinaryMediaTypes)
		res, err := ag.GetResources(ctx, &apigateway.GetResourcesInput{RestApiId: aws.String(apiID), Embed: []string{"methods"}, Limit: aws.Int32(500)})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"/v1/uploads": "POST", "/v1/images": "GET", "/v1/images/{id}": "GET", "/v1/images/upload": "POST"}
		for _, r := range res.Items {
			route, ok := want[aws.ToString(r.Path)]
			if !ok {
				continue
			}
			delete(want, aws.ToString(r.Path))
			for _, m := range []string{route, "OPTIONS"} {
				meth, err := ag.GetMethod(ctx, &apigateway.GetMethodInput{RestApiId: aws.String(apiID), ResourceId: r.Id, HttpMethod: aws.String(m)})
				if err != nil {
					t.Errorf("%s %s: %v", m, aws.ToString(r.Path), err)
					continue
				}
				if needsKey := aws.ToBool(meth.ApiKeyRequired); needsKey != (m != "OPTIONS") {
					t.Errorf("%s %s: api key required %v", m, aws.ToString(r.Path), needsKey)
				}
				if meth.MethodIntegration == nil || meth.MethodIntegration.Type != "AWS_PROXY" {
					t.Errorf("%s %s: integration %+v, want the function (AWS_PROXY)", m, aws.ToString(r.Path), meth.MethodIntegration)
				}
			}
		}
		if len(want) != 0 {
			t.Errorf("resources missing: %v", want)
		}
		for _, rt := range []string{"DEFAULT_4XX", "DEFAULT_5XX", "REQUEST_TOO_LARGE"} {
			gr, err := ag.GetGatewayResponse(ctx, &apigateway.GetGatewayResponseInput{RestApiId: aws.String(apiID), ResponseType: agtypes.GatewayResponseType(rt)})
			if err != nil {
				t.Errorf("gateway response %s: %v", rt, err)
				continue
			}
			if got := gr.ResponseParameters["gatewayresponse.header.Access-Control-Allow-Origin"]; got != "'"+testPageOrigin+"'" {
				t.Errorf("%s: Access-Control-Allow-Origin %q, want '%s'", rt, got, testPageOrigin)
			}
			if rt == "REQUEST_TOO_LARGE" {
				var body struct{ Error api.ErrorBody }
				if aws.ToString(gr.StatusCode) != "413" || json.Unmarshal([]byte(gr.ResponseTemplates["application/json"]), &body) != nil || body.Error.Code != "too_large" {
					t.Errorf("REQUEST_TOO_LARGE: %s %v, want 413 with the API's JSON too_large", aws.ToString(gr.StatusCode), gr.ResponseTemplates)
				}
			}
		}
	})

	t.Run("a preflight and a base64 body through the API Gateway adapter", func(t *testing.T) {
		setSiteFunctionEnv(t, out, "presign")
		pcfg, err := presign.ConfigFromEnv()
		if err != nil {
			t.Fatal(err)
		}
		h, err := presign.New(pcfg, s3c, slog.New(slog.NewJSONHandler(t.Output(), nil)))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := h.HandleAPIGateway(ctx, events.APIGatewayProxyRequest{
			HTTPMethod: http.MethodOptions, Resource: "/v1/uploads", Path: "/v1/uploads",
			Headers: map[string]string{"Origin": testPageOrigin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,x-api-key"},
		})
		if err != nil {
			t.Fatal(err)
		}
		hdr := func(k string) string { return strings.Join(resp.MultiValueHeaders[k], ", ") }
		if resp.StatusCode != http.StatusNoContent || hdr("Access-Control-Allow-Origin") != testPageOrigin ||
			!strings.Contains(hdr("Access-Control-Allow-Headers"), "x-api-key") || !strings.Contains(hdr("Access-Control-Allow-Methods"), "POST") {
			t.Errorf("preflight: %d %v", resp.StatusCode, resp.MultiValueHeaders)
		}
		resp, err = h.HandleAPIGateway(ctx, events.APIGatewayProxyRequest{
			HTTPMethod: http.MethodOptions, Resource: "/v1/uploads", Path: "/v1/uploads",
			Headers: map[string]string{"Origin": "https://elsewhere.example.test", "Access-Control-Request-Method": "POST"},
		})
		if err != nil || resp.StatusCode != http.StatusForbidden || len(resp.MultiValueHeaders["Access-Control-Allow-Origin"]) != 0 {
			t.Errorf("preflight from an origin not allowed: %v %d %v", err, resp.StatusCode, resp.MultiValueHeaders)
		}
		// With binary_media_types "*/*" the JSON body arrives base64-encoded.
		resp, err = h.HandleAPIGateway(ctx, events.APIGatewayProxyRequest{
			HTTPMethod: http.MethodPost, Resource: "/v1/uploads", Path: "/v1/uploads", IsBase64Encoded: true,
			Headers: map[string]string{"Content-Type": "application/json", "Origin": testPageOrigin},
			Body:    base64.StdEncoding.EncodeToString([]byte(`{"filename":"dog.png","content_type":"image/png","size":100}`)),
		})
		if err != nil || resp.StatusCode != http.StatusCreated || strings.Join(resp.MultiValueHeaders["Access-Control-Allow-Origin"], "") != testPageOrigin {
			t.Errorf("base64 POST /v1/uploads from the other origin: %v %d %s %v", err, resp.StatusCode, resp.Body, resp.MultiValueHeaders)
		}
	})
}

func setSiteFunctionEnv(t *testing.T, out siteOutputs, function string) {
	t.Helper()
	env := out.FunctionEnvironment[function]
	if len(env) == 0 {
		t.Fatalf("no environment for %s", function)
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
}
