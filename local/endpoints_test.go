package local

import (
	"context"
	"maps"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	smithyauth "github.com/aws/smithy-go/auth"
	smithyendpoints "github.com/aws/smithy-go/endpoints"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// TestCachedS3EndpointsAnswerAsTheSDK: for the edge's parameters (path
// style, its endpoint) and for others it must not cache (virtual-hosted,
// FIPS, an ARN, an S3 Express bucket, another endpoint), the cached
// resolver gives what the SDK's gives, call after call, and a caller
// changing the auth options it got changes nothing for the next one.
func TestCachedS3EndpointsAnswerAsTheSDK(t *testing.T) {
	ctx := context.Background()
	sdk := s3.NewDefaultEndpointResolverV2()
	cached := newCachedS3Endpoints(s3.NewDefaultEndpointResolverV2())
	edge := func(bucket, key string) s3.EndpointParameters {
		return s3.EndpointParameters{Bucket: aws.String(bucket), Key: aws.String(key), Region: aws.String(Region),
			Endpoint: aws.String("http://127.0.0.1:4566"), ForcePathStyle: aws.Bool(true),
			UseFIPS: aws.Bool(false), UseDualStack: aws.Bool(false), Accelerate: aws.Bool(false)}
	}
	cases := map[string]s3.EndpointParameters{
		"upload":    edge("imagepipe-uploads", "uploads/0123.jpg"),
		"output":    edge("imagepipe-processed", "processed/0123/gray.jpg"),
		"odd key":   edge("imagepipe-processed", "a b/%2F/ü?x=1"),
		"no bucket": {Region: aws.String(Region), Endpoint: aws.String("http://127.0.0.1:4566"), ForcePathStyle: aws.Bool(true)},
	}
	other := edge("imagepipe-uploads", "k")
	other.Endpoint = aws.String("http://127.0.0.1:9999")
	cases["another endpoint"] = other
	vhost := edge("imagepipe-uploads", "k")
	vhost.ForcePathStyle = aws.Bool(false)
	cases["virtual-hosted"] = vhost
	fips := edge("imagepipe-uploads", "k")
	fips.Endpoint, fips.UseFIPS = nil, aws.Bool(true)
	cases["fips"] = fips
	cases["express"] = edge("bucket--usw2-az1--x-s3", "k")
	// No bucket (ListBuckets, ListDirectoryBuckets): an empty one and none
	// resolve apart, and the S3 Express control endpoint to its own auth.
	cases["empty bucket"] = edge("", "")
	control := s3.EndpointParameters{Region: aws.String(Region), Endpoint: aws.String("http://127.0.0.1:4566"), ForcePathStyle: aws.Bool(true),
		UseS3ExpressControlEndpoint: aws.Bool(true)}
	cases["express control"] = control
	noSession := edge("imagepipe-uploads", "k")
	noSession.DisableS3ExpressSessionAuth = aws.Bool(true)
	cases["express session auth off"] = noSession
	cases["arn"] = edge("arn:aws:s3:us-east-1:123456789012:accesspoint/ap", "k")

	names := slices.Sorted(maps.Keys(cases))
	backward := slices.Clone(names)
	slices.Reverse(backward)
	// Both orders: a cache that mixed two cases up gives the later one the
	// earlier one's answer, whichever it is.
	for _, name := range append(names, backward...) {
		p := cases[name]
		want, wantErr := sdk.ResolveEndpoint(ctx, p)
		for i := range 3 {
			got, err := cached.ResolveEndpoint(ctx, p)
			if (err != nil) != (wantErr != nil) {
				t.Fatalf("%s, call %d: error %v, the SDK's %v", name, i, err, wantErr)
			}
			if err != nil {
				continue
			}
			if got.URI.String() != want.URI.String() {
				t.Errorf("%s, call %d: URI %s, the SDK's %s", name, i, got.URI.String(), want.URI.String())
			}
			if g, w := authOf(t, got), authOf(t, want); g != w {
				t.Errorf("%s, call %d: auth %+v, the SDK's %+v", name, i, g, w)
			}
			// What the SDK does to the options it is given must not reach
			// the next caller.
			if opts, ok := smithyauth.GetAuthOptions(&got.Properties); ok {
				for _, o := range opts {
					smithyhttp.SetSigV4SigningName(&o.SignerProperties, "changed")
					o.SchemeID = "changed"
				}
			}
		}
	}
}

type authSummary struct {
	scheme, name, region string
	noDoubleEncoding     bool
	n                    int
}

func authOf(t *testing.T, e smithyendpoints.Endpoint) authSummary {
	t.Helper()
	opts, ok := smithyauth.GetAuthOptions(&e.Properties)
	if !ok || len(opts) == 0 {
		return authSummary{}
	}
	o := opts[0]
	name, _ := smithyhttp.GetSigV4SigningName(&o.SignerProperties)
	region, _ := smithyhttp.GetSigV4SigningRegion(&o.SignerProperties)
	dde, _ := smithyhttp.GetDisableDoubleEncoding(&o.SignerProperties)
	return authSummary{scheme: o.SchemeID, name: name, region: region, noDoubleEncoding: dde, n: len(opts)}
}
