// Package eventbus is imagepipe's event contract: the EventBridge envelope
// and the typed details of the events the pipeline emits and consumes, the
// rule patterns (the JSON files under patterns/, read by Terraform too), the
// EventBridge pattern matcher, and the Publisher port with its Amazon
// EventBridge adapter.
//
// The envelope mirrors
// https://docs.aws.amazon.com/eventbridge/latest/ref/overiew-event-structure.html
// and the S3 detail mirrors
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html.
package eventbus
