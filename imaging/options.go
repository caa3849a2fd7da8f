package imaging

import (
	"errors"
	"fmt"
)

// Defaults of Options.
const (
	DefaultMaxBytes    = 25 << 20
	DefaultMaxPixels   = 50_000_000
	DefaultJPEGQuality = 85
	DefaultThumbSize   = 256
	// DefaultMaxScans is the most scans a JPEG may have, as libjpeg-turbo's
	// tools suggest for untrusted input (a progressive JPEG usually has 10).
	DefaultMaxScans = 500
)

// Options bound and shape one Process call. Zero fields take the defaults.
type Options struct {
	MaxBytes    int64 // input larger than this is refused as too_large (default 25 MiB)
	MaxPixels   int64 // width*height above this is refused as too_many_pixels, from the header (default 50 MP)
	JPEGQuality int   // quality of JPEG outputs, 1..100 (default 85)
	ThumbSizes  []int // longest side of each thumbnail (default [256])
	MaxScans    int   // a JPEG with more scans is refused as too_complex (default 500)
}

// DefaultOptions returns the defaults.
func DefaultOptions() Options {
	return Options{
		MaxBytes:    DefaultMaxBytes,
		MaxPixels:   DefaultMaxPixels,
		JPEGQuality: DefaultJPEGQuality,
		ThumbSizes:  []int{DefaultThumbSize},
		MaxScans:    DefaultMaxScans,
	}
}

// withDefaults fills zero fields with the defaults.
func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.MaxBytes == 0 {
		o.MaxBytes = d.MaxBytes
	}
	if o.MaxPixels == 0 {
		o.MaxPixels = d.MaxPixels
	}
	if o.JPEGQuality == 0 {
		o.JPEGQuality = d.JPEGQuality
	}
	if o.ThumbSizes == nil {
		o.ThumbSizes = d.ThumbSizes
	}
	if o.MaxScans == 0 {
		o.MaxScans = d.MaxScans
	}
	return o
}

// Validate reports every invalid field at once. Zero fields are valid (they
// mean the default).
func (o Options) Validate() error {
	var errs []error
	if o.MaxBytes < 0 {
		errs = append(errs, fmt.Errorf("imaging: MaxBytes %d is negative", o.MaxBytes))
	}
	if o.MaxPixels < 0 {
		errs = append(errs, fmt.Errorf("imaging: MaxPixels %d is negative", o.MaxPixels))
	}
	if o.MaxScans < 0 {
		errs = append(errs, fmt.Errorf("imaging: MaxScans %d is negative", o.MaxScans))
	}
	if o.JPEGQuality < 0 || o.JPEGQuality > 100 {
		errs = append(errs, fmt.Errorf("imaging: JPEGQuality %d is outside 1..100", o.JPEGQuality))
	}
	seen := map[int]bool{}
	for _, s := range o.ThumbSizes {
		if s < 1 || s > 16384 {
			errs = append(errs, fmt.Errorf("imaging: thumbnail size %d is outside 1..16384", s))
		}
		if seen[s] {
			errs = append(errs, fmt.Errorf("imaging: thumbnail size %d given twice", s))
		}
		seen[s] = true
	}
	return errors.Join(errs...)
}
