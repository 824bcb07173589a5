"""The compiled subtree walk builds exactly the tables the reference walk builds.

Statements are read through ``xmlread.walker``: the compiled walk (``adapters.iso20022._walk``,
built by every install) or, where it is missing, the pure-Python ``ReferenceWalker`` that
defines what a table holds. The two are compared on every sample file and on
hypothesis-generated trees (other namespaces, comments, processing instructions, CDATA,
attributes, repeated and stop paths, blank text kept or dropped), walked from every element
with one walker, so that its caches carry over from subtree to subtree as in a real parse.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from adapters.iso20022 import xmlread
from adapters.iso20022.statement import _ENTRY_STOPS
from adapters.iso20022.xmlread import (
    SAFE_PARSER_OPTIONS,
    CompiledWalker,
    ReferenceWalker,
    Stops,
    Table,
    walker,
)

GOLDEN = Path(__file__).resolve().parent / "golden"
OURS = "urn:test:ours"
OTHER = "urn:test:other"


def _parsers() -> list[etree.XMLParser]:
    return [
        etree.XMLParser(**SAFE_PARSER_OPTIONS),
        etree.XMLParser(**(SAFE_PARSER_OPTIONS | {"remove_blank_text": True})),
        etree.XMLParser(**(SAFE_PARSER_OPTIONS | {"strip_cdata": False})),
    ]


def _agree(root: etree._Element, namespace: str, stops: Stops) -> int:
    """Walk every element under ``root`` both ways; returns how many were compared."""
    assert CompiledWalker is not None
    reference = ReferenceWalker(namespace, stops)
    handed_back: list[etree._Element] = []

    def fallback(element: etree._Element) -> Table:
        handed_back.append(element)
        return reference.walk(element)

    compiled = CompiledWalker(namespace, stops, fallback)
    compared = 0
    for element in root.iter(etree.Element):
        assert compiled.walk(element) == reference.walk(element), etree.tostring(element)
        compared += 1
    return compared


def test_the_compiled_walk_is_built() -> None:
    # Every install (pip, `make install`, CI) builds it; without it statements are read with
    # the reference walk, correctly but slowly.
    assert CompiledWalker is not None
    assert isinstance(walker(OURS, {}), CompiledWalker)


@pytest.mark.parametrize("parser", _parsers(), ids=["blanks-kept", "blanks-dropped", "cdata"])
def test_walks_agree_on_every_sample_and_golden_file(
    samples_dir: Path, parser: etree.XMLParser
) -> None:
    files = sorted((samples_dir / "iso20022").glob("*/*.xml")) + sorted(GOLDEN.glob("*.xml"))
    assert len(files) > 20
    compared = 0
    for path in files:
        root = etree.fromstring(path.read_bytes(), parser)
        namespace = xmlread.namespace_of(root.tag)
        for stops in (_ENTRY_STOPS, {}):
            compared += _agree(root, namespace, stops)
    assert compared > 1000


def test_a_table_of_a_statement_entry() -> None:
    data = (
        b'<Ntry xmlns="urn:test:ours" xmlns:o="urn:test:other"><Amt Ccy="CNY" o:x="1">'
        b"12.30</Amt><Sts><Cd>BOOK</Cd></Sts><!-- note --><o:Amt>9</o:Amt><NtryDtls>"
        b"<TxDtls><Refs><Prtry><Tp>A</Tp><Ref>1</Ref></Prtry><Prtry><Ref>2</Ref></Prtry>"
        b"</Refs><RmtInf><Ustrd> one </Ustrd><Ustrd/><Ustrd>three</Ustrd></RmtInf></TxDtls>"
        b"<TxDtls/></NtryDtls></Ntry>"
    )
    root = etree.fromstring(data, etree.XMLParser(**SAFE_PARSER_OPTIONS))
    expected: Table = (
        {"Amt": "12.30", "Amt/@Ccy": "CNY", "Sts": None, "Sts/Cd": "BOOK", "NtryDtls": None,
         "NtryDtls/TxDtls": None},
        {"NtryDtls/TxDtls": [None]},
        {
            "NtryDtls/TxDtls": [
                (
                    {"Refs": None, "Refs/Prtry": None, "RmtInf": None,
                     "RmtInf/Ustrd": " one "},
                    {"Refs/Prtry": [None], "RmtInf/Ustrd": [None, "three"]},
                    {"Refs/Prtry": [({"Tp": "A", "Ref": "1"}, None, None),
                                    ({"Ref": "2"}, None, None)]},
                ),
                ({}, None, None),
            ]
        },
    )  # fmt: skip
    assert ReferenceWalker(OURS, _ENTRY_STOPS).walk(root) == expected
    assert walker(OURS, _ENTRY_STOPS).walk(root) == expected


def test_an_attribute_holding_an_entity_reference_is_walked_by_the_reference() -> None:
    # Statements with a DOCTYPE are refused before they are walked; a tree that has one
    # anyway is still walked right, by handing the subtree to the reference walk.
    data = b'<!DOCTYPE r [<!ENTITY e "E">]><r xmlns="urn:test:ours"><a b="1&e;2">&e;x</a></r>'
    root = etree.fromstring(data, etree.XMLParser(resolve_entities=False))
    reference = ReferenceWalker(OURS, {})
    handed_back: list[etree._Element] = []

    def fallback(element: etree._Element) -> Table:
        handed_back.append(element)
        return reference.walk(element)

    assert CompiledWalker is not None
    table = CompiledWalker(OURS, {}, fallback).walk(root)
    assert table == reference.walk(root) == ({"a": None, "a/@b": "1E2"}, None, None)
    assert handed_back == [root]


def test_without_the_extension_the_reference_walk_is_used_with_one_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(xmlread, "CompiledWalker", None)
    monkeypatch.setattr(xmlread, "_warned", False)
    with caplog.at_level(logging.WARNING, logger="adapters.iso20022.xmlread"):
        first = walker(OURS, {})
        second = walker(OURS, _ENTRY_STOPS)
    assert isinstance(first, ReferenceWalker)
    assert isinstance(second, ReferenceWalker)
    warnings = [r for r in caplog.records if "not built" in r.getMessage()]
    assert len(warnings) == 1


# --- generated trees ---------------------------------------------------------------------

_TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from(" \t\n\r"),
        st.characters(min_codepoint=0x21, max_codepoint=0x2FFFF, exclude_categories=["Cs"]),
    ),
    max_size=4,
)
_NAMES = ["A", "B", "Tp", "Ref", "中文"]
_NAMESPACES = [OURS, OURS, OURS, OTHER, ""]


@st.composite
def _elements(draw: st.DrawFn, depth: int = 0) -> Callable[[etree._Element], None]:
    name = draw(st.sampled_from(_NAMES))
    namespace = draw(st.sampled_from(_NAMESPACES))
    text = draw(st.none() | _TEXT)
    tail = draw(st.none() | _TEXT)
    attributes = draw(
        st.dictionaries(st.sampled_from(["Ccy", "x", f"{{{OTHER}}}y", f"{{{OURS}}}z"]), _TEXT)
    )
    cdata = draw(st.booleans())
    kids = draw(st.lists(_elements(depth + 1), max_size=3)) if depth < 3 else []
    extra = draw(st.sampled_from(["", "comment", "pi"]))

    def build(parent: etree._Element) -> None:
        tag = f"{{{namespace}}}{name}" if namespace else name
        child = etree.SubElement(parent, tag)
        for key, value in attributes.items():
            child.set(key, _clean(value))
        if text is not None:
            child.text = etree.CDATA(_clean(text)) if cdata and "]]>" not in text else _clean(text)
        if extra == "comment":
            child.append(etree.Comment("c"))
        elif extra == "pi":
            child.append(etree.ProcessingInstruction("p", "q"))
        for kid in kids:
            kid(child)
        if tail is not None:
            child.tail = _clean(tail)

    return build


def _clean(text: str) -> str:
    # characters XML 1.0 cannot hold at all
    return "".join(c for c in text if c not in "\ufffe\uffff")


_STOPS = st.sampled_from(
    [{}, {"A": {}}, {"A/B": {"Tp": {}}}, {"B": {"Ref": {}, "A/Tp": {}}}, {"中文": {"中文": {}}}]
)


@settings(max_examples=200, deadline=None)
@given(
    elements=st.lists(_elements(), min_size=1, max_size=3),
    stops=_STOPS,
    which=st.integers(0, 2),
)
def test_walks_agree_on_generated_trees(
    elements: list[Callable[[etree._Element], None]], stops: Stops, which: int
) -> None:
    root = etree.Element(f"{{{OURS}}}Root", nsmap={None: OURS, "o": OTHER})  # type: ignore[dict-item]
    for build in elements:
        build(root)
    data = etree.tostring(root, encoding="utf-8")
    parsed = etree.fromstring(data, _parsers()[which])
    assert _agree(parsed, OURS, stops) >= 1
