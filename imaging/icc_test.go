package imaging

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"encoding/json"
	"image"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Colour management against Pillow's ImageCms (LittleCMS): photos whose
// numbers are Adobe RGB, ProPhoto, Wide Gamut or gray with a gamma, in
// every container that carries a profile, must give the gray of their
// sRGB rendering.

// cmsScript makes profile-tagged files and answers the colour-managed gray.
//
//	make SRC PROFILE KIND OUT  SRC (sRGB, PNG) converted into PROFILE's space, saved as KIND with the profile
//	ref IN MANAGED PLAIN       MANAGED: L of the sRGB rendering; PLAIN: L of the stored numbers
const cmsScript = `
import io, json, sys
from PIL import Image, ImageCms
srgb = ImageCms.createProfile("sRGB")
cmd = sys.argv[1]
if cmd == "make":
    src, prof, kind, out = sys.argv[2:6]
    p = open(prof, "rb").read()
    dst = ImageCms.ImageCmsProfile(io.BytesIO(p))
    im = Image.open(src).convert("RGB")
    gray = dst.profile.xcolor_space.strip() == "GRAY"
    im = ImageCms.profileToProfile(im, srgb, dst, outputMode="L" if gray else "RGB")
    kw = {"icc_profile": p}
    if kind == "jpeg":
        im.save(out, "JPEG", quality=95, subsampling=0, **kw)
    elif kind == "png":
        im.save(out, "PNG", **kw)
    elif kind == "webp":
        im.save(out, "WEBP", lossless=True, **kw)
    elif kind == "tiff":
        im.save(out, "TIFF", compression="tiff_adobe_deflate", **kw)
    else:
        sys.exit("unknown kind " + kind)
    sys.exit(0)
if cmd == "ref":
    src, managed, plain = sys.argv[2:5]
    im = Image.open(src)
    im.load()
    p = im.info.get("icc_profile")
    open(plain, "wb").write(im.convert("L").tobytes())
    m = ImageCms.profileToProfile(im, ImageCms.ImageCmsProfile(io.BytesIO(p)), srgb, outputMode="RGB")
    open(managed, "wb").write(m.convert("L").tobytes())
    print(json.dumps({"w": im.size[0], "h": im.size[1], "mode": im.mode}))
`

// cms is a pillow helper running cmsScript.
type cms struct{ *pillow }

func newCMS(t *testing.T) *cms {
	py := needTool(t, "/usr/bin/python3", "-c", "from PIL import ImageCms")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "p.py"), []byte(cmsScript), 0o644); err != nil {
		t.Fatal(err)
	}
	return &cms{&pillow{t, py, dir}}
}

func (c *cms) read(name string) []byte {
	c.t.Helper()
	b, err := os.ReadFile(filepath.Join(c.dir, name))
	if err != nil {
		c.t.Fatal(err)
	}
	return b
}

// make converts src into the profile's space and saves it as kind.
func (c *cms) make(src image.Image, profile []byte, kind string) []byte {
	c.t.Helper()
	in := c.file("src.png", encodePNGStd(c.t, src))
	prof := c.file("profile.icc", profile)
	c.run("make", in, prof, kind, filepath.Join(c.dir, "made"))
	return c.read("made")
}

// ref returns Pillow's colour-managed and plain L of a file.
func (c *cms) ref(data []byte) (managed, plain []byte) {
	c.t.Helper()
	in := c.file("in", data)
	var meta struct{ W, H int }
	if err := json.Unmarshal(c.run("ref", in, filepath.Join(c.dir, "managed"), filepath.Join(c.dir, "plain")), &meta); err != nil {
		c.t.Fatal(err)
	}
	return c.read("managed"), c.read("plain")
}

// iccWriter builds matrix/TRC profiles for the tests: the ICC format is
// simple, and writing it here keeps binary files of unknown origin out of
// the repository.
type iccTag struct {
	sig  string
	data []byte
}

func iccXYZ(x, y, z float64) []byte {
	b := []byte("XYZ \x00\x00\x00\x00")
	for _, v := range []float64{x, y, z} {
		b = binary.BigEndian.AppendUint32(b, uint32(int32(math.Round(v*65536))))
	}
	return b
}

func iccGamma(g float64) []byte {
	b := []byte("curv\x00\x00\x00\x00\x00\x00\x00\x01")
	return binary.BigEndian.AppendUint16(b, uint16(math.Round(g*256)))
}

func iccTable(n int, f func(float64) float64) []byte {
	b := binary.BigEndian.AppendUint32([]byte("curv\x00\x00\x00\x00"), uint32(n))
	for i := 0; i < n; i++ {
		b = binary.BigEndian.AppendUint16(b, uint16(math.Round(65535*f(float64(i)/float64(n-1)))))
	}
	return b
}

func iccDesc(s string) []byte {
	b := binary.BigEndian.AppendUint32([]byte("desc\x00\x00\x00\x00"), uint32(len(s)+1))
	b = append(b, s...)
	b = append(b, 0)
	return append(b, make([]byte, 4+4+2+1+67)...) // empty Unicode and ScriptCode parts
}

func buildICC(space string, version uint32, tags []iccTag) []byte {
	hdr := make([]byte, 128)
	binary.BigEndian.PutUint32(hdr[8:], version)
	copy(hdr[12:], "mntr")
	copy(hdr[16:], (space + "    ")[:4])
	copy(hdr[20:], "XYZ ")
	copy(hdr[36:], "acsp")
	copy(hdr[68:], iccXYZ(0.9642, 1, 0.8249)[8:])
	table := binary.BigEndian.AppendUint32(nil, uint32(len(tags)))
	var body []byte
	off := 128 + 4 + 12*len(tags)
	for _, t := range tags {
		for len(body)%4 != 0 {
			body = append(body, 0)
		}
		table = append(table, t.sig...)
		table = binary.BigEndian.AppendUint32(table, uint32(off+len(body)))
		table = binary.BigEndian.AppendUint32(table, uint32(len(t.data)))
		body = append(body, t.data...)
	}
	p := append(append(hdr, table...), body...)
	binary.BigEndian.PutUint32(p, uint32(len(p)))
	return p
}

// rgbProfile is a matrix/TRC profile for primaries and white (xy), with
// the same curve on the three channels.
func rgbProfile(name string, prim [3][2]float64, white [2]float64, curve []byte) []byte {
	m := rgbToXYZD50(prim, white)
	return buildICC("RGB", 0x02100000, []iccTag{
		{"desc", iccDesc(name)},
		{"wtpt", iccXYZ(0.9642, 1, 0.8249)},
		{"rXYZ", iccXYZ(m[0][0], m[1][0], m[2][0])},
		{"gXYZ", iccXYZ(m[0][1], m[1][1], m[2][1])},
		{"bXYZ", iccXYZ(m[0][2], m[1][2], m[2][2])},
		{"rTRC", curve}, {"gTRC", curve}, {"bTRC", curve},
	})
}

var (
	prophotoPrim = [3][2]float64{{0.7347, 0.2653}, {0.1596, 0.8404}, {0.0366, 0.0001}}
	d50xy        = [2]float64{0.3457, 0.3585}
)

func sysProfile(t *testing.T, path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required under CI: %v", path, err)
		}
		t.Skipf("%s not installed (apt-get install icc-profiles-free colord-data)", path)
	}
	return b
}

// colorful is a photo with strong, saturated colours: where profiles
// matter most.
func colorful(w, h int) *image.NRGBA {
	m := photoNRGBA(w, h)
	s := saturated(w, h/3)
	copy(m.Pix[m.Stride*(h-h/3):], s.Pix)
	return m
}

func TestICCConvertedToSRGB(t *testing.T) {
	c := newCMS(t)
	src := colorful(120, 90)
	lstar := func(v float64) float64 { // CIE L* as a curve: a 4096-entry table
		if v <= 0.08 {
			return v / 9.033
		}
		return math.Pow((v+0.16)/1.16, 3)
	}
	profiles := []struct {
		name    string
		data    []byte
		minRaw  float64 // the plain (unmanaged) numbers are at least this far off
		applied string
	}{
		{"Adobe RGB (icc-profiles-free, v2)", sysProfile(t, "/usr/share/color/icc/compatibleWithAdobeRGB1998.icc"), 2, "Compatible with Adobe RGB (1998)"},
		{"ProPhoto (colord, v4 para)", sysProfile(t, "/usr/share/color/icc/colord/ProPhotoRGB.icc"), 4, "ProPhoto RGB"},
		{"Wide Gamut (colord, v4 para)", sysProfile(t, "/usr/share/color/icc/colord/WideGamutRGB.icc"), 4, "Wide Gamut RGB"},
		{"ProPhoto (built here, gamma 1.8)", rgbProfile("ProPhoto test", prophotoPrim, d50xy, iccGamma(1.8)), 4, "ProPhoto test"},
		// 3 x 64 KB of curve tables: the JPEG carries it in several APP2 segments.
		{"big table curves (multi-chunk APP2)", rgbProfile("L* RGB test", prophotoPrim, d50xy, iccTable(32000, lstar)), 4, "L* RGB test"},
	}
	kinds := []string{"jpeg", "png", "webp", "tiff"}
	for _, p := range profiles {
		for _, kind := range kinds {
			t.Run(p.name+"/"+kind, func(t *testing.T) {
				data := c.make(src, p.data, kind)
				if kind == "jpeg" && strings.HasPrefix(p.name, "big") {
					if n := bytes.Count(data, []byte("ICC_PROFILE\x00")); n < 3 {
						t.Fatalf("%d ICC_PROFILE segments, want several", n)
					}
				}
				managed, plain := c.ref(data)
				res, err := Process(context.Background(), data, Options{})
				if err != nil {
					t.Fatal(err)
				}
				if res.ColorProfile != p.applied || len(res.Warnings) != 0 {
					t.Fatalf("ColorProfile %q, warnings %q; want %q applied", res.ColorProfile, res.Warnings, p.applied)
				}
				_, _, ours, _ := lumaOf(t, data)
				_, mean := compare(ours, managed)
				maxd, _ := compare(ours, managed)
				_, raw := compare(plain, managed)
				t.Logf("ICC %-40s %-5s mean |ours-managed| %.2f (max %d); unmanaged gray was %.2f off", p.name, kind, mean, maxd, raw)
				if mean > 1.5 {
					t.Errorf("mean difference %.2f from the colour-managed gray, want <= 1.5", mean)
				}
				if raw < p.minRaw {
					t.Errorf("the unmanaged gray is only %.2f off: the test photo does not exercise the profile", raw)
				}
			})
		}
	}
}

// Gray images with a gray profile: the sRGB gray of their numbers.
func TestICCGray(t *testing.T) {
	c := newCMS(t)
	src := toGray(photoNRGBA(90, 60)).image()
	gamma22 := buildICC("GRAY", 0x02100000, []iccTag{{"desc", iccDesc("Gray gamma 2.2 test")}, {"kTRC", iccGamma(2.2)}})
	for _, p := range []struct {
		name string
		data []byte
		from byte // compare pixels from this level up
	}{
		{"Gray gamma 2.2 (built here)", gamma22, 0},
		{"Gray-CIE_L (icc-profiles-free, L* with a Lab PCS)", sysProfile(t, "/usr/share/color/icc/Gray-CIE_L.icc"), 0},
		// Linear gray: LittleCMS's 8-bit gray pipeline interpolates the
		// steep dark end coarsely (1 -> 6 where sRGB says 13), so the
		// comparison starts at level 16.
		{"Gray linear (icc-profiles-free)", sysProfile(t, "/usr/share/color/icc/Gray.icc"), 16},
	} {
		for _, kind := range []string{"jpeg", "png", "tiff"} {
			t.Run(p.name+"/"+kind, func(t *testing.T) {
				data := c.make(src, p.data, kind)
				managed, plain := c.ref(data)
				_, _, ours, _ := lumaOf(t, data)
				var a, b, pl []byte
				for i := range ours {
					if plain[i] >= p.from { // plain: the stored gray
						a, b, pl = append(a, ours[i]), append(b, managed[i]), append(pl, plain[i])
					}
				}
				ours, managed, plain = a, b, pl
				maxd, mean := compare(ours, managed)
				_, raw := compare(plain, managed)
				t.Logf("ICC %-40s %-5s mean |ours-managed| %.2f (max %d); unmanaged gray was %.2f off", p.name, kind, mean, maxd, raw)
				if mean > 1.5 || maxd > 3 {
					t.Errorf("differs from the colour-managed gray by %.2f mean, %d max", mean, maxd)
				}
				if raw < 1 {
					t.Errorf("the unmanaged gray is only %.2f off", raw)
				}
			})
		}
	}
}

// sRGB profiles are recognised: no transform, the fast paths stay.
func TestICCSRGBRecognised(t *testing.T) {
	for _, path := range []string{"/usr/share/color/icc/sRGB.icc", "/usr/share/color/icc/colord/sRGB.icc"} {
		p, err := parseICC(sysProfile(t, path))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if ct := newColorTransform(p); ct != nil {
			t.Errorf("%s (%q) not recognised as sRGB", path, p.name())
		}
	}
	srgbParametric := buildICC("RGB", 0x04300000, []iccTag{
		{"rXYZ", iccXYZ(srgbToXYZ[0][0], srgbToXYZ[1][0], srgbToXYZ[2][0])},
		{"gXYZ", iccXYZ(srgbToXYZ[0][1], srgbToXYZ[1][1], srgbToXYZ[2][1])},
		{"bXYZ", iccXYZ(srgbToXYZ[0][2], srgbToXYZ[1][2], srgbToXYZ[2][2])},
		{"rTRC", iccTable(1024, srgbDecode)}, {"gTRC", iccTable(1024, srgbDecode)}, {"bTRC", iccTable(1024, srgbDecode)},
	})
	p, err := parseICC(srgbParametric)
	if err != nil || newColorTransform(p) != nil {
		t.Errorf("sRGB built here: %v, transform %v", err, newColorTransform(p))
	}
	// Adobe RGB is not sRGB.
	p, err = parseICC(sysProfile(t, "/usr/share/color/icc/compatibleWithAdobeRGB1998.icc"))
	if err != nil || newColorTransform(p) == nil {
		t.Errorf("Adobe RGB taken for sRGB (%v)", err)
	}
}

// Profiles this package does not apply: today's numbers and a warning.
func TestICCNotApplied(t *testing.T) {
	lut := buildICC("RGB", 0x04300000, []iccTag{{"desc", iccDesc("LUT only")}, {"A2B0", []byte("mAB \x00\x00\x00\x00\x03\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00")}})
	cmyk := buildICC("CMYK", 0x02100000, []iccTag{{"desc", iccDesc("Some press")}})
	broken := rgbProfile("broken", prophotoPrim, d50xy, iccGamma(1.8))[:200]
	src := photoNRGBA(40, 30)
	plainPNG := encodePNGStd(t, src)
	for _, tc := range []struct {
		name, prof, code string
		icc              []byte
	}{
		{"LUT-based RGB", "LUT only", "icc_not_applied", lut},
		{"CMYK profile on RGB", "Some press", "icc_not_applied", cmyk},
		{"truncated profile", "", "icc_ignored", broken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := pngWithICC(t, plainPNG, tc.icc)
			res, err := Process(context.Background(), data, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if res.ColorProfile != "" || len(res.Warnings) != 1 || !strings.HasPrefix(res.Warnings[0], tc.code+":") || !strings.Contains(res.Warnings[0], tc.prof) {
				t.Fatalf("ColorProfile %q, warnings %q; want one %s naming %q", res.ColorProfile, res.Warnings, tc.code, tc.prof)
			}
			_, _, ours, _ := lumaOf(t, data)
			_, _, want, _ := lumaOf(t, plainPNG)
			if !bytes.Equal(ours, want) {
				t.Fatal("gray differs from the untagged file's")
			}
		})
	}
}

// pngWithICC adds an iCCP chunk.
func pngWithICC(t testing.TB, png, icc []byte) []byte {
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(icc)
	zw.Close()
	return pngWithChunk(png, "iCCP", append([]byte("test\x00\x00"), z.Bytes()...))
}

func TestICCParseMalformed(t *testing.T) {
	good := rgbProfile("ok", prophotoPrim, d50xy, iccGamma(2.2))
	for i := 0; i < len(good); i += 7 {
		parseICC(good[:i]) // must not panic
		bad := bytes.Clone(good)
		bad[i] ^= 0xff
		if p, err := parseICC(bad); err == nil {
			newColorTransform(p)
		}
	}
	for _, n := range []int{0, 1, 100, 200} {
		if _, err := jpegICC(append([]byte("\xff\xd8\xff\xe2\x00\x10ICC_PROFILE\x00\x01\x02ab"), make([]byte, n)...)); err == nil {
			t.Errorf("chunk 1 of 2 alone accepted")
		}
	}
}
