"""What a signed consent document may be: a PDF, JPEG or PNG, judged from its first bytes, never from its name.

Executables renamed to .pdf, empty files and files over the size limit are refused before anything is stored,
with a message a counsellor understands.
"""
from __future__ import annotations

from shared.limits import UPLOAD_MAX_BYTES, human_size
from shared.text import N_, Text

PDF, JPEG, PNG = "application/pdf", "image/jpeg", "image/png"
EXTENSIONS = {PDF: "pdf", JPEG: "jpg", PNG: "png"}
DEFAULT_MAX_BYTES = UPLOAD_MAX_BYTES  # CONSENT_MAX_UPLOAD_BYTES may lower it, never raise it

_SIGNATURES = ((b"%PDF-", PDF), (b"\xff\xd8\xff", JPEG), (b"\x89PNG\r\n\x1a\n", PNG))
_EXECUTABLES = (b"\x7fELF", b"MZ", b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe",
                b"\xca\xfe\xba\xbe", b"#!")


class UploadRefused(ValueError):
    """The document is not acceptable; `message` is the Norwegian text shown at the upload field."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def sniff_document(data: bytes | None, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """Return the content type of an acceptable document, or raise UploadRefused."""
    if data is None:
        raise UploadRefused(N_("Last opp den signerte samtykkeerklæringen (PDF, JPEG eller PNG)."))
    if len(data) == 0:
        raise UploadRefused(N_("Filen er tom. Last opp den skannede samtykkeerklæringen (PDF, JPEG eller PNG)."))
    if len(data) > max_bytes:
        raise UploadRefused(Text(N_("Filen er for stor ({size}). Største tillatte størrelse er {limit}."),
                                 size=human_size(len(data)), limit=human_size(max_bytes)))
    if data.startswith(_EXECUTABLES):
        raise UploadRefused(N_("Filen er et program (kjørbar fil), ikke et skannet dokument, uansett hva filnavnet "
                               "sier. Den er avvist og ikke lagret."))
    for signature, content_type in _SIGNATURES:
        if data.startswith(signature):
            return content_type
    raise UploadRefused(N_("Filtypen er ikke tillatt. Bare PDF, JPEG og PNG godtas, og typen avgjøres av innholdet "
                           "i filen, ikke av filnavnet."))
