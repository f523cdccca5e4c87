"""Pure document rules: served filenames, content checks, signed links."""
import pytest

from db.settings import Settings
from resolvers.document import DocumentRefused, LinkCheck, check_download, download_query
from web.upload import ALLOWED_TYPES, ContentCheck, clean_filename

SETTINGS = Settings(database_url=None, jwt_secret_env="unit-secret-" + "y" * 40)
PDF_TYPE = ALLOWED_TYPES["application/pdf"]
CSV_TYPE = ALLOWED_TYPES["text/csv"]
NOW = 1_800_000_000.0


@pytest.mark.parametrize(("raw", "served"), [
    (b"report.pdf", "report.pdf"),
    (b"REPORT.PDF", "REPORT.PDF"),
    (b"C:\\Users\\me\\audit.pdf", "audit.pdf"),
    (b"../../etc/passwd", "passwd.pdf"),
    (b'quo"ted\r\nX-Injected: 1.pdf', "quotedX-Injected: 1.pdf"),
    (b"page.html", "page.html.pdf"),
    (b"", "document.pdf"),
    (None, "document.pdf"),
    ("Çorlu raporu.pdf".encode(), "Çorlu raporu.pdf"),
    (b"a" * 500 + b".pdf", "a" * 200 + ".pdf"),
])
def test_served_filename_has_no_path_no_controls_and_its_types_extension(
        raw: bytes | None, served: str) -> None:
    assert clean_filename(raw, PDF_TYPE) == served


def test_magic_bytes_split_across_pieces_are_recognised() -> None:
    check = ContentCheck(PDF_TYPE)
    for piece in (b"%P", b"D", b"F-1.7", b" rest"):
        check.feed(piece)
    check.finish()


def test_wrong_magic_is_refused_at_the_first_piece() -> None:
    check = ContentCheck(PDF_TYPE)
    with pytest.raises(DocumentRefused) as refused:
        check.feed(b"<h")
    assert (refused.value.status, refused.value.code) == (415, "UNSUPPORTED_TYPE")


def test_utf8_split_across_pieces_is_valid_csv() -> None:
    check = ContentCheck(CSV_TYPE)
    encoded = "şehir,ğ\n".encode()
    for i in range(len(encoded)):
        check.feed(encoded[i:i + 1])
    check.finish()


def test_a_link_checks_valid_until_it_expires() -> None:
    query = dict(part.split("=") for part in download_query(SETTINGS, 7, now=NOW).split("&"))
    expires = int(query["expires"])
    assert NOW + 14 * 60 <= expires <= NOW + 15 * 60
    check = check_download(SETTINGS, 7, query["expires"], query["signature"], now=expires - 1)
    assert check is LinkCheck.VALID
    assert check_download(SETTINGS, 7, query["expires"], query["signature"],
                          now=expires + 1) is LinkCheck.EXPIRED
    assert check_download(SETTINGS, 8, query["expires"], query["signature"],
                          now=NOW) is LinkCheck.INVALID


@pytest.mark.parametrize(("expires", "signature"), [
    (None, "abc"), ("123", None), ("²", "abc"), ("1" * 40, "abc"), ("-5", "abc"),
    ("1800000900", "é"), ("1800000900", ""),
])
def test_malformed_links_are_invalid_not_errors(expires: str | None,
                                                signature: str | None) -> None:
    assert check_download(SETTINGS, 7, expires, signature, now=NOW) is LinkCheck.INVALID


def test_another_secret_signs_other_links() -> None:
    other = Settings(database_url=None, jwt_secret_env="other-secret-" + "z" * 40)
    assert download_query(SETTINGS, 7, now=NOW) != download_query(other, 7, now=NOW)
