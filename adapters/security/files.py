"""A bank's file security, as its ``[security]`` table configures it.

Outbound: encrypt to the bank's RSA key (when configured), then sign the bytes that travel
(``NAME.sig``). Inbound: verify the bank's signature over the bytes received (when the bank
signs), then decrypt what the bank encrypted to us. Keys are loaded once, when the policy
is built, so a wrong path or passphrase shows at start-up, not at the first file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric import rsa

from adapters.bankconfig import SecuritySection, SignAlgorithm
from adapters.security.envelope import open_envelope, seal
from adapters.security.errors import KeyLoadError, SignatureMissingError
from adapters.security.keys import load_private_key, load_public_key
from adapters.security.signing import SIGNATURE_SUFFIX, SignatureAlgorithm, Signer, Verifier


@dataclass(frozen=True)
class ProtectedFile:
    """An outbound file ready to upload: its bytes and its side files by suffix."""

    data: bytes
    sidecars: dict[str, bytes] = field(default_factory=dict)


class FileSecurity:
    """Signs, verifies, encrypts and decrypts one bank's files."""

    def __init__(
        self,
        *,
        signer: Signer | None = None,
        verifier: Verifier | None = None,
        recipient: rsa.RSAPublicKey | None = None,
        decryption_key: rsa.RSAPrivateKey | None = None,
    ) -> None:
        self.signer = signer
        self.verifier = verifier
        self._recipient = recipient
        self._decryption_key = decryption_key

    def __repr__(self) -> str:
        return (
            f"FileSecurity(sign={self.signer!r}, verify={self.verifier!r}, "
            f"encrypt={self._recipient is not None}, decrypt={self._decryption_key is not None})"
        )

    @classmethod
    def from_config(cls, section: SecuritySection) -> FileSecurity:
        signer = verifier = None
        recipient = decryption_key = None
        if section.sign is not SignAlgorithm.NONE and section.sign_key_path is not None:
            signer = Signer.from_path(
                SignatureAlgorithm(section.sign.value),
                section.sign_key_path,
                section.sign_key_passphrase_env,
            )
        if section.verify is not SignAlgorithm.NONE and section.verify_key_path is not None:
            verifier = Verifier.from_path(
                SignatureAlgorithm(section.verify.value), section.verify_key_path
            )
        if section.encrypt and section.encrypt_key_path is not None:
            public = load_public_key(section.encrypt_key_path)
            if not isinstance(public, rsa.RSAPublicKey):
                raise KeyLoadError(
                    f"加密需要 RSA 公钥 encrypt_key_path {section.encrypt_key_path} "
                    "is not an RSA public key"
                )
            recipient = public
        if section.decrypt and section.decrypt_key_path is not None:
            private = load_private_key(section.decrypt_key_path, section.decrypt_key_passphrase_env)
            if not isinstance(private, rsa.RSAPrivateKey):
                raise KeyLoadError(
                    f"解密需要 RSA 私钥 decrypt_key_path {section.decrypt_key_path} "
                    "is not an RSA private key"
                )
            decryption_key = private
        return cls(
            signer=signer, verifier=verifier, recipient=recipient, decryption_key=decryption_key
        )

    @property
    def expects_signature(self) -> bool:
        return self.verifier is not None

    def protect(self, data: bytes) -> ProtectedFile:
        """The bytes to upload and the side files to upload with them."""
        body = seal(data, self._recipient) if self._recipient is not None else data
        sidecars = {}
        if self.signer is not None:
            sidecars[SIGNATURE_SUFFIX] = self.signer.signature_file(body)
        return ProtectedFile(body, sidecars)

    def unprotect(self, name: str, data: bytes, signature: bytes | None) -> bytes:
        """The plain content of a received file, or a ``SecurityError`` saying why not."""
        if self.verifier is not None:
            if signature is None:
                raise SignatureMissingError(
                    f"缺少签名文件 {name} came without {name}{SIGNATURE_SUFFIX}; "
                    "this bank signs every file"
                )
            self.verifier.verify(data, signature, name=name)
        if self._decryption_key is not None:
            return open_envelope(data, self._decryption_key, name=name)
        return data
