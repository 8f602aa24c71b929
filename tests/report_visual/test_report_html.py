"""The .html report: parses with html.parser; every section id is present;
it is self-contained (no scripts, no external src/href/url()); <svg> charts are
there; model strings are escaped (the parsed text equals the original name,
and no markup from a name leaks into the document); layer bars carry the
right colour class; output is deterministic. argv[1]: report_visual_tool."""
import os
import re
import subprocess
import sys
from html import unescape
from html.parser import HTMLParser

from common import check_rerun_identical, path, write_reports
from qc_test import check, finish

TOOL = sys.argv[1]
SECTIONS = ["summary", "sizes", "layers", "histograms", "tensors", "warnings"]
ODD_NAMES = ["<script>alert('x')</script> & \"quoted\"", "layer<&\">", "\u00fcnicode\u2192name",
             "bad\ufffdutf8", "/features/features.0/Conv_output_0"]
RED, AMBER, GREEN = "#d64545", "#e0a030", "#3b9b58"


class Page(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.ids, self.attrs, self.stack = [], [], [], []
        self.text = {}  # tag -> list of text pieces
        self.styles = []
        self.errors = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.append((tag, attrs))
        for k, v in attrs:
            if k == "id":
                self.ids.append(v)
        if tag not in ("meta", "input", "line", "rect", "path", "br") and not tag.endswith("/"):
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.append((tag, attrs))

    def handle_endtag(self, tag):
        if tag in ("line", "rect", "path"):
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1] if self.stack else 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data):
        where = self.stack[-1] if self.stack else ""
        self.text.setdefault(where, []).append(data)
        if where == "style":
            self.styles.append(data)


def parse(file):
    raw = open(file, "rb").read()
    html = raw.decode("utf-8")  # must be valid UTF-8
    page = Page()
    page.feed(html)
    page.close()
    return html, page


def check_page(file, expect_compare, min_svgs=3):
    name = os.path.basename(file)
    html, page = parse(file)
    check(html.startswith("<!DOCTYPE html>"), f"{name}: doctype first")
    check(not page.errors, f"{name}: tags nest properly: {page.errors[:3]}")
    check(not page.stack, f"{name}: every element closed (open: {page.stack})")
    for s in SECTIONS + (["compare"] if expect_compare else []):
        check(s in page.ids, f"{name}: section id '{s}' present")
    check(("compare" in page.ids) == expect_compare, f"{name}: compare section only with entries")
    check(len(page.ids) == len(set(page.ids)), f"{name}: ids unique")
    # Self-contained: no scripts, no external or file resources.
    check("script" not in page.tags, f"{name}: no <script> element")
    for tag, attrs in page.attrs:
        for k, v in attrs:
            if k in ("src", "href", "xlink:href", "srcset", "action", "data"):
                check(v is not None and v.startswith("#"),
                      f"{name}: <{tag} {k}={v!r}> must be an in-page anchor")
            check(not k.startswith("on"), f"{name}: no event handler attribute {k} on <{tag}>")
    css = "".join(page.styles) + "".join(v or "" for _, a in page.attrs for k, v in a if k == "style")
    check("url(" not in css and "@import" not in css, f"{name}: CSS loads nothing")
    check(not re.search(r"\b(src|href)\s*=\s*[\"']?(https?:|file:|//)", html, re.I),
          f"{name}: no http/file references in the markup")
    check(page.tags.count("svg") >= min_svgs, f"{name}: inline <svg> charts ({page.tags.count('svg')})")
    check("svg" in page.tags and "table" in page.tags, f"{name}: svg and tables present")
    # Escaping: names come back intact as text, never as markup.
    cells = "\n".join(page.text.get("td", []))
    for odd in ODD_NAMES:
        check(odd in cells, f"{name}: tensor name {odd!r} in the table as text")
    check("alert('x')</script>" not in html, f"{name}: raw </script> from a name not in the file")
    check("layer<&\">" not in html, f"{name}: raw layer<&\"> not in the file")
    check("layer&lt;&amp;&quot;&gt;" in html, f"{name}: layer<&\"> escaped as entities")
    check("Odd&lt;Op&gt;&amp;" in html, f"{name}: op type escaped")
    titles = "".join(page.text.get("title", []))
    check("mobilenet<v2>&.onnx" in titles, f"{name}: <title> names the model (unescaped by the parser)")
    warnings = "\n".join(page.text.get("li", []))
    check('op type <Odd&Op> has "odd" chars' in warnings, f"{name}: warning text intact")
    return html, page


def section_rows(html, sid):
    """The rows of section `sid`'s table as lists of cell texts (entities decoded)."""
    m = re.search(r'<section id="%s">(.*?)</section>' % sid, html, re.S)
    if not m:
        return None
    rows = []
    for tr in re.findall(r"<tr>(.*?)</tr>", m.group(1), re.S):
        cells = re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", tr, re.S)
        rows.append([unescape(c) for c in cells])
    return rows


def check_regions_and_clips(html):
    """report_visual_tool's region (decided by Equal 'peak<&>') and clips, as the .txt lists them."""
    regions = section_rows(html, "regions")
    check(regions is not None and "Float by design (1 region)" in html, "quant.html: float regions section")
    if regions:
        check(regions[1:] == [["Equal 'peak<&>'",
                               "Sigmoid 'sigmoid', MaxPool 'maxpool', Equal 'peak<&>', Cast 'cast', Mul 'mul'",
                               "Conv 'head'", "3", "12.0 KiB"]], f"quant.html: the region's row {regions[1:]}")
    clips = section_rows(html, "clips")
    check(clips is not None and "Saturation clips (2)" in html, "quant.html: saturation clips section")
    if clips:
        check(clips[1:] == [["/head/Conv_output_0", "Sigmoid", "-17.25", "9.5", "-8.75", "8.75"],
                            ["gate<&>", "HardSigmoid", "-6.5", "7", "-3", "3"]], f"quant.html: clip rows {clips[1:]}")
    check("peak&lt;&amp;&gt;" in html and "gate&lt;&amp;&gt;" in html, "quant.html: region and clip names escaped")
    check('href="#regions"' in html and 'href="#clips"' in html, "quant.html: nav links to both sections")


def main():
    out = write_reports(TOOL)
    html, page = check_page(path(out, "quant", ".html"), False)
    # 30 layers, worst first from 12 dB in 1.15 dB steps: 7 red, 9 amber, 14 green.
    fills = [dict(a).get("fill") for t, a in page.attrs if t == "rect"]
    counts = (fills.count(RED), fills.count(AMBER), fills.count(GREEN))
    check(counts == (7, 9, 14), f"quant.html: layer colours red/amber/green {counts} == (7, 9, 14)")
    check("Showing the worst" not in html, "quant.html: 30 layers are all shown (cap is 40)")
    labels = "\n".join(page.text.get("text", []))
    check(re.search(r"\u2026[^\n]*features\.29/conv/conv\.2/Conv_output_0\n", labels + "\n") is not None,
          "quant.html: long layer names keep their tail")
    check(page.tags.count("path") == 6, "quant.html: 3 histograms x (log + linear) outlines")
    legend = "\n".join(page.text.get("span", []))
    for obs in ["minmax", "ema", "percentile", "entropy", "mse"]:
        check(obs in legend, f"quant.html: histogram legend names {obs}")
    check(html.count('<input type="checkbox" id="hist-log" checked>') == 1,
          "quant.html: log-scale switch (CSS only)")
    check("top-1 accuracy" in html and "91.60%" in html and "90.80%" in html,
          "quant.html: eval top-1 FP32 91.60% and INT8 90.80%")
    check_regions_and_clips(html)

    html, page = check_page(path(out, "compare", ".html"), True)
    best_rows = [a for t, a in page.attrs if t == "tr" and ("class", "best") in a]
    check(len(best_rows) == 1, f"compare.html: exactly one best row ({len(best_rows)})")
    check(re.search(r'<tr class="best"><td>\u2605 percentile \(best\)', html) is not None,
          "compare.html: percentile row is marked best")
    bars = [dict(a) for t, a in page.attrs if t == "rect" and dict(a).get("fill") in ("#2e9e57", "#6d8fbf")]
    check(len(bars) == 5, f"compare.html: one bar per observer ({len(bars)})")
    check(sum(b["fill"] == "#2e9e57" for b in bars) == 1, "compare.html: one highlighted bar")
    heights = [float(b["height"]) for b in bars]
    check(heights.index(max(heights)) == 2, "compare.html: tallest bar is percentile (90.8%)")
    check('stroke-dasharray="6 4"' in html, "compare.html: dashed FP32 reference line")
    check("4.20 pts" in html, "compare.html: minmax drops 4.20 pts vs FP32")

    html, page = check_page(path(out, "unlabeled", ".html"), False, 1)
    check("top-1 accuracy" not in html, "unlabeled.html: no top-1 rows without labels")
    check("27.40 dB" in html and "96.20%" in html, "unlabeled.html: SQNR and agreement shown")
    check("No per-layer error" in html and "No histograms recorded" in html,
          "unlabeled.html: notes for absent parts")
    check("regions" not in page.ids and "clips" not in page.ids and "#regions" not in html,
          "unlabeled.html: no float-region or clip section (and no link) without any")

    # Deterministic: a second run writes the same bytes.
    check_rerun_identical(TOOL, out, ".html")
    finish("test_report_html")


main()
