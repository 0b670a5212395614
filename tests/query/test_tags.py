import pytest

from traceway.query.tags import TAGS_EXPECTED, TagSyntaxError, parse_tag_param, parse_tags_text
from traceway.storage.api import TagPattern
from traceway.storage.tagmatch import required_text


@pytest.mark.parametrize("text, exact, patterns", [
    ("error=true http.status_code=500", {"error": "true", "http.status_code": "500"}, []),
    ('msg="not found" k=', {"msg": "not found", "k": ""}, []),
    (r'q="a \"b\" \\ c\d"', {"q": r'a "b" \ c\d'}, []),
    ("exception.type=~Time(out)? x=*abc", {},
     [TagPattern("exception.type", "regex", "Time(out)?"), TagPattern("x", "contains", "abc")]),
    ('k=~"a b"', {}, [TagPattern("k", "regex", "a b")]),
    ('k="~x"', {"k": "~x"}, []),
    ('{"a": 1, "b": true, "c": "x=y"}', {"a": "1", "b": "true", "c": "x=y"}, []),
])
def test_tags_text(text, exact, patterns):
    assert parse_tags_text(text) == (exact, patterns)


@pytest.mark.parametrize("text", ["error", "=x", 'a="open', "a=b=c d", '{"a":', "[1]",
                                  '{"a": {"b": 1}}', "a= b"])
def test_malformed_tags_say_what_is_expected(text):
    with pytest.raises(TagSyntaxError) as caught:
        parse_tags_text(text)
    assert str(caught.value).startswith("tags:")
    if not text.startswith("{"):
        assert str(caught.value).startswith(TAGS_EXPECTED)


def test_tag_param_operators():
    assert parse_tag_param("a:b:c") == ("a", "b:c", None)
    assert parse_tag_param("a:~^x")[2] == TagPattern("a", "regex", "^x")
    assert parse_tag_param("a:*x")[2] == TagPattern("a", "contains", "x")
    with pytest.raises(TagSyntaxError, match="regular expression"):
        parse_tag_param("a:~(")


@pytest.mark.parametrize("regex, needle", [
    ("Timeout", "Timeout"), ("^G.T$", "G"), ("ab?cdef", "cdef"), ("a|bcd", None),
    ("(?i)timeout", None), (r"cache\s+miss", "cache"), (r"my\.scope", "my.scope"), ("", None),
])
def test_required_text_of_a_regex(regex, needle):
    assert required_text(TagPattern("k", "regex", regex)) == needle
