package imaging

import (
	"errors"
	"strings"
)

// Error is a refusal of an input, with a stable code that the edges map to
// event error codes and HTTP statuses.
type Error struct {
	Code string // one of the sentinels' codes
	Err  error  // the cause, nil for the sentinels themselves
}

// The sentinels. errors.Is(err, ErrTooManyPixels) is true for every *Error
// with that code.
var (
	ErrNotAnImage        = &Error{Code: "not_an_image"}
	ErrUnsupportedFormat = &Error{Code: "unsupported_format"}
	ErrCorrupt           = &Error{Code: "corrupt_image"}
	ErrTooManyPixels     = &Error{Code: "too_many_pixels"}
	ErrTooLarge          = &Error{Code: "too_large"}
	// ErrTooComplex: decoding would take too much work for the input's
	// size (a JPEG with more scans than Options.MaxScans, or whose scans
	// decode its blocks too many times over).
	ErrTooComplex = &Error{Code: "too_complex"}
)

func (e *Error) Error() string {
	if e.Err == nil {
		return "imaging: " + e.Code
	}
	return e.Code + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error with the same code, so that the
// sentinels match every error of their class.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Code returns the imaging error code of err, or "" if err is not (and does
// not wrap) an *Error.
func Code(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// Reason is err's text without its code, for where the code has a field of
// its own: the cause of an *Error, the code in words for a bare sentinel,
// err.Error() for any other error.
func Reason(err error) string {
	var e *Error
	if !errors.As(err, &e) {
		return err.Error()
	}
	if e.Err == nil {
		return strings.ReplaceAll(e.Code, "_", " ")
	}
	return e.Err.Error()
}

func newError(sentinel *Error, err error) *Error {
	return &Error{Code: sentinel.Code, Err: err}
}
