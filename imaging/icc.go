package imaging

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"unicode/utf16"
)

// Colour management. An embedded ICC profile (JPEG APP2, PNG iCCP, WebP
// ICCP, TIFF tag 34675) says what the stored numbers mean. Matrix/TRC
// profiles (RGB: rXYZ gXYZ bXYZ + rTRC gTRC bTRC; gray: kTRC), version 2
// or 4, are converted to sRGB before luma is taken, the way a colour-managed
// viewer shows the photo (and as Pillow does through ImageCms into its
// built-in sRGB profile): TRC to linear light, the colorant matrix to PCS
// XYZ (D50), the inverse of sRGB's D50 colorants, clipping to the sRGB
// gamut, sRGB's transfer function. A profile whose transform is sRGB within
// one level (sRGB itself and its many copies) is recognised and ignored, so
// the fast decoders stay fast. LUT-based profiles (only A2B0 and friends),
// CMYK, Lab and other spaces are not applied: gray is computed from the
// stored numbers, as before, and the result carries a warning.

const (
	tagICCProfile = 34675   // TIFF InterColorProfile
	maxICCSize    = 4 << 20 // larger embedded profiles are ignored (with a warning)
)

// iccProfile is what this package uses of an ICC profile.
type iccProfile struct {
	desc   string        // the 'desc' tag's text, or ""
	space  string        // data colour space: "RGB", "GRAY", "CMYK", ...
	matrix [3][3]float64 // device linear RGB to PCS XYZ (D50): columns rXYZ gXYZ bXYZ
	trc    [3]toneCurve  // per channel; gray uses trc[0]
	lab    bool          // gray with a Lab PCS: the curve gives L* (0..1 for 0..100), not Y
}

// toneCurve is a 'curv' or 'para' tone reproduction curve, device value in
// [0,1] to linear light in [0,1].
type toneCurve struct {
	table []uint16   // curv with more than one entry
	fn    int        // para function type 0..4; -1 for curv
	p     [7]float64 // para parameters g a b c d e f, or the curv gamma in p[0]
}

func (c *toneCurve) eval(x float64) float64 {
	x = max(0, min(1, x))
	var y float64
	switch {
	case c.table != nil:
		n := len(c.table) - 1
		f := x * float64(n)
		i := min(int(f), n-1)
		t := f - float64(i)
		y = (float64(c.table[i])*(1-t) + float64(c.table[i+1])*t) / 65535
	case c.fn < 0:
		y = math.Pow(x, c.p[0])
	default:
		g, a, b, cc, d, e, f := c.p[0], c.p[1], c.p[2], c.p[3], c.p[4], c.p[5], c.p[6]
		switch c.fn {
		case 0:
			y = math.Pow(x, g)
		case 1:
			if x >= -b/a {
				y = math.Pow(a*x+b, g)
			}
		case 2:
			y = cc
			if x >= -b/a {
				y = math.Pow(a*x+b, g) + cc
			}
		case 3:
			y = cc * x
			if x >= d {
				y = math.Pow(a*x+b, g)
			}
		case 4:
			y = cc*x + f
			if x >= d {
				y = math.Pow(a*x+b, g) + e
			}
		}
	}
	if math.IsNaN(y) {
		return 0
	}
	return max(0, min(1, y))
}

// errICCNotApplied is the class of profiles that are parsed but not
// applied (LUT-based, CMYK, ...): the decode goes on without colour
// management and the result carries a warning.
var errICCNotApplied = errors.New("not applied")

// parseICC reads a profile. An error wrapping errICCNotApplied means a
// well-formed profile of a kind this package does not apply; any other
// error, a malformed one. Either way the image is still decoded.
func parseICC(b []byte) (*iccProfile, error) {
	if len(b) < 132 || string(b[36:40]) != "acsp" {
		return nil, errors.New("not an ICC profile")
	}
	if n := be32(b); n < 132 || n > len(b) {
		return nil, fmt.Errorf("profile size %d, have %d bytes", n, len(b))
	} else {
		b = b[:n]
	}
	p := &iccProfile{space: strings.TrimRight(string(b[16:20]), " ")}
	tags := map[string][]byte{}
	count := be32(b[128:])
	if count > (len(b)-132)/12 {
		return nil, fmt.Errorf("%d tags in a %d-byte profile", count, len(b))
	}
	for i := 0; i < count; i++ {
		e := b[132+12*i:]
		off, size := be32(e[4:]), be32(e[8:])
		if off < 0 || size < 8 || off > len(b) || size > len(b)-off {
			return nil, fmt.Errorf("tag %q out of the profile", e[:4])
		}
		tags[string(e[:4])] = b[off : off+size]
	}
	p.desc = iccText(tags["desc"])
	pcs := string(b[20:24])
	switch p.space {
	case "RGB":
		if pcs != "XYZ " {
			return p, fmt.Errorf("RGB profile with a %q PCS: %w", strings.TrimSpace(pcs), errICCNotApplied)
		}
		for i, name := range []string{"rXYZ", "gXYZ", "bXYZ"} {
			t := tags[name]
			if len(t) < 20 || string(t[:4]) != "XYZ " {
				return p, fmt.Errorf("RGB profile without a colorant matrix (LUT-based): %w", errICCNotApplied)
			}
			for k := 0; k < 3; k++ {
				p.matrix[k][i] = s15f16(t[8+4*k:])
			}
		}
		for i, name := range []string{"rTRC", "gTRC", "bTRC"} {
			c, err := parseCurve(tags[name])
			if err != nil {
				return p, fmt.Errorf("%s: %w", name, err)
			}
			p.trc[i] = c
		}
		if det3(p.matrix) < 1e-6 {
			return p, errors.New("singular colorant matrix")
		}
	case "GRAY":
		c, err := parseCurve(tags["kTRC"])
		if err != nil {
			return p, fmt.Errorf("kTRC: %w", err)
		}
		p.trc[0] = c
		p.lab = pcs == "Lab "
	default:
		return p, fmt.Errorf("%s profile: %w", p.space, errICCNotApplied)
	}
	return p, nil
}

func s15f16(b []byte) float64 { return float64(int32(binary.BigEndian.Uint32(b))) / 65536 }

func parseCurve(t []byte) (toneCurve, error) {
	if len(t) < 12 {
		return toneCurve{}, fmt.Errorf("missing (LUT-based profile): %w", errICCNotApplied)
	}
	switch string(t[:4]) {
	case "curv":
		n := be32(t[8:])
		if n < 0 || n > (len(t)-12)/2 {
			return toneCurve{}, errors.New("short curv")
		}
		switch n {
		case 0:
			return toneCurve{fn: -1, p: [7]float64{1}}, nil
		case 1:
			return toneCurve{fn: -1, p: [7]float64{float64(be16(t[12:])) / 256}}, nil
		}
		c := toneCurve{fn: -1, table: make([]uint16, n)}
		for i := range c.table {
			c.table[i] = uint16(be16(t[12+2*i:]))
		}
		return c, nil
	case "para":
		fn := be16(t[8:])
		np := []int{1, 3, 4, 5, 7}
		if fn > 4 || len(t) < 12+4*np[fn] {
			return toneCurve{}, fmt.Errorf("para function %d", fn)
		}
		c := toneCurve{fn: fn}
		for i := 0; i < np[fn]; i++ {
			c.p[i] = s15f16(t[12+4*i:])
		}
		if fn >= 1 && c.p[1] == 0 {
			return toneCurve{}, errors.New("para with a = 0")
		}
		return c, nil
	}
	return toneCurve{}, fmt.Errorf("curve type %q: %w", t[:4], errICCNotApplied)
}

// iccText reads a 'desc' (v2 textDescriptionType) or 'mluc' (v4) tag.
func iccText(t []byte) string {
	if len(t) < 12 {
		return ""
	}
	var s string
	switch string(t[:4]) {
	case "desc":
		n := be32(t[8:])
		if n < 0 || n > len(t)-12 {
			return ""
		}
		s = string(t[12 : 12+n])
	case "mluc":
		if len(t) < 28 || be32(t[8:]) < 1 {
			return ""
		}
		n, off := be32(t[20:]), be32(t[24:])
		if off < 0 || n < 0 || off > len(t) || n > len(t)-off {
			return ""
		}
		u := make([]uint16, n/2)
		for i := range u {
			u[i] = uint16(be16(t[off+2*i:]))
		}
		s = string(utf16.Decode(u))
	case "text":
		s = string(t[8:])
	}
	s = strings.TrimRight(s, "\x00 ")
	if len(s) > 64 {
		s = s[:64]
	}
	return strings.ToValidUTF8(s, "?")
}

// name returns how warnings and Info name the profile.
func (p *iccProfile) name() string {
	if p.desc != "" {
		return p.desc
	}
	return p.space + " profile"
}

// colorTransform turns the samples of a profile's space into sRGB, from
// which luma is taken. It is built once per image.
type colorTransform struct {
	gray bool
	name string
	// RGB: 8-bit sample to linear light per channel, and the device-linear
	// to sRGB-linear matrix.
	lin [3][256]float32
	m   [9]float32
	// gray: the whole 8-bit transform.
	gray8lut [256]uint8
	curves   [3]toneCurve
	lab      bool
	deepOnce sync.Once
	lin16    *[3][65536]float32 // 16-bit samples, built on first use
	gray16   *[65536]uint16
}

// encSteps is the resolution of the linear to sRGB tables: 1/16384 of full
// scale, a tenth of a level where the sRGB curve is steepest.
const encSteps = 1 << 14

var (
	srgbEnc8  [encSteps + 1]uint8
	srgbEnc16 [encSteps*4 + 1]uint16
	srgbToXYZ [3][3]float64 // sRGB linear to PCS XYZ (D50), as ICC sRGB profiles hold it
	xyzToSRGB [3][3]float64
)

func init() {
	srgbToXYZ = rgbToXYZD50([3][2]float64{{0.64, 0.33}, {0.30, 0.60}, {0.15, 0.06}}, [2]float64{0.3127, 0.3290})
	xyzToSRGB = inv3(srgbToXYZ)
}

// srgbTables fills srgbEnc8 and srgbEnc16, on the first profile: 80,000
// powers, a few milliseconds that every process start (and every image
// without a profile) would otherwise pay.
var srgbTables = sync.OnceFunc(func() {
	for i := range srgbEnc8 {
		srgbEnc8[i] = uint8(math.Round(255 * srgbEncode(float64(i)/encSteps)))
	}
	for i := range srgbEnc16 {
		srgbEnc16[i] = uint16(math.Round(65535 * srgbEncode(float64(i)/(encSteps*4))))
	}
})

func srgbEncode(v float64) float64 {
	if v <= 0.0031308 {
		return 12.92 * v
	}
	return 1.055*math.Pow(v, 1/2.4) - 0.055
}

func srgbDecode(v float64) float64 {
	if v <= 0.04045 {
		return v / 12.92
	}
	return math.Pow((v+0.055)/1.055, 2.4)
}

// rgbToXYZD50 returns the matrix from linear RGB with the given primaries
// and white point to XYZ adapted to the ICC PCS white (D50) by Bradford, as
// colorant tags of a matrix/TRC profile hold it.
func rgbToXYZD50(prim [3][2]float64, white [2]float64) [3][3]float64 {
	xyz := func(x, y float64) [3]float64 { return [3]float64{x / y, 1, (1 - x - y) / y} }
	var p [3][3]float64
	for i, c := range prim {
		v := xyz(c[0], c[1])
		for k := 0; k < 3; k++ {
			p[k][i] = v[k]
		}
	}
	w := xyz(white[0], white[1])
	s := mulVec(inv3(p), w)
	for k := 0; k < 3; k++ {
		for i := 0; i < 3; i++ {
			p[k][i] *= s[i]
		}
	}
	bradford := [3][3]float64{{0.8951, 0.2664, -0.1614}, {-0.7502, 1.7135, 0.0367}, {0.0389, -0.0685, 1.0296}}
	d50 := [3]float64{0.9642, 1, 0.8249}
	src, dst := mulVec(bradford, w), mulVec(bradford, d50)
	var scale [3][3]float64
	for i := 0; i < 3; i++ {
		scale[i][i] = dst[i] / src[i]
	}
	return mul3(inv3(bradford), mul3(scale, mul3(bradford, p)))
}

func mul3(a, b [3][3]float64) (c [3][3]float64) {
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			for k := 0; k < 3; k++ {
				c[i][j] += a[i][k] * b[k][j]
			}
		}
	}
	return c
}

func mulVec(a [3][3]float64, v [3]float64) (r [3]float64) {
	for i := 0; i < 3; i++ {
		r[i] = a[i][0]*v[0] + a[i][1]*v[1] + a[i][2]*v[2]
	}
	return r
}

func det3(a [3][3]float64) float64 {
	return a[0][0]*(a[1][1]*a[2][2]-a[1][2]*a[2][1]) - a[0][1]*(a[1][0]*a[2][2]-a[1][2]*a[2][0]) + a[0][2]*(a[1][0]*a[2][1]-a[1][1]*a[2][0])
}

func inv3(a [3][3]float64) (r [3][3]float64) {
	d := det3(a)
	r[0][0] = (a[1][1]*a[2][2] - a[1][2]*a[2][1]) / d
	r[0][1] = (a[0][2]*a[2][1] - a[0][1]*a[2][2]) / d
	r[0][2] = (a[0][1]*a[1][2] - a[0][2]*a[1][1]) / d
	r[1][0] = (a[1][2]*a[2][0] - a[1][0]*a[2][2]) / d
	r[1][1] = (a[0][0]*a[2][2] - a[0][2]*a[2][0]) / d
	r[1][2] = (a[0][2]*a[1][0] - a[0][0]*a[1][2]) / d
	r[2][0] = (a[1][0]*a[2][1] - a[1][1]*a[2][0]) / d
	r[2][1] = (a[0][1]*a[2][0] - a[0][0]*a[2][1]) / d
	r[2][2] = (a[0][0]*a[1][1] - a[0][1]*a[1][0]) / d
	return r
}

// newColorTransform builds the transform of a usable profile, or returns
// nil when the profile is sRGB within one level of every channel.
func newColorTransform(p *iccProfile) *colorTransform {
	srgbTables()
	t := &colorTransform{gray: p.space == "GRAY", name: p.name(), curves: p.trc, lab: p.lab}
	if t.gray {
		same := true
		for v := range t.gray8lut {
			t.gray8lut[v] = srgbEnc8[int(t.grayY(float64(v)/255)*encSteps+0.5)]
			same = same && abs(int(t.gray8lut[v])-v) <= 1
		}
		if same {
			return nil
		}
		return t
	}
	for c := 0; c < 3; c++ {
		for v := 0; v < 256; v++ {
			t.lin[c][v] = float32(p.trc[c].eval(float64(v) / 255))
		}
	}
	m := mul3(xyzToSRGB, p.matrix)
	for i := 0; i < 9; i++ {
		t.m[i] = float32(m[i/3][i%3])
	}
	// sRGB in disguise? Every channel of a grid of colours within one level.
	for r := 0; r < 256; r += 15 {
		for g := 0; g < 256; g += 15 {
			for b := 0; b < 256; b += 15 {
				or, og, ob := t.rgb8(uint8(r), uint8(g), uint8(b))
				if abs(int(or)-r) > 1 || abs(int(og)-g) > 1 || abs(int(ob)-b) > 1 {
					return t
				}
			}
		}
	}
	return nil
}

// grayY is the relative luminance of a gray sample in [0,1].
func (t *colorTransform) grayY(v float64) float64 {
	y := t.curves[0].eval(v)
	if t.lab { // CIE L* to Y
		l := 100 * y
		if fy := (l + 16) / 116; fy*fy*fy > 216.0/24389 {
			return fy * fy * fy
		}
		return l * 27 / 24389
	}
	return y
}

// rgb8 converts one 8-bit pixel to 8-bit sRGB.
func (t *colorTransform) rgb8(r, g, b uint8) (uint8, uint8, uint8) {
	lr, lg, lb := t.lin[0][r], t.lin[1][g], t.lin[2][b]
	m := &t.m
	return srgbEnc8[encIndex(m[0]*lr+m[1]*lg+m[2]*lb, encSteps)],
		srgbEnc8[encIndex(m[3]*lr+m[4]*lg+m[5]*lb, encSteps)],
		srgbEnc8[encIndex(m[6]*lr+m[7]*lg+m[8]*lb, encSteps)]
}

// encIndex clips a linear value to [0,1] and scales it to a table index.
func encIndex(v float32, n int) int {
	if !(v > 0) { // also NaN
		return 0
	}
	if v >= 1 {
		return n
	}
	return int(v*float32(n) + 0.5)
}

// luma8 is the BT.601 luma of the sRGB rendering of an 8-bit pixel (RGB
// profiles) or the sRGB gray of an 8-bit gray sample (gray profiles, r
// only).
func (t *colorTransform) luma8(r, g, b uint8) uint8 {
	if t.gray {
		return t.gray8lut[r]
	}
	sr, sg, sb := t.rgb8(r, g, b)
	return luma8(sr, sg, sb)
}

func (t *colorTransform) deep() {
	t.deepOnce.Do(func() {
		if t.gray {
			t.gray16 = new([65536]uint16)
			for v := range t.gray16 {
				t.gray16[v] = srgbEnc16[int(t.grayY(float64(v)/65535)*encSteps*4+0.5)]
			}
			return
		}
		t.lin16 = new([3][65536]float32)
		for c := 0; c < 3; c++ {
			for v := 0; v < 65536; v++ {
				t.lin16[c][v] = float32(t.curves[c].eval(float64(v) / 65535))
			}
		}
	})
}

// luma16 is luma8 for 16-bit samples.
func (t *colorTransform) luma16(r, g, b uint16) uint16 {
	t.deep()
	if t.gray {
		return t.gray16[r]
	}
	lr, lg, lb := t.lin16[0][r], t.lin16[1][g], t.lin16[2][b]
	m := &t.m
	return luma16(srgbEnc16[encIndex(m[0]*lr+m[1]*lg+m[2]*lb, encSteps*4)],
		srgbEnc16[encIndex(m[3]*lr+m[4]*lg+m[5]*lb, encSteps*4)],
		srgbEnc16[encIndex(m[6]*lr+m[7]*lg+m[8]*lb, encSteps*4)])
}

// colorInfo is the outcome of looking for a profile: the transform to use
// (nil: the numbers are sRGB or unmanaged), the profile's name for Info,
// and a warning when a profile is present but not applied.
type colorInfo struct {
	t       *colorTransform
	profile string
	warning string
}

// colorOf reads the embedded profile of data (format as sniffed) and
// decides what to do with it. An image never fails because of its
// profile.
func colorOf(format string, data []byte) colorInfo {
	var raw []byte
	var err error
	switch format {
	case "jpeg":
		raw, err = jpegICC(data)
	case "png":
		raw, err = pngICC(data)
	case "webp":
		raw, err = webpICC(data)
	case "tiff":
		raw, err = tiffICC(data)
	}
	if err != nil {
		return colorInfo{warning: "icc_ignored: embedded profile unreadable (" + err.Error() + "); gray is computed from the stored numbers"}
	}
	if raw == nil {
		return colorInfo{}
	}
	p, err := parseICC(raw)
	if err != nil {
		name := "embedded profile"
		if p != nil {
			name = fmt.Sprintf("profile %q", p.name())
		}
		if errors.Is(err, errICCNotApplied) {
			return colorInfo{profile: p.name(), warning: fmt.Sprintf("icc_not_applied: %s: %v; gray is computed from the stored numbers", name, err)}
		}
		return colorInfo{warning: fmt.Sprintf("icc_ignored: %s is malformed (%v); gray is computed from the stored numbers", name, err)}
	}
	return colorInfo{t: newColorTransform(p), profile: p.name()}
}

// jpegICC gathers the ICC_PROFILE APP2 segments before the first scan, in
// their sequence order.
func jpegICC(b []byte) ([]byte, error) {
	var parts [][]byte
	total := 0
	p := 2
	for p+4 <= len(b) {
		if b[p] != 0xff {
			break
		}
		m := b[p+1]
		if m == 0xff {
			p++
			continue
		}
		if m == 0xd8 || (m >= 0xd0 && m <= 0xd7) || m == 0x01 {
			p += 2
			continue
		}
		if m == 0xda || m == 0xd9 {
			break
		}
		n := be16(b[p+2:])
		if n < 2 || p+2+n > len(b) {
			break
		}
		seg := b[p+4 : p+2+n]
		if m == 0xe2 && hasPrefix(seg, "ICC_PROFILE\x00") && len(seg) >= 14 {
			seq, cnt := int(seg[12]), int(seg[13])
			if parts == nil {
				if cnt == 0 {
					return nil, errors.New("ICC_PROFILE chunk count 0")
				}
				parts = make([][]byte, cnt)
			}
			if cnt != len(parts) || seq < 1 || seq > cnt || parts[seq-1] != nil {
				return nil, fmt.Errorf("ICC_PROFILE chunk %d of %d", seq, cnt)
			}
			parts[seq-1] = seg[14:]
			total += len(seg) - 14
		}
		p += 2 + n
	}
	if parts == nil {
		return nil, nil
	}
	out := make([]byte, 0, total)
	for i, s := range parts {
		if s == nil {
			return nil, fmt.Errorf("ICC_PROFILE chunk %d of %d missing", i+1, len(parts))
		}
		out = append(out, s...)
	}
	return out, nil
}

// pngICC reads an iCCP chunk before the first IDAT. A PNG with an sRGB
// chunk is sRGB whatever else it says.
func pngICC(b []byte) ([]byte, error) {
	p := 8
	var iccp []byte
	for p+12 <= len(b) {
		n := int64(be32(b[p:]))
		typ := string(b[p+4 : p+8])
		end := int64(p) + 8 + n
		if end+4 > int64(len(b)) {
			break
		}
		switch typ {
		case "sRGB":
			return nil, nil
		case "iCCP":
			iccp = b[p+8 : end]
		case "IDAT", "IEND":
			p = len(b)
			continue
		}
		p = int(end) + 4
	}
	if iccp == nil {
		return nil, nil
	}
	z := bytes.IndexByte(iccp, 0)
	if z < 1 || z > 79 || z+2 > len(iccp) || iccp[z+1] != 0 {
		return nil, errors.New("bad iCCP header")
	}
	zr, err := zlib.NewReader(bytes.NewReader(iccp[z+2:]))
	if err != nil {
		return nil, fmt.Errorf("iCCP: %v", err)
	}
	raw, err := io.ReadAll(io.LimitReader(zr, maxICCSize+1))
	if err != nil {
		return nil, fmt.Errorf("iCCP: %v", err)
	}
	if len(raw) > maxICCSize {
		return nil, fmt.Errorf("iCCP profile over %d bytes", maxICCSize)
	}
	return raw, nil
}

// webpICC reads the ICCP chunk of an extended WebP.
func webpICC(b []byte) ([]byte, error) { return webpChunk(b, "ICCP"), nil }

// tiffICC reads tag 34675 of the first IFD.
func tiffICC(b []byte) ([]byte, error) {
	ifd, err := readIFD(b)
	if err != nil {
		return nil, nil // the decoder reports a broken file
	}
	e, ok := ifd.tags[tagICCProfile]
	if !ok {
		return nil, nil
	}
	raw, err := ifd.bytes(e)
	if err != nil {
		return nil, fmt.Errorf("TIFF ICC tag: %v", err)
	}
	return raw, nil
}

// needsRGB reports whether the samples must be turned into RGB and
// converted through the profile: an RGB profile that is not sRGB. A JPEG
// for which it is true cannot take the Y-plane (or DCT-domain) path.
func (c *colorInfo) needsRGB() bool { return c.t != nil && !c.t.gray }

// applyGray applies a gray profile, in place, to an 8-bit gray raster
// without alpha (the Y plane of a gray JPEG). It does nothing without a
// gray profile.
func (c *colorInfo) applyGray(r *raster) {
	if c.t == nil || !c.t.gray || r.Deep || r.Alpha {
		return
	}
	lut := &c.t.gray8lut
	parallel(r.H, minRows, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			row := r.row(y)
			for x, v := range row {
				row[x] = lut[v]
			}
		}
	})
}
