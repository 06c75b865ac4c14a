"""Signed artifacts: Ed25519 keys, the signature block and its verification.

An artifact is signed by inserting a ``ronn_artifact_signature_v1`` block (128 bytes, see
``runtime_min/include/ronn/artifact_abi.h``) at the end of its payload, just before the integrity
footer, and re-sealing the footer over it. The signature covers a 112-byte message: a context
string, the SHA-256 of every byte before the block, and the footer's layout fields. runtime_min
checks it in C before ``dlopen`` when it is given trusted public keys; this module makes keys and
signatures and checks them the same way (for ``ronn-aot inspect`` and tests).

Key files are PEM: the private key as unencrypted PKCS#8 (file mode 0600), the public key as
SubjectPublicKeyInfo, the formats ``openssl genpkey -algorithm ed25519`` and ``openssl pkey
-pubout`` use, so keys made or kept with OpenSSL work too.
"""

from __future__ import annotations

import hashlib
import os
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from .format import ArtifactFormatError, Footer, append_footer, read_footer
from ..errors import ArtifactError

SIGNATURE_MAGIC = b"RONNSIG1"
SIGNATURE_VERSION = 1
ED25519 = 1
CONTEXT = b"ronn-aot artifact signature v1".ljust(32, b"\0")
_BLOCK = struct.Struct("<8sIIIIQ32s64s")  # ronn_artifact_signature_v1, 128 bytes
_MESSAGE_TAIL = struct.Struct("<6Q")  # signed_size and the footer's layout fields
SIGNATURE_SIZE = _BLOCK.size
assert SIGNATURE_SIZE == 128


class SigningError(ArtifactError):
    """A key could not be made or read, or an artifact could not be signed or verified."""


@dataclass(frozen=True)
class Signature:
    """The signature block of an artifact, as found (``verify`` checks it)."""

    public_key: bytes
    signature: bytes
    signed_size: int

    @property
    def key_id(self) -> str:
        return key_id(self.public_key)


def _crypto() -> Any:
    try:
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError:  # pragma: no cover - a declared dependency
        raise SigningError("signing needs the 'cryptography' package: pip install cryptography") from None
    return ed25519


def key_id(public_key: bytes) -> str:
    """The short name of a public key: the first 8 bytes of its SHA-256, in hex (runtime_min's
    messages name keys the same way)."""
    return hashlib.sha256(public_key).digest()[:8].hex()


def keygen(out: str | os.PathLike[str], force: bool = False) -> tuple[Path, Path]:
    """Write a new Ed25519 key pair: ``out`` (private, PKCS#8 PEM, mode 0600) and ``out.pub``
    (public, PEM). Refuses to overwrite existing files unless ``force``."""
    from cryptography.hazmat.primitives import serialization as ser

    private_path = Path(out)
    public_path = private_path.with_name(private_path.name + ".pub")
    existing = [str(p) for p in (private_path, public_path) if p.exists()]
    if existing and not force:
        raise SigningError(f"{', '.join(existing)} already exist(s): choose another --out, or pass "
                           f"--force to replace the key (artifacts signed with it stay signed by "
                           f"the old key)")
    key = _crypto().Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption())
    public_pem = key.public_key().public_bytes(ser.Encoding.PEM, ser.PublicFormat.SubjectPublicKeyInfo)
    if force and private_path.exists():
        private_path.unlink()
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(private_pem)
    public_path.write_bytes(public_pem)
    return private_path, public_path


def load_private_key(path: str | os.PathLike[str]) -> Any:
    """The Ed25519 private key in a PEM (PKCS#8) file."""
    from cryptography.hazmat.primitives import serialization as ser

    try:
        key = ser.load_pem_private_key(Path(path).read_bytes(), password=None)
    except OSError as e:
        raise SigningError(f"cannot read private key {path}: {e.strerror}") from None
    except (ValueError, TypeError) as e:
        raise SigningError(f"{path} is not an unencrypted PEM private key ({e}); make one with "
                           f"`ronn-aot keygen --out KEY`") from None
    if not isinstance(key, _crypto().Ed25519PrivateKey):
        raise SigningError(f"{path} holds a {type(key).__name__}, not an Ed25519 key")
    return key


def load_public_key(path: str | os.PathLike[str]) -> bytes:
    """The raw 32 bytes of an Ed25519 public key file (PEM, or 32 raw bytes as runtime_min reads)."""
    from cryptography.hazmat.primitives import serialization as ser

    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise SigningError(f"cannot read public key {path}: {e.strerror}") from None
    if len(data) == 32:
        return data
    try:
        key = ser.load_pem_public_key(data)
    except ValueError as e:
        raise SigningError(f"{path} is not a PEM public key ({e}): pass the KEY.pub written by "
                           f"`ronn-aot keygen`") from None
    if not isinstance(key, _crypto().Ed25519PublicKey):
        raise SigningError(f"{path} holds a {type(key).__name__}, not an Ed25519 key")
    return bytes(key.public_bytes(ser.Encoding.Raw, ser.PublicFormat.Raw))


def _read_block(path: Path, footer: Footer) -> Signature | None:
    if footer.payload_size < SIGNATURE_SIZE:
        return None
    with open(path, "rb") as f:
        f.seek(footer.payload_size - SIGNATURE_SIZE)
        raw = f.read(SIGNATURE_SIZE)
    magic, version, size, algorithm, reserved, signed_size, public_key, signature = _BLOCK.unpack(raw)
    if magic != SIGNATURE_MAGIC:
        return None
    if (version, size, algorithm, reserved) != (SIGNATURE_VERSION, SIGNATURE_SIZE, ED25519, 0) \
            or signed_size != footer.payload_size - SIGNATURE_SIZE:
        raise SigningError(f"{path}: malformed signature block (version {version}, algorithm "
                           f"{algorithm}, {size} bytes); re-sign the artifact")
    return Signature(public_key, signature, signed_size)


def read_signature(path: str | os.PathLike[str]) -> Signature | None:
    """The artifact's signature block, or None when it is unsigned (not verified: see verify)."""
    path = Path(path)
    return _read_block(path, read_footer(path))


def _message(digest: bytes, signed_size: int, footer: Footer) -> bytes:
    return CONTEXT + digest + _MESSAGE_TAIL.pack(
        signed_size, footer.plan_file_offset, footer.plan_size, footer.weights_file_offset,
        footer.weights_size, footer.code_size)


def _copy_hashing(src: Path, dst: Any, size: int) -> bytes:
    h = hashlib.sha256()
    with open(src, "rb") as f:
        left = size
        while left:
            chunk = f.read(min(left, 1 << 20))
            if not chunk:
                raise ArtifactFormatError(f"{src} changed while it was being read")
            h.update(chunk)
            if dst is not None:
                dst.write(chunk)
            left -= len(chunk)
    return h.digest()


def sign(path: str | os.PathLike[str], private_key: str | os.PathLike[str]) -> Signature:
    """Sign the artifact at ``path`` in place (replacing an earlier signature), re-sealing its
    footer. The file is replaced atomically. Returns the new signature."""
    path = Path(path)
    key = load_private_key(private_key)
    footer = read_footer(path)
    previous = _read_block(path, footer)
    signed_size = previous.signed_size if previous is not None else footer.payload_size
    from cryptography.hazmat.primitives import serialization as ser

    public_key = key.public_key().public_bytes(ser.Encoding.Raw, ser.PublicFormat.Raw)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".signing")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            digest = _copy_hashing(path, out, signed_size)
            signature = key.sign(_message(digest, signed_size, footer))
            out.write(_BLOCK.pack(SIGNATURE_MAGIC, SIGNATURE_VERSION, SIGNATURE_SIZE, ED25519, 0,
                                  signed_size, public_key, signature))
        append_footer(tmp, (footer.plan_file_offset, footer.plan_size),
                      (footer.weights_file_offset, footer.weights_size), footer.code_size)
        os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return Signature(public_key, signature, signed_size)


def verify(path: str | os.PathLike[str], trusted_keys: Iterable[bytes]) -> Signature:
    """Check the artifact's signature as runtime_min does before loading it: present, by one of
    ``trusted_keys`` (raw 32-byte keys), and valid over the file's bytes. Raises SigningError."""
    from cryptography.exceptions import InvalidSignature

    path = Path(path)
    footer = read_footer(path)
    found = _read_block(path, footer)
    if found is None:
        raise SigningError(f"{path} is not signed: sign it with `ronn-aot sign {path} --key KEY`")
    trusted = list(trusted_keys)
    if found.public_key not in trusted:
        raise SigningError(f"{path} is signed by key {found.key_id}, which is not among the "
                           f"trusted keys ({', '.join(key_id(k) for k in trusted) or 'none'})")
    digest = _copy_hashing(path, None, found.signed_size)
    try:
        _crypto().Ed25519PublicKey.from_public_bytes(found.public_key).verify(
            found.signature, _message(digest, found.signed_size, footer))
    except InvalidSignature:
        raise SigningError(f"{path}: the signature by key {found.key_id} does not verify: the "
                           f"file was modified after it was signed") from None
    return found

