"""NATS user NKeys for the cluster tests: a seed (SU...) and its public key
(U...), the format nats-server's `nkey` users and gatehouse's [nats]
nkey_seed read: base32 (no padding) of prefix bytes, the 32-byte Ed25519
seed or public key, and a CRC-16/XMODEM, little-endian."""
import base64
import os

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization

_SEED = 18 << 3   # 'S'
_USER = 20 << 3   # 'U'


def _crc16(data: bytes) -> int:
    crc = 0
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def _enc(raw: bytes) -> str:
    c = _crc16(raw)
    return base64.b32encode(raw + bytes([c & 0xFF, c >> 8])).decode().rstrip("=")


def user_pair(raw_seed: bytes = None):
    """(seed, public key) of a new (or the given) user NKey."""
    raw_seed = raw_seed or os.urandom(32)
    pub = Ed25519PrivateKey.from_private_bytes(raw_seed).public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    seed = _enc(bytes([_SEED | (_USER >> 5), (_USER & 31) << 3]) + raw_seed)
    return seed, _enc(bytes([_USER]) + pub)


if __name__ == "__main__":
    print(*user_pair(bytes(range(32))))
