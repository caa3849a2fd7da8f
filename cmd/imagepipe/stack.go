package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	tagging "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	taggingtypes "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/imagepipe/imagepipe/eventbus"
	"github.com/imagepipe/imagepipe/local"
	"github.com/imagepipe/imagepipe/metrics"
)

// Tags Terraform puts on a stack's resources (terraform/main.tf, s3.tf).
const (
	tagStack  = "imagepipe:stack"
	tagBucket = "imagepipe:bucket"
)

// envStack names the stack the AWS commands look up (Terraform's name).
const envStack = metrics.EnvStack

// deployment is what the commands know of one stack: its name, which names
// its rules and archives, and its buckets.
type deployment struct {
	stack           string
	uploadsBucket   string
	processedBucket string
	// checkTags: the rules a command uses must carry the stack's tag (on
	// AWS, where other stacks and other software share the default bus).
	checkTags bool
}

// localDeployment is the local stack.
func localDeployment() deployment {
	return deployment{stack: local.StackName, uploadsBucket: local.UploadsBucket, processedBucket: local.ProcessedBucket}
}

// defaultStack is the stack the AWS commands use without --stack.
func defaultStack() string { return firstSet(os.Getenv(envStack), metrics.DefaultStack) }

// taggingAPI is the part of the Resource Groups Tagging API client the
// lookup uses.
type taggingAPI interface {
	GetResources(context.Context, *tagging.GetResourcesInput, ...func(*tagging.Options)) (*tagging.GetResourcesOutput, error)
}

// bucketLocator tells a bucket's region.
type bucketLocator interface {
	GetBucketLocation(context.Context, *s3.GetBucketLocationInput, ...func(*s3.Options)) (*s3.GetBucketLocationOutput, error)
}

// lookupBuckets finds a deployed stack's buckets by their tags: every
// bucket Terraform makes carries imagepipe:stack = <name> and
// imagepipe:bucket = uploads or processed. The same stack in several
// regions has buckets in each: the ones of region are taken (the tagging
// API answers for its own region, but S3 is global and emulators list
// every bucket).
func lookupBuckets(ctx context.Context, c taggingAPI, loc bucketLocator, region, stack string) (uploads, processed string, err error) {
	found := map[string][]string{}
	p := tagging.NewGetResourcesPaginator(c, &tagging.GetResourcesInput{
		ResourceTypeFilters: []string{"s3"},
		TagFilters:          []taggingtypes.TagFilter{{Key: aws.String(tagStack), Values: []string{stack}}},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return "", "", fmt.Errorf("look up the buckets of stack %s by tag %s: %w", stack, tagStack, err)
		}
		for _, m := range page.ResourceTagMappingList {
			a, err := arn.Parse(aws.ToString(m.ResourceARN))
			if err != nil || a.Service != "s3" {
				continue
			}
			for _, t := range m.Tags {
				if aws.ToString(t.Key) == tagBucket {
					found[aws.ToString(t.Value)] = append(found[aws.ToString(t.Value)], a.Resource)
				}
			}
		}
	}
	var missing []string
	for _, role := range []string{"uploads", "processed"} {
		if len(found[role]) > 1 {
			var here []string
			for _, b := range found[role] {
				if r, err := bucketRegion(ctx, loc, b); err == nil && r == region {
					here = append(here, b)
				}
			}
			found[role] = here
		}
		switch n := len(found[role]); {
		case n == 0:
			missing = append(missing, role)
		case n > 1:
			sort.Strings(found[role])
			return "", "", fmt.Errorf("stack %s has %d %s buckets in %s (%s): tags %s and %s should name one", stack, n, role, region, strings.Join(found[role], ", "), tagStack, tagBucket)
		}
	}
	if len(missing) > 0 {
		return "", "", fmt.Errorf("no %s bucket tagged %s=%s and %s in %s: is %q the Terraform name of the stack (--stack, $%s), deployed to this region?",
			strings.Join(missing, " or "), tagStack, stack, tagBucket, region, stack, envStack)
	}
	return found["uploads"][0], found["processed"][0], nil
}

// bucketRegion is the region of a bucket, from its location constraint.
func bucketRegion(ctx context.Context, loc bucketLocator, bucket string) (string, error) {
	out, err := loc.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String(bucket)})
	if err != nil {
		return "", err
	}
	switch c := string(out.LocationConstraint); c {
	case "":
		return "us-east-1", nil
	case "EU":
		return "eu-west-1", nil
	default:
		return c, nil
	}
}

// ruleAPI is the part of the EventBridge client that finds rules.
type ruleAPI interface {
	DescribeRule(context.Context, *eventbridge.DescribeRuleInput, ...func(*eventbridge.Options)) (*eventbridge.DescribeRuleOutput, error)
	ListTagsForResource(context.Context, *eventbridge.ListTagsForResourceInput, ...func(*eventbridge.Options)) (*eventbridge.ListTagsForResourceOutput, error)
}

// ruleName is the full name of a rule given as a pattern's name
// (uploads-to-queue) or in full (imagepipe-uploads-to-queue).
func (d deployment) ruleName(name string) string {
	for _, p := range eventbus.RuleNames() {
		if name == p {
			return eventbus.RuleName(d.stack, p)
		}
	}
	return name
}

// archiveName is the full name of an archive given by what it keeps
// (uploads, completions) or in full.
func (d deployment) archiveName(name string) string {
	switch name {
	case eventbus.ArchiveUploads, eventbus.ArchiveCompletions:
		return eventbus.ArchiveName(d.stack, name)
	}
	return name
}

// ruleARN finds a rule of the bus. A rule the command chose itself (not
// named with --rule) must, on AWS, carry the stack's tag.
func (d deployment) ruleARN(ctx context.Context, c ruleAPI, name, busARN string, chosen bool) (string, error) {
	out, err := c.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String(name), EventBusName: aws.String(busARN)})
	if err != nil {
		return "", fmt.Errorf("rule %s: %w", name, err)
	}
	ruleARN := aws.ToString(out.Arn)
	if !d.checkTags || !chosen {
		return ruleARN, nil
	}
	tags, err := c.ListTagsForResource(ctx, &eventbridge.ListTagsForResourceInput{ResourceARN: aws.String(ruleARN)})
	if err != nil {
		return "", fmt.Errorf("tags of rule %s: %w", name, err)
	}
	for _, t := range tags.Tags {
		if aws.ToString(t.Key) == tagStack {
			if v := aws.ToString(t.Value); v != d.stack {
				return "", fmt.Errorf("rule %s belongs to stack %s, not %s", name, v, d.stack)
			}
			return ruleARN, nil
		}
	}
	return "", errors.New("rule " + name + " has no " + tagStack + " tag, so it is not the stack's own: name the rules to replay to with --rule")
}
