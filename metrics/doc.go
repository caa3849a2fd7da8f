// Package metrics names the pipeline's metrics (what each counts or
// measures, in which unit, with which dimensions) and writes them as
// CloudWatch embedded metric format: attributes that turn an ordinary JSON
// log line into a document CloudWatch Logs extracts metrics from, with no
// PutMetricData call and nothing to flush
// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html).
//
// The functions log one such line per event they finish. On Lambda the
// JSON log lines reach CloudWatch Logs, where the metrics appear in the
// namespace "imagepipe" with the dimension Stack (the Terraform name); the
// dashboard and alarms in terraform/monitoring.tf read them. The local stack
// reads the same lines and serves the same numbers at GET /metrics.
package metrics
