package eventbus

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// ec2Event is the sample event of the EventBridge user guide's
// content-filtering page, extended with fields the examples below need.
const ec2Event = `{
  "version": "0",
  "id": "ddddd4-aaaa-7777-4444-345dd43cc333",
  "detail-type": "EC2 Instance State-change Notification",
  "source": "aws.ec2",
  "account": "012345679012",
  "time": "2017-10-02T16:24:49Z",
  "region": "us-east-1",
  "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],
  "detail": {
    "c-count": 5,
    "d-count": 3,
    "x-limit": 301.8,
    "source-ip": "10.0.0.33",
    "instance-id": "i-000000aaaaaa00000",
    "state": "running"
  }
}`

// s3Event is an S3 "Object Created" event as the uploads bucket sends it.
const s3Event = `{
  "version": "0",
  "id": "17793124-05d4-b198-2fde-7ededc63b103",
  "detail-type": "Object Created",
  "source": "aws.s3",
  "account": "111122223333",
  "time": "2021-11-12T00:00:00Z",
  "region": "ca-central-1",
  "resources": ["arn:aws:s3:::imagepipe-uploads"],
  "detail": {
    "version": "0",
    "bucket": {"name": "imagepipe-uploads"},
    "object": {"key": "uploads/01HZX.jpg", "size": 5, "etag": "b1946ac92492d2347c6235b4d2611184", "sequencer": "00617F08299329D189"},
    "request-id": "N4N7GDK58NMKJ12R",
    "requester": "123456789012",
    "source-ip-address": "1.2.3.4",
    "reason": "PutObject"
  }
}`

// nullEvent is the sample of the user guide page on matching null values and
// empty strings.
const nullEvent = `{
  "version": "0",
  "id": "3e3c153a-8339-4e30-8c35-687ebef853fe",
  "detail-type": "EC2 Instance Launch Successful",
  "source": "aws.autoscaling",
  "account": "123456789012",
  "time": "2015-11-11T21:31:47Z",
  "region": "us-east-1",
  "resources": [],
  "detail": {"eventVersion": "", "responseElements": null}
}`

type patternCase struct {
	name    string
	pattern string
	event   string // "" means ec2Event
	want    bool
}

// patternCases follow the examples of the EventBridge user guide pages
// "Event patterns", "Content filtering" and "Comparison operators", each with
// events that do and do not match.
var patternCases = []patternCase{
	// Exact values and AND across fields.
	{name: "exact source", pattern: `{"source":["aws.ec2"]}`, want: true},
	{name: "exact source other", pattern: `{"source":["aws.s3"]}`, want: false},
	{name: "exact one of list", pattern: `{"detail":{"state":["initializing","running"]}}`, want: true},
	{name: "and all fields match", pattern: `{"source":["aws.ec2"],"detail-type":["EC2 Instance State-change Notification"],"detail":{"state":["running"]}}`, want: true},
	{name: "and one field fails", pattern: `{"source":["aws.ec2"],"detail":{"state":["stopped"]}}`, want: false},
	{name: "exact is case sensitive", pattern: `{"source":["AWS.EC2"]}`, want: false},
	{name: "missing field fails", pattern: `{"detail":{"nope":["x"]}}`, want: false},
	{name: "missing parent fails", pattern: `{"nope":{"state":["running"]}}`, want: false},
	{name: "uploads rule", pattern: `{"source":["aws.s3"],"detail-type":["Object Created"],"detail":{"bucket":{"name":["imagepipe-uploads"]},"object":{"key":[{"prefix":"uploads/"}]}}}`, event: s3Event, want: true},
	{name: "uploads rule other bucket", pattern: `{"source":["aws.s3"],"detail":{"bucket":{"name":["other"]}}}`, event: s3Event, want: false},
	{name: "unicode value", pattern: `{"a":["caf\u00e9"]}`, event: `{"a":"café"}`, want: true},

	// Numbers, booleans, null, empty string.
	{name: "number exact", pattern: `{"detail":{"c-count":[5]}}`, want: true},
	{name: "number equals float form", pattern: `{"detail":{"c-count":[5.0]}}`, want: true},
	{name: "number exponent form", pattern: `{"detail":{"x-limit":[3.018e2]}}`, want: true},
	{name: "number other", pattern: `{"detail":{"c-count":[6]}}`, want: false},
	{name: "number pattern vs string event", pattern: `{"a":[5]}`, event: `{"a":"5"}`, want: false},
	{name: "string pattern vs number event", pattern: `{"a":["5"]}`, event: `{"a":5}`, want: false},
	{name: "negative zero equals zero", pattern: `{"a":[0]}`, event: `{"a":-0.0}`, want: true},
	{name: "bool true", pattern: `{"a":[true]}`, event: `{"a":true}`, want: true},
	{name: "bool false vs true", pattern: `{"a":[false]}`, event: `{"a":true}`, want: false},
	{name: "bool vs string", pattern: `{"a":[true]}`, event: `{"a":"true"}`, want: false},
	{name: "null matches null", pattern: `{"UserID":[null]}`, event: `{"UserID":null}`, want: true},
	{name: "null not missing", pattern: `{"UserID":[null]}`, event: `{"Other":1}`, want: false},
	{name: "null not empty string", pattern: `{"UserID":[null]}`, event: `{"UserID":""}`, want: false},
	{name: "empty string", pattern: `{"LastName":[""]}`, event: `{"LastName":""}`, want: true},
	{name: "empty string not null", pattern: `{"LastName":[""]}`, event: `{"LastName":null}`, want: false},
	{name: "guide empty string", pattern: `{"detail":{"eventVersion":[""]}}`, event: nullEvent, want: true},
	{name: "guide null", pattern: `{"detail":{"responseElements":[null]}}`, event: nullEvent, want: true},
	{name: "guide empty string is not null", pattern: `{"detail":{"responseElements":[""]}}`, event: nullEvent, want: false},
	{name: "guide null is not empty string", pattern: `{"detail":{"eventVersion":[null]}}`, event: nullEvent, want: false},
	{name: "guide empty resources", pattern: `{"resources":[{"exists":false}]}`, event: nullEvent, want: true},
	{name: "huge numbers compare as text", pattern: `{"a":[1e400]}`, event: `{"a":1e400}`, want: true},
	{name: "huge numbers other text", pattern: `{"a":[1e400]}`, event: `{"a":1e401}`, want: false},
	{name: "number six decimals", pattern: `{"a":[0.1]}`, event: `{"a":0.1000001}`, want: true},
	{name: "number five decimals", pattern: `{"a":[0.1]}`, event: `{"a":0.10001}`, want: false},
	{name: "number beyond numeric range", pattern: `{"a":[1e10]}`, event: `{"a":10000000000}`, want: true},
	{name: "account-like number", pattern: `{"a":[123456789012]}`, event: `{"a":123456789013}`, want: false},

	// Arrays.
	{name: "array in event any element", pattern: `{"resources":["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"]}`, want: true},
	{name: "array intersection", pattern: `{"resources":["a","c"]}`, event: `{"resources":["b","c"]}`, want: true},
	{name: "array no intersection", pattern: `{"resources":["a","d"]}`, event: `{"resources":["b","c"]}`, want: false},
	{name: "nested arrays flatten", pattern: `{"a":["x"]}`, event: `{"a":[["y"],["x"]]}`, want: true},
	{name: "array of objects", pattern: `{"employees":{"firstName":["Anna"]}}`, event: `{"employees":[{"firstName":"John","lastName":"Doe"},{"firstName":"Anna","lastName":"Smith"}]}`, want: true},
	{name: "array of objects same element", pattern: `{"employees":{"firstName":["Anna"],"lastName":["Smith"]}}`, event: `{"employees":[{"firstName":"John","lastName":"Doe"},{"firstName":"Anna","lastName":"Smith"}]}`, want: true},
	{name: "array of objects across elements", pattern: `{"employees":{"firstName":["Anna"],"lastName":["Doe"]}}`, event: `{"employees":[{"firstName":"John","lastName":"Doe"},{"firstName":"Anna","lastName":"Smith"}]}`, want: false},
	{name: "array of arrays of objects", pattern: `{"employees":{"firstName":["Peter"]}}`, event: `{"employees":[[{"firstName":"John"}],[{"firstName":"Peter"}]]}`, want: true},
	{name: "empty array value", pattern: `{"a":["x"]}`, event: `{"a":[]}`, want: false},
	{name: "leaf vs object value", pattern: `{"detail":["x"]}`, want: false},
	{name: "object pattern vs scalar", pattern: `{"source":{"x":["aws.ec2"]}}`, want: false},

	// prefix and suffix.
	{name: "prefix", pattern: `{"time":[{"prefix":"2017-10-02"}]}`, want: true},
	{name: "prefix no", pattern: `{"time":[{"prefix":"2017-10-03"}]}`, want: false},
	{name: "prefix region", pattern: `{"region":[{"prefix":"us-"}]}`, want: true},
	{name: "prefix on number", pattern: `{"detail":{"c-count":[{"prefix":"5"}]}}`, want: false},
	{name: "prefix empty", pattern: `{"a":[{"prefix":""}]}`, event: `{"a":"anything"}`, want: true},
	{name: "prefix ignore case", pattern: `{"service":[{"prefix":{"equals-ignore-case":"eventb"}}]}`, event: `{"service":"EventBridge"}`, want: true},
	{name: "prefix ignore case no", pattern: `{"service":[{"prefix":{"equals-ignore-case":"eventc"}}]}`, event: `{"service":"EventBridge"}`, want: false},
	{name: "prefix is case sensitive", pattern: `{"service":[{"prefix":"eventb"}]}`, event: `{"service":"EventBridge"}`, want: false},
	{name: "suffix", pattern: `{"FileName":[{"suffix":".png"}]}`, event: `{"FileName":"image.png"}`, want: true},
	{name: "suffix no", pattern: `{"FileName":[{"suffix":".png"}]}`, event: `{"FileName":"image.jpg"}`, want: false},
	{name: "suffix source", pattern: `{"source":[{"suffix":"ec2"}]}`, want: true},
	{name: "suffix ignore case", pattern: `{"FileName":[{"suffix":{"equals-ignore-case":".png"}}]}`, event: `{"FileName":"IMAGE.PNG"}`, want: true},
	{name: "suffix ignore case no", pattern: `{"FileName":[{"suffix":{"equals-ignore-case":".png"}}]}`, event: `{"FileName":"image.jpg"}`, want: false},

	// equals-ignore-case.
	{name: "equals ignore case", pattern: `{"detail-type":[{"equals-ignore-case":"ec2 instance state-change notification"}]}`, want: true},
	{name: "equals ignore case source", pattern: `{"source":[{"equals-ignore-case":"AWS.EC2"}]}`, want: true},
	{name: "equals ignore case no", pattern: `{"source":[{"equals-ignore-case":"aws.ec"}]}`, want: false},
	{name: "equals ignore case unicode", pattern: `{"a":[{"equals-ignore-case":"ÉTÉ"}]}`, event: `{"a":"été"}`, want: true},

	// anything-but.
	{name: "anything-but string", pattern: `{"detail":{"state":[{"anything-but":"initializing"}]}}`, want: true},
	{name: "anything-but string excluded", pattern: `{"detail":{"state":[{"anything-but":"running"}]}}`, want: false},
	{name: "anything-but list", pattern: `{"detail":{"state":[{"anything-but":["stopped","overloaded"]}]}}`, want: true},
	{name: "anything-but list excluded", pattern: `{"detail":{"state":[{"anything-but":["stopped","running"]}]}}`, want: false},
	{name: "anything-but number", pattern: `{"detail":{"x-limit":[{"anything-but":123}]}}`, want: true},
	{name: "anything-but number excluded", pattern: `{"detail":{"c-count":[{"anything-but":5.0}]}}`, want: false},
	{name: "anything-but number list", pattern: `{"detail":{"x-limit":[{"anything-but":[100,200,300]}]}}`, want: true},
	{name: "anything-but number list excluded", pattern: `{"detail":{"x-limit":[{"anything-but":[100,301.8]}]}}`, want: false},
	{name: "anything-but missing field", pattern: `{"detail":{"nope":[{"anything-but":"x"}]}}`, want: false},
	{name: "anything-but array any element", pattern: `{"a":[{"anything-but":"x"}]}`, event: `{"a":["x","y"]}`, want: true},
	{name: "anything-but array all excluded", pattern: `{"a":[{"anything-but":["x","y"]}]}`, event: `{"a":["x","y"]}`, want: false},
	{name: "anything-but prefix", pattern: `{"detail":{"state":[{"anything-but":{"prefix":"init"}}]}}`, want: true},
	{name: "anything-but prefix excluded", pattern: `{"region":[{"anything-but":{"prefix":"us-"}}]}`, want: false},
	{name: "anything-but suffix", pattern: `{"FileName":[{"anything-but":{"suffix":".png"}}]}`, event: `{"FileName":"a.txt"}`, want: true},
	{name: "anything-but suffix excluded", pattern: `{"FileName":[{"anything-but":{"suffix":".png"}}]}`, event: `{"FileName":"a.png"}`, want: false},
	{name: "anything-but ignore case", pattern: `{"state":[{"anything-but":{"equals-ignore-case":"initializing"}}]}`, event: `{"state":"running"}`, want: true},
	{name: "anything-but ignore case excluded", pattern: `{"state":[{"anything-but":{"equals-ignore-case":"initializing"}}]}`, event: `{"state":"INITIALIZING"}`, want: false},
	{name: "anything-but ignore case list excluded", pattern: `{"state":[{"anything-but":{"equals-ignore-case":["Stopped","OverLoaded"]}}]}`, event: `{"state":"overloaded"}`, want: false},
	{name: "anything-but wildcard", pattern: `{"FilePath":[{"anything-but":{"wildcard":"*/lib/*"}}]}`, event: `{"FilePath":"/usr/bin/ls"}`, want: true},
	{name: "anything-but wildcard excluded", pattern: `{"FilePath":[{"anything-but":{"wildcard":"*/lib/*"}}]}`, event: `{"FilePath":"/usr/lib/x.so"}`, want: false},
	{name: "anything-but wildcard list excluded", pattern: `{"FilePath":[{"anything-but":{"wildcard":["*/lib/*","*/bin/*"]}}]}`, event: `{"FilePath":"/usr/bin/ls"}`, want: false},

	// numeric.
	{name: "numeric range", pattern: `{"detail":{"c-count":[{"numeric":[">",0,"<=",5]}]}}`, want: true},
	{name: "numeric range upper excluded", pattern: `{"detail":{"c-count":[{"numeric":[">",0,"<",5]}]}}`, want: false},
	{name: "numeric range lower excluded", pattern: `{"detail":{"c-count":[{"numeric":[">",5,"<",10]}]}}`, want: false},
	{name: "numeric range lower included", pattern: `{"detail":{"c-count":[{"numeric":[">=",5,"<",10]}]}}`, want: true},
	{name: "numeric less than", pattern: `{"detail":{"d-count":[{"numeric":["<",10]}]}}`, want: true},
	{name: "numeric less or equal", pattern: `{"detail":{"d-count":[{"numeric":["<=",3]}]}}`, want: true},
	{name: "numeric greater", pattern: `{"detail":{"d-count":[{"numeric":[">",3]}]}}`, want: false},
	{name: "numeric equals exponent", pattern: `{"detail":{"x-limit":[{"numeric":["=",3.018e2]}]}}`, want: true},
	{name: "numeric equals no", pattern: `{"detail":{"x-limit":[{"numeric":["=",301.9]}]}}`, want: false},
	{name: "numeric on string", pattern: `{"a":[{"numeric":[">",0]}]}`, event: `{"a":"5"}`, want: false},
	{name: "numeric negative", pattern: `{"a":[{"numeric":[">=",-5e9,"<",-1]}]}`, event: `{"a":-2.5}`, want: true},
	{name: "numeric six decimals", pattern: `{"a":[{"numeric":["=",0.1]}]}`, event: `{"a":0.1000001}`, want: true},
	{name: "numeric event above range", pattern: `{"a":[{"numeric":[">",0]}]}`, event: `{"a":5000000001}`, want: false},
	{name: "numeric event at range limit", pattern: `{"a":[{"numeric":[">",0]}]}`, event: `{"a":5e9}`, want: true},
	{name: "numeric array any element", pattern: `{"a":[{"numeric":[">",10]}]}`, event: `{"a":[1,2,30]}`, want: true},
	{name: "numeric all fields", pattern: `{"detail":{"c-count":[{"numeric":[">",0,"<=",5]}],"d-count":[{"numeric":["<",10]}],"x-limit":[{"numeric":["=",3.018e2]}]}}`, want: true},

	// exists.
	{name: "exists true", pattern: `{"detail":{"c-count":[{"exists":true}]}}`, want: true},
	{name: "exists true missing", pattern: `{"detail":{"e-count":[{"exists":true}]}}`, want: false},
	{name: "exists false missing", pattern: `{"detail":{"e-count":[{"exists":false}]}}`, want: true},
	{name: "exists false present", pattern: `{"detail":{"c-count":[{"exists":false}]}}`, want: false},
	{name: "exists false missing parent", pattern: `{"nope":{"c-count":[{"exists":false}]}}`, want: true},
	{name: "exists true on object is not leaf", pattern: `{"c-count":[{"exists":true}]}`, event: `{"c-count":{"c1":100}}`, want: false},
	{name: "exists false on object is not leaf", pattern: `{"detail":{"c-count":[{"exists":false}]}}`, event: `{"detail":{"state":"x","c-count":{"c1":100}}}`, want: true},
	{name: "exists true null", pattern: `{"a":[{"exists":true}]}`, event: `{"a":null}`, want: true},
	{name: "exists true empty array", pattern: `{"a":[{"exists":true}]}`, event: `{"a":[]}`, want: false},
	{name: "exists false or value", pattern: `{"a":["x",{"exists":false}]}`, event: `{"b":1}`, want: true},
	{name: "exists false or value present other", pattern: `{"a":["x",{"exists":false}]}`, event: `{"a":"y"}`, want: false},
	{name: "exists false per array element", pattern: `{"e":{"first":["Anna"],"middle":[{"exists":false}]}}`, event: `{"e":[{"first":"John"},{"first":"Anna","middle":"M"}]}`, want: false},

	// wildcard.
	{name: "wildcard middle", pattern: `{"source":[{"wildcard":"Simple*Service"}]}`, event: `{"source":"SimpleQueueService"}`, want: true},
	{name: "wildcard middle empty", pattern: `{"source":[{"wildcard":"Simple*Service"}]}`, event: `{"source":"SimpleService"}`, want: true},
	{name: "wildcard middle no", pattern: `{"source":[{"wildcard":"Simple*Service"}]}`, event: `{"source":"SimpleQueue"}`, want: false},
	{name: "wildcard file", pattern: `{"FileName":[{"wildcard":"dir/*.png"}]}`, event: `{"FileName":"dir/cat.png"}`, want: true},
	{name: "wildcard file no", pattern: `{"FileName":[{"wildcard":"dir/*.png"}]}`, event: `{"FileName":"dir/cat.jpg"}`, want: false},
	{name: "wildcard arn", pattern: `{"EventBusArn":[{"wildcard":"arn:aws:events:us-east-1:*:event-bus/*"}]}`, event: `{"EventBusArn":"arn:aws:events:us-east-1:123456789012:event-bus/default"}`, want: true},
	{name: "wildcard arn other region", pattern: `{"EventBusArn":[{"wildcard":"arn:aws:events:us-east-1:*:event-bus/*"}]}`, event: `{"EventBusArn":"arn:aws:events:eu-west-1:123456789012:event-bus/default"}`, want: false},
	{name: "wildcard no star exact", pattern: `{"a":[{"wildcard":"abc"}]}`, event: `{"a":"abc"}`, want: true},
	{name: "wildcard no star other", pattern: `{"a":[{"wildcard":"abc"}]}`, event: `{"a":"abcd"}`, want: false},
	{name: "wildcard star only", pattern: `{"a":[{"wildcard":"*"}]}`, event: `{"a":""}`, want: true},
	{name: "wildcard prefix and suffix overlap", pattern: `{"a":[{"wildcard":"ab*ba"}]}`, event: `{"a":"aba"}`, want: false},
	{name: "wildcard prefix and suffix touch", pattern: `{"a":[{"wildcard":"ab*ba"}]}`, event: `{"a":"abba"}`, want: true},
	{name: "wildcard several stars", pattern: `{"a":[{"wildcard":"*a*b*c*"}]}`, event: `{"a":"xxcxaxxbxc"}`, want: true},
	{name: "wildcard several stars order", pattern: `{"a":[{"wildcard":"*a*b*c"}]}`, event: `{"a":"cba"}`, want: false},
	{name: "wildcard escaped star", pattern: `{"a":[{"wildcard":"a\\*b"}]}`, event: `{"a":"a*b"}`, want: true},
	{name: "wildcard escaped star is literal", pattern: `{"a":[{"wildcard":"a\\*b"}]}`, event: `{"a":"axb"}`, want: false},
	{name: "wildcard escaped backslash", pattern: `{"a":[{"wildcard":"a\\\\*"}]}`, event: `{"a":"a\\xyz"}`, want: true},
	{name: "wildcard escaped star then star", pattern: `{"a":[{"wildcard":"\\**"}]}`, event: `{"a":"*abc"}`, want: true},
	{name: "wildcard on number", pattern: `{"a":[{"wildcard":"*"}]}`, event: `{"a":5}`, want: false},

	// cidr.
	{name: "cidr v4", pattern: `{"detail":{"source-ip":[{"cidr":"10.0.0.0/24"}]}}`, want: true},
	{name: "cidr v4 outside", pattern: `{"detail":{"source-ip":[{"cidr":"10.0.1.0/24"}]}}`, want: false},
	{name: "cidr v4 slash 8", pattern: `{"detail":{"source-ip":[{"cidr":"10.0.0.0/8"}]}}`, want: true},
	{name: "cidr host bits set", pattern: `{"ip":[{"cidr":"10.0.0.77/24"}]}`, event: `{"ip":"10.0.0.1"}`, want: true},
	{name: "cidr v6", pattern: `{"ip":[{"cidr":"2001:db8::/64"}]}`, event: `{"ip":"2001:db8::1"}`, want: true},
	{name: "cidr v6 upper case", pattern: `{"ip":[{"cidr":"2001:0DB8:1234:1a00::/64"}]}`, event: `{"ip":"2001:db8:1234:1a00::9"}`, want: true},
	{name: "cidr v6 outside", pattern: `{"ip":[{"cidr":"2001:db8::/64"}]}`, event: `{"ip":"2001:db9::1"}`, want: false},
	{name: "cidr v4 pattern v6 event", pattern: `{"ip":[{"cidr":"10.0.0.0/8"}]}`, event: `{"ip":"2001:db8::1"}`, want: false},
	{name: "cidr v4-mapped v6 event", pattern: `{"ip":[{"cidr":"10.0.0.0/8"}]}`, event: `{"ip":"::ffff:10.1.2.3"}`, want: true},
	{name: "cidr not an ip", pattern: `{"ip":[{"cidr":"10.0.0.0/8"}]}`, event: `{"ip":"ten"}`, want: false},
	{name: "cidr slash 31", pattern: `{"ip":[{"cidr":"10.0.0.0/31"}]}`, event: `{"ip":"10.0.0.1"}`, want: true},
	{name: "cidr slash 0", pattern: `{"ip":[{"cidr":"0.0.0.0/0"}]}`, event: `{"ip":"192.0.2.1"}`, want: true},
	{name: "exact ip other spelling", pattern: `{"ip":["2001:db8::1"]}`, event: `{"ip":"2001:DB8:0:0:0:0:0:1"}`, want: true},
	{name: "exact ip mapped", pattern: `{"ip":["10.0.0.1"]}`, event: `{"ip":"::ffff:10.0.0.1"}`, want: true},
	{name: "exact ip other address", pattern: `{"ip":["10.0.0.1"]}`, event: `{"ip":"10.0.0.2"}`, want: false},
	{name: "anything-but ip is textual", pattern: `{"ip":[{"anything-but":"2001:db8::1"}]}`, event: `{"ip":"2001:DB8::1"}`, want: true},

	// $or.
	{name: "or second branch", pattern: `{"detail":{"$or":[{"c-count":[{"numeric":[">",10]}]},{"d-count":[{"numeric":["<",10]}]}]}}`, want: true},
	{name: "or no branch", pattern: `{"detail":{"$or":[{"c-count":[{"numeric":[">",10]}]},{"d-count":[{"numeric":[">",10]}]}]}}`, want: false},
	{name: "or three numeric", pattern: `{"detail":{"$or":[{"c-count":[{"numeric":[">",0,"<=",5]}]},{"d-count":[{"numeric":["<",10]}]},{"x-limit":[{"numeric":["=",3.018e2]}]}]}}`, want: true},
	{name: "or with and", pattern: `{"source":["aws.ec2"],"$or":[{"detail-type":["nope"]},{"detail":{"state":["running"]}}]}`, want: true},
	{name: "or with and failing", pattern: `{"source":["aws.s3"],"$or":[{"detail-type":["EC2 Instance State-change Notification"]},{"detail":{"state":["running"]}}]}`, want: false},
	{name: "or nested", pattern: `{"source":["aws.cloudwatch"],"$or":[{"metricName":["CPUUtilization"]},{"metricType":["MetricType"],"$or":[{"metricId":[1234]},{"spaceId":[1000]}]}]}`, event: `{"source":"aws.cloudwatch","metricType":"MetricType","spaceId":1000}`, want: true},
	{name: "or nested no", pattern: `{"source":["aws.cloudwatch"],"$or":[{"metricName":["CPUUtilization"]},{"metricType":["MetricType"],"$or":[{"metricId":[1234]},{"spaceId":[1000]}]}]}`, event: `{"source":"aws.cloudwatch","metricType":"MetricType","spaceId":1001}`, want: false},
	{name: "or in array element", pattern: `{"e":{"$or":[{"a":["1"]},{"b":["2"]}]}}`, event: `{"e":[{"a":"0"},{"b":"2"}]}`, want: true},
	{name: "reserved name outside or is a field", pattern: `{"prefix":["x"]}`, event: `{"prefix":"x"}`, want: true},
	{name: "or with exists false", pattern: `{"$or":[{"a":[{"exists":false}]},{"a":["x"]}]}`, event: `{"b":1}`, want: true},

	// Top-level fields, including replay-name on replayed events.
	{name: "replay-name", pattern: `{"replay-name":[{"exists":true}]}`, event: `{"source":"aws.s3","replay-name":"r1"}`, want: true},
	{name: "not replayed", pattern: `{"replay-name":[{"exists":false}]}`, event: `{"source":"aws.s3","replay-name":"r1"}`, want: false},

	// A combination of several operators (the user guide's complex example).
	{name: "complex", pattern: `{"time":[{"prefix":"2017-10-02"}],"detail":{"state":[{"anything-but":"initializing"}],"c-count":[{"numeric":[">",0,"<=",5]}],"d-count":[{"numeric":["<",10]}],"x-limit":[{"anything-but":[100,200,300]}],"source-ip":[{"cidr":"10.0.0.0/8"}]}}`, want: true},
	{name: "complex fails one", pattern: `{"time":[{"prefix":"2017-10-02"}],"detail":{"state":[{"anything-but":"running"}],"c-count":[{"numeric":[">",0,"<=",5]}]}}`, want: false},
}

func TestPatternMatch(t *testing.T) {
	for _, tc := range patternCases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParsePattern(tc.pattern)
			if err != nil {
				t.Fatalf("ParsePattern(%s): %v", tc.pattern, err)
			}
			event := tc.event
			if event == "" {
				event = ec2Event
			}
			got, err := p.Match([]byte(event))
			if err != nil {
				t.Fatalf("Match: %v", err)
			}
			if got != tc.want {
				t.Errorf("Match(%s, %s) = %v, want %v", tc.pattern, event, got, tc.want)
			}

			// MatchValue gives the same answer on events decoded either way
			// (plain float64 cannot hold every JSON number, e.g. 1e400).
			var plain any
			if err := json.Unmarshal([]byte(event), &plain); err == nil {
				if got := p.MatchValue(plain); got != tc.want {
					t.Errorf("MatchValue(float64 numbers) = %v, want %v", got, tc.want)
				}
			}
			dec := json.NewDecoder(strings.NewReader(event))
			dec.UseNumber()
			var withNumbers any
			if err := dec.Decode(&withNumbers); err != nil {
				t.Fatal(err)
			}
			if got := p.MatchValue(withNumbers); got != tc.want {
				t.Errorf("MatchValue(json.Number) = %v, want %v", got, tc.want)
			}
		})
	}
}

type invalidCase struct {
	name    string
	pattern string
	reason  string // a substring of the reason
}

var invalidPatternCases = []invalidCase{
	{name: "not json", pattern: `{"source":`, reason: "not valid JSON"},
	{name: "trailing data", pattern: `{"source":["a"]} x`, reason: "not valid JSON"},
	{name: "empty input", pattern: ``, reason: "not valid JSON"},
	{name: "array", pattern: `["aws.s3"]`, reason: "Filter is not an object"},
	{name: "string", pattern: `"aws.s3"`, reason: "Filter is not an object"},
	{name: "null", pattern: `null`, reason: "Filter is not an object"},
	{name: "empty object", pattern: `{}`, reason: "Empty objects are not allowed"},
	{name: "empty nested object", pattern: `{"detail":{}}`, reason: "Empty objects are not allowed"},
	{name: "leaf not array", pattern: `{"source":"aws.s3"}`, reason: `"source" must be an object or an array`},
	{name: "nested leaf not array", pattern: `{"detail":{"state":5}}`, reason: `"state" must be an object or an array at "detail.state"`},
	{name: "empty array", pattern: `{"source":[]}`, reason: "Empty arrays are not allowed"},
	{name: "array in leaf", pattern: `{"source":[["a"]]}`, reason: "Match value must be String, number, true, false, or null"},
	{name: "unknown operator", pattern: `{"source":[{"prefixx":"a"}]}`, reason: "Unrecognized match type prefixx"},
	{name: "contains is not eventbridge", pattern: `{"source":[{"contains":"a"}]}`, reason: "Unrecognized match type contains"},
	{name: "two operators", pattern: `{"source":[{"prefix":"a","suffix":"b"}]}`, reason: "Only one key allowed"},
	{name: "empty expression", pattern: `{"source":[{}]}`, reason: "Match expression name not found"},
	{name: "prefix number", pattern: `{"source":[{"prefix":5}]}`, reason: "prefix match pattern must be a string"},
	{name: "prefix bad ignore case", pattern: `{"source":[{"prefix":{"equals-ignore-case":5}}]}`, reason: "prefix match pattern must be"},
	{name: "prefix other object", pattern: `{"source":[{"prefix":{"wildcard":"a*"}}]}`, reason: "prefix match pattern must be"},
	{name: "suffix array", pattern: `{"source":[{"suffix":["a"]}]}`, reason: "suffix match pattern must be"},
	{name: "equals-ignore-case number", pattern: `{"source":[{"equals-ignore-case":5}]}`, reason: "equals-ignore-case match pattern must be a string"},
	{name: "exists string", pattern: `{"source":[{"exists":"true"}]}`, reason: "exists match pattern must be either true or false"},
	{name: "numeric not array", pattern: `{"a":[{"numeric":5}]}`, reason: "Value of numeric must be an array"},
	{name: "numeric empty", pattern: `{"a":[{"numeric":[]}]}`, reason: "Empty arrays are not allowed"},
	{name: "numeric bad operator", pattern: `{"a":[{"numeric":["!=",5]}]}`, reason: "Unrecognized numeric range operator: !="},
	{name: "numeric operand string", pattern: `{"a":[{"numeric":[">","5"]}]}`, reason: "Value of > must be numeric"},
	{name: "numeric missing operand", pattern: `{"a":[{"numeric":[">"]}]}`, reason: "Value of > must be numeric"},
	{name: "numeric equals operand string", pattern: `{"a":[{"numeric":["=","5"]}]}`, reason: "Value of equals must be numeric"},
	{name: "numeric upper operand string", pattern: `{"a":[{"numeric":[">",1,"<","5"]}]}`, reason: "Value of < must be numeric"},
	{name: "numeric range bad second member", pattern: `{"a":[{"numeric":[">",1,5]}]}`, reason: "Bad value in numeric range: 5"},
	{name: "numeric too many terms", pattern: `{"a":[{"numeric":[">",1,"<",5,"<"]}]}`, reason: "Too many terms in numeric range expression"},
	{name: "numeric operator not string", pattern: `{"a":[{"numeric":[5,">"]}]}`, reason: "Invalid member in numeric match: 5"},
	{name: "numeric out of range", pattern: `{"a":[{"numeric":[">",5.1e9]}]}`, reason: "between -5.0E9 and 5.0E9"},
	{name: "numeric bottom above top", pattern: `{"a":[{"numeric":[">",5,"<",1]}]}`, reason: "Bottom must be less than top"},
	{name: "numeric bottom equals top", pattern: `{"a":[{"numeric":[">=",5,"<=",5]}]}`, reason: "Bottom must be less than top"},
	{name: "numeric two lower bounds", pattern: `{"a":[{"numeric":[">",1,">",2]}]}`, reason: "Bad numeric range operator: >"},
	{name: "numeric upper then lower", pattern: `{"a":[{"numeric":["<",5,">",1]}]}`, reason: "Too many elements in numeric expression"},
	{name: "numeric two upper bounds", pattern: `{"a":[{"numeric":["<",5,"<",1]}]}`, reason: "Too many elements in numeric expression"},
	{name: "numeric equals with range", pattern: `{"a":[{"numeric":["=",5,"<",6]}]}`, reason: "Too many elements in numeric expression"},
	{name: "wildcard consecutive", pattern: `{"a":[{"wildcard":"a**b"}]}`, reason: "Consecutive wildcard characters at pos 2"},
	{name: "wildcard bad escape", pattern: `{"a":[{"wildcard":"a\\b"}]}`, reason: "Invalid escape character at pos 1"},
	{name: "wildcard trailing backslash", pattern: `{"a":[{"wildcard":"ab\\"}]}`, reason: "Invalid escape character at pos 2"},
	{name: "wildcard number", pattern: `{"a":[{"wildcard":5}]}`, reason: "wildcard match pattern must be a string"},
	{name: "cidr v4 mask too long", pattern: `{"a":[{"cidr":"10.0.0.0/33"}]}`, reason: "IPv4 mask bits must be < 32"},
	{name: "cidr v4 slash 32", pattern: `{"a":[{"cidr":"10.0.0.1/32"}]}`, reason: "IPv4 mask bits must be < 32"},
	{name: "cidr v6 slash 128", pattern: `{"a":[{"cidr":"2001:db8::1/128"}]}`, reason: "IPv6 mask bits must be < 128"},
	{name: "cidr no slash", pattern: `{"a":[{"cidr":"10.0.0.1"}]}`, reason: "Malformed CIDR, one '/' required"},
	{name: "cidr two slashes", pattern: `{"a":[{"cidr":"10.0.0.0/8/8"}]}`, reason: "Malformed CIDR, one '/' required"},
	{name: "cidr bits not integer", pattern: `{"a":[{"cidr":"10.0.0.0/x"}]}`, reason: "Malformed CIDR, mask bits must be an integer"},
	{name: "cidr bits negative", pattern: `{"a":[{"cidr":"10.0.0.0/-1"}]}`, reason: "Malformed CIDR, mask bits must not be negative"},
	{name: "cidr words", pattern: `{"a":[{"cidr":"ten/8"}]}`, reason: "Invalid IP address: ten"},
	{name: "cidr number", pattern: `{"a":[{"cidr":10}]}`, reason: "cidr match pattern must be a string"},
	{name: "anything-but mixed list", pattern: `{"a":[{"anything-but":["x",1]}]}`, reason: "either all values are number or string, mixed type is not supported"},
	{name: "anything-but bool", pattern: `{"a":[{"anything-but":true}]}`, reason: "Value of anything-but must be an array or single string/number value."},
	{name: "anything-but null", pattern: `{"a":[{"anything-but":null}]}`, reason: "Value of anything-but must be an array or single string/number value."},
	{name: "anything-but bool list", pattern: `{"a":[{"anything-but":[true]}]}`, reason: "Inside anything but list, start|null|boolean is not supported."},
	{name: "anything-but empty object", pattern: `{"a":[{"anything-but":{}}]}`, reason: "Anything-But expression name not found"},
	{name: "anything-but empty prefix", pattern: `{"a":[{"anything-but":{"prefix":""}}]}`, reason: "Null prefix/suffix not allowed"},
	{name: "anything-but number out of range", pattern: `{"a":[{"anything-but":6e9}]}`, reason: "Value must be between -5.0E9 and 5.0E9, inclusive"},
	{name: "anything-but number list out of range", pattern: `{"a":[{"anything-but":[1,-6e9]}]}`, reason: "Value must be between -5.0E9 and 5.0E9, inclusive"},
	{name: "anything-but empty list", pattern: `{"a":[{"anything-but":[]}]}`, reason: "Empty arrays are not allowed"},
	{name: "anything-but numeric", pattern: `{"a":[{"anything-but":{"numeric":[">",1]}}]}`, reason: "Unsupported anything-but pattern: numeric"},
	{name: "anything-but two keys", pattern: `{"a":[{"anything-but":{"prefix":"a","suffix":"b"}}]}`, reason: "Only one key allowed in match expression"},
	{name: "anything-but prefix number", pattern: `{"a":[{"anything-but":{"prefix":1}}]}`, reason: "prefix/suffix match pattern must be a string"},
	{name: "anything-but wildcard bad", pattern: `{"a":[{"anything-but":{"wildcard":["a**"]}}]}`, reason: "Consecutive wildcard characters"},
	{name: "anything-but ignore case number", pattern: `{"a":[{"anything-but":{"equals-ignore-case":[1]}}]}`, reason: "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported."},
	{name: "or one alternative", pattern: `{"$or":[{"a":["x"]}]}`, reason: "There must have at least 2 Objects in $or relationship."},
	{name: "or empty", pattern: `{"$or":[]}`, reason: "There must have at least 2 Objects in $or relationship."},
	{name: "or not array", pattern: `{"detail":{"$or":{"a":["x"]}}}`, reason: `It must be an Array followed with $or. at "detail"`},
	{name: "or values", pattern: `{"$or":["x","y"]}`, reason: "Only JSON object is allowed in array of $or relationship."},
	{name: "or reserved field name", pattern: `{"$or":[{"numeric":[1]},{"prefix":["abc"]}]}`, reason: "numeric is Ruler reserved fieldName which cannot be used inside $or."},
	{name: "or reserved nested field name", pattern: `{"$or":[{"a":{"cidr":["x"]}},{"b":["y"]}]}`, reason: `cidr is Ruler reserved fieldName which cannot be used inside $or. at "a.cidr"`},
	{name: "or empty alternative", pattern: `{"$or":[{"a":["x"]},{}]}`, reason: "Empty objects are not allowed"},
	{name: "or invalid alternative", pattern: `{"$or":[{"a":["x"]},{"b":"y"}]}`, reason: `"b" must be an object or an array at "b"`},
}

func TestParsePatternInvalid(t *testing.T) {
	const prefix = "Event pattern is not valid. Reason: "
	for _, tc := range invalidPatternCases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParsePattern(tc.pattern)
			if err == nil {
				t.Fatalf("ParsePattern(%s) = %v, want an error", tc.pattern, p)
			}
			var perr *PatternError
			if !errors.As(err, &perr) {
				t.Fatalf("error %T %v, want *PatternError", err, err)
			}
			if !strings.HasPrefix(err.Error(), prefix) {
				t.Errorf("Error() = %q, want prefix %q", err.Error(), prefix)
			}
			if err.Error() != prefix+perr.Reason {
				t.Errorf("Error() = %q, want prefix + Reason %q", err.Error(), perr.Reason)
			}
			if !strings.Contains(perr.Reason, tc.reason) {
				t.Errorf("Reason = %q, want it to contain %q", perr.Reason, tc.reason)
			}
		})
	}
}

func TestMatchInvalidEvent(t *testing.T) {
	p, err := ParsePattern(`{"source":["aws.s3"]}`)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		event string
	}{
		{name: "truncated", event: `{"source":`},
		{name: "empty", event: ``},
		{name: "array", event: `[{"source":"aws.s3"}]`},
		{name: "string", event: `"aws.s3"`},
		{name: "trailing data", event: `{"source":"aws.s3"}{}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := p.Match([]byte(tc.event))
			if err == nil || got {
				t.Errorf("Match(%q) = %v, %v; want false and an error", tc.event, got, err)
			}
		})
	}
}

func TestMatchValueNotObject(t *testing.T) {
	p, err := ParsePattern(`{"a":[{"exists":false}]}`)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		event any
	}{
		{name: "nil", event: nil},
		{name: "string", event: "x"},
		{name: "slice", event: []any{map[string]any{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if p.MatchValue(tc.event) {
				t.Errorf("MatchValue(%#v) = true, want false", tc.event)
			}
		})
	}
	if !p.MatchValue(map[string]any{"b": 1}) {
		t.Error("MatchValue on an object without a: false, want true")
	}
}

// TestMatchValueGoNumbers checks events built in Go with int and float64
// numbers, as the local bus may build them.
func TestMatchValueGoNumbers(t *testing.T) {
	p, err := ParsePattern(`{"detail":{"size":[{"numeric":[">",0,"<=",100]}],"attempt":[1]}}`)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		event map[string]any
		want  bool
	}{
		{name: "int", event: map[string]any{"detail": map[string]any{"size": 5, "attempt": 1}}, want: true},
		{name: "int64", event: map[string]any{"detail": map[string]any{"size": int64(5), "attempt": int64(1)}}, want: true},
		{name: "float64", event: map[string]any{"detail": map[string]any{"size": 5.0, "attempt": 1.0}}, want: true},
		{name: "too big", event: map[string]any{"detail": map[string]any{"size": 500, "attempt": 1}}, want: false},
		{name: "other attempt", event: map[string]any{"detail": map[string]any{"size": 5, "attempt": 2}}, want: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := p.MatchValue(tc.event); got != tc.want {
				t.Errorf("MatchValue = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestRulePatternsParse checks that every rule pattern shipped under
// patterns/ is valid and matches the events it is meant for.
func TestRulePatternsParse(t *testing.T) {
	vars := map[string]string{"uploads_bucket": "imagepipe-uploads"}
	for _, name := range RuleNames() {
		t.Run(name, func(t *testing.T) {
			text, err := RulePattern(name, vars)
			if err != nil {
				t.Skipf("pattern needs other variables: %v", err)
			}
			if _, err := ParsePattern(text); err != nil {
				t.Fatalf("rule %s: %v", name, err)
			}
		})
	}
	text, err := RulePattern(RuleUploadsToQueue, vars)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParsePattern(text)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		event string
		want  bool
	}{
		{name: "upload", event: s3Event, want: true},
		{name: "processed output", event: strings.Replace(s3Event, `"uploads/01HZX.jpg"`, `"processed/01HZX/gray.jpg"`, 1), want: false},
		{name: "object deleted", event: strings.Replace(s3Event, `"Object Created"`, `"Object Deleted"`, 1), want: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := p.Match([]byte(tc.event))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("Match = %v, want %v", got, tc.want)
			}
		})
	}
}

// BenchmarkWildcard shows that wildcard matching is linear in the value's
// length. "*a*a*a*a*b" against a string of a's is the classic input on which a
// backtracking matcher takes time polynomial in the length (n^4 here); the
// compiled glob rejects it at the anchored suffix without scanning. With a
// trailing '*' ("*a*a*a*a*b*") the last segment is searched for across the
// whole string, and a long segment ("*aaaa…ab*") makes each search position
// compare many bytes: both grow linearly with the length (compare the ns/op
// of 1KB, 10KB and 100KB).
func BenchmarkWildcard(b *testing.B) {
	for _, tc := range []struct {
		name, wildcard string
	}{
		{name: "anchored", wildcard: "*a*a*a*a*b"},
		{name: "scan", wildcard: "*a*a*a*a*b*"},
		{name: "longsegment", wildcard: "*" + strings.Repeat("a", 100) + "b*"},
	} {
		p, err := ParsePattern(`{"key":[{"wildcard":"` + tc.wildcard + `"}]}`)
		if err != nil {
			b.Fatal(err)
		}
		for _, n := range []int{1 << 10, 10 << 10, 100 << 10} {
			event := map[string]any{"key": strings.Repeat("a", n)}
			b.Run(fmt.Sprintf("%s/%dKB", tc.name, n>>10), func(b *testing.B) {
				b.SetBytes(int64(n))
				for b.Loop() {
					if p.MatchValue(event) {
						b.Fatal("matched a string without b")
					}
				}
			})
		}
	}
}

// BenchmarkMatch measures a typical rule against an S3 event, decoding
// included.
func BenchmarkMatch(b *testing.B) {
	p, err := ParsePattern(`{"source":["aws.s3"],"detail-type":["Object Created"],"detail":{"bucket":{"name":["imagepipe-uploads"]},"object":{"key":[{"prefix":"uploads/"}]}}}`)
	if err != nil {
		b.Fatal(err)
	}
	event := []byte(s3Event)
	b.SetBytes(int64(len(event)))
	for b.Loop() {
		ok, err := p.Match(event)
		if err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}
