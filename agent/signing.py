"""Signed bundles: an Ed25519 signature over the exact bytes of manifest.json, kept in manifest.sig.

Why the manifest only: it lists the sha256 and size of every file of the bundle, so a valid
signature over it vouches for all of them — a changed file fails its hash, a manifest rewritten to
match the changed file fails the signature. Hashes alone catch accidents; the signature catches a
tamper that also updates the manifest.

The signature is plain Ed25519 (RFC 8032) over the file's bytes, base64 in manifest.sig, and keys
are standard PEM files (PKCS#8 private, SubjectPublicKeyInfo public): `stad-convert keygen` makes a
pair, `openssl genpkey -algorithm ed25519` works as well, and `openssl pkeyutl -verify -rawin`
checks a signature without this code. The private key stays on the workstation (`stad-convert
sign`); the agent's `scoring.bundle_keys` lists the public keys it trusts. With keys configured,
every bundle it loads — at start, on hot swap or SIGHUP — must be signed by one of them, or it is
refused. The `cryptography` package (the `signing` extra) is imported only when a key is used.
"""
from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path

SIGNATURE_NAME = "manifest.sig"
SIGNATURE_BYTES = 64


class SigningError(Exception):
    """A key or a signature cannot be used: missing, unreadable, of another kind, or not matching."""


def _ed25519():
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError:
        raise SigningError("signed bundles need the 'cryptography' package: pip install 'stad-edge[signing]'") from None
    return ed25519, serialization, InvalidSignature


def load_public_key(path: str | Path):
    """An Ed25519 public key from a PEM file."""
    ed25519, serialization, _ = _ed25519()
    try:
        key = serialization.load_pem_public_key(Path(path).read_bytes())
    except OSError as exc:
        raise SigningError(f"{path}: cannot read the key: {exc.strerror or exc}") from None
    except ValueError:
        raise SigningError(f"{path}: not a PEM public key (expected '-----BEGIN PUBLIC KEY-----')") from None
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise SigningError(f"{path}: a {type(key).__name__}, not an Ed25519 public key")
    return key


def load_private_key(path: str | Path):
    """An Ed25519 private key from an unencrypted PEM (PKCS#8) file."""
    ed25519, serialization, _ = _ed25519()
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except OSError as exc:
        raise SigningError(f"{path}: cannot read the key: {exc.strerror or exc}") from None
    except (ValueError, TypeError) as exc:
        raise SigningError(f"{path}: not an unencrypted PEM private key ({exc})") from None
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise SigningError(f"{path}: a {type(key).__name__}, not an Ed25519 private key")
    return key


def generate_keypair(private_path: Path, public_path: Path) -> None:
    """A new key pair: the private key written with mode 0600, the public one 0644. Never overwrites."""
    ed25519, serialization, _ = _ed25519()
    for path in (private_path, public_path):
        if path.exists():
            raise SigningError(f"{path}: exists already; not overwriting a key")
    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(private)
    public_path.write_bytes(public)


def sign_manifest(bundle_dir: Path, private_key_path: str | Path, manifest_name: str = "manifest.json") -> Path:
    """Write bundle_dir/manifest.sig: the signature of manifest.json as it is now (atomically)."""
    key = load_private_key(private_key_path)
    try:
        data = (bundle_dir / manifest_name).read_bytes()
    except OSError as exc:
        raise SigningError(f"{bundle_dir / manifest_name}: cannot read it: {exc.strerror or exc}") from None
    out = bundle_dir / SIGNATURE_NAME
    tmp = bundle_dir / (SIGNATURE_NAME + ".tmp")
    tmp.write_text(base64.b64encode(key.sign(data)).decode("ascii") + "\n", encoding="ascii")
    tmp.replace(out)
    return out


def verify_manifest(bundle_dir: Path, manifest_bytes: bytes, key_paths: tuple[Path, ...] | list[Path]) -> None:
    """Raise SigningError unless manifest.sig is a signature of `manifest_bytes` by one of the keys."""
    _, _, invalid = _ed25519()
    keys = [load_public_key(p) for p in key_paths]
    path = bundle_dir / SIGNATURE_NAME
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise SigningError(f"{bundle_dir}: not signed (no {SIGNATURE_NAME}), and scoring.bundle_keys requires "
                           f"a signature: sign it where the release key is kept (`stad-convert sign BUNDLE --key "
                           f"KEY.pem`, BUNDLE: this bundle's folder, {Path(bundle_dir).name}), then deliver it "
                           "again") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SigningError(f"{path}: cannot read it: {exc}") from None
    try:
        signature = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        signature = b""
    if len(signature) != SIGNATURE_BYTES:
        raise SigningError(f"{path}: not an Ed25519 signature (expected {SIGNATURE_BYTES} bytes in base64)")
    for key in keys:
        try:
            key.verify(signature, manifest_bytes)
            return
        except invalid:
            continue
    raise SigningError(f"{path}: the signature does not match manifest.json for any key of scoring.bundle_keys "
                       "(the manifest was changed after signing, or it was signed with another key)")


def key_problems(paths: list[Path]) -> list[tuple[int, str]]:
    """(index, problem) for every configured public key that cannot be used."""
    out = []
    for i, path in enumerate(paths):
        try:
            load_public_key(path)
        except SigningError as exc:
            out.append((i, str(exc)))
    return out


__all__ = ["SIGNATURE_NAME", "SigningError", "generate_keypair", "key_problems", "load_private_key",
           "load_public_key", "sign_manifest", "verify_manifest"]
