// Package sqsserver serves Amazon SQS's JSON protocol (awsJson1_0,
// operations named by the X-Amz-Target header "AmazonSQS.<Operation>") on
// the local edge, over the local durable queues, so that `aws sqs
// --endpoint-url` and the SDK's sqs client work against it: ListQueues,
// GetQueueUrl, GetQueueAttributes, ReceiveMessage (with long polling),
// SendMessage, DeleteMessage, DeleteMessageBatch, ChangeMessageVisibility,
// PurgeQueue, StartMessageMoveTask, ListMessageMoveTasks,
// CancelMessageMoveTask, ListDeadLetterSourceQueues, and CreateQueue,
// DeleteQueue, SetQueueAttributes, TagQueue, UntagQueue and ListQueueTags
// for the temporary queues of tools such as `imagepipe events tail`. Every
// request is SigV4 verified. Errors carry SQS's JSON __type and, as SQS
// does for clients of its former query protocol, the x-amzn-query-error
// header with the query error code.
//
// Queues made through CreateQueue live as long as the stack: they and
// their messages are removed when it starts again. A move task runs in the
// process; one cut short by a restart moved its messages so far (each batch
// in one transaction) and leaves the rest in the dead-letter queue.
//
// See https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/Welcome.html
// and https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-json-faqs.html.
package sqsserver
