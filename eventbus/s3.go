package eventbus

// S3 "Object Created" events, as S3 sends them to EventBridge.
const (
	SourceS3                = "aws.s3"
	DetailTypeObjectCreated = "Object Created"
)

// ObjectCreated is the detail of an S3 "Object Created" event.
type ObjectCreated struct {
	Version         string   `json:"version"`
	Bucket          S3Bucket `json:"bucket"`
	Object          S3Object `json:"object"`
	RequestID       string   `json:"request-id"`
	Requester       string   `json:"requester"`
	SourceIPAddress string   `json:"source-ip-address,omitempty"`
	Reason          string   `json:"reason"`
}

// S3Bucket names the bucket of an S3 event.
type S3Bucket struct {
	Name string `json:"name"`
}

// S3Object describes the object of an S3 event.
type S3Object struct {
	Key       string `json:"key"`
	Size      int64  `json:"size"`
	ETag      string `json:"etag"`
	VersionID string `json:"version-id,omitempty"`
	Sequencer string `json:"sequencer"`
}
