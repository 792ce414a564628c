#!/usr/bin/env python3
"""`uma plan --html` opens in headless Chromium without errors.

Writes the model and hardware reports, checks they are self-contained (no external resources),
loads each in headless Chromium, reads the page's own check (the inline script sets
data-check="ok" on <html> when both SVG charts rendered with finite coordinates; a JS error sets
"error: ..."), and takes a screenshot that must be non-trivial (decoded PNG with many colours and
a fair share of non-white pixels). Skips, with a message, only when no Chromium is installed.
"""
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

UMA = os.environ.get("UMA_BINARY", "build/release/uma")


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def png_pixels(path):
    """Decodes an 8-bit RGB/RGBA non-interlaced PNG: returns (width, height, list of rows)."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and color in (2, 6) and interlace == 0, (depth, color, interlace)
            bpp = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev, i = [], bytearray(stride), 0
    for _ in range(height):
        ftype, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if ftype == 1:
                line[x] = (line[x] + a) & 255
            elif ftype == 2:
                line[x] = (line[x] + b) & 255
            elif ftype == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[x] = (line[x] + pred) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, bpp, rows


def run_chromium(chromium, args, profile):
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--no-first-run", "--disable-dev-shm-usage", "--user-data-dir=" + profile,
           "--enable-logging=stderr", "--v=0"]
    return subprocess.run(cmd + args, capture_output=True, text=True, timeout=120)


def check_page(chromium, html, work):
    page = open(html, encoding="utf-8").read()
    # Self-contained: no external scripts, styles, images or fonts.
    assert not re.search(r"<(script|img|link|iframe)[^>]+(src|href)=", page), "external resource"
    assert "@import" not in page and "url(" not in page
    assert page.count("<svg") >= 2, "expected two inline SVG charts"
    url = "file://" + os.path.abspath(html)

    dom = run_chromium(chromium, ["--dump-dom", url], tempfile.mkdtemp(dir=work))
    assert dom.returncode == 0, dom.stderr[-2000:]
    m = re.search(r'<html[^>]*data-check="([^"]*)"', dom.stdout)
    assert m, "the page's check script did not run:\n" + dom.stdout[:500]
    assert m.group(1) == "ok", "page check failed: " + m.group(1)
    console_errors = [l for l in dom.stderr.splitlines()
                      if "CONSOLE" in l and ("Uncaught" in l or "Error" in l)]
    assert not console_errors, console_errors

    shot = os.path.join(work, os.path.basename(html) + ".png")
    res = run_chromium(chromium, ["--screenshot=" + shot, "--window-size=1200,1600", url],
                       tempfile.mkdtemp(dir=work))
    assert res.returncode == 0 and os.path.exists(shot), res.stderr[-2000:]
    w, h, bpp, rows = png_pixels(shot)
    assert (w, h) == (1200, 1600), (w, h)
    colours, non_white, total = set(), 0, 0
    for row in rows[::4]:
        for x in range(0, w * bpp, bpp * 4):
            px = row[x:x + 3]
            colours.add(px)
            total += 1
            if px != b"\xff\xff\xff":
                non_white += 1
    assert len(colours) >= 8, "screenshot looks blank: %d colours" % len(colours)
    assert non_white / total > 0.02, "screenshot looks blank: %.3f non-white" % (non_white / total)
    print("%s: ok (%d colours, %.1f%% non-white)" % (os.path.basename(html), len(colours),
                                                    100 * non_white / total))


def main():
    chromium = find_chromium()
    if chromium is None:
        print("SKIP test_plan_html: chromium is not installed (apt-get install chromium)")
        return 0
    work = tempfile.mkdtemp(prefix="uma-plan-html-")
    try:
        pages = {
            "model.html": ["plan", "llama-3.3-70b", "--html"],
            "hardware.html": ["plan", "--hardware", "dgx-spark", "--html"],
            "custom.html": ["plan", "deepseek-v3.1", "--hardware", "custom:mem=192,bw=800",
                            "--quant", "q2_k", "--html"],
        }
        for name, args in pages.items():
            out = os.path.join(work, name)
            r = subprocess.run([UMA] + args + [out], capture_output=True, text=True, timeout=60)
            assert r.returncode == 0, r.stderr
            check_page(chromium, out, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("test_plan_html: all pages ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
