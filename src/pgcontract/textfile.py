"""Reading the text files a user gives (contracts, targets files): UTF-8 only, and when a file is not,
an error naming the file and the first byte that is not UTF-8, instead of a decoder traceback."""

from __future__ import annotations

import codecs
from pathlib import Path


class NotUtf8(ValueError):
    """A file that is not UTF-8 text; ``str()`` names the file, the byte, its offset, line and column."""

    def __init__(self, path: Path, data: bytes, offset: int) -> None:
        self.path = path
        self.offset = offset
        self.line = data.count(b"\n", 0, offset) + 1
        self.column = offset - (data.rfind(b"\n", 0, offset) + 1) + 1
        self.byte = data[offset]
        super().__init__(f"{path}: {self.reason}")

    @property
    def reason(self) -> str:
        """The problem, without the file name (for messages that give the position themselves)."""
        return (
            f"not UTF-8 text: byte 0x{self.byte:02x} at offset {self.offset} (line {self.line}, column "
            f"{self.column}); {self.hint}"
        )

    @property
    def hint(self) -> str:
        if self.offset == 0 and self.byte in (0xFE, 0xFF):
            return "it looks like UTF-16: save it as UTF-8"
        return "save it as UTF-8"


def decode_utf8(data: bytes, path: Path) -> str:
    """``data`` as text; a leading UTF-8 byte order mark (which some editors write) is dropped."""
    skipped = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[skipped:].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotUtf8(path, data, exc.start + skipped) from None


def read_utf8(path: Path) -> str:
    """The file's text; ``NotUtf8`` when it is not UTF-8, ``OSError`` when it cannot be read."""
    return decode_utf8(path.read_bytes(), path)
