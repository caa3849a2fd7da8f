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
)

// Options bound and shape one Process call. Zero fields take the defaults.
type Options struct {
	MaxBytes    int64 // input larger than this is refused as too_large (default 25 MiB)
	MaxPixels   int64 // width*height above this is refused as too_many_pixels, from the header (default 50 MP)
	JPEGQuality int   // quality of JPEG outputs, 1..100 (default 85)
	ThumbSizes  []int // longest side of each thumbnail (default [256])
}

// DefaultOptions returns the defaults.
func DefaultOptions() Options {
	return Options{
		MaxBytes:    DefaultMaxBytes,
		MaxPixels:   DefaultMaxPixels,
		JPEGQuality: DefaultJPEGQuality,
		ThumbSizes:  []int{DefaultThumbSize},
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
