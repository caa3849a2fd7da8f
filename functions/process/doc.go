// Package process is imagepipe's worker: it takes SQS batches whose
// messages are EventBridge "Object Created" events of the uploads bucket,
// makes the grayscale image and the thumbnails with package imaging, writes
// them to the processed bucket and puts an "Image Processed" or "Image
// Processing Failed" event on the imagepipe bus.
//
// Delivery is at least once: outputs are keyed by image id and a manifest
// written after the completion event records the source ETag, so a
// duplicate of a finished image does no work and emits nothing. Permanent
// errors are acknowledged with a failure event; transient ones are reported
// in batchItemFailures, as in
// https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html.
package process
