package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/config"
	tagging "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	taggingtypes "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/imagepipe/imagepipe/local"
)

// stackTarget is where the commands that work on a stack's queues, buses
// and buckets go (events tail, dlq, retry): the local stack's edge by
// default, a deployed stack with --aws. They use the same SQS, EventBridge
// and S3 calls on both.
type stackTarget struct {
	aws      bool
	stack    string
	data     string
	endpoint string
}

// stackHelp is the paragraph of the usages that says where they go.
const stackHelp = `By default it works on the local stack (imagepipe dev) through its edge:
--endpoint, else $AWS_ENDPOINT_URL, else the address of the stack running on
the data directory (--data, $` + local.EnvData + `, default ./` + local.DefaultDataDir + `), with that
directory's credentials. With --aws it uses the default AWS SDK configuration
(profile, region, credentials) and the stack Terraform deployed as --stack
(its name variable, default imagepipe), whose buckets and bus are found by
their tags (imagepipe:stack).`

func (t *stackTarget) register(fs *flag.FlagSet) {
	fs.BoolVar(&t.aws, "aws", false, "work on a stack deployed to AWS (default AWS SDK configuration) instead of the local one")
	fs.StringVar(&t.stack, "stack", defaultStack(), "with --aws: the stack's Terraform name, its name variable (env "+envStack+")")
	registerData(fs, &t.data)
	fs.StringVar(&t.endpoint, "endpoint", "", "the local edge's URL (env AWS_ENDPOINT_URL; default: the running stack's)")
}

// stackRefs is what the commands need to know of a stack.
type stackRefs struct {
	cfg   aws.Config
	local bool
	stack string // on AWS
	// Resource names.
	processQueue, processDLQ, eventsDLQ string
	uploadsBucket, processedBucket      string
	customBus                           string
}

// resolve finds the stack and an SDK configuration for it.
func (t *stackTarget) resolve(ctx context.Context) (*stackRefs, error) {
	if !t.aws {
		data := dataDir(t.data)
		cfg, err := localAWSConfig(data, localEdge(t.endpoint, data))
		if err != nil {
			return nil, err
		}
		return &stackRefs{cfg: cfg, local: true,
			processQueue: local.ProcessQueue, processDLQ: local.ProcessDLQ, eventsDLQ: local.NotifyDLQ,
			uploadsBucket: local.UploadsBucket, processedBucket: local.ProcessedBucket, customBus: local.CustomBus}, nil
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, fmt.Errorf("AWS configuration: no region (set AWS_REGION or a profile's region)")
	}
	s := &stackRefs{cfg: cfg,
		processQueue: t.stack + "-process", processDLQ: t.stack + "-process-dlq", eventsDLQ: t.stack + "-events-dlq",
		customBus: t.stack}
	s.stack = t.stack
	if bus, err := lookupBus(ctx, tagging.NewFromConfig(cfg), t.stack); err == nil && bus != "" {
		s.customBus = bus
	}
	return s, nil
}

// findBuckets finds a deployed stack's buckets by their tags (the local
// stack's are known), for the commands that use them.
func (s *stackRefs) findBuckets(ctx context.Context) error {
	if s.local || s.uploadsBucket != "" {
		return nil
	}
	var err error
	s3c := s3.NewFromConfig(s.cfg, func(o *s3.Options) { o.UsePathStyle = s.pathStyle() })
	s.uploadsBucket, s.processedBucket, err = lookupBuckets(ctx, tagging.NewFromConfig(s.cfg), s3c, s.cfg.Region, s.stack)
	return err
}

// lookupBus finds the stack's custom bus by its tag (its name is the
// stack's unless Terraform's event_bus_name says otherwise); "" when the
// tagging API does not know it.
func lookupBus(ctx context.Context, c taggingAPI, stack string) (string, error) {
	out, err := c.GetResources(ctx, &tagging.GetResourcesInput{
		ResourceTypeFilters: []string{"events:event-bus"},
		TagFilters:          []taggingtypes.TagFilter{{Key: aws.String(tagStack), Values: []string{stack}}},
	})
	if err != nil {
		return "", err
	}
	for _, m := range out.ResourceTagMappingList {
		if a, err := arn.Parse(aws.ToString(m.ResourceARN)); err == nil {
			if name, ok := strings.CutPrefix(a.Resource, "event-bus/"); ok {
				return name, nil
			}
		}
	}
	return "", nil
}

// localEdge is the local edge's URL: flag, else $AWS_ENDPOINT_URL, else
// the address of the stack running on (or last run on) the data
// directory, else the default.
func localEdge(flagValue, data string) string {
	if e := firstNonEmpty(flagValue, os.Getenv("AWS_ENDPOINT_URL")); e != "" {
		return e
	}
	r, _, _ := local.ReadRunning(data)
	return firstNonEmpty(r.EdgeURL, "http://"+local.DefaultEdgeAddr)
}

// pathStyle says whether S3 is reached path-style: on the local edge and
// on an emulator named by AWS_ENDPOINT_URL.
func (s *stackRefs) pathStyle() bool { return s.local || os.Getenv("AWS_ENDPOINT_URL") != "" }
