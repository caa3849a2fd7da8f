package local

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	smithyauth "github.com/aws/smithy-go/auth"
	smithyendpoints "github.com/aws/smithy-go/endpoints"
)

// cachedS3Endpoints is the in-process functions' S3 endpoint resolver: the
// SDK's own, asked once per bucket. The SDK evaluates its S3 endpoint rules
// twice per call (for the endpoint, and again for the auth scheme it
// names), tens of microseconds each, on a dozen calls per image; for the
// edge (one endpoint, path style, plain buckets) the answer depends on the
// bucket, region and endpoint only. Parameters it cannot vouch for that
// (no bucket, virtual-hosted style, FIPS, dual-stack, acceleration, object
// Lambda, an ARN, an S3 Express bucket or control endpoint) go to the SDK's
// resolver every time.
type cachedS3Endpoints struct {
	next  s3.EndpointResolverV2
	mu    sync.RWMutex
	byKey map[string]smithyendpoints.Endpoint
}

func newCachedS3Endpoints(next s3.EndpointResolverV2) *cachedS3Endpoints {
	return &cachedS3Endpoints{next: next, byKey: map[string]smithyendpoints.Endpoint{}}
}

func (c *cachedS3Endpoints) ResolveEndpoint(ctx context.Context, p s3.EndpointParameters) (smithyendpoints.Endpoint, error) {
	key, ok := s3EndpointKey(p)
	if !ok {
		return c.next.ResolveEndpoint(ctx, p)
	}
	c.mu.RLock()
	e, hit := c.byKey[key]
	c.mu.RUnlock()
	if !hit {
		var err error
		if e, err = c.next.ResolveEndpoint(ctx, p); err != nil {
			return e, err
		}
		c.mu.Lock()
		c.byKey[key] = e
		c.mu.Unlock()
	}
	return copyEndpoint(e), nil
}

// s3EndpointKey is what the endpoint of p depends on, when that is its
// bucket, region and endpoint alone (the object key, prefix and copy
// source matter to S3 Express only); ok is false otherwise.
func s3EndpointKey(p s3.EndpointParameters) (key string, ok bool) {
	bucket := aws.ToString(p.Bucket)
	if bucket == "" || p.Endpoint == nil || !aws.ToBool(p.ForcePathStyle) || aws.ToBool(p.UseFIPS) || aws.ToBool(p.UseDualStack) ||
		aws.ToBool(p.Accelerate) || aws.ToBool(p.UseObjectLambdaEndpoint) ||
		aws.ToBool(p.UseS3ExpressControlEndpoint) || aws.ToBool(p.DisableS3ExpressSessionAuth) ||
		strings.HasPrefix(bucket, "arn:") || strings.HasSuffix(bucket, "--x-s3") || strings.HasSuffix(bucket, "--xa-s3") {
		return "", false
	}
	return strconv.Quote(bucket) + " " + strconv.Quote(aws.ToString(p.Region)) + " " + *p.Endpoint, true
}

// copyEndpoint is e with its own headers and properties: the SDK changes
// the auth options it finds in them (it merges its modelled properties
// into them), so no two calls may share them.
func copyEndpoint(e smithyendpoints.Endpoint) smithyendpoints.Endpoint {
	out := smithyendpoints.Endpoint{URI: e.URI, Headers: http.Header(e.Headers).Clone()} // URI: a copy (its Userinfo cannot be changed)
	out.Properties.SetAll(&e.Properties)
	if opts, ok := smithyauth.GetAuthOptions(&e.Properties); ok {
		own := make([]*smithyauth.Option, len(opts))
		for i, o := range opts {
			own[i] = &smithyauth.Option{SchemeID: o.SchemeID}
			own[i].IdentityProperties.SetAll(&o.IdentityProperties)
			own[i].SignerProperties.SetAll(&o.SignerProperties)
		}
		smithyauth.SetAuthOptions(&out.Properties, own)
	}
	return out
}
