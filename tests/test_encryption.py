"""instruments.encryption: AES-GCM field-level encryption without a broker (the lesson produces the records):
round trip, what a reader without the key sees, tampering, rotation and a dropped key, and clear errors."""

from __future__ import annotations

import base64
import json

import pytest

from kafkacourse.instruments.encryption import (KEY_ID_HEADER, DecryptionError, FieldCipher, UnknownKeyError,
                                                new_key)

ORDER = {"order": "o-1", "card": "4111-1111-1111-1111", "email": "dana@example.com", "total": 42.5}


@pytest.fixture
def cipher() -> FieldCipher:
    return FieldCipher({"k1": new_key()}, current="k1", fields=("card", "email"))


def test_round_trip_hides_only_the_named_fields(cipher):
    value, headers = cipher.encrypt(ORDER)
    assert b"4111" not in value and b"dana" not in value
    stored = json.loads(value)
    assert stored["order"] == "o-1" and stored["total"] == 42.5
    assert dict(headers)[KEY_ID_HEADER] == b"k1"
    assert cipher.decrypt(value, headers) == ORDER
    again, _ = cipher.encrypt(ORDER)
    assert json.loads(again)["card"] != stored["card"], "a fresh nonce per encryption: equal values differ"


def test_wrong_key_tampering_and_moved_fields_are_refused(cipher):
    value, headers = cipher.encrypt(ORDER)
    impostor = FieldCipher({"k1": new_key()}, current="k1", fields=cipher.fields)
    with pytest.raises(DecryptionError, match="'card'"):
        impostor.decrypt(value, headers)
    stored = json.loads(value)
    blob = bytearray(base64.b64decode(stored["card"]))
    blob[-1] ^= 1
    with pytest.raises(DecryptionError):
        cipher.decrypt(json.dumps({**stored, "card": base64.b64encode(bytes(blob)).decode()}).encode(), headers)
    swapped = {**stored, "card": stored["email"], "email": stored["card"]}
    with pytest.raises(DecryptionError):  # the field name is the associated data
        cipher.decrypt(json.dumps(swapped).encode(), headers)


def test_rotation_keeps_old_records_readable_until_the_old_key_is_dropped(cipher):
    old = cipher.encrypt(ORDER)
    rotated = cipher.rotate("k2")
    new = rotated.encrypt(ORDER)
    assert FieldCipher.key_id(new[1]) == "k2" and FieldCipher.key_id(old[1]) == "k1"
    assert rotated.decrypt(*old) == rotated.decrypt(*new) == ORDER
    shredded = rotated.without("k1")
    assert shredded.decrypt(*new) == ORDER
    with pytest.raises(UnknownKeyError, match="'k1'"):
        shredded.decrypt(*old)
    with pytest.raises(UnknownKeyError):
        cipher.decrypt(*new)                    # a reader that never got k2


def test_clear_errors_for_bad_input(cipher):
    with pytest.raises(ValueError, match="not among the keys"):
        FieldCipher({"k1": new_key()}, current="k9", fields=("card",))
    with pytest.raises(ValueError, match="16, 24 or 32 bytes"):
        FieldCipher({"k1": b"short"}, current="k1", fields=("card",))
    with pytest.raises(ValueError, match="list of field names"):
        FieldCipher({"k1": new_key()}, current="k1", fields="card")
    with pytest.raises(ValueError, match="taken"):
        cipher.rotate("k1")
    with pytest.raises(ValueError, match="rotate"):
        cipher.without("k1")
    with pytest.raises(TypeError, match="dict of fields"):
        cipher.encrypt("card=4111")
    assert cipher.decrypt(json.dumps(ORDER).encode(), []) == ORDER, "an unencrypted record passes as it is"
