#!/usr/bin/env python3
"""gen-man3.py - generate the section 3 manual pages of rshare.

The one source is the public headers (include/rshare/*.h, and the
version.h that configure generates in the build tree).  For every
RSHARE_API function declaration the script writes NAME.3; for every
header an overview page (volume.h -> rshare_volume.3); and rshare.3, the
index.  Pages use the man(7) macros and are byte-for-byte reproducible
from the same headers; the date in .TH is SOURCE_DATE_EPOCH's when that
is set, else empty.

A function's description is the comment directly above it: walking up
from the declaration over other declarations (but not over a blank line),
the first comment found.  Declarations that follow one comment without a
blank line share it and are documented together.  A comment of the form
"/* --- Title ---- ... */" opens a section of the header; its text is added
to the description of every function in the section.

Usage: gen-man3.py -o OUTDIR [--version VERSION] HEADER_OR_DIR...
(a directory stands for its *.h files; when two headers have the same name
the later one is used, so give the build tree after the source tree).
Standard library only.
"""

import argparse
import glob
import os
import re
import sys
import time

MANUAL = "rshare Library Functions"
WIDTH = 72  # synopsis lines longer than this are split at commas


# --- reading a header -------------------------------------------------------

class Comment:
    """A standalone comment at file scope."""

    def __init__(self, line, text):
        self.line = line
        self.text = text          # list of lines, markers stripped
        self.section = None       # title when it opens a section
        self.body = text          # the text without the section title
        m = re.match(r"^-{3,}\s*(.*?)\s*-*$", text[0]) if text else None
        if m and m.group(1):
            self.section = m.group(1)
            self.body = text[1:]


class Statement:
    """A declaration or definition at file scope, up to its ';'."""

    def __init__(self, line, code):
        self.line = line
        self.code = code


class Blank:
    def __init__(self, line):
        self.line = line


class Function:
    def __init__(self, header, name, ret, proto, comment, section):
        self.header = header
        self.name = name
        self.ret = ret            # return type, normalised
        self.proto = proto        # prototype without RSHARE_API, one line
        self.comment = comment    # Comment or None
        self.section = section    # the section's Comment or None
        self.group = [self]       # functions sharing the comment


class Header:
    def __init__(self, path):
        self.path = path
        self.name = os.path.basename(path)
        self.stem = self.name[:-2]
        self.top = []             # lines of the first comment of the file
        self.functions = []
        self.types = []           # (kind and name, Comment or None)
        self.sections = []        # (Comment, [Function]) in order
        self.version = None
        self.errors = []          # RSHARE_E* names (error.h)


def strip_comment(raw):
    """Lines of a /* ... */ comment without the comment markers."""
    body = raw[2:-2]
    lines = body.split("\n")
    out = []
    for i, ln in enumerate(lines):
        if i > 0:
            ln = re.sub(r"^\s*\*(?!/)", "", ln, count=1)
            if ln.startswith(" "):
                ln = ln[1:]
        out.append(ln.rstrip())
    while out and not out[0].strip():
        out.pop(0)
    while out and not out[-1].strip():
        out.pop()
    if out:
        out[0] = out[0].strip()
    return out


def scan(text):
    """Split a header into Blank, Comment and Statement items (file scope).

    Preprocessor lines are dropped, and so is everything between
    '#ifdef __cplusplus' and its '#endif' (the extern "C" braces).
    Comments inside a statement, or after code on a line, are dropped.
    """
    items = []
    i = 0
    n = len(text)
    line = 1
    at_line_start = True      # only blanks since the last newline
    stmt = None               # [start line, code pieces]
    depth = 0
    skip = 0                  # nesting of #if blocks being skipped
    cond = []                 # for each open #if: skipped or not
    line_has_code = False
    while i < n:
        c = text[i]
        if c in " \t\r\f\v\n" and stmt is not None:
            stmt[1].append(" ")
        if c == "\n":
            if at_line_start and stmt is None and not line_has_code:
                items.append(Blank(line))
            line += 1
            i += 1
            at_line_start = True
            line_has_code = False
            continue
        if c in " \t\r\f\v":
            i += 1
            continue
        if at_line_start and c == "#":
            # To the end of the line, past backslash-newlines and past
            # comments, which may go on over several lines.
            k = i
            while k < n and text[k] != "\n":
                if text.startswith("/*", k):
                    end = text.find("*/", k + 2)
                    if end < 0:
                        raise ValueError("unterminated comment at line %d"
                                         % line)
                    k = end + 2
                elif text.startswith("\\\n", k):
                    k += 2
                else:
                    k += 1
            directive = text[i:k]
            word = re.match(r"#\s*(\w*)", directive).group(1)
            if word in ("if", "ifdef", "ifndef"):
                skipped = "__cplusplus" in directive
                cond.append(skipped)
                skip += skipped
            elif word == "endif" and cond:
                skip -= cond.pop()
            line += directive.count("\n")
            i = k
            line_has_code = True
            at_line_start = False
            continue
        if text.startswith("/*", i):
            k = text.find("*/", i + 2)
            if k < 0:
                raise ValueError("unterminated comment at line %d" % line)
            raw = text[i:k + 2]
            rest = text[k + 2:text.find("\n", k) if "\n" in text[k:] else n]
            standalone = (at_line_start and not line_has_code
                          and not rest.strip())
            if (standalone and stmt is None and depth == 0 and not skip):
                items.append(Comment(line, strip_comment(raw)))
            line += raw.count("\n")
            i = k + 2
            at_line_start = False
            line_has_code = True
            continue
        if text.startswith("//", i):
            k = text.find("\n", i)
            i = n if k < 0 else k
            continue
        # code
        at_line_start = False
        line_has_code = True
        if skip:
            i += 1
            continue
        if stmt is None:
            stmt = [line, []]
        if c == '"' or c == "'":
            k = i + 1
            while k < n and text[k] != c:
                k += 2 if text[k] == "\\" else 1
            stmt[1].append(text[i:k + 1])
            line += text[i:k + 1].count("\n")
            i = k + 1
            continue
        stmt[1].append(c)
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        elif c == ";" and depth == 0:
            code = " ".join("".join(stmt[1]).split())
            items.append(Statement(stmt[0], code))
            stmt = None
        i += 1
    return items


def normalise(code):
    """One-line C text with canonical spacing around punctuation."""
    code = " ".join(code.split())
    code = re.sub(r"\(\s+", "(", code)
    code = re.sub(r"\s+\)", ")", code)
    code = re.sub(r"\s+,", ",", code)
    code = re.sub(r"\s+;", ";", code)
    return code


def parse_header(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    hdr = Header(path)
    items = scan(text)
    comments = [it for it in items if isinstance(it, Comment)]
    if comments and comments[0].line <= 2:
        hdr.top = comments[0].text
    m = re.search(r'#define\s+RSHARE_VERSION_STRING\s+"([^"]*)"', text)
    if m:
        hdr.version = m.group(1)
    hdr.errors = [("RSHARE_E" + e, int(v), t) for e, v, t in
                  re.findall(r'^\s*X\((\w+),\s*(-\d+),\s*"([^"]*)"\)',
                             text, re.M)]

    section = None
    current = None            # (comment, [functions]) of the running group
    for it in items:
        if isinstance(it, Comment) and it.section is not None:
            section = it
            hdr.sections.append((it, []))
        if isinstance(it, Blank):
            current = None
            continue
        if isinstance(it, Comment):
            if hdr.top and it is comments[0]:
                continue      # the file's comment describes no declaration
            current = (it, [])
            continue
        if not isinstance(it, Statement):
            continue
        code = it.code
        if not code.startswith("RSHARE_API "):
            kind = re.match(r"(?:typedef\s+)?(struct|enum|union)\s+(\w+)\s*\{",
                            code)
            if kind and not code.startswith("typedef"):
                hdr.types.append(("%s %s" % kind.groups(),
                                  current[0] if current else None))
            elif code.startswith("typedef"):
                fn = re.search(r"\(\s*\*\s*(\w+)\s*\)", code)
                name = fn.group(1) if fn else re.search(
                    r"(\w+)\s*(?:\[[^]]*\]\s*)?;$", code).group(1)
                hdr.types.append(("typedef %s" % name,
                                  current[0] if current else None))
            continue
        proto = normalise(code[len("RSHARE_API "):])
        m = re.match(r"(.*?)\b(\w+)\s*\(", proto)
        if not m:
            raise ValueError("%s:%d: cannot parse %r" % (path, it.line, code))
        ret = " ".join(m.group(1).split())
        func = Function(hdr, m.group(2), ret, proto,
                        current[0] if current else None, section)
        if current:
            current[1].append(func)
            func.group = current[1]
        hdr.functions.append(func)
        if hdr.sections:
            hdr.sections[-1][1].append(func)
    return hdr


# --- roff -------------------------------------------------------------------

SPECIAL = {
    "\u2014": "\\(em", "\u2013": "\\(en", "\u2192": "\\(->",
    "\u2190": "\\(<-", "\u00d7": "\\(mu", "\u2248": "\\(~~",
    "\u2264": "\\(<=", "\u2265": "\\(>=", "\u2018": "\\(oq",
    "\u2019": "\\(cq", "\u201c": "\\(lq", "\u201d": "\\(rq",
}


def esc(s):
    """Escape plain text for roff (not the start of a line: see line())."""
    out = []
    for ch in s:
        if ch == "\\":
            out.append("\\e")
        elif ch == "-":
            out.append("\\-")
        elif ord(ch) > 126:
            out.append(SPECIAL.get(ch, "\\[u%04X]" % ord(ch)))
        else:
            out.append(ch)
    return "".join(out)


def line(s):
    """A text line: protect a leading control character or blank."""
    s = s.strip()
    if s[:1] in (".", "'"):
        s = "\\&" + s
    return s


class Markup:
    """Inline markup of comment text: `x` italic, known functions bold."""

    def __init__(self, functions):
        self.functions = functions

    def __call__(self, s):
        out = []
        pos = 0
        pat = re.compile(r"`([^`]+)`|\b(rshare_\w+)\(\)")
        for m in pat.finditer(s):
            out.append(esc(s[pos:m.start()]))
            if m.group(1) is not None:
                out.append("\\fI%s\\fP" % esc(m.group(1)))
            elif m.group(2) in self.functions:
                out.append("\\fB%s\\fP()" % esc(m.group(2)))
            else:
                out.append(esc(m.group(0)))
            pos = m.end()
        out.append(esc(s[pos:]))
        return "".join(out)


def paragraphs(lines, markup):
    """Comment lines as roff: blank lines separate paragraphs, numbered or
    dashed items become .IP entries."""
    out = []
    in_list = False
    for ln in lines:
        if not ln.strip():
            if out and out[-1] != ".PP":
                out.append(".PP")
            in_list = False
            continue
        item = re.match(r"^\s*(\d+\.|[-*])\s+(.*)$", ln)
        if item:
            tag = item.group(1)
            if out and out[-1] == ".PP":
                out.pop()     # .IP starts a paragraph of its own
            out.append('.IP "%s" 4' % esc(tag))
            out.append(line(markup(item.group(2))))
            in_list = True
            continue
        if in_list and not ln.startswith(" "):
            out.append(".PP")
            in_list = False
        out.append(line(markup(ln)))
    while out and out[-1] == ".PP":
        out.pop()
    return out


def sentences(lines):
    """Split comment text into sentences (not inside parentheses)."""
    text = " ".join(x.strip() for x in lines if x.strip())
    out = []
    depth = 0
    start = 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        elif (ch in ".;" and depth == 0 and i + 1 < len(text)
              and text[i + 1] == " "
              and not text[:i].endswith(("e.g", "i.e"))):
            out.append(text[start:i + 1].strip())
            start = i + 1
    if text[start:].strip():
        out.append(text[start:].strip())
    return out


def summary(lines, fallback):
    """A short description for the NAME section (plain text)."""
    sents = sentences(lines)
    if not sents:
        return fallback
    s = sents[0].rstrip(".;")
    s = re.sub(r"`([^`]*)`", r"\1", s)
    if len(s) > 60:
        s = re.sub(r"\s*\([^()]+\)", "", s)
    if len(s) > 60:
        s = re.split(r"[:;]\s", s)[0]
    if len(s) > 60 and s.find(", ") >= 15:
        s = s[:s.find(", ")]
    if len(s) > 1 and s[0].isupper() and (s[1].islower() or
                                          s[:2] == "A "):
        s = s[0].lower() + s[1:]
    return s


def synopsis(proto, name):
    """The prototype as no-fill lines, split at top-level commas."""
    text = proto
    if len(text) > WIDTH:
        open_paren = text.index("(", text.index(name))
        parts = []
        depth = 0
        start = 0
        for i, ch in enumerate(text):
            if ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
            elif ch == "," and depth == 1:
                parts.append(text[start:i + 1])
                start = i + 2
        parts.append(text[start:])
        indent = open_paren + 1 if open_paren + 1 <= 40 else 8
        lines = [parts[0]]
        for p in parts[1:]:
            if len(lines[-1]) + 1 + len(p) <= WIDTH:
                lines[-1] += " " + p
            else:
                lines.append(" " * indent + p)
    else:
        lines = [text]
    out = []
    for ln in lines:
        e = esc(ln)
        e = e.replace(esc(name) + "(", "\\fB%s\\fP(" % esc(name), 1)
        out.append("\\&" + e if ln.startswith((".", "'", " ")) else e)
    return out


def page_date():
    """YYYY-MM-DD from SOURCE_DATE_EPOCH (reproducible builds), else ""."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    if not epoch.isdigit():
        return ""
    return time.strftime("%Y-%m-%d", time.gmtime(int(epoch)))


def th(title, version):
    src = "rshare %s" % version if version else "rshare"
    return ('.TH %s 3 "%s" "%s" "%s"\n.ad l\n.nh'
            % (esc(title.upper()), page_date(), esc(src), MANUAL))


def see_also(names):
    out = [".SH SEE ALSO"]
    for i, (name, sec) in enumerate(names):
        out.append(".BR %s (%s)%s" % (esc(name), sec,
                                      "," if i + 1 < len(names) else ""))
    return out


def header_page_name(hdr):
    return "rshare" if hdr.stem == "rshare" else "rshare_" + hdr.stem


def top_body(hdr):
    """The header's first comment without its leading 'rshare - '."""
    lines = list(hdr.top)
    if lines:
        lines[0] = re.sub(r"^rshare\s*(\u2014|--|-)\s*", "", lines[0])
        if lines[0][:1].islower() and lines[0][1:2].islower():
            lines[0] = lines[0][0].upper() + lines[0][1:]
    return lines


# --- pages ------------------------------------------------------------------

def says_return(sentence, ret, codes):
    """Whether a sentence of a function's comment describes its result."""
    if re.match(r"(Returns?|0|Non-zero|Whether)\b", sentence):
        return True
    if re.search(r"\breturns (0|-1|a|an|the|non-zero|NULL)\b", sentence):
        return True
    if re.search(r"\bor -1\b|(?<![\w-])-1 (when|if)\b", sentence):
        return True
    if ret.endswith("*") and re.search(r"\bNULL\b", sentence):
        return True
    return any(re.search(r"\b%s\b" % c, sentence) for c in codes)


def function_page(func, markup, codes, version):
    hdr = func.header
    names = [f.name for f in func.group]
    out = [th(func.name, version), ".SH NAME"]
    desc = func.comment.body if func.comment else []
    fallback = "a function of <rshare/%s>" % hdr.name
    out.append("%s \\- %s" % (", ".join(esc(n) for n in names),
                              esc(summary(desc, fallback))))
    out += [".SH SYNOPSIS", ".nf",
            ".B #include <rshare/%s>" % esc(hdr.name), ".fi", ".PP", ".nf"]
    for f in func.group:
        out += synopsis(f.proto, f.name)
    out.append(".fi")

    out.append(".SH DESCRIPTION")
    text = list(desc)
    if not text:
        # No comment of its own: say so, then give what the header says
        # about it elsewhere and about the types it takes.
        text = ["The header gives no description of this function."]
        mentions = sorted({f.name for f in hdr.functions
                           if f.comment and f is not func
                           and re.search(r"\b%s\b" % func.name,
                                         " ".join(f.comment.text))})
        if mentions:
            text.append("It is mentioned in the description of %s." %
                        ", ".join("%s()" % m for m in mentions))
        types = dict(hdr.types)
        used = re.findall(r"\b(?:struct\s+)?\w+\b", func.proto)
        for name in sorted(types):
            short = name.split()[-1]
            ref = name if name.startswith("struct ") else short
            if types[name] is not None and ref in used and types[name].body:
                text += ["", "About `%s` the header says:" % ref, ""]
                text += types[name].body
    sec = func.section
    if sec is not None and sec is not func.comment and sec.body:
        text += [""] + ["In the header's section \"%s\":" % sec.section,
                        ""] + sec.body
    out += paragraphs(text, markup)

    if func.ret != "void":
        extra = sec.body if sec and sec is not func.comment else []
        rv = [s for s in sentences(desc) + sentences(extra)
              if says_return(s, func.ret, codes)]
        rv = [r[:-1] + "." if r.endswith((";", ":", ",")) else r
              for r in rv]
        if rv:
            out.append(".SH RETURN VALUE")
            out += paragraphs(rv, markup)

    others = [(header_page_name(hdr), 3)]
    others += [(f.name, 3) for f in hdr.functions if f is not func]
    out += see_also(others)
    return "\n".join(out) + "\n"


def header_page(hdr, markup, version):
    page = header_page_name(hdr)
    out = [th(page, version), ".SH NAME"]
    out.append("%s \\- %s" % (esc(page),
                              esc(summary(top_body(hdr),
                                          "the header <rshare/%s>" %
                                          hdr.name))))
    out += [".SH SYNOPSIS", ".nf", ".B #include <rshare/%s>" % esc(hdr.name),
            ".fi", ".SH DESCRIPTION"]
    out += paragraphs(top_body(hdr) or ["(No description in the header.)"],
                      markup)
    if hdr.functions:
        out.append(".SH FUNCTIONS")
        in_section = set()
        for sec, funcs in hdr.sections:
            in_section.update(f.name for f in funcs)
        loose = [f for f in hdr.functions if f.name not in in_section]
        blocks = ([(None, loose)] if loose else []) + hdr.sections
        for sec, funcs in blocks:
            if sec is not None:
                out.append(".SS %s" % line(esc(sec.section[:1].upper() +
                                                sec.section[1:])))
                if sec.body:
                    out += paragraphs(sec.body, markup)
            for f in funcs:
                desc = f.comment.body if f.comment else []
                out.append(".TP")
                out.append(".BR %s (3)" % esc(f.name))
                out.append(line(esc(summary(desc, "(not described in the "
                                                  "header)"))))
    if hdr.errors:
        out.append(".SH ERROR CODES")
        for name, value, text in hdr.errors:
            out += [".TP", ".BR %s \" (%s)\"" % (esc(name), esc(str(value))),
                    line(esc(text))]
    if hdr.types:
        out.append(".SH DATA TYPES")
        for name, comment in hdr.types:
            out.append(".TP")
            out.append(".B %s" % esc(name))
            out += paragraphs(comment.body if comment else
                              ["(not described in the header)"], markup)
    others = [("rshare", 3)] if page != "rshare" else []
    out += see_also(others + [(f.name, 3) for f in hdr.functions])
    return "\n".join(out) + "\n"


def index_page(headers, markup, version):
    top = next((h for h in headers if h.stem == "rshare"), None)
    body = top_body(top) if top else []
    out = [th("rshare", version), ".SH NAME",
           "rshare \\- %s" % esc(summary(body, "the rshare library"))]
    out += [".SH SYNOPSIS", ".nf", ".B #include <rshare/rshare.h>", ".fi",
            ".PP", "Link with", ".BR \"pkg\\-config \\-\\-libs rshare\" ."]
    out.append(".SH DESCRIPTION")
    out += paragraphs(body, markup)
    out += [".PP", "Each public header has an overview page listing its "
            "functions; each function has its own page."]
    out.append(".SH HEADERS")
    for h in headers:
        if h.stem == "rshare":
            continue
        out += [".TP", ".BR %s (3)" % esc(header_page_name(h)),
                line("<rshare/%s>: %s." % (esc(h.name), esc(summary(
                    top_body(h), "no description"))))]
    out.append(".SH FUNCTIONS")
    for h in headers:
        if not h.functions:
            continue
        out.append(".SS <rshare/%s>" % esc(h.name))
        out.append(".nf")
        out += [esc(f.name) + "(3)" for f in h.functions]
        out.append(".fi")
    out += see_also([(header_page_name(h), 3) for h in headers
                     if h.stem != "rshare"] +
                    [("rsharectl", 1), ("rshared", 8)])
    return "\n".join(out) + "\n"


# --- main -------------------------------------------------------------------

def collect(args):
    """Header paths by name; later arguments win."""
    found = {}
    for a in args:
        paths = sorted(glob.glob(os.path.join(a, "*.h"))) \
            if os.path.isdir(a) else [a]
        for p in paths:
            found[os.path.basename(p)] = p
    return [found[k] for k in sorted(found)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-o", "--outdir", required=True)
    ap.add_argument("--version", help="version for the page footers "
                    "(default: RSHARE_VERSION_STRING from version.h)")
    ap.add_argument("--list", action="store_true",
                    help="print the page names instead of writing them")
    ap.add_argument("headers", nargs="+")
    opts = ap.parse_args()

    headers = [parse_header(p) for p in collect(opts.headers)]
    version = opts.version or next((h.version for h in headers
                                    if h.version), None)
    codes = [c[0] for h in headers for c in h.errors]
    functions = {}
    for h in headers:
        for f in h.functions:
            if f.name in functions:
                sys.exit("gen-man3: %s declared twice" % f.name)
            functions[f.name] = f
    markup = Markup(functions)

    pages = {}
    for h in headers:
        for f in h.functions:
            pages[f.name + ".3"] = function_page(f, markup, codes, version)
    for h in headers:
        name = header_page_name(h) + ".3"
        if name in pages:
            sys.exit("gen-man3: overview page %s collides with a function"
                     % name)
        if h.stem != "rshare":
            pages[name] = header_page(h, markup, version)
    pages["rshare.3"] = index_page(headers, markup, version)

    if opts.list:
        for name in sorted(pages):
            print(name)
        return 0
    os.makedirs(opts.outdir, exist_ok=True)
    for old in sorted(os.listdir(opts.outdir)):
        if old.endswith(".3") and old not in pages:
            os.remove(os.path.join(opts.outdir, old))
    for name in sorted(pages):
        path = os.path.join(opts.outdir, name)
        try:
            with open(path, encoding="utf-8") as f:
                if f.read() == pages[name]:
                    continue
        except FileNotFoundError:
            pass
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(pages[name])
        os.replace(tmp, path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
