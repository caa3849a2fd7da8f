package imaging

import (
	"context"
	"fmt"
	"strconv"
	"sync"
)

// Output is one encoded image made from the input.
type Output struct {
	Name        string // "gray", "thumb" (first thumbnail size), "thumb_<n>" for further sizes
	Ext         string // "jpg" or "png"
	ContentType string // "image/jpeg" or "image/png"
	Width       int
	Height      int
	Data        []byte
	Path        string // PathDCT or PathPixels: how it was made
}

// Result is what Process made: the input's Info and the outputs, gray
// first, then the thumbnails in the order of Options.ThumbSizes.
type Result struct {
	Info    Info
	Outputs []Output
	// ColorProfile names the embedded ICC profile that was converted to
	// sRGB before luma ("" when there was none, or it was sRGB, or it was
	// not applied).
	ColorProfile string
	// Warnings say what was not done as the file asked, each starting with
	// a code: icc_not_applied (a LUT-based or CMYK profile: gray from the
	// stored numbers), icc_ignored (a malformed or misplaced profile).
	Warnings []string
}

// job is the state that the steps pass along.
type job struct {
	ctx      context.Context
	data     []byte
	opts     Options
	info     Info
	color    colorInfo // the embedded profile and what is done with it
	profile  string    // the profile applied, for Result
	warnings []string
	gray     *raster  // luma (+ alpha), upright after the orient step
	dct      *dctSink // a JPEG on the DCT path: outputs from its coefficients
	thumbs   []*raster
	out      []Output
}

// step is one stage of the work.
type step struct {
	name string
	run  func(*job) error
}

// pipeline is the ordered list of steps. The context is checked before
// each step.
type pipeline []step

// steps is the pipeline of Process. Luma is taken before orienting, which
// gives the same pixels as orienting first and moves one channel instead
// of three.
var steps = pipeline{
	{"limits", stepLimits},
	{"decode", stepDecode},
	{"gray", stepGray},
	{"orient", stepOrient},
	{"thumbnail", stepThumbnail},
	{"encode", stepEncode},
}

func (p pipeline) run(ctx context.Context, j *job) error {
	j.ctx = ctx
	for _, s := range p {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("imaging: before %s: %w", s.name, err)
		}
		if err := s.run(j); err != nil {
			return err
		}
	}
	return nil
}

// Process turns data into its gray image and thumbnails. Zero fields of
// opts take the defaults. Refused inputs give an *Error; a done ctx gives
// an error wrapping ctx.Err().
func Process(ctx context.Context, data []byte, opts Options) (*Result, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	j := &job{ctx: ctx, data: data, opts: opts.withDefaults()}
	if err := steps.run(ctx, j); err != nil {
		return nil, err
	}
	return &Result{Info: j.info, Outputs: j.out, ColorProfile: j.profile, Warnings: j.warnings}, nil
}

// stepLimits reads the header and refuses inputs over the limits before
// any pixel memory is allocated.
func stepLimits(j *job) error {
	if int64(len(j.data)) > j.opts.MaxBytes {
		return newError(ErrTooLarge, fmt.Errorf("%d bytes, limit %d", len(j.data), j.opts.MaxBytes))
	}
	info, err := Probe(j.data)
	if err != nil {
		return err
	}
	j.info = info
	if px := int64(info.Width) * int64(info.Height); px > j.opts.MaxPixels {
		return newError(ErrTooManyPixels, fmt.Errorf("%s header says %dx%d = %d pixels, limit %d",
			info.Format, info.Width, info.Height, px, j.opts.MaxPixels))
	}
	if info.Format == "jpeg" {
		return jpegComplexity(j.data, jpegLimitsOf(j.opts))
	}
	return nil
}

// stepDecode decodes the pixels into the gray raster. PNG, GIF, TIFF and
// BMP stream rows straight into it; JPEG goes through this package's
// coefficient reader (stepDecodeJPEG), which on the DCT path makes no
// raster at all; WebP through x/image/webp. An embedded ICC profile is
// read first (colorOf) and applied by the decoders.
func stepDecode(j *job) error {
	j.color = colorOf(j.info.Format, j.data)
	var r *raster
	var err error
	switch j.info.Format {
	case "jpeg":
		r, err = stepDecodeJPEG(j)
	case "png":
		r, err = decodePNG(j.ctx, j.data, &j.color)
	case "gif":
		r, err = decodeGIF(j.ctx, j.data)
	case "webp":
		r, err = decodeWebP(j.ctx, j.data, &j.color)
	case "tiff":
		r, err = decodeTIFF(j.ctx, j.data, &j.color)
	case "bmp":
		r, err = decodeBMP(j.ctx, j.data)
	default:
		err = newError(ErrUnsupportedFormat, fmt.Errorf("no decoder for %q", j.info.Format))
	}
	if err != nil {
		return err
	}
	if r == nil { // the DCT path
		return nil
	}
	if r.W != j.info.Width || r.H != j.info.Height {
		return newError(ErrCorrupt, fmt.Errorf("%s: decoded %dx%d, header said %dx%d", j.info.Format, r.W, r.H, j.info.Width, j.info.Height))
	}
	if j.color.warning != "" {
		j.warnings = append(j.warnings, j.color.warning)
	}
	if j.color.t != nil {
		j.profile = j.color.t.name
	}
	j.gray = r
	return nil
}

func stepGray(j *job) error {
	return nil // the decoders make the gray raster
}

func stepOrient(j *job) error {
	if j.dct != nil {
		return nil // applied to the coefficients
	}
	j.gray = orient(j.gray, j.info.Orientation)
	return nil
}

func stepThumbnail(j *job) error {
	j.thumbs = make([]*raster, len(j.opts.ThumbSizes))
	for i, s := range j.opts.ThumbSizes {
		if j.dct != nil {
			j.thumbs[i] = j.dct.thumbnail(i) // nil: the gray image itself
			continue
		}
		j.thumbs[i] = thumbnail(j.gray, s)
	}
	return nil
}

// stepEncode encodes the gray image and the thumbnails concurrently.
func stepEncode(j *job) error {
	ext, ct := "png", "image/png"
	if j.info.Format == "jpeg" {
		ext, ct = "jpg", "image/jpeg"
	}
	path := PathPixels
	if j.dct != nil {
		path = PathDCT
	}
	rs := append([]*raster{j.gray}, j.thumbs...)
	j.out = make([]Output, len(rs))
	errs := make([]error, len(rs))
	var wg sync.WaitGroup
	for i, r := range rs {
		name := "gray"
		if i == 1 {
			name = "thumb"
		} else if i > 1 {
			name = "thumb_" + strconv.Itoa(j.opts.ThumbSizes[i-1])
		}
		if r == nil {
			continue // the DCT path's gray image, or a thumbnail that is the gray image
		}
		wg.Go(func() {
			var data []byte
			var err error
			if ext == "jpg" {
				data, err = encodeJPEG(r, j.opts.JPEGQuality)
			} else {
				data, err = encodePNG(r)
			}
			j.out[i] = Output{Name: name, Ext: ext, ContentType: ct, Width: r.W, Height: r.H, Data: data, Path: path}
			errs[i] = err
		})
	}
	if j.dct != nil {
		t := j.dct.tok
		j.out[0] = Output{Name: "gray", Ext: ext, ContentType: ct, Width: t.w, Height: t.h, Data: t.encode(), Path: PathDCT}
	}
	wg.Wait()
	for i, r := range rs {
		if r == nil && i > 0 {
			o := j.out[0]
			o.Name = "thumb"
			if i > 1 {
				o.Name = "thumb_" + strconv.Itoa(j.opts.ThumbSizes[i-1])
			}
			j.out[i] = o
		}
	}
	for i, err := range errs {
		if err != nil {
			return fmt.Errorf("imaging: encode %s: %w", j.out[i].Name, err)
		}
	}
	return nil
}

func encodeJPEG(r *raster, quality int) ([]byte, error) {
	if r.Alpha || r.Deep {
		return nil, fmt.Errorf("imaging: JPEG output needs 8-bit gray, have alpha=%v deep=%v", r.Alpha, r.Deep)
	}
	return encodeGrayJPEG(r, quality), nil
}
