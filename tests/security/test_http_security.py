"""The pure parts of http_security: token files, the token check, origins, exposure."""

from __future__ import annotations

import pytest

from traceway.http_security import (
    BearerTokens,
    Security,
    SecuritySettingsError,
    is_loopback,
    parse_origins,
    read_token_file,
)


def test_token_file_skips_blank_lines_and_comments(tmp_path):
    path = tmp_path / "tokens"
    path.write_text("# the shop's senders\n\n  alpha-1  \n#beta\nbeta-2\n")
    assert read_token_file(path) == ("alpha-1", "beta-2")


@pytest.mark.parametrize("content, reason", [("# only a comment\n\n", "holds no token"),
                                             ("two words\n", "contains whitespace")])
def test_unusable_token_files_are_refused(tmp_path, content, reason):
    path = tmp_path / "tokens"
    path.write_text(content)
    with pytest.raises(SecuritySettingsError, match=reason):
        read_token_file(path)


def test_missing_token_file_names_the_path(tmp_path):
    with pytest.raises(SecuritySettingsError, match="nope"):
        read_token_file(tmp_path / "nope")


@pytest.mark.parametrize("header, reason", [
    ("Bearer alpha-1", None), ("bearer beta-2", None), ("Bearer  alpha-1 ", None),
    (None, "missing"), ("", "missing"), ("Bearer", "missing"), ("Basic alpha-1", "missing"),
    ("alpha-1", "missing"), ("Bearer alpha-", "not valid"), ("Bearer alpha-1x", "not valid"),
    ("Bearer ALPHA-1", "not valid"),
])
def test_bearer_check(header, reason):
    refusal = BearerTokens.of(["alpha-1", "beta-2"]).refusal(header)
    assert (refusal is None) if reason is None else (reason in refusal)
    assert "alpha" not in (refusal or "")


def test_no_tokens_means_open():
    assert BearerTokens().refusal(None) is None
    assert not BearerTokens().required


def test_origins():
    assert parse_origins(" https://a.example/, http://localhost:3000 ,") == (
        "https://a.example", "http://localhost:3000")
    assert parse_origins("") == ()
    with pytest.raises(SecuritySettingsError, match="scheme"):
        parse_origins("a.example")


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("::1", True),
                                            ("localhost", True), ("127.8.0.1", True),
                                            ("0.0.0.0", False), ("::", False),
                                            ("10.1.2.3", False), ("tracing.internal", False)])
def test_loopback(host, loopback):
    assert is_loopback(host) is loopback


def test_exposure_warning_names_the_open_sides():
    tokens = BearerTokens.of(["t"])
    assert Security().exposure_warning("127.0.0.1") is None
    assert "ingest" in Security(query=tokens).exposure_warning("0.0.0.0")
    assert "query (traces" not in Security(query=tokens).exposure_warning("0.0.0.0")
    assert Security(ingest=tokens, query=tokens).exposure_warning("0.0.0.0") is None


def test_tls_files_go_together(tmp_path):
    cert = tmp_path / "cert.pem"
    cert.write_text("x")
    with pytest.raises(SecuritySettingsError, match="together"):
        Security.load(tls_cert=str(cert))
    with pytest.raises(SecuritySettingsError, match="does not exist"):
        Security.load(tls_cert=str(cert), tls_key=str(tmp_path / "missing.pem"))
