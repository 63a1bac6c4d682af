"""Reads the SPIFFE URI SAN of a PEM certificate, without dependencies (a small DER walk).

Only the subjectAltName extension is read; the certificate was verified by the TLS server.
"""

import base64
import binascii
from typing import List, Optional, Tuple

_SAN_OID = bytes([0x06, 0x03, 0x55, 0x1D, 0x11])  # 2.5.29.17 subjectAltName
_URI_TAG = 0x86  # GeneralName uniformResourceIdentifier [6] IMPLICIT IA5String


def _tlv(der: bytes, at: int) -> Tuple[int, int, int]:
    """(tag, start of the value, end of the value) of the DER element at ``at``."""
    if at + 2 > len(der):
        raise ValueError("truncated DER")
    tag, n = der[at], der[at + 1]
    at += 2
    if n & 0x80:
        count = n & 0x7F
        if count == 0 or count > 4 or at + count > len(der):
            raise ValueError("bad DER length")
        n = int.from_bytes(der[at : at + count], "big")
        at += count
    if at + n > len(der):
        raise ValueError("truncated DER")
    return tag, at, at + n


def _uris(der: bytes) -> List[str]:
    found = der.find(_SAN_OID)
    if found < 0:
        return []
    at = found + len(_SAN_OID)
    tag, start, end = _tlv(der, at)
    if tag == 0x01:  # critical: BOOLEAN
        tag, start, end = _tlv(der, end)
    if tag != 0x04:  # extnValue: OCTET STRING
        raise ValueError("bad subjectAltName extension")
    tag, at, seq_end = _tlv(der, start)
    if tag != 0x30:
        raise ValueError("bad subjectAltName extension")
    uris = []
    while at < seq_end:
        tag, start, end = _tlv(der, at)
        if tag == _URI_TAG:
            uris.append(der[start:end].decode("ascii"))
        at = end
    return uris


def spiffe_uri_of_pem(pem: str) -> Optional[str]:
    """The first ``spiffe://`` URI SAN of the first certificate in ``pem``; None when there is
    none or the certificate cannot be read."""
    lines = pem.strip().splitlines()
    try:
        begin = next(i for i, line in enumerate(lines) if line.startswith("-----BEGIN CERTIFICATE"))
        end = next(i for i, line in enumerate(lines) if line.startswith("-----END CERTIFICATE"))
        der = base64.b64decode("".join(lines[begin + 1 : end]), validate=True)
        return next((u for u in _uris(der) if u.startswith("spiffe://")), None)
    except (StopIteration, binascii.Error, ValueError, UnicodeDecodeError):
        return None
