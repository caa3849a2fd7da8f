package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"

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
(its name variable, default imagepipe).`

func (t *stackTarget) register(fs *flag.FlagSet) {
	fs.BoolVar(&t.aws, "aws", false, "work on a stack deployed to AWS (default AWS SDK configuration) instead of the local one")
	fs.StringVar(&t.stack, "stack", "imagepipe", "with --aws: the stack's Terraform name (its name variable)")
	registerData(fs, &t.data)
	fs.StringVar(&t.endpoint, "endpoint", "", "the local edge's URL (env AWS_ENDPOINT_URL; default: the running stack's)")
}

// stackRefs is what the commands need to know of a stack.
type stackRefs struct {
	cfg   aws.Config
	local bool
	// Resource names.
	processQueue, processDLQ, eventsDLQ string
	uploadsBucket, processedBucket      string
	customBus                           string
}

// resolve finds the stack and an SDK configuration for it.
func (t *stackTarget) resolve(ctx context.Context) (*stackRefs, error) {
	if !t.aws {
		data := dataDir(t.data)
		endpoint := firstNonEmpty(t.endpoint, os.Getenv("AWS_ENDPOINT_URL"))
		if endpoint == "" {
			r, _, _ := local.ReadRunning(data)
			endpoint = firstNonEmpty(r.EdgeURL, "http://"+local.DefaultEdgeAddr)
		}
		cfg, err := localAWSConfig(data, endpoint)
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
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return nil, fmt.Errorf("AWS credentials: %w", err)
	}
	account := aws.ToString(id.Account)
	return &stackRefs{cfg: cfg,
		processQueue: t.stack + "-process", processDLQ: t.stack + "-process-dlq", eventsDLQ: t.stack + "-events-dlq",
		// Terraform's default names (main.tf).
		uploadsBucket:   fmt.Sprintf("%s-uploads-%s-%s", t.stack, account, cfg.Region),
		processedBucket: fmt.Sprintf("%s-processed-%s-%s", t.stack, account, cfg.Region),
		customBus:       t.stack}, nil
}

// pathStyle says whether S3 is reached path-style: on the local edge and
// on an emulator named by AWS_ENDPOINT_URL.
func (s *stackRefs) pathStyle() bool { return s.local || os.Getenv("AWS_ENDPOINT_URL") != "" }
