package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// TestPeekSaysLostReceives: a receive whose answer is lost on the way (the
// connection closed) is asked again by the SDK; the messages the first answer held stay hidden,
// and the peek says so (how many receives, until when) rather than
// listing fewer messages without a word.
func TestPeekSaysLostReceives(t *testing.T) {
	var mu sync.Mutex
	receives, released := 0, 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		defer mu.Unlock()
		switch r.Header.Get("X-Amz-Target") {
		case "AmazonSQS.ReceiveMessage":
			receives++
			switch receives {
			case 1: // it took messages, and its answer never comes
				conn, _, err := http.NewResponseController(w).Hijack()
				if err == nil {
					conn.Close()
				}
				return
			case 2:
				_ = json.NewEncoder(w).Encode(map[string]any{"Messages": []map[string]any{{"MessageId": "m2", "ReceiptHandle": "r2", "Body": "{}"}}})
				return
			}
			_, _ = w.Write([]byte(`{}`))
		case "AmazonSQS.ChangeMessageVisibility":
			released++
			_, _ = w.Write([]byte(`{}`))
		default:
			w.WriteHeader(http.StatusBadRequest)
		}
	}))
	defer srv.Close()
	c := sqs.NewFromConfig(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")}, func(o *sqs.Options) {
		o.DisableMessageChecksumValidation = true
	})
	before := time.Now()
	pk, err := peekDeadLetters(context.Background(), c, srv.URL+"/000000000000/q", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(pk.letters) != 1 || pk.lost != 1 || pk.hiddenUntil.Before(before.Add(peekVisibility)) || released != 1 {
		t.Fatalf("peek: %d letters, %d lost, hidden until %v, %d released; want 1, 1, a visibility from now, 1", len(pk.letters), pk.lost, pk.hiddenUntil, released)
	}
	if w := pk.lostWarning(); !strings.Contains(w, "the answer to 1 receive(s) was lost on the way") || !strings.Contains(w, "up to 10 messages") {
		t.Errorf("warning %q", w)
	}
	if w := (peek{}).lostWarning(); w != "" {
		t.Errorf("warning without a lost receive: %q", w)
	}
}
