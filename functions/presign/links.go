package presign

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/imagepipe/imagepipe/api"
	"github.com/imagepipe/imagepipe/eventbus"
	"github.com/imagepipe/imagepipe/functions/status"
)

// A presigned URL stops working when the credentials that signed it expire,
// whatever its X-Amz-Expires says
// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-presigned-url.html#PresignedUrl-Expiration).
// On Lambda those are the role's session, which lasts hours; so each URL is
// signed with one set of credentials, pinned, and lives no longer than they
// do, and the expires_at the API answers is when it really stops working.

// sessionURLCap bounds URLs signed with temporary credentials whose expiry
// the SDK is not told: Lambda hands the function its role session in
// environment variables, without the expiry. An hour is a role's default
// maximum session.
const sessionURLCap = time.Hour

// minCredentialLife is how much life credentials must have left to be used
// for a URL; with less, they are fetched again first.
const minCredentialLife = time.Minute

// signer returns the presign option of one URL, pinned to one set of
// credentials, and when that URL expires: ttl from now, or sooner when the
// credentials expire sooner.
func (h *Handler) signer(ctx context.Context, ttl time.Duration) (func(*s3.PresignOptions), time.Time, error) {
	creds, err := h.creds.Retrieve(ctx)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("credentials to sign with: %w", err)
	}
	if creds.CanExpire && time.Until(creds.Expires) < min(ttl, minCredentialLife) {
		if cache, ok := h.creds.(*aws.CredentialsCache); ok {
			cache.Invalidate()
			if creds, err = cache.Retrieve(ctx); err != nil {
				return nil, time.Time{}, fmt.Errorf("fresh credentials to sign with: %w", err)
			}
		}
	}
	// S3 counts from X-Amz-Date, which has whole seconds.
	now := time.Now().UTC().Truncate(time.Second)
	life := ttl
	switch {
	case creds.CanExpire:
		life = min(life, creds.Expires.Sub(now))
	case creds.SessionToken != "":
		life = min(life, sessionURLCap)
	}
	life = life.Truncate(time.Second)
	if life < time.Second {
		return nil, time.Time{}, fmt.Errorf("the signing credentials expire at %s: no time left for a URL", creds.Expires.Format(time.RFC3339))
	}
	pinned := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil })
	return func(o *s3.PresignOptions) {
		o.Expires = life
		o.ClientOptions = append(o.ClientOptions, func(so *s3.Options) { so.Credentials = pinned })
	}, now.Add(life), nil
}

// attachment is the Content-Disposition a download of output o answers
// with: the uploaded file's name with the output's name before its
// extension ("cat.jpg" → "cat.gray.jpg"), or the image id when the upload
// had no name. Names outside ASCII go in filename* (RFC 6266), with an
// ASCII stand-in in filename.
func attachment(rec *status.Record, o eventbus.Output) string {
	stem := strings.TrimSuffix(rec.Filename, path.Ext(rec.Filename))
	stem = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, stem)
	if strings.TrimSpace(stem) == "" {
		stem = rec.ImageID
	}
	name := stem + "." + o.Name + path.Ext(o.Key)
	ascii := strings.Map(func(r rune) rune {
		switch {
		case r > unicode.MaxASCII:
			return '_'
		case r == '"' || r == '\\':
			return '_'
		}
		return r
	}, name)
	v := `attachment; filename="` + ascii + `"`
	if ascii != name {
		v += "; filename*=UTF-8''" + extValue(name)
	}
	return v
}

// extValue percent-encodes s as an RFC 8187 ext-value: every byte but the
// attr-chars.
func extValue(s string) string {
	const attrChars = "!#$&+-.^_`|~"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < utf8.RuneSelf && (unicode.IsLetter(rune(c)) || unicode.IsDigit(rune(c)) || strings.IndexByte(attrChars, c) >= 0) {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// expiry sets view's status to expired when the record's upload never
// came (status.Record.StatusAt), and tells when a pending upload's URL
// expires.
func (h *Handler) expiry(ctx context.Context, rec *status.Record, view *api.ImageView) error {
	if rec.Status == status.Pending {
		view.UploadExpiresAt = rec.UploadExpiresAt
		if view.UploadExpiresAt.IsZero() && !rec.CreatedAt.IsZero() {
			view.UploadExpiresAt = rec.CreatedAt.Add(h.cfg.URLTTL).Truncate(time.Second)
		}
	}
	st, err := rec.StatusAt(ctx, h.now(), h.cfg.UploadGrace, h.cfg.URLTTL, func(ctx context.Context) (bool, error) {
		return h.uploaded(ctx, rec.Key)
	})
	if err != nil {
		return err
	}
	if st == status.Expired {
		view.Status = status.Expired
		view.Error = &api.ErrorBody{Code: status.CodeUploadExpired, Message: fmt.Sprintf(
			"no upload arrived before the upload URL expired at %s; ask POST /v1/uploads for a new URL and upload the file again",
			view.UploadExpiresAt.Format(time.RFC3339))}
	}
	return nil
}

// uploaded reports whether the upload's object is in the uploads bucket.
func (h *Handler) uploaded(ctx context.Context, key string) (bool, error) {
	if key == "" {
		return false, nil
	}
	_, err := h.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(h.cfg.UploadsBucket), Key: aws.String(key)})
	if err == nil {
		return true, nil
	}
	var nf *s3types.NotFound
	var nsk *s3types.NoSuchKey
	var ae smithy.APIError
	if errors.As(err, &nf) || errors.As(err, &nsk) || (errors.As(err, &ae) && (ae.ErrorCode() == "NotFound" || ae.ErrorCode() == "NoSuchKey")) {
		return false, nil
	}
	return false, fmt.Errorf("head %s/%s: %w", h.cfg.UploadsBucket, key, err)
}
