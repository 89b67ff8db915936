"""The tokenizer reads each terminal as pyoxigraph 0.5 does (the SERVICE guard relies on it).

Each case below is a place where a simpler lexer (or the SPARQL spec) reads the text
otherwise; tests/test_service_guard_fuzz.py shows on a listening socket that pyoxigraph
reads them this way.
"""

from __future__ import annotations

import pytest

from citytools.service.sparql.lexer import lex, spans, tokens


def kinds(sparql: str) -> list[tuple[str, str]]:
    return [(token.kind, token.text) for token in lex(sparql)]


@pytest.mark.parametrize("end", ["\n", "\r", "\r\n"])
def test_a_comment_ends_at_a_line_feed_or_a_carriage_return(end: str) -> None:
    assert kinds(f"?a # x{end}SERVICE <i> {{}}") == [
        ("var", "?a"),
        ("keyword", "SERVICE"),
        ("iri", "<i>"),
        ("punct", "{"),
        ("punct", "}"),
    ]


@pytest.mark.parametrize("char", ["\f", "\v", "\u2028", "\u0085", "\u00a0"])
def test_other_line_and_space_characters_are_no_whitespace(char: str) -> None:
    assert kinds(f"?a{char}?b")[1] == ("error", char)
    assert kinds(f"# x{char}SERVICE <i> {{}}") == []  # and they do not end a comment


def test_strings_hide_hashes_keywords_and_iris() -> None:
    assert kinds("\"# SERVICE <http://x> {}\" 'it''s' ?after") == [
        ("string", '"# SERVICE <http://x> {}"'),
        ("string", "'it'"),
        ("string", "'s'"),
        ("var", "?after"),
    ]


def test_long_strings_span_lines_and_hold_up_to_two_quotes_in_a_row() -> None:
    assert kinds("'''a''b\nSERVICE <x>''' \"\"\"x\"\"\"\" ") == [
        ("string", "'''a''b\nSERVICE <x>'''"),
        ("string", '"""x"""'),
        ("error", '"'),  # the fourth quote starts a string that does not end
    ]


def test_escaped_quotes_and_backslashes() -> None:
    assert kinds('"a\\" SERVICE <x> \\\\" ?b "\\u0022" ?c') == [
        ("string", '"a\\" SERVICE <x> \\\\"'),
        ("var", "?b"),
        ("string", '"\\u0022"'),
        ("var", "?c"),
    ]


@pytest.mark.parametrize("escape", ["\\U00110000", "\\uD800", "\\UDFFFFFFF"])
def test_a_long_string_whose_escape_names_no_character_is_read_as_the_empty_string(
    escape: str,
) -> None:
    # pyoxigraph tries """…""" first, fails on the escape, then reads "" and goes on
    text = f'{{ """A" "B" }} SERVICE <x> {{}} # {escape} """ }}'
    assert kinds(text)[:6] == [
        ("punct", "{"),
        ("string", '""'),
        ("string", '"A"'),
        ("string", '"B"'),
        ("punct", "}"),
        ("keyword", "SERVICE"),
    ]


def test_unicode_escapes_are_read_in_strings_and_iris_only() -> None:
    assert kinds("SERV\\u0049CE <http://h/sp\\u0061rql> 'x\\u0041'") == [
        ("keyword", "SERV"),
        ("error", "\\"),
        ("keyword", "u0049CE"),
        ("iri", "<http://h/sp\\u0061rql>"),
        ("string", "'x\\u0041'"),
    ]


def test_prefixed_names() -> None:
    assert kinds("ex:service service:x ex:a\\#b ex:%41 :x ex: ex:a:b.c:d ex:a..b") == [
        ("pname", "ex:service"),
        ("pname", "service:x"),
        ("pname", "ex:a\\#b"),  # an escaped "#" is no comment
        ("pname", "ex:%41"),
        ("pname", ":x"),
        ("pname", "ex:"),
        ("pname", "ex:a:b.c:d"),
        ("pname", "ex:a..b"),
    ]


def test_a_local_name_takes_one_run_of_dots_a_prefix_or_a_blank_node_any() -> None:
    assert kinds("ex:a.b.c e.x.y:z _:b.c.d") == [
        ("pname", "ex:a.b"),
        ("punct", "."),
        ("keyword", "c"),
        ("pname", "e.x.y:z"),
        ("bnode", "_:b.c.d"),
    ]


def test_iris_run_to_the_first_closing_angle() -> None:
    assert kinds("?s <http://x/#a> <http://x/a b> ?o") == [
        ("var", "?s"),
        ("iri", "<http://x/#a>"),
        ("iri", "<http://x/a b>"),  # not an IRI pyoxigraph accepts, but read as one
        ("var", "?o"),
    ]


def test_after_an_operand_in_an_expression_a_less_than_is_no_iri() -> None:
    assert kinds("FILTER(?a<?b#>'''\n) ?c") == [
        ("keyword", "FILTER"),
        ("punct", "("),
        ("var", "?a"),
        ("punct", "<"),
        ("var", "?b"),  # then a comment, to the line's end
        ("punct", ")"),
        ("var", "?c"),
    ]


@pytest.mark.parametrize(
    ("text", "operand"),
    [
        ("SELECT (?a<?b AS ?c) {}", "?a"),
        ("SELECT * { BIND(1 AS ?a) FILTER(?a<2&&?a>0) }", "?a"),
        ("SELECT * { FILTER <a:f>(?x <?y) }", "?x"),
        ("SELECT * { FILTER(EXISTS { ?s ?p ?o } <?y) }", "}"),
        ("SELECT * {} GROUP BY ?x (?y<?z)", "?y"),
        ("SELECT * { FILTER(STR(?x)<'b' || ?x IN (1, 2)<?y) }", ")"),
        ("SELECT * { FILTER(\"b\"@en<'b') }", "@en"),
    ],
)
def test_less_than_in_expressions(text: str, operand: str) -> None:
    tokens = kinds(text)
    follows = [tokens[i + 1] for i, token in enumerate(tokens[:-1]) if token[1] == operand]
    assert ("punct", "<") in follows


@pytest.mark.parametrize(
    ("text", "iri"),
    [
        ('VALUES (?a ?b) { ("x" <http://x/#c>) }', "<http://x/#c>"),
        ("?s a (?x <a:b#c>)", "<a:b#c>"),
        ("?s ?p (?a <a:b>)", "<a:b>"),
        ("ORDER BY ?a <http://x/f>(?b)", "<http://x/f>"),
        ("?s <a:p>/<a:q> ?o", "<a:q>"),
        ("BIND(<<( ?s <a:p> ?o )>> AS ?t)", "<a:p>"),
        ("BIND(?x IN (<a:b>) AS ?t)", "<a:b>"),
        ('BIND("x"^^<a:t> AS ?t)', "<a:t>"),
    ],
)
def test_iris_after_operands_outside_expressions(text: str, iri: str) -> None:
    assert ("iri", iri) in kinds(text)


def test_numbers_language_tags_and_triple_terms() -> None:
    assert kinds('1.5e3 +2 .5 1. "x"@en-GB--ltr << ?s ?p ?o >>') == [
        ("number", "1.5e3"),
        ("punct", "+"),
        ("number", "2"),
        ("number", ".5"),
        ("number", "1"),
        ("punct", "."),
        ("string", '"x"'),
        ("langtag", "@en-GB--ltr"),
        ("punct", "<"),
        ("punct", "<"),
        ("var", "?s"),
        ("var", "?p"),
        ("var", "?o"),
        ("punct", ">"),
        ("punct", ">"),
    ]


def test_keywords_run_together_are_one_word() -> None:
    assert kinds("?x ?p trueSERVICE<x>{}")[2] == ("keyword", "trueSERVICE")


def test_what_cannot_be_read_is_marked() -> None:
    assert kinds("{ ) }") == [("punct", "{"), ("error", ")"), ("punct", "}")]
    assert kinds("{ (")[-1] == ("error", "")  # brackets left open
    assert kinds("'no end")[0] == ("error", "'")
    assert kinds("<no end")[0] == ("error", "<")


def test_public_spans_and_tokens() -> None:
    text = "SELECT ?s { ?s ex:p _:b, 'x'@en, <i>, 10 } # done"
    assert list(spans(text))[:3] == [
        ("word", "SELECT", 0, 6),
        ("word", "?s", 7, 9),
        ("other", "{", 10, 11),
    ]
    assert list(tokens(text)) == [
        ("word", "SELECT"),
        ("word", "?s"),
        ("other", "{"),
        ("word", "?s"),
        ("word", "ex:p"),
        ("word", "_:b"),
        ("other", ","),
        ("string", "'x'"),
        ("other", "@en"),
        ("other", ","),
        ("iri", "<i>"),
        ("other", ","),
        ("other", "10"),
        ("other", "}"),
    ]
    assert list(spans("{ (")) == [("other", "{", 0, 1), ("other", "(", 2, 3)]
