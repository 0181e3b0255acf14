"""How consent reads its multipart forms (the platform's only forms with a file): each limit names its own field.

werkzeug answers every limit of a multipart form with the same bare 413, so a long name and a large scan read
alike. Here the limits are kept apart:
- the whole body over the request limit (the document and its fields, `MAX_CONTENT_LENGTH`) is refused before it
  is read, with the 413 that consent's handler gives the document: no other part may be that large;
- a text field over the field limit (the app's `MAX_FORM_MEMORY_SIZE`, shared.limits.FIELD_MAX_BYTES) is kept cut
  to that limit and the parse goes on, so the form's schema refuses it with a 422 naming the field and its own
  length limit. Every text field of a consent form has a length limit far below the field limit (held to it by
  tests/unit/test_consent_rules.py), so a cut value is always refused, never stored;
- a file part is never held to the field limit, however its bytes fall across reads.
"""
from __future__ import annotations

import codecs

from werkzeug.datastructures import FileStorage
from werkzeug.formparser import MultiPartParser
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData

from shared.web.bodies import PlatformRequest, StrictFormDataParser


class FieldCuttingParser(MultiPartParser):
    """werkzeug's multipart parser, except that a text field over `max_form_memory_size` is cut, not refused."""

    def parse(self, stream, boundary, content_length):
        field_limit = self.max_form_memory_size
        # Between two events the decoder holds one read and at most a boundary's length: a part's headers or a
        # preamble larger than a field stay refused (413 for the form).
        decoder = MultipartDecoder(boundary, None if field_limit is None else field_limit + self.buffer_size,
                                   max_parts=self.max_form_parts)
        fields, files, containers = [], [], []
        part = container = None
        kept, cut = bytearray(), False
        try:
            for chunk in _chunks(stream, self.buffer_size):
                decoder.receive_data(chunk)
                event = decoder.next_event()
                while not isinstance(event, (Epilogue, NeedData)):
                    if isinstance(event, Field):
                        part, kept, cut = event, bytearray(), False
                    elif isinstance(event, File):
                        part, container = event, self.start_file_streaming(event, content_length)
                        containers.append(container)
                    elif isinstance(event, Data):
                        if isinstance(part, Field):
                            room = len(event.data) if field_limit is None else max(field_limit - len(kept), 0)
                            kept += event.data[:room]
                            cut = cut or len(event.data) > room
                        else:
                            container.write(event.data)
                        if not event.more_data:
                            if isinstance(part, Field):
                                fields.append((part.name, self._text(part, bytes(kept), cut)))
                            else:
                                container.seek(0)
                                files.append((part.name, FileStorage(container, part.filename, part.name,
                                                                     headers=part.headers)))
                    event = decoder.next_event()
        except BaseException:
            for opened in containers:  # a refused form's files reach no request that would close them
                opened.close()
            raise
        return self.cls(fields), self.cls(files)

    def _text(self, part: Field, data: bytes, cut: bool) -> str:
        charset = self.get_part_charset(part.headers)
        if not cut:
            return data.decode(charset, "replace")
        # A cut may fall inside a character: the incremental decoder leaves an unfinished one out instead of
        # turning it into a replacement character (which the platform refuses as unreadable text).
        return codecs.getincrementaldecoder(charset)("replace").decode(data, final=False)


def _chunks(stream, size: int):
    while chunk := stream.read(size):
        yield chunk
    yield None  # the end of the body, for the decoder


class _ConsentFormDataParser(StrictFormDataParser):
    def _parse_multipart(self, stream, mimetype, content_length, options):
        boundary = options.get("boundary", "").encode("ascii")
        if not boundary:
            raise ValueError("Missing boundary")
        parser = FieldCuttingParser(stream_factory=self.stream_factory, max_form_memory_size=self.max_form_memory_size,
                                    max_form_parts=self.max_form_parts, cls=self.cls)
        form, files = parser.parse(stream, boundary, content_length)
        return stream, form, files


class ConsentRequest(PlatformRequest):
    """The consent service's request: the platform's, reading multipart forms with `FieldCuttingParser`."""

    form_data_parser_class = _ConsentFormDataParser
