"""A quiz's variants as files a learning platform imports (issue 16, item 3).

Two formats, each written as the platform's own exporter writes it, so that
its importer reads it as it reads its own files:

* ``moodle_xml``: Moodle XML for the question bank (Question bank > Import >
  Moodle XML format, with "Get category from file" ticked).  A category per
  variant, ``$course$/top/{title}/{variant id}``, holding one numerical
  question per asked quantity.  The elements and their order are those of
  Moodle's exporter, question/format/xml/format.php (``writequestion``,
  ``write_answer``, ``xml_escape``, ``assemble_category_path``), and its
  importer's reading of them (``import_numerical``: ``showunits`` 3 is "no
  units").
* ``qti_zip``: an IMS QTI 1.2 content package for Canvas (Import course
  content > QTI .zip file): ``imsmanifest.xml`` and one assessment per
  variant, each a quiz of ``numerical_question`` items, written as Canvas's
  exporter writes them (lib/cc/qti/qti_items.rb, ``numerical_resprocessing``:
  an exact answer with a margin is ``varequal`` or the closed range
  ``vargte``/``varlte``; text2qti writes the same).

Each variant's asked quantities carry an absolute tolerance (the rounding
policy the students must use); an answer within it of the exact value scores
full marks in both platforms.  The same variants give the same bytes: no
clock, no random identifiers, no dict order that could change.
"""

from __future__ import annotations

import base64
import hashlib
import io
import math
import re
import zipfile
from collections.abc import Mapping, Sequence
from decimal import Decimal
from html import escape as html_escape
from typing import NamedTuple

from .errors import StepPropError


# The quiz generator's interface (issue 16): it hands this module a list of variants.
class Question(NamedTuple):
    name: str  # the quantity, e.g. "dE_total/dw5"
    prompt: str  # plain text, e.g. "dE_total/dw5 (the gradient of the error with respect to w5)"
    answer: float  # the exact value
    tolerance: float  # absolute, matching the rounding policy students must use


class Variant(NamedTuple):
    id: str  # the student's id, or "01", "02", ...
    title: str
    problem_html: str  # the problem sheet as an HTML fragment (may contain an inline <svg> and MathML)
    questions: list[Question]
    solution_html: str  # the worked solution as an HTML fragment
    # the files the HTML links as @@PLUGINFILE@@/name, by name (Moodle XML carries
    # them with each text that links them; QTI writes none: give it inline HTML)
    files: Mapping[str, bytes] = {}


# Moodle's token for a text's own file area (question/format/xml/format.php,
# ``write_files``): an <img src="@@PLUGINFILE@@/diagram.svg"> shows that file
PLUGINFILE = "@@PLUGINFILE@@/"
DIAGRAM = "diagram.svg"  # a quiz's network diagram, as a Moodle text's file
SOLUTION_DIAGRAM = "solution-diagram.svg"  # the worked solution's, should it differ


# the characters XML 1.0 can hold (https://www.w3.org/TR/xml/#charsets): no escape
# writes the others (NUL, most control characters, lone surrogates, U+FFFE, U+FFFF)
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

# a zip entry's date: the earliest a zip can hold, so the package never depends on the clock
ZIP_DATE = (1980, 1, 1, 0, 0, 0)

QTI_NS = "http://www.imsglobal.org/xsd/ims_qtiasiv1p2"
MANIFEST_NS = "http://www.imsglobal.org/xsd/imsccv1p1/imscp_v1p1"


# -- checking what is written --------------------------------------------------


def _text(value: str, what: str) -> str:
    """``value`` if XML can hold it, else a StepPropError naming ``what``."""
    if not isinstance(value, str):
        raise StepPropError(f"{what} must be text, not {type(value).__name__}")
    bad = _NOT_XML.search(value)
    if bad:
        raise StepPropError(f"{what} holds the character U+{ord(bad.group()):04X}, which an XML file cannot hold")
    return value


def _finite(x: float, what: str) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise StepPropError(f"{what} must be a number, not {x!r}")
    if not math.isfinite(x):
        raise StepPropError(f"{what} is {x}: a quiz's answer and tolerance must be finite numbers")
    return float(x)


def _checked(variants: Sequence[Variant], title: str) -> None:
    """Everything both formats need, checked once: text XML can hold, finite
    numbers, a tolerance >= 0, and ids unique where the platforms need them."""
    _text(title, "the quiz's title")
    if not title.strip():
        raise StepPropError("the quiz's title is empty")
    if not variants:
        raise StepPropError("a quiz needs at least one variant")
    ids: set[str] = set()
    for v in variants:
        where = f"variant '{v.id}'"
        _text(v.id, f"a variant's id ({v.id!r})")
        if not v.id.strip():
            raise StepPropError("a variant's id is empty")
        if v.id in ids:
            raise StepPropError(f"two variants have the id '{v.id}' (one per student)")
        ids.add(v.id)
        for field in ("title", "problem_html", "solution_html"):
            _text(getattr(v, field), f"{where}'s {field}")
        for name, data in v.files.items():
            if not _text(name, f"a file's name in {where}").strip() or "/" in name:
                raise StepPropError(f"{where} has a file named {name!r}: a file's name needs a character and no /")
            if not isinstance(data, bytes):
                raise StepPropError(f"{where}'s file {name!r} must be bytes, not {type(data).__name__}")
        names: set[str] = set()
        for q in v.questions:
            _text(q.name, f"a question's name in {where}")
            if not q.name.strip():
                raise StepPropError(f"a question in {where} has no name")
            if q.name in names:
                raise StepPropError(f"{where} asks for '{q.name}' twice")
            names.add(q.name)
            _text(q.prompt, f"{where}'s prompt for '{q.name}'")
            _finite(q.answer, f"{where}'s answer to '{q.name}'")
            if _finite(q.tolerance, f"{where}'s tolerance for '{q.name}'") < 0:
                raise StepPropError(f"{where}'s tolerance for '{q.name}' is negative ({q.tolerance!r})")


# -- writing XML ---------------------------------------------------------------


def number(x: float) -> str:
    """``x`` in as many digits as it takes to read back the same float (repr's
    digits), written out in full (0.00001, not 1e-05) from 1e-20 to 1e21 (a
    tolerance of 15 decimals is 5e-16), as a teacher reads it in Moodle's and
    Canvas's editors; beyond, as 1e-25 (both read it).  -0.0 is 0."""
    x = float(x) + 0.0  # -0.0 + 0.0 is 0.0
    if x == 0 or 1e-20 <= abs(x) < 1e21:
        text = format(Decimal(repr(x)), "f")
        return text if "." in text else text + ".0"
    return repr(x)


def _escape(text: str) -> str:
    """Character data: & < > escaped, and a carriage return as &#13; (a parser
    reads a literal one as a newline)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


def _attr(text: str) -> str:
    """An attribute's value in double quotes: a parser turns a literal tab or
    newline in one into a space, so those are references too."""
    return _escape(text).replace('"', "&quot;").replace("\t", "&#9;").replace("\n", "&#10;")


def cdata(text: str) -> str:
    """``text`` in a CDATA section, as Moodle's ``xml_escape`` writes HTML:
    a ``]]>`` inside it is split across two sections (]] ends one, > starts
    the next).  A carriage return goes between sections as &#13;, so the text
    reads back as it was."""
    if not text:
        return ""
    body = text.replace("]]>", "]]]]><![CDATA[>").replace("\r", "]]>&#13;<![CDATA[")
    return f"<![CDATA[{body}]]>"


def _ident(*parts: str) -> str:
    """A stable QTI identifier: the hash of what it names (title, variant,
    question), so the same quiz has the same ids and a re-import into Canvas
    finds the same items.  It starts with a letter, as an XML name must."""
    digest = hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()
    return "g" + digest[:32]


def _question_html(variant: Variant, question: Question) -> str:
    """The problem, then what this question asks (the prompt is plain text)."""
    return f"{variant.problem_html}\n<p>{html_escape(question.prompt, quote=False)}</p>"


# -- Moodle XML ----------------------------------------------------------------


def _category_path(*names: str) -> str:
    """Moodle's category path, as its ``assemble_category_path`` writes one: a
    / within a name is doubled (the importer splits on single slashes), and a
    name that would then start or end with / gets a space there."""
    escaped = []
    for name in names:
        e = name.replace("/", "//")
        if e.startswith("/"):
            e = " " + e
        if e.endswith("/"):
            e += " "
        escaped.append(e)
    return "/".join(escaped)


def _moodle_text(text: str, indent: str, files: Mapping[str, bytes] | None = None) -> str:
    """A <text> element: HTML in CDATA (Moodle's choice), plain text escaped;
    then each of ``files`` the text links (@@PLUGINFILE@@/name), in name
    order, as Moodle's ``write_files`` writes one: base64 in a <file>."""
    out = [f"{indent}<text>{cdata(text)}</text>\n"]
    for name, data in sorted((files or {}).items()):
        if f"{PLUGINFILE}{name}" in text:
            encoded = base64.b64encode(data).decode("ascii")
            out.append(f'{indent}<file name="{_attr(name)}" path="/" encoding="base64">{encoded}</file>\n')
    return "".join(out)


def moodle_xml(variants: Sequence[Variant], title: str) -> str:
    """The variants as a Moodle XML question file: per variant a category
    ``$course$/top/{title}/{id}``, then one numerical question per asked
    quantity (the problem and the prompt as its text, the worked solution as
    its general feedback, the exact answer at 100% within its tolerance, no
    units, a default mark of 1)."""
    _checked(variants, title)
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n<quiz>\n']
    for v in variants:
        # the category's own "question": the questions after it go there
        out.append('  <question type="category">\n    <category>\n')
        out.append(f"      <text>{_escape(_category_path('$course$', 'top', title, v.id))}</text>\n")
        out.append('    </category>\n    <info format="html">\n')
        out.append(_moodle_text(html_escape(v.title, quote=False), "      "))
        out.append("    </info>\n  </question>\n")
        for q in v.questions:
            out.append('  <question type="numerical">\n    <name>\n')
            out.append(f"      <text>{_escape(f'{v.id}: {q.name}')}</text>\n")
            out.append('    </name>\n    <questiontext format="html">\n')
            out.append(_moodle_text(_question_html(v, q), "      ", v.files))
            out.append('    </questiontext>\n    <generalfeedback format="html">\n')
            out.append(_moodle_text(v.solution_html, "      ", v.files))
            out.append("    </generalfeedback>\n")
            # Moodle's defaults for a new numerical question, but one mark each
            out.append("    <defaultgrade>1</defaultgrade>\n    <penalty>0.3333333</penalty>\n    <hidden>0</hidden>\n")
            out.append('    <answer fraction="100" format="moodle_auto_format">\n')
            out.append(f"      <text>{number(q.answer)}</text>\n")
            out.append('      <feedback format="html">\n        <text></text>\n      </feedback>\n')
            out.append(f"      <tolerance>{number(q.tolerance)}</tolerance>\n")
            out.append("    </answer>\n")
            # no units: showunits 3 is Moodle's UNITNONE (the unit is neither asked nor graded)
            out.append("    <unitgradingtype>0</unitgradingtype>\n    <unitpenalty>0.1000000</unitpenalty>\n")
            out.append("    <showunits>3</showunits>\n    <unitsleft>0</unitsleft>\n")
            out.append("  </question>\n")
    out.append("</quiz>\n")
    return "".join(out)


# -- IMS QTI 1.2 for Canvas ----------------------------------------------------


def _bounds(answer: float, tolerance: float) -> tuple[float, float]:
    """answer - tolerance and answer + tolerance, worked in decimal from the
    numbers as written (as Canvas's exporter does with BigDecimal), so that
    0.0510 with 0.00005 gives 0.05095 and 0.05105, not a float's neighbour."""
    a, t = Decimal(number(answer)), Decimal(number(tolerance))
    return float(a - t), float(a + t)


def _mattext(html: str, indent: str) -> str:
    mattext = f'<mattext texttype="text/html">{_escape(html)}</mattext>'
    return f"{indent}<material>\n{indent}  {mattext}\n{indent}</material>\n"


def _field(label: str, entry: str) -> str:
    return (
        "            <qtimetadatafield>\n"
        f"              <fieldlabel>{label}</fieldlabel>\n"
        f"              <fieldentry>{_escape(entry)}</fieldentry>\n"
        "            </qtimetadatafield>\n"
    )


def _qti_item(title: str, v: Variant, q: Question) -> str:
    """One numerical_question item, element for element as Canvas exports one
    with an exact answer and a margin, and its general feedback (shown to every
    student after answering) the worked solution."""
    ident = _ident(title, v.id, q.name)
    low, high = _bounds(q.answer, q.tolerance)
    return (
        f'      <item ident="{ident}" title="{_attr(q.name)}">\n'
        "        <itemmetadata>\n          <qtimetadata>\n"
        + _field("question_type", "numerical_question")
        + _field("points_possible", "1.0")
        + _field("original_answer_ids", f"{ident}_a")
        + "          </qtimetadata>\n        </itemmetadata>\n"
        "        <presentation>\n"
        + _mattext(f"<div>{_question_html(v, q)}</div>", "          ")
        + '          <response_str ident="response1" rcardinality="Single">\n'
        '            <render_fib fibtype="Decimal">\n'
        '              <response_label ident="answer1"/>\n'
        "            </render_fib>\n"
        "          </response_str>\n"
        "        </presentation>\n"
        "        <resprocessing>\n"
        "          <outcomes>\n"
        '            <decvar maxvalue="100" minvalue="0" varname="SCORE" vartype="Decimal"/>\n'
        "          </outcomes>\n"
        '          <respcondition continue="Yes">\n'
        "            <conditionvar>\n              <other/>\n            </conditionvar>\n"
        '            <displayfeedback feedbacktype="Response" linkrefid="general_fb"/>\n'
        "          </respcondition>\n"
        '          <respcondition continue="No">\n'
        "            <conditionvar>\n"
        "              <or>\n"
        f'                <varequal respident="response1">{number(q.answer)}</varequal>\n'
        "                <and>\n"
        f'                  <vargte respident="response1">{number(low)}</vargte>\n'
        f'                  <varlte respident="response1">{number(high)}</varlte>\n'
        "                </and>\n"
        "              </or>\n"
        "            </conditionvar>\n"
        '            <setvar action="Set" varname="SCORE">100</setvar>\n'
        "          </respcondition>\n"
        "        </resprocessing>\n"
        '        <itemfeedback ident="general_fb">\n'
        "          <flow_mat>\n" + _mattext(v.solution_html, "            ") + "          </flow_mat>\n"
        "        </itemfeedback>\n"
        "      </item>\n"
    )


def _assessment(title: str, v: Variant) -> str:
    """One variant as one assessment: a Canvas quiz per student.  (One
    assessment holding a section per variant would import as one quiz showing
    every student every variant; a quiz per variant can be assigned to its
    student alone, as Moodle's category per variant can be drawn from.)"""
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        f'<questestinterop xmlns="{QTI_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xsi:schemaLocation="{QTI_NS} http://www.imsglobal.org/xsd/ims_qtiasiv1p2p1.xsd">\n',
        f'  <assessment ident="{_ident(title, v.id)}" title="{_attr(f"{title} — {v.id}")}">\n',
        f"    <qticomment>{_escape(v.title)}</qticomment>\n",
        "    <qtimetadata>\n      <qtimetadatafield>\n        <fieldlabel>cc_maxattempts</fieldlabel>\n"
        "        <fieldentry>1</fieldentry>\n      </qtimetadatafield>\n    </qtimetadata>\n",
        '    <section ident="root_section">\n',
    ]
    out += [_qti_item(title, v, q) for q in v.questions]
    out.append("    </section>\n  </assessment>\n</questestinterop>\n")
    return "".join(out)


def _manifest(title: str, files: list[tuple[str, str]]) -> str:
    """imsmanifest.xml: one imsqti_xmlv1p2 resource per assessment file
    (identifier, path), as Canvas's and text2qti's packages list theirs."""
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        f'<manifest identifier="{_ident(title, "manifest")}" xmlns="{MANIFEST_NS}" '
        'xmlns:imsmd="http://www.imsglobal.org/xsd/imsmd_v1p2" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xsi:schemaLocation="{MANIFEST_NS} http://www.imsglobal.org/xsd/imscp_v1p1.xsd '
        'http://www.imsglobal.org/xsd/imsmd_v1p2 http://www.imsglobal.org/xsd/imsmd_v1p2p2.xsd">\n',
        "  <metadata>\n    <schema>IMS Content</schema>\n    <schemaversion>1.1.3</schemaversion>\n",
        "    <imsmd:lom>\n      <imsmd:general>\n        <imsmd:title>\n",
        f"          <imsmd:string>{_escape(title)}</imsmd:string>\n",
        "        </imsmd:title>\n      </imsmd:general>\n    </imsmd:lom>\n  </metadata>\n",
        "  <organizations/>\n  <resources>\n",
    ]
    for ident, path in files:
        out.append(f'    <resource identifier="{ident}" type="imsqti_xmlv1p2">\n')
        out.append(f'      <file href="{_attr(path)}"/>\n    </resource>\n')
    out.append("  </resources>\n</manifest>\n")
    return "".join(out)


def qti_files(variants: Sequence[Variant], title: str) -> dict[str, str]:
    """The package's files by path: imsmanifest.xml and {ident}/{ident}.xml
    per variant (Canvas's layout)."""
    _checked(variants, title)
    files: dict[str, str] = {}
    listed = []
    for v in variants:
        ident = _ident(title, v.id)
        path = f"{ident}/{ident}.xml"
        files[path] = _assessment(title, v)
        listed.append((ident, path))
    files["imsmanifest.xml"] = _manifest(title, listed)
    return files


def qti_zip(variants: Sequence[Variant], title: str) -> bytes:
    """The variants as an IMS QTI 1.2 content package (a zip Canvas imports):
    the same variants give the same bytes.  Entries are sorted, dated
    1980-01-01, with fixed permissions, and stored, not deflated: a deflater
    (zlib, zlib-ng) may compress the same text to other bytes on another
    machine, and the package is text a few megabytes at most."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:
        for path, text in sorted(qti_files(variants, title).items()):
            info = zipfile.ZipInfo(path, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_STORED
            info.create_system = 3  # Unix, whatever the machine
            info.external_attr = 0o100644 << 16  # a regular file, rw-r--r--
            zf.writestr(info, text.encode("utf-8"))
    return buffer.getvalue()
