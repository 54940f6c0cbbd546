"""The LMS files of a quiz (issue 16, item 3): Moodle XML and a QTI 1.2 package.

Every output is read back with an XML parser, as the platform's importer would
read it: the categories and questions are where Moodle and Canvas look for
them, the answers and tolerances read back as the same floats, HTML with a
]]> or a carriage return survives its CDATA, the bytes do not change between
two runs, and random names, prompts and numbers always give files that parse.
"""

import base64
import io
import math
import xml.etree.ElementTree as ET
import zipfile
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stepprop import lms
from stepprop.errors import StepPropError
from stepprop.lms import Question, Variant

QTI = "{http://www.imsglobal.org/xsd/ims_qtiasiv1p2}"
CP = "{http://www.imsglobal.org/xsd/imsccv1p1/imscp_v1p1}"

SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><text x="1" y="9">w5 &amp; b2</text></svg>'


def variant(vid: str = "01", **changes) -> Variant:
    v = Variant(
        id=vid,
        title=f"Backpropagation, student {vid}",
        problem_html=f"<p>Given i1 = 0.05 &lt; 1 and the network:</p>{SVG}<math><mi>w</mi><mn>5</mn></math>",
        questions=[
            Question("out_o1", "out_o1 (the output of o1)", 0.7513650695523157, 0.00005),
            Question("dE_total/dw5", "dE_total/dw5 (the gradient of the error with respect to w5)", 0.08216704, 5e-5),
            Question("w5+", "w5+ & w1+ < 1? no: w5+ (the new w5)", 0.35891648, 0.00005),
            Question("E_total", "E_total", 1e-05, 5e-9),
        ],
        solution_html="<h2>Solution</h2><p>out_o1 = σ(1.1059) = 0.75136507</p>",
    )
    return v._replace(**changes)


VARIANTS = [variant("01"), variant("02"), variant('a/b <&> "c"')]


def moodle(variants=VARIANTS, title="Quiz 1") -> ET.Element:
    return ET.fromstring(lms.moodle_xml(variants, title).encode("utf-8"))


def package(variants=VARIANTS, title="Quiz 1") -> tuple[ET.Element, dict[str, ET.Element]]:
    """The manifest and each assessment it lists, by path, read from the zip."""
    with zipfile.ZipFile(io.BytesIO(lms.qti_zip(variants, title))) as zf:
        manifest = ET.fromstring(zf.read("imsmanifest.xml"))
        hrefs = [f.get("href") for f in manifest.iter(f"{CP}file")]
        return manifest, {href: ET.fromstring(zf.read(href)) for href in hrefs}


def moodle_questions(root: ET.Element) -> list[tuple[str, ET.Element]]:
    """Each numerical question with the category it goes into (the last
    category question before it, as Moodle's importer reads the file)."""
    out, category = [], None
    for q in root.findall("question"):
        if q.get("type") == "category":
            category = q.findtext("category/text")
        else:
            out.append((category, q))
    return out


# -- Moodle XML ----------------------------------------------------------------


def test_moodle_categories_and_one_numerical_question_per_quantity():
    root = moodle()
    assert root.tag == "quiz"
    categories = [q.findtext("category/text") for q in root.findall("question[@type='category']")]
    # a / in a name is doubled, as Moodle's assemble_category_path writes it
    assert categories == ["$course$/top/Quiz 1/01", "$course$/top/Quiz 1/02", '$course$/top/Quiz 1/a//b <&> "c"']
    questions = moodle_questions(root)
    assert len(questions) == 3 * 4
    asked_for = [(v, a) for v in VARIANTS for a in v.questions]
    for (category, q), (v, asked) in zip(questions, asked_for):
        assert q.get("type") == "numerical"
        assert category.endswith("/" + v.id.replace("/", "//"))
        assert q.findtext("name/text") == f"{v.id}: {asked.name}"
        assert q.find("questiontext").get("format") == "html"
        text = q.findtext("questiontext/text")
        assert text.startswith(v.problem_html)
        assert lms.html_escape(asked.prompt, quote=False) in text
        assert q.find("generalfeedback").get("format") == "html"
        assert q.findtext("generalfeedback/text") == v.solution_html
        assert q.findtext("defaultgrade") == "1"
        (answer,) = q.findall("answer")
        assert answer.get("fraction") == "100"
        assert float(answer.findtext("text")) == asked.answer
        assert float(answer.findtext("tolerance")) == asked.tolerance
        assert q.findtext("showunits") == "3"  # no units
        assert q.find("units") is None


def test_moodle_answers_are_written_in_full_and_read_back_exactly():
    root = moodle([variant(questions=[Question("x", "x", 1e-05, 5e-9), Question("y", "y", -0.0, 0.5)])])
    answers = [q.findtext("answer/text") for _, q in moodle_questions(root)]
    assert answers == ["0.00001", "0.0"]
    assert [q.findtext("answer/tolerance") for _, q in moodle_questions(root)] == ["0.000000005", "0.5"]


def test_cdata_survives_its_terminator_and_carriage_returns():
    html = "<p>a]]>b ]]]]> c]]</p>\r\n<p>]]></p>]]"
    root = moodle([variant(problem_html=html, solution_html=html)])
    _, q = moodle_questions(root)[0]
    assert q.findtext("questiontext/text").startswith(html)
    assert q.findtext("generalfeedback/text") == html
    # the text is in CDATA, as Moodle writes HTML
    assert "<![CDATA[<p>a]]]]><![CDATA[>b" in lms.moodle_xml([variant(problem_html=html)], "Q")


def test_an_empty_html_is_an_empty_text():
    root = moodle([variant(solution_html="")])
    assert moodle_questions(root)[0][1].findtext("generalfeedback/text") == ""


# -- QTI 1.2 -------------------------------------------------------------------


def items(assessment: ET.Element) -> list[ET.Element]:
    return assessment.findall(f"{QTI}assessment/{QTI}section/{QTI}item")


def test_the_manifest_lists_one_assessment_per_variant_and_each_exists():
    with zipfile.ZipFile(io.BytesIO(lms.qti_zip(VARIANTS, "Quiz 1"))) as zf:
        names = zf.namelist()
        assert names == sorted(names) and "imsmanifest.xml" in names
        manifest = ET.fromstring(zf.read("imsmanifest.xml"))
        resources = manifest.findall(f"{CP}resources/{CP}resource")
        assert len(resources) == len(VARIANTS)
        for resource in resources:
            assert resource.get("type") == "imsqti_xmlv1p2"
            (href,) = [f.get("href") for f in resource.findall(f"{CP}file")]
            assert href in names
            assert href == f"{resource.get('identifier')}/{resource.get('identifier')}.xml"
            root = ET.fromstring(zf.read(href))
            assert root.tag == f"{QTI}questestinterop"
            assert root.find(f"{QTI}assessment").get("ident") == resource.get("identifier")
        assert len(names) == 1 + len(VARIANTS)


def test_qti_items_are_canvas_numerical_questions_with_the_tolerance():
    _, assessments = package()
    assert len(assessments) == 3
    for v, root in zip(VARIANTS, assessments.values()):
        assessment = root.find(f"{QTI}assessment")
        assert assessment.get("title") == f"Quiz 1 — {v.id}"
        assert assessment.findtext(f"{QTI}qticomment") == v.title
        found = items(root)
        assert len(found) == len(v.questions)
        for item, asked in zip(found, v.questions):
            assert item.get("title") == asked.name
            meta = {
                f.findtext(f"{QTI}fieldlabel"): f.findtext(f"{QTI}fieldentry")
                for f in item.iter(f"{QTI}qtimetadatafield")
            }
            assert meta["question_type"] == "numerical_question"
            assert meta["points_possible"] == "1.0"
            html = item.findtext(f"{QTI}presentation/{QTI}material/{QTI}mattext")
            assert html.startswith("<div>" + v.problem_html)
            assert lms.html_escape(asked.prompt, quote=False) in html
            assert item.find(f".//{QTI}render_fib").get("fibtype") == "Decimal"
            correct = item.find(f"{QTI}resprocessing/{QTI}respcondition[@continue='No']")
            assert float(correct.findtext(f".//{QTI}varequal")) == asked.answer
            low, high = float(correct.findtext(f".//{QTI}vargte")), float(correct.findtext(f".//{QTI}varlte"))
            exact = Decimal(repr(asked.answer))
            assert low == float(exact - Decimal(repr(asked.tolerance)))
            assert high == float(exact + Decimal(repr(asked.tolerance)))
            assert correct.findtext(f"{QTI}setvar") == "100"
            feedback = item.find(f"{QTI}itemfeedback[@ident='general_fb']")
            assert feedback.findtext(f".//{QTI}mattext") == v.solution_html


def test_a_mistaken_value_falls_outside_the_range_the_right_one_inside():
    q = Question("w5+", "w5+", 0.35891648, 0.00005)
    _, assessments = package([variant(questions=[q])])
    (root,) = assessments.values()
    low = float(root.findtext(f".//{QTI}vargte"))
    high = float(root.findtext(f".//{QTI}varlte"))
    assert low <= 0.3589 <= high  # rounded to 4 decimals, as asked
    assert not low <= 0.3588 <= high and not low <= 0.40 <= high


def test_identifiers_are_stable_and_distinct():
    _, first = package()
    _, again = package(list(VARIANTS))
    assert list(first) == list(again)
    idents = [item.get("ident") for root in first.values() for item in items(root)]
    assert len(set(idents)) == len(idents)
    _, other = package(title="Quiz 2")
    assert not set(first) & set(other)


# -- both ----------------------------------------------------------------------


def test_the_same_variants_give_the_same_bytes():
    assert lms.moodle_xml(VARIANTS, "Quiz 1") == lms.moodle_xml([variant("01"), variant("02"), VARIANTS[2]], "Quiz 1")
    first = lms.qti_zip(VARIANTS, "Quiz 1")
    assert first == lms.qti_zip([variant("01"), variant("02"), VARIANTS[2]], "Quiz 1")
    with zipfile.ZipFile(io.BytesIO(first)) as zf:
        for info in zf.infolist():
            assert info.date_time == lms.ZIP_DATE
            assert info.compress_type == zipfile.ZIP_STORED


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("field", ["answer", "tolerance"])
def test_nan_and_infinity_are_refused(field, bad):
    q = Question("dE_total/dw5", "p", 0.5, 0.001)._replace(**{field: bad})
    for write in (lms.moodle_xml, lms.qti_zip):
        with pytest.raises(StepPropError, match=f"'dE_total/dw5'.*{field}|{field}.*'dE_total/dw5'"):
            write([variant(questions=[q])], "Q")


@pytest.mark.parametrize(
    "variants,message",
    [
        ([], "at least one variant"),
        ([variant("01"), variant("01")], "two variants have the id '01'"),
        ([variant(questions=[Question("a", "a", 1.0, 0.1)] * 2)], "asks for 'a' twice"),
        ([variant(questions=[Question("a", "a", 1.0, -0.1)])], "negative"),
        ([variant(questions=[Question("a", "a\x00", 1.0, 0.1)])], "U\\+0000"),
        ([variant(problem_html="\ufffe")], "U\\+FFFE"),
        ([variant("")], "id is empty"),
        ([variant(questions=[Question(" ", "a", 1.0, 0.1)])], "has no name"),
    ],
)
def test_what_cannot_be_written_is_a_clear_error(variants, message):
    for write in (lms.moodle_xml, lms.qti_zip):
        with pytest.raises(StepPropError, match=message):
            write(variants, "Q")


# -- random names, prompts and numbers -----------------------------------------

# any text XML can hold (no NUL, no control characters but tab, newline and carriage return)
xml_text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\ufffe\uffff").filter(
        lambda c: c in "\t\n\r" or ord(c) >= 0x20
    ),
    max_size=20,
)
finite = st.floats(allow_nan=False, allow_infinity=False)


@st.composite
def quizzes(draw):
    ids = draw(st.lists(xml_text.filter(str.strip), min_size=1, max_size=3, unique=True))
    return [
        Variant(
            vid,
            draw(xml_text),
            draw(xml_text) + "]]>",
            [
                Question(name, draw(xml_text), draw(finite), draw(st.floats(0, 1e6)))
                for name in draw(st.lists(xml_text.filter(str.strip), max_size=3, unique=True))
            ],
            draw(xml_text),
        )
        for vid in ids
    ]


@settings(max_examples=60, deadline=None)
@given(quizzes(), xml_text.filter(str.strip))
def test_random_quizzes_parse_and_read_back(variants, title):
    asked = [(v, q) for v in variants for q in v.questions]
    questions = moodle_questions(moodle(variants, title))
    assert len(questions) == len(asked)
    for (_, q), (v, a) in zip(questions, asked):
        assert q.findtext("name/text") == f"{v.id}: {a.name}"
        assert q.findtext("questiontext/text").startswith(v.problem_html)
        assert q.findtext("generalfeedback/text") == v.solution_html
        assert float(q.findtext("answer/text")) == a.answer
        assert float(q.findtext("answer/tolerance")) == a.tolerance
    _, assessments = package(variants, title)
    assert len(assessments) == len(variants)
    for v, root in zip(variants, assessments.values()):
        assert root.find(f"{QTI}assessment").get("title") == f"{title} — {v.id}"
        for item, a in zip(items(root), v.questions, strict=True):
            assert item.get("title") == a.name
            assert float(item.findtext(f".//{QTI}varequal")) == a.answer
            assert float(item.findtext(f".//{QTI}vargte")) <= a.answer <= float(item.findtext(f".//{QTI}varlte"))
            assert item.findtext(f".//{QTI}itemfeedback//{QTI}mattext") == v.solution_html


# -- Moodle: the math as TeX, the diagram a file ---------------------------------


def test_the_html_views_tex_math_is_the_latex_views_escaped():
    """One page layout, two ways to write its math: the default MathML, or the
    LaTeX view's TeX in \\( \\) and \\[ \\] (HTML-escaped) for Moodle's MathJax
    filter; a picture given a ``src`` is an <img> of that file."""
    from stepprop.document import Document, Eq, Section, Table
    from stepprop.expr import Cmp, Num, Sym, Where
    from stepprop.views import html, latex

    relu = Where(Cmp(Sym("net", "h1"), "<", Num(0.0)), Num(0.0), Num(1.0))
    eq = Eq(Sym("d", "h1"), [relu, Num(1.0)], name="d_h1", note="a & b")
    doc = Document("T", ["intro"], [Section("S", [eq, Table(["name", "value"], [["d_h1", relu]])])])
    mathml = html.render(doc, 4, SVG, "the net")
    assert "<math" in mathml and SVG in mathml and "\\(" not in mathml
    assert mathml == "".join(html.chunks(doc, 4, SVG, "the net", math="mathml"))  # the default, unchanged
    page = "".join(html.chunks(doc, 4, SVG, "the net", math="tex", src="@@PLUGINFILE@@/diagram.svg"))
    assert "<math" not in page and "<svg" not in page
    assert '<figure><img src="@@PLUGINFILE@@/diagram.svg" alt="the net"><figcaption>the net</figcaption>' in page
    lines = latex.equation(Eq(eq.lhs, eq.rhs), 4)
    assert "<" in lines and "&" in lines  # what the filter must read escaped
    assert f"\\[\\begin{{aligned}}{lines}\\end{{aligned}}\\]".replace("&", "&amp;").replace("<", "&lt;") in page
    assert f'<td class="num">\\({latex.tex(relu, 4).replace("<", "&lt;")}\\)</td>' in page
    assert '<span class="note">(a &amp; b)</span>' in page  # the note stays the page's, as in MathML
    with pytest.raises(ValueError, match="math must be one of mathml, tex"):
        html.chunks(doc, math="svg")


def test_moodle_texts_carry_the_files_they_link():
    """A text linking @@PLUGINFILE@@/name carries that file, base64, as
    Moodle's write_files writes one (name, path /); a text that links none
    carries none; QTI writes no files (Canvas gets the inline HTML)."""
    svg = SVG.encode("utf-8")
    linked = '<img src="@@PLUGINFILE@@/diagram.svg" alt="the network">'
    files = {"diagram.svg": svg, "unused.svg": b"<svg/>"}
    with_files = [variant("01", problem_html=linked, files=files), variant("02", files=files)]
    for _, q in moodle_questions(moodle(with_files)):
        for part in ("questiontext", "generalfeedback"):
            found = q.findall(f"{part}/file")
            if linked in q.findtext(f"{part}/text"):
                assert [(f.get("name"), f.get("path"), f.get("encoding")) for f in found] == [
                    ("diagram.svg", "/", "base64")
                ]
                assert base64.b64decode(found[0].text, validate=True) == svg
            else:
                assert found == []
    plain = [v._replace(files={}) for v in with_files]
    assert lms.qti_zip(with_files, "Quiz 1") == lms.qti_zip(plain, "Quiz 1")
    assert lms.moodle_xml(with_files, "Quiz 1") == lms.moodle_xml(with_files, "Quiz 1")


@pytest.mark.parametrize(
    "files, message",
    [({"": b"x"}, "needs a character"), ({"a/b.svg": b"x"}, "no /"), ({"a.svg": "text"}, "must be bytes")],
)
def test_a_bad_file_is_a_clear_error(files, message):
    with pytest.raises(StepPropError, match=message):
        lms.moodle_xml([variant(files=files)], "Quiz 1")
