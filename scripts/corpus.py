"""Makes the variants and the references of the real-photo corpus.

Run by scripts/corpus.sh: corpus.py DIR GOVERSION XIMAGE_VERSION.
Writes DIR/files/... (the inputs), DIR/refs/N.L (Pillow's 8-bit gray,
oriented; colour-managed when the file carries a profile LittleCMS can
apply), N.P (the gray of the stored numbers, when that differs), N.A
(alpha, when the image has some), N.Y (libjpeg-turbo's Y plane, for JPEG)
and DIR/manifest.json.
"""
import io
import json
import os
import shutil
import subprocess
import sys

from PIL import Image, ImageCms, ImageOps

DIR, GOVERSION, XIMAGE = sys.argv[1], sys.argv[2], sys.argv[3]
FULL = os.environ.get("CORPUS_FULL") == "1"
EXTS = {"jpg", "jpeg", "jpe", "png", "gif", "bmp", "tif", "tiff", "webp", "ico"}
MAX_BYTES = 25 << 20
ICC = "/usr/share/color/icc"
SRGB = ImageCms.createProfile("sRGB")

files = os.path.join(DIR, "files")
refs = os.path.join(DIR, "refs")
shutil.rmtree(files, ignore_errors=True)
shutil.rmtree(refs, ignore_errors=True)
os.makedirs(files)
os.makedirs(refs)

entries = []


def add(path, origin):
    entries.append({"file": os.path.relpath(path, DIR), "origin": origin})


# 1. Files as shipped.
pkg = os.path.join(DIR, "pkg")
for name in sorted(os.listdir(pkg)):
    walls = 0
    for root, _, fs in sorted(os.walk(os.path.join(pkg, name))):
        for f in sorted(fs):
            p = os.path.join(root, f)
            if f.rsplit(".", 1)[-1].lower() not in EXTS or os.path.getsize(p) > MAX_BYTES:
                continue
            if name == "gnome-backgrounds":
                walls += 1
                if walls > 4 and not FULL:
                    continue
            add(p, name)

# 2. Variants made from real photos.
sources = {
    "astronaut": "pkg/python3-skimage/usr/lib/python3/dist-packages/skimage/data/astronaut.png",
    "coffee": "pkg/python3-skimage/usr/lib/python3/dist-packages/skimage/data/coffee.png",
    "chelsea": "pkg/python3-skimage/usr/lib/python3/dist-packages/skimage/data/chelsea.png",
    "rose": "pkg/x-image/yellow_rose.png",
    "street": "pkg/gdk-pixbuf-tests/usr/libexec/installed-tests/gdk-pixbuf/issue70.jpg",
}


def run(*cmd):
    subprocess.run(cmd, check=True, capture_output=True)


def profile(path):
    return open(path, "rb").read()


def to_space(im, prof, mode="RGB"):
    return ImageCms.profileToProfile(im, SRGB, ImageCms.ImageCmsProfile(io.BytesIO(prof)), outputMode=mode)


def variants(key, im):
    """Yields (name, writer) pairs; writer(path) makes the file."""
    rgb = im.convert("RGB")
    gray = rgb.convert("L")
    alpha = rgb.copy()
    alpha.putalpha(Image.linear_gradient("L").resize(rgb.size).rotate(90))
    cmyk = rgb.convert("CMYK")
    tmp_tif = os.path.join(DIR, "tmp.tif")
    rgb.save(tmp_tif, "TIFF")
    tmp_png = os.path.join(DIR, "tmp.png")
    rgb.save(tmp_png)
    tmp_ppm = os.path.join(DIR, "tmp.ppm")  # cjpeg reads PPM, not PNG
    rgb.save(tmp_ppm)
    adobe = profile(ICC + "/compatibleWithAdobeRGB1998.icc")
    prophoto = profile(ICC + "/colord/ProPhotoRGB.icc")
    wide = profile(ICC + "/colord/WideGamutRGB.icc")
    lstar = profile(ICC + "/Gray-CIE_L.icc")
    v = {
        # JPEG
        "q90.jpg": lambda p: rgb.save(p, "JPEG", quality=90),
        "q90-444.jpg": lambda p: rgb.save(p, "JPEG", quality=90, subsampling=0),
        "q75-422.jpg": lambda p: rgb.save(p, "JPEG", quality=75, subsampling=1),
        "progressive.jpg": lambda p: rgb.save(p, "JPEG", quality=85, progressive=True),
        "gray.jpg": lambda p: gray.save(p, "JPEG", quality=90),
        "cmyk.jpg": lambda p: cmyk.save(p, "JPEG", quality=90),
        "arithmetic.jpg": lambda p: run("cjpeg", "-arithmetic", "-quality", "90", "-outfile", p, tmp_ppm),
        "restart.jpg": lambda p: run("cjpeg", "-restart", "1", "-quality", "90", "-outfile", p, tmp_ppm),
        "sample1x4.jpg": lambda p: run("cjpeg", "-sample", "1x4", "-quality", "90", "-outfile", p, tmp_ppm),
        "rgb.jpg": lambda p: run("cjpeg", "-rgb", "-quality", "90", "-outfile", p, tmp_ppm),
        "adobergb.jpg": lambda p: to_space(rgb, adobe).save(p, "JPEG", quality=92, icc_profile=adobe),
        "prophoto.jpg": lambda p: to_space(rgb, prophoto).save(p, "JPEG", quality=92, icc_profile=prophoto),
        "widegamut.jpg": lambda p: to_space(rgb, wide).save(p, "JPEG", quality=92, icc_profile=wide),
        "gray-lstar.jpg": lambda p: to_space(rgb, lstar, "L").save(p, "JPEG", quality=92, icc_profile=lstar),
        # PNG
        "rgb8.png": lambda p: rgb.save(p),
        "rgba8.png": lambda p: alpha.save(p),
        "gray8.png": lambda p: gray.save(p),
        "palette.png": lambda p: rgb.quantize(256).save(p),
        "palette4.png": lambda p: rgb.quantize(16).save(p, bits=4),
        "rgb16.png": lambda p: run("convert-im6.q16", tmp_png, "-depth", "16", "PNG48:" + p),
        "gray16.png": lambda p: run("convert-im6.q16", tmp_png, "-colorspace", "gray", "-depth", "16", "PNG:" + p),
        "interlaced.png": lambda p: run("convert-im6.q16", tmp_png, "-interlace", "PNG", "PNG24:" + p),
        "interlaced16.png": lambda p: run("convert-im6.q16", tmp_png, "-depth", "16", "-interlace", "PNG", "PNG48:" + p),
        "adobergb.png": lambda p: to_space(rgb, adobe).save(p, icc_profile=adobe),
        "prophoto.png": lambda p: to_space(rgb, prophoto).save(p, icc_profile=prophoto),
        # GIF
        "pillow.gif": lambda p: rgb.save(p, "GIF"),
        "im.gif": lambda p: run("convert-im6.q16", tmp_png, "GIF:" + p),
        # TIFF
        "raw.tif": lambda p: rgb.save(p, "TIFF"),
        "lzw.tif": lambda p: rgb.save(p, "TIFF", compression="tiff_lzw"),
        "deflate.tif": lambda p: rgb.save(p, "TIFF", compression="tiff_adobe_deflate"),
        "packbits.tif": lambda p: rgb.save(p, "TIFF", compression="packbits"),
        "jpeg.tif": lambda p: rgb.save(p, "TIFF", compression="jpeg"),
        "lzw-predictor.tif": lambda p: run("tiffcp", "-c", "lzw:2", tmp_tif, p),
        "zip-predictor.tif": lambda p: run("tiffcp", "-c", "zip:2", tmp_tif, p),
        "fillorder2.tif": lambda p: run("tiffcp", "-f", "lsb2msb", "-c", "lzw", tmp_tif, p),
        "fillorder2-raw.tif": lambda p: run("tiffcp", "-f", "lsb2msb", tmp_tif, p),
        "tiled.tif": lambda p: run("tiffcp", "-t", "-w", "64", "-l", "64", "-c", "zip", tmp_tif, p),
        "planar.tif": lambda p: run("tiffcp", "-p", "separate", "-c", "lzw", tmp_tif, p),
        "tiled-planar.tif": lambda p: run("tiffcp", "-t", "-w", "64", "-l", "64", "-p", "separate", "-c", "zip", tmp_tif, p),
        "rgb16.tif": lambda p: run("convert-im6.q16", tmp_png, "-depth", "16", "TIFF:" + p),
        "cmyk.tif": lambda p: cmyk.save(p, "TIFF"),
        "bilevel.tif": lambda p: gray.convert("1").save(p, "TIFF", compression="group4"),
        "gray4.tif": lambda p: run("convert-im6.q16", tmp_png, "-colorspace", "gray", "-depth", "4", "TIFF:" + p),
        "adobergb.tif": lambda p: to_space(rgb, adobe).save(p, "TIFF", icc_profile=adobe),
        # BMP
        "rgb24.bmp": lambda p: rgb.save(p, "BMP"),
        "rle8.bmp": lambda p: run("convert-im6.q16", tmp_png, "-colors", "256", "-compress", "RLE", "BMP3:" + p),
        "rgb565.bmp": lambda p: run("convert-im6.q16", tmp_png, "-define", "bmp:subtype=RGB565", "BMP:" + p),
        "rgba32.bmp": lambda p: run("convert-im6.q16", os.path.join(DIR, "tmpa.png"), "BMP:" + p),
        # WebP
        "lossy.webp": lambda p: rgb.save(p, "WEBP", quality=80),
        "lossless.webp": lambda p: rgb.save(p, "WEBP", lossless=True),
        "lossy-alpha.webp": lambda p: alpha.save(p, "WEBP", quality=80),
        "prophoto.webp": lambda p: to_space(rgb, prophoto).save(p, "WEBP", quality=90, icc_profile=prophoto),
    }
    alpha.save(os.path.join(DIR, "tmpa.png"))
    for name, w in v.items():
        yield name, w


for key, rel in sources.items():
    src = os.path.join(DIR, rel)
    if not os.path.exists(src):
        print("corpus.py: no", rel, file=sys.stderr)
        continue
    im = Image.open(src)
    im.load()
    if im.width * im.height > 3_000_000:
        im = im.resize((im.width // 3, im.height // 3), Image.LANCZOS)
    out = os.path.join(files, key)
    os.makedirs(out, exist_ok=True)
    for name, write in variants(key, im):
        p = os.path.join(out, name)
        try:
            write(p)
            add(p, "variant:" + key)
        except Exception as e:  # a tool that cannot make one variant: say so, go on
            print("corpus.py: %s/%s: %s" % (key, name, e), file=sys.stderr)
for t in ("tmp.tif", "tmp.png", "tmp.ppm", "tmpa.png"):
    os.remove(os.path.join(DIR, t))


# 3. References.
TRANSPOSE = {2: [Image.Transpose.FLIP_LEFT_RIGHT], 3: [Image.Transpose.ROTATE_180], 4: [Image.Transpose.FLIP_TOP_BOTTOM],
             5: [Image.Transpose.TRANSPOSE], 6: [Image.Transpose.ROTATE_270], 7: [Image.Transpose.TRANSVERSE], 8: [Image.Transpose.ROTATE_90]}


def eight_bit_gray(im):
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        return im.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    return im.convert("L")


for i, e in enumerate(entries):
    path = os.path.join(DIR, e["file"])
    e["id"] = i
    try:
        im = Image.open(path)
        e["pillow_format"] = im.format
        im.seek(0)
        im.load()
        orientation = im.getexif().get(0x0112, 1) if im.format not in ("TIFF", "MPO") else 1
        if im.format != "TIFF":
            im = ImageOps.exif_transpose(im)
        e["w"], e["h"], e["mode"] = im.width, im.height, im.mode
        plain = eight_bit_gray(im)
        ref = plain
        prof = im.info.get("icc_profile")
        if prof:
            try:
                src = ImageCms.ImageCmsProfile(io.BytesIO(prof))
                space = src.profile.xcolor_space.strip()
                if space == "RGB" and im.mode in ("RGB", "RGBA", "RGBX", "P", "PA"):
                    ref = ImageCms.profileToProfile(im.convert("RGB"), src, SRGB, outputMode="RGB").convert("L")
                elif space == "GRAY" and im.mode in ("L", "LA"):
                    ref = ImageCms.profileToProfile(im.convert("L"), src, SRGB, outputMode="RGB").convert("L")
                e["icc"] = space
            except Exception as x:
                e["icc_error"] = str(x)[:100]
        open(os.path.join(refs, "%d.L" % i), "wb").write(ref.tobytes())
        if ref is not plain:
            open(os.path.join(refs, "%d.P" % i), "wb").write(plain.tobytes())
        if "A" in im.mode or "transparency" in im.info:
            open(os.path.join(refs, "%d.A" % i), "wb").write(im.convert("RGBA").getchannel("A").tobytes())
        if e["pillow_format"] == "JPEG" and im.mode in ("L", "RGB"):
            y = subprocess.run(["djpeg", "-grayscale", "-pnm", path], capture_output=True)
            if y.returncode == 0:
                g = Image.open(io.BytesIO(y.stdout))
                for t in TRANSPOSE.get(orientation, []):
                    g = g.transpose(t)
                if g.size == im.size:
                    open(os.path.join(refs, "%d.Y" % i), "wb").write(g.tobytes())
    except Exception as x:
        e["pillow_error"] = (type(x).__name__ + ": " + str(x))[:160]

json.dump({"go": GOVERSION, "x_image": XIMAGE, "entries": entries}, open(os.path.join(DIR, "manifest.json"), "w"), indent=1)
print("corpus: %d files (%d variants) in %s" % (len(entries), sum(e["origin"].startswith("variant") for e in entries), DIR))
