"""Destination secrets encrypted at rest with the installation key (Fernet: AES-128-CBC with
HMAC-SHA256). The sender needs them in the clear to sign and authenticate, so they cannot be
hashes; a database dump without the key gives none of them away."""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class Sealer:
    def __init__(self, installation_key: str) -> None:
        # A key of its own, derived from the installation key: sessions and codes use other ones.
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"clicktrail outbound secrets").derive(
            installation_key.encode()
        )
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            raise ValueError("the secret was sealed with another installation key") from None
