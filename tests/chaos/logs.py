"""Phones in logs, in any format a person or a library writes them: +380671234567, 380671234567,
0671234567, +38 (067) 123-45-67, 067 123 45 67…"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

# a run of digits with the separators people put between them; a phone is at most 15 digits
_CANDIDATE = re.compile(r"\+?\(?\d[\d \-().]{6,22}\d")
_SEPARATORS = re.compile(r"[^\d]")


def national(phone: str) -> str:
    """The nine digits after +380 (the part every Ukrainian format contains)."""
    digits = _SEPARATORS.sub("", phone)
    assert digits.startswith("380") and len(digits) == 12, phone
    return digits[3:]


def phones_in(text: str, phones: Iterable[str]) -> set[str]:
    """The phones of ``phones`` (E.164) that ``text`` contains in any format."""
    wanted = {national(p): p for p in phones}
    found = set()
    for match in _CANDIDATE.finditer(text):
        digits = _SEPARATORS.sub("", match.group())
        for start in range(0, max(1, len(digits) - 8)):
            hit = wanted.get(digits[start:start + 9])
            if hit and (start == 0 or digits[start - 1] == "0"):  # 67…, 067…, 38067…, 38 0 67…
                found.add(hit)
    return found


def formats(phone: str) -> list[str]:
    """The ways a phone is written, for the test that proves the search finds each of them."""
    n = national(phone)
    return [f"+380{n}", f"380{n}", f"0{n}", f"+38 0{n[:2]} {n[2:5]} {n[5:7]} {n[7:]}",
            f"+38 (0{n[:2]}) {n[2:5]}-{n[5:7]}-{n[7:]}", f"0{n[:2]}-{n[2:5]}-{n[5:7]}-{n[7:]}",
            f"0{n[:2]} {n[2:5]} {n[5:]}", f"+380 {n[:2]} {n[2:5]} {n[5:]}", f"{n[:2]} {n[2:5]} {n[5:7]} {n[7:]}"]


def read_logs(paths: Iterable[Path]) -> str:
    return "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in paths if p.is_file())
