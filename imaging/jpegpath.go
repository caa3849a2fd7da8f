package imaging

import (
	"fmt"
	"image"
)

// How a JPEG becomes the pipeline's outputs: the DCT path (jpegdct.go) when
// the gray image is the stored Y component and the orientation moves whole
// blocks, the pixel path otherwise. jpegPath is the one place that decides.

// Output paths, as recorded in Output.Path.
const (
	PathDCT    = "dct"    // made from the JPEG's coefficients, no pixels decoded
	PathPixels = "pixels" // made from decoded pixels
)

// jpegWorkPasses bounds the entropy-decoding work of a JPEG: the blocks
// its scans visit, summed, may be at most this many times the blocks of an
// image at the pixel limit. A usual progressive file makes 10 to 14 passes.
const jpegWorkPasses = 100

func jpegLimitsOf(o Options) jpegLimits {
	return jpegLimits{maxScans: o.MaxScans, maxWork: (o.MaxPixels/64 + 1) * jpegWorkPasses}
}

// jpegPath reports whether the gray image of a JPEG with header h and EXIF
// orientation o is made from its coefficients, and if not, why. managed
// says whether an embedded ICC profile is applied (colorOf found one that
// is not sRGB and fits the components).
func jpegPath(h *jpegHeader, o int, managed bool) (dct bool, why string) {
	switch {
	case h.colour != jpegGray && h.colour != jpegYCbCr:
		return false, fmt.Sprintf("%s needs colour conversion", h.colour)
	case !h.yFull():
		return false, "Y is subsampled"
	case managed:
		return false, "the ICC profile is applied to the pixels"
	case !orientationFitsBlocks(h.w, h.h, o):
		return false, fmt.Sprintf("orientation %d moves a partial block at a %dx%d image's edge", o, h.w, h.h)
	}
	return true, ""
}

// stepDecodeJPEG decodes a JPEG on the path jpegPath chooses: on the DCT
// path it sets j.dct and returns no raster. An embedded profile that does
// not fit the components (an RGB one on a gray file, any on CMYK) is
// ignored with a warning; a gray profile is applied to the Y plane; an RGB
// one to the decoded colours before luma.
func stepDecodeJPEG(j *job) (*raster, error) {
	h, err := parseJPEGHeader(j.data)
	if err != nil {
		return nil, err
	}
	cm := &j.color
	if cm.t != nil {
		if gray := h.colour == jpegGray; cm.t.gray != gray || h.colour == jpegCMYK || h.colour == jpegYCCK {
			cm.warning = fmt.Sprintf("icc_ignored: profile %q does not fit the JPEG's components; gray is computed from the stored numbers", cm.t.name)
			cm.t = nil
		}
	}
	lim := jpegLimitsOf(j.opts)
	if dct, _ := jpegPath(h, j.info.Orientation, cm.t != nil); dct {
		s := newDCTSink(j.info.Orientation, j.opts.JPEGQuality, j.opts.ThumbSizes)
		if _, err := decodeJPEG(j.ctx, j.data, lim, s); err != nil {
			return nil, err
		}
		j.dct = s
		return nil, nil
	}
	if cm.needsRGB() {
		img, err := decodeJPEGRGBA(j.ctx, j.data, lim)
		if err != nil {
			return nil, err
		}
		return toGrayManaged(img, cm.t), nil
	}
	r, err := jpegGrayRaster(j.ctx, j.data, lim, h)
	if err != nil {
		return nil, err
	}
	cm.applyGray(r)
	return r, nil
}

// jpegConfig is the JPEG entry of Probe: the header read by this package's
// reader (image/jpeg refuses arithmetic coding and some sampling factors
// that the decoder reads).
func jpegConfig(data []byte) (image.Config, error) {
	h, err := parseJPEGHeader(data)
	if err != nil {
		return image.Config{}, err
	}
	return image.Config{Width: h.w, Height: h.h}, nil
}
