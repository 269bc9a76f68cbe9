"""Client-side field-level encryption: a record's sensitive fields encrypted with AES-GCM before it is produced.

Kafka stores what the producer sends, on disk, as it was sent; TLS protects only the wire. Encrypting a PII
field in the producer keeps it unreadable for the brokers, their disks and backups, mirrors, and every consumer
without the key, while the rest of the record stays readable (routing, debugging, joins on an order id):

>>> from kafkacourse.instruments.encryption import FieldCipher, new_key
>>> cipher = FieldCipher({"k1": new_key()}, current="k1", fields=("card", "email"))
>>> value, headers = cipher.encrypt({"order": "o-1", "card": "4111-1111-1111-1111", "email": "a@example.com"})
>>> producer.produce(topic, value, headers=headers)           # value: JSON, card and email as base64 ciphertext
>>> cipher.decrypt(msg.value(), msg.headers())                 # {'order': 'o-1', 'card': '4111-…', 'email': …}

The key id travels in a header (``encryption.key.id``), so keys can be rotated: a cipher with
``cipher.rotate("k2", new_key())`` encrypts new records with k2 and still decrypts old ones with k1, as long as
it holds k1. A reader without a record's key gets :class:`UnknownKeyError`; a ciphertext altered on the way,
or decrypted with a wrong key, gets :class:`DecryptionError` (AES-GCM authenticates as well as encrypts).

Each field is encrypted with a fresh random 96-bit nonce (stored before the ciphertext) and the field's name as
associated data, so a ciphertext cannot be moved to another field unnoticed. The keys here live in memory; in
production they come from a key management service (KMS, Vault), and each data key is itself encrypted there
(envelope encryption).
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_ID_HEADER = "encryption.key.id"
FIELDS_HEADER = "encryption.fields"
NONCE_BYTES = 12

Headers = list[tuple[str, bytes]]


class UnknownKeyError(LookupError):
    """The record was encrypted with a key this cipher does not hold."""


class DecryptionError(ValueError):
    """A field did not decrypt: the wrong key under the right id, or the ciphertext was altered."""


def new_key() -> bytes:
    """A fresh random 256-bit AES key."""
    return AESGCM.generate_key(bit_length=256)


class FieldCipher:
    """Encrypt `fields` of JSON records with the key `current` of `keys` ({key id: 16/24/32-byte AES key});
    decrypt with whichever key a record's header names.

    >>> cipher = FieldCipher({"k1": new_key()}, current="k1", fields=("card",))
    """

    def __init__(self, keys: Mapping[str, bytes], current: str, fields: Sequence[str]) -> None:
        if not fields or isinstance(fields, str):
            raise ValueError(f"fields is a list of field names to encrypt, e.g. ('card', 'email'), not {fields!r}")
        for key_id, key in keys.items():
            if not isinstance(key, bytes) or len(key) not in (16, 24, 32):
                raise ValueError(f"key {key_id!r} must be 16, 24 or 32 bytes (AES-128/192/256), "
                                 f"not {len(key) if isinstance(key, bytes) else type(key).__name__}")
        if current not in keys:
            raise ValueError(f"the current key {current!r} is not among the keys {sorted(keys)}")
        self.keys, self.current, self.fields = dict(keys), current, tuple(fields)

    @property
    def key_ids(self) -> list[str]:
        """The ids of the keys this cipher holds (it can read records of each)."""
        return sorted(self.keys)

    def rotate(self, key_id: str, key: bytes | None = None) -> FieldCipher:
        """A cipher that encrypts with a new key `key_id` (a fresh one unless given) and still holds the old
        ones, so records written before the rotation stay readable."""
        if key_id in self.keys:
            raise ValueError(f"key id {key_id!r} is taken; a rotation needs a new id")
        return FieldCipher({**self.keys, key_id: key or new_key()}, current=key_id, fields=self.fields)

    def without(self, *key_ids: str) -> FieldCipher:
        """A cipher that no longer holds `key_ids` (records under them become unreadable for it: destroying
        the last copy of a key erases its data, "crypto-shredding")."""
        keys = {k: v for k, v in self.keys.items() if k not in key_ids}
        if self.current not in keys:
            raise ValueError(f"cannot drop the current key {self.current!r}: rotate() to a new one first")
        return FieldCipher(keys, current=self.current, fields=self.fields)

    # -- records ---------------------------------------------------------------------------------------------
    def encrypt(self, record: Mapping[str, Any]) -> tuple[bytes, Headers]:
        """The record as JSON bytes with each of `fields` it has replaced by base64(nonce + ciphertext), and the
        headers naming the key id and the encrypted fields."""
        if not isinstance(record, Mapping):
            raise TypeError(f"a record is a dict of fields, not {type(record).__name__}")
        aead, out, done = AESGCM(self.keys[self.current]), dict(record), []
        for name in self.fields:
            if name in out:
                nonce = os.urandom(NONCE_BYTES)
                plain = json.dumps(out[name]).encode()
                out[name] = base64.b64encode(nonce + aead.encrypt(nonce, plain, name.encode())).decode()
                done.append(name)
        headers = [(KEY_ID_HEADER, self.current.encode()), (FIELDS_HEADER, ",".join(done).encode())]
        return json.dumps(out).encode(), headers

    def decrypt(self, value: bytes, headers: Iterable[tuple[str, bytes]] | None) -> dict[str, Any]:
        """The record with its encrypted fields decrypted, by the key its header names. A record without the
        header is returned as it is (it was not encrypted). UnknownKeyError / DecryptionError otherwise."""
        record = json.loads(value)
        found = dict(headers or [])
        if KEY_ID_HEADER not in found:
            return record
        key_id = found[KEY_ID_HEADER].decode()
        if key_id not in self.keys:
            raise UnknownKeyError(f"the record was encrypted with key {key_id!r}; this cipher holds "
                                  f"{self.key_ids} (keep old keys after a rotation, or re-encrypt old records)")
        aead = AESGCM(self.keys[key_id])
        for name in filter(None, found.get(FIELDS_HEADER, b"").decode().split(",")):
            blob = base64.b64decode(record[name])
            try:
                plain = aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], name.encode())
            except InvalidTag:
                raise DecryptionError(f"field {name!r} does not decrypt with key {key_id!r}: a different key "
                                      "under that id, or the ciphertext was altered") from None
            record[name] = json.loads(plain)
        return record

    @staticmethod
    def key_id(headers: Iterable[tuple[str, bytes]] | None) -> str | None:
        """The key id a record's headers name (None for a record that was not encrypted)."""
        value = dict(headers or []).get(KEY_ID_HEADER)
        return value.decode() if value is not None else None
