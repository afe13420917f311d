"""PyInstaller runtime hook (Linux build): AES-CBC for SecretStorage without the cryptography package.

keyring's Secret Service backend (secretstorage) needs from `cryptography` only AES-CBC without
padding (it pads itself) to encrypt the API key on its way over D-Bus. The cryptography wheel is
~11 MB (its Rust core); the bundle already carries OpenSSL's libcrypto for Python's ssl/hashlib. So
the Linux spec leaves cryptography out, and this hook registers the few names secretstorage imports
(`default_backend`, `Cipher`, `algorithms.AES`, `modes.CBC`), backed by OpenSSL's EVP interface.
It does nothing when a real cryptography is importable.
"""


def _install() -> None:
    import importlib.util
    import sys

    if importlib.util.find_spec("cryptography") is not None:
        return

    import ctypes
    import ctypes.util
    import types

    import _hashlib  # noqa: F401  (links libcrypto: loading it first makes the soname below resolve)

    libcrypto = None
    for name in ("libcrypto.so.3", "libcrypto.so.1.1", ctypes.util.find_library("crypto")):
        if not name:
            continue
        try:
            libcrypto = ctypes.CDLL(name)
            break
        except OSError:
            continue
    if libcrypto is None:
        return  # secretstorage stays unimportable: keyring reports no backend, the app says so

    c_void_p, c_int, c_char_p = ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p
    libcrypto.EVP_CIPHER_CTX_new.restype = c_void_p
    libcrypto.EVP_CIPHER_CTX_free.argtypes = [c_void_p]
    for bits in (128, 192, 256):
        getattr(libcrypto, f"EVP_aes_{bits}_cbc").restype = c_void_p
    libcrypto.EVP_CipherInit_ex.argtypes = [c_void_p, c_void_p, c_void_p, c_char_p, c_char_p, c_int]
    libcrypto.EVP_CIPHER_CTX_set_padding.argtypes = [c_void_p, c_int]
    libcrypto.EVP_CipherUpdate.argtypes = [c_void_p, c_char_p, ctypes.POINTER(c_int), c_char_p, c_int]
    libcrypto.EVP_CipherFinal_ex.argtypes = [c_void_p, c_char_p, ctypes.POINTER(c_int)]

    class AES:
        def __init__(self, key: bytes) -> None:
            if len(key) not in (16, 24, 32):
                raise ValueError(f"Invalid key size ({len(key) * 8}) for AES.")
            self.key = bytes(key)

    class CBC:
        def __init__(self, initialization_vector: bytes) -> None:
            if len(initialization_vector) != 16:
                raise ValueError("Invalid IV size for CBC.")
            self.initialization_vector = bytes(initialization_vector)

    class _Context:
        """One encryption or decryption, no padding: update() as often as needed, then finalize()."""

        def __init__(self, key: bytes, iv: bytes, encrypt: bool) -> None:
            self._ctx = libcrypto.EVP_CIPHER_CTX_new()
            if not self._ctx:
                raise MemoryError("EVP_CIPHER_CTX_new failed")
            cipher = getattr(libcrypto, f"EVP_aes_{len(key) * 8}_cbc")()
            self._check(libcrypto.EVP_CipherInit_ex(self._ctx, cipher, None, key, iv, 1 if encrypt else 0))
            self._check(libcrypto.EVP_CIPHER_CTX_set_padding(self._ctx, 0))

        def _check(self, ok: int) -> None:
            if ok != 1:
                self._free()
                raise ValueError("OpenSSL AES-CBC failed (the data must be a multiple of 16 bytes)")

        def _free(self) -> None:
            if self._ctx:
                libcrypto.EVP_CIPHER_CTX_free(self._ctx)
                self._ctx = None

        def update(self, data: bytes) -> bytes:
            data = bytes(data)
            out = ctypes.create_string_buffer(len(data) + 16)
            written = c_int(0)
            self._check(libcrypto.EVP_CipherUpdate(self._ctx, out, ctypes.byref(written), data, len(data)))
            return out.raw[: written.value]

        def finalize(self) -> bytes:
            out = ctypes.create_string_buffer(32)
            written = c_int(0)
            self._check(libcrypto.EVP_CipherFinal_ex(self._ctx, out, ctypes.byref(written)))
            self._free()
            return out.raw[: written.value]

        def __del__(self) -> None:
            self._free()

    class Cipher:
        def __init__(self, algorithm: AES, mode: CBC, backend: object = None) -> None:
            if not isinstance(algorithm, AES) or not isinstance(mode, CBC):
                raise TypeError("only AES in CBC mode is available in this build")
            self.algorithm, self.mode = algorithm, mode

        def encryptor(self) -> _Context:
            return _Context(self.algorithm.key, self.mode.initialization_vector, encrypt=True)

        def decryptor(self) -> _Context:
            return _Context(self.algorithm.key, self.mode.initialization_vector, encrypt=False)

    modules = {name: types.ModuleType(name) for name in (
        "cryptography", "cryptography.hazmat", "cryptography.hazmat.backends",
        "cryptography.hazmat.primitives", "cryptography.hazmat.primitives.ciphers")}
    modules["cryptography.hazmat.backends"].default_backend = lambda: None
    ciphers = modules["cryptography.hazmat.primitives.ciphers"]
    ciphers.Cipher = Cipher
    ciphers.algorithms = types.SimpleNamespace(AES=AES)
    ciphers.modes = types.SimpleNamespace(CBC=CBC)
    for name, module in modules.items():
        module.__path__ = []  # a package, so the submodule imports resolve through sys.modules
        sys.modules[name] = module
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(modules[parent], child, module)


_install()
