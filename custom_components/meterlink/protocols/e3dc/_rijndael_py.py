"""Pure-Python Rijndael-256 (256-bit block and key, CBC): the fallback when crijndael is absent.

Written from the Rijndael specification (Daemen and Rijmen, "AES Proposal: Rijndael", v2 1999,
sections 4.1-4.4 and 5.3): Nb = Nk = 8 columns, Nr = 14 rounds, ShiftRows offsets 1, 3, 4 for
rows 1..3 at Nb = 8 (section 4.2.3 table 2). Column words are big-endian (row 0 is the top byte)
and rounds use four 256-entry lookup tables, the usual 32-bit software layout (section 5.2.1).
"""

from __future__ import annotations

import struct

_NB = 8  # Rijndael spec 4.1: block of 8 32-bit columns (256 bits)
_NK = 8  # Rijndael spec 4.1: key of 8 32-bit words (256 bits)
_NR = 14  # Rijndael spec 4.4 table 3: max(Nb, Nk) + 6 rounds
_C1, _C2, _C3 = 1, 3, 4  # Rijndael spec 4.2.3 table 2: ShiftRows offsets for Nb = 8
_BLOCK = 32
_SUBWORD_AT = 4  # Rijndael spec 4.3.1: extra SubWord at i mod Nk == 4 when Nk > 6
_WORDS = struct.Struct(">8I")


def _xtime(value: int) -> int:
    """Multiply a field element by x (0x02) modulo the Rijndael polynomial 0x11B."""
    value <<= 1
    return value ^ 0x11B if value & 0x100 else value


def _gf_mul(a: int, b: int) -> int:
    """Multiply two elements of GF(2^8) modulo 0x11B."""
    result = 0
    while b:
        if b & 1:
            result ^= a
        a = _xtime(a)
        b >>= 1
    return result


def _build_sbox() -> tuple[list[int], list[int]]:
    """Compute the S-box and its inverse: field inverse, then the affine map (spec 4.2.1)."""
    sbox = [0] * 256
    inverse = [0] * 256
    for value in range(256):
        inv = 0
        if value:
            inv = next(c for c in range(1, 256) if _gf_mul(value, c) == 1)
        out = inv
        for shift in range(1, 5):
            out ^= ((inv << shift) | (inv >> (8 - shift))) & 0xFF
        out ^= 0x63
        sbox[value] = out
        inverse[out] = value
    return sbox, inverse


def _ror(word: int, bits: int) -> int:
    """Rotate a 32-bit word right by ``bits``."""
    return ((word >> bits) | (word << (32 - bits))) & 0xFFFFFFFF


def _build_tables() -> tuple[list[int], list[list[int]], list[list[int]]]:
    """Build the S-box and the encryption and decryption round tables."""
    sbox, inv_sbox = _build_sbox()
    te0 = []
    td0 = []
    for value in range(256):
        s = sbox[value]
        te0.append((_gf_mul(s, 2) << 24) | (s << 16) | (s << 8) | _gf_mul(s, 3))
        si = inv_sbox[value]
        td0.append(
            (_gf_mul(si, 14) << 24)
            | (_gf_mul(si, 9) << 16)
            | (_gf_mul(si, 13) << 8)
            | _gf_mul(si, 11)
        )
    te = [te0, [_ror(w, 8) for w in te0], [_ror(w, 16) for w in te0], [_ror(w, 24) for w in te0]]
    td = [td0, [_ror(w, 8) for w in td0], [_ror(w, 16) for w in td0], [_ror(w, 24) for w in td0]]
    return sbox, te, td


_SBOX, (_TE0, _TE1, _TE2, _TE3), (_TD0, _TD1, _TD2, _TD3) = _build_tables()
_INV_SBOX = [0] * 256
for _i, _s in enumerate(_SBOX):
    _INV_SBOX[_s] = _i


def _sub_word(word: int) -> int:
    """Apply the S-box to each byte of a word (key schedule SubWord)."""
    return (
        (_SBOX[word >> 24] << 24)
        | (_SBOX[(word >> 16) & 0xFF] << 16)
        | (_SBOX[(word >> 8) & 0xFF] << 8)
        | _SBOX[word & 0xFF]
    )


def _expand_key(key: bytes) -> tuple[list[int], list[int]]:
    """Return the encryption and equivalent-inverse decryption round keys (spec 4.3, 5.3.3)."""
    words = list(_WORDS.unpack(key))
    rcon = 1
    for i in range(_NK, _NB * (_NR + 1)):
        temp = words[i - 1]
        if i % _NK == 0:
            temp = _sub_word(((temp << 8) | (temp >> 24)) & 0xFFFFFFFF) ^ (rcon << 24)
            rcon = _xtime(rcon)
        elif i % _NK == _SUBWORD_AT:
            temp = _sub_word(temp)
        words.append(words[i - _NK] ^ temp)
    dec = list(words[_NR * _NB : (_NR + 1) * _NB])
    for rnd in range(_NR - 1, 0, -1):
        dec.extend(
            _TD0[_SBOX[w >> 24]]
            ^ _TD1[_SBOX[(w >> 16) & 0xFF]]
            ^ _TD2[_SBOX[(w >> 8) & 0xFF]]
            ^ _TD3[_SBOX[w & 0xFF]]
            for w in words[rnd * _NB : (rnd + 1) * _NB]
        )
    dec.extend(words[0:_NB])
    return words, dec


class Rijndael256:
    """Rijndael with 32-byte block and 32-byte key, encrypting and decrypting single blocks."""

    __slots__ = ("_dec", "_enc")

    def __init__(self, key: bytes) -> None:
        """Expand a 32-byte key."""
        if len(key) != _BLOCK:
            msg = f"Rijndael-256 key must be 32 bytes, got {len(key)}"
            raise ValueError(msg)
        self._enc, self._dec = _expand_key(key)

    def encrypt_words(self, state: list[int]) -> list[int]:
        """Encrypt one block given as 8 big-endian column words."""
        rk = self._enc
        s = [state[j] ^ rk[j] for j in range(_NB)]
        te0, te1, te2, te3 = _TE0, _TE1, _TE2, _TE3
        for rnd in range(1, _NR):
            base = rnd * _NB
            s = [
                te0[s[j] >> 24]
                ^ te1[(s[(j + _C1) % _NB] >> 16) & 0xFF]
                ^ te2[(s[(j + _C2) % _NB] >> 8) & 0xFF]
                ^ te3[s[(j + _C3) % _NB] & 0xFF]
                ^ rk[base + j]
                for j in range(_NB)
            ]
        base = _NR * _NB
        sbox = _SBOX
        return [
            (
                (sbox[s[j] >> 24] << 24)
                | (sbox[(s[(j + _C1) % _NB] >> 16) & 0xFF] << 16)
                | (sbox[(s[(j + _C2) % _NB] >> 8) & 0xFF] << 8)
                | sbox[s[(j + _C3) % _NB] & 0xFF]
            )
            ^ rk[base + j]
            for j in range(_NB)
        ]

    def decrypt_words(self, state: list[int]) -> list[int]:
        """Decrypt one block given as 8 big-endian column words."""
        rk = self._dec
        s = [state[j] ^ rk[j] for j in range(_NB)]
        td0, td1, td2, td3 = _TD0, _TD1, _TD2, _TD3
        for rnd in range(1, _NR):
            base = rnd * _NB
            s = [
                td0[s[j] >> 24]
                ^ td1[(s[(j - _C1) % _NB] >> 16) & 0xFF]
                ^ td2[(s[(j - _C2) % _NB] >> 8) & 0xFF]
                ^ td3[s[(j - _C3) % _NB] & 0xFF]
                ^ rk[base + j]
                for j in range(_NB)
            ]
        base = _NR * _NB
        inv = _INV_SBOX
        return [
            (
                (inv[s[j] >> 24] << 24)
                | (inv[(s[(j - _C1) % _NB] >> 16) & 0xFF] << 16)
                | (inv[(s[(j - _C2) % _NB] >> 8) & 0xFF] << 8)
                | inv[s[(j - _C3) % _NB] & 0xFF]
            )
            ^ rk[base + j]
            for j in range(_NB)
        ]


def cbc_encrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    """CBC-encrypt ``data`` (a multiple of 32 bytes) with Rijndael-256."""
    cipher = Rijndael256(key)
    prev = list(_WORDS.unpack(iv))
    out = bytearray()
    for offset in range(0, len(data), _BLOCK):
        block = _WORDS.unpack_from(data, offset)
        prev = cipher.encrypt_words([block[j] ^ prev[j] for j in range(_NB)])
        out += _WORDS.pack(*prev)
    return bytes(out)


def cbc_decrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    """CBC-decrypt ``data`` (a multiple of 32 bytes) with Rijndael-256."""
    cipher = Rijndael256(key)
    prev = _WORDS.unpack(iv)
    out = bytearray()
    for offset in range(0, len(data), _BLOCK):
        block = _WORDS.unpack_from(data, offset)
        plain = cipher.decrypt_words(list(block))
        out += _WORDS.pack(*(plain[j] ^ prev[j] for j in range(_NB)))
        prev = block
    return bytes(out)
