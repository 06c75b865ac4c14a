"""Signed artifacts: runtime_min's own Ed25519 verifier (src/ed25519.c) against RFC 8032's
vectors and signatures made by the `cryptography` package, and the load policy: with a trusted
key, every modified and re-sealed artifact is refused before dlopen, unsigned ones too."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import subprocess
from pathlib import Path

import make_fixture
import numpy as np
import pytest
import ronn_runtime
from runtime_helpers import RUNTIME_DIR, RuntimeBuild, extra_make_flags, make_runtime, random_input

from ronn_aot.artifact import signing
from ronn_aot.artifact.format import FOOTER_SIZE, read_footer

ed25519 = pytest.importorskip("cryptography.hazmat.primitives.asymmetric.ed25519")
from cryptography.hazmat.primitives import serialization as ser  # noqa: E402

VECTORS = Path(__file__).resolve().parent / "fixtures" / "rfc8032_ed25519.txt"
# The group order L: S + L is the same scalar, but RFC 8032 requires S < L (malleability).
L = 2**252 + 27742317777372353535851937790883648493
MUTATIONS = int(os.environ.get("RONN_SIGNING_MUTATIONS", "300"))


def rfc8032_vectors() -> list[tuple[str, bytes, bytes, bytes, bytes]]:
    rows = []
    for line in VECTORS.read_text().splitlines():
        if line and not line.startswith("#"):
            name, *fields = line.split()
            secret, public, message, signature = (bytes.fromhex("" if f == "-" else f) for f in fields)
            rows.append((name, secret, public, message, signature))
    return rows


@pytest.fixture(scope="module")
def checker(runtime: RuntimeBuild) -> Path:
    make_runtime(runtime.build_dir, *extra_make_flags(), "test-drivers")
    return runtime.build_dir / "tests" / "ed25519_check"


def ask(checker: Path, requests: list[str]) -> list[str]:
    proc = subprocess.run([str(checker)], input="\n".join(requests) + "\n", capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    answers = proc.stdout.split()
    assert len(answers) == len(requests)
    return answers


def verify_request(public: bytes, signature: bytes, message: bytes) -> str:
    return f"verify {public.hex()} {signature.hex()} {message.hex() or '-'}"


def flipped(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def test_rfc8032_vectors(checker: Path) -> None:
    vectors = rfc8032_vectors()
    assert [v[0] for v in vectors] == ["TEST_1", "TEST_2", "TEST_3", "TEST_1024", "TEST_SHA(abc)"]
    requests, expected = [], []
    for _name, secret, public, message, signature in vectors:
        # The file itself is checked: the secret derives the public key and signs to the signature.
        key = ed25519.Ed25519PrivateKey.from_private_bytes(secret)
        assert key.public_key().public_bytes(ser.Encoding.Raw, ser.PublicFormat.Raw) == public
        assert key.sign(message) == signature
        requests.append(verify_request(public, signature, message))
        expected.append("1")
        # One flipped bit anywhere in the key, the signature's R or S, or the message: invalid.
        for bit in (0, 77, 255):
            requests.append(verify_request(flipped(public, bit), signature, message))
            expected.append("0")
        for bit in (3, 200, 256 + 5, 511 - 3):
            requests.append(verify_request(public, flipped(signature, bit), message))
            expected.append("0")
        if message:
            requests.append(verify_request(public, signature, flipped(message, 8 * len(message) - 1)))
            expected.append("0")
        s = int.from_bytes(signature[32:], "little")
        requests.append(verify_request(public, signature[:32] + (s + L).to_bytes(32, "little"), message))
        expected.append("0")
    assert ask(checker, requests) == expected


def test_sha512_matches_hashlib(checker: Path) -> None:
    rng = random.Random(1)
    messages = [rng.randbytes(n) for n in [0, 1, 55, 111, 112, 113, 127, 128, 129, 239, 240, 256, 1000]]
    answers = ask(checker, [f"sha512 {m.hex() or '-'}" for m in messages])
    assert answers == [hashlib.sha512(m).hexdigest() for m in messages]


def test_python_signatures_verify_in_c(checker: Path) -> None:
    rng = random.Random(2)
    requests, expected = [], []
    for i in range(200):
        key = ed25519.Ed25519PrivateKey.generate()
        public = key.public_key().public_bytes(ser.Encoding.Raw, ser.PublicFormat.Raw)
        message = rng.randbytes(rng.randrange(0, 300))
        signature = key.sign(message)
        requests.append(verify_request(public, signature, message))
        expected.append("1")
        bit = rng.randrange(8 * (32 + 64 + len(message)))
        blob = flipped(public + signature + message, bit)
        requests.append(verify_request(blob[:32], blob[32:96], blob[96:]))
        expected.append("0")
    assert ask(checker, requests) == expected


# ---- artifacts ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("keys")
    private, public = signing.keygen(folder / "device")
    other, other_public = signing.keygen(folder / "other")
    assert private.stat().st_mode & 0o777 == 0o600
    return {"private": private, "public": public, "other": other, "other_public": other_public}


@pytest.fixture(scope="module")
def signed_so(tmp_path_factory: pytest.TempPathFactory, fixture_so: Path, keys: dict[str, Path]) -> Path:
    path = tmp_path_factory.mktemp("signed") / "model.so"
    shutil.copyfile(fixture_so, path)
    signing.sign(path, keys["private"])
    return path


def load_error(path: Path, **kwargs: object) -> ronn_runtime.RonnRuntimeError:
    with pytest.raises(ronn_runtime.RonnRuntimeError) as err:
        ronn_runtime.InferenceSession(path, **kwargs)  # type: ignore[arg-type]
    return err.value


def test_signed_artifact_loads_and_runs(signed_so: Path, fixture_so: Path, keys: dict[str, Path]) -> None:
    assert signed_so.stat().st_size == fixture_so.stat().st_size + signing.SIGNATURE_SIZE
    found = signing.verify(signed_so, [signing.load_public_key(keys["public"])])
    assert found.key_id == signing.key_id(signing.load_public_key(keys["public"]))
    x = random_input(3)
    for kwargs in ({"trusted_keys": [keys["public"]]}, {"trusted_keys": [keys["other_public"], keys["public"]]},
                   {"trusted_keys": [signing.load_public_key(keys["public"])], "require_signature": True},
                   {}):  # without keys the signature is ignored: old behaviour
        with ronn_runtime.InferenceSession(signed_so, **kwargs) as sess:  # type: ignore[arg-type]
            outputs = sess.run(None, {"x": x})
        for got, want in zip(outputs, make_fixture.reference(x)):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_resigning_replaces_the_signature(signed_so: Path, keys: dict[str, Path], tmp_path: Path) -> None:
    path = tmp_path / "model.so"
    shutil.copyfile(signed_so, path)
    signing.sign(path, keys["other"])
    assert path.stat().st_size == signed_so.stat().st_size
    assert load_error(path, trusted_keys=[keys["public"]]).code == "UNTRUSTED_SIGNER"
    ronn_runtime.InferenceSession(path, trusted_keys=[keys["other_public"]]).close()


def test_unsigned_refused_when_keys_are_set_or_a_signature_required(fixture_so: Path,
                                                                   keys: dict[str, Path]) -> None:
    for kwargs in ({"trusted_keys": [keys["public"]]}, {"require_signature": True}):
        err = load_error(fixture_so, **kwargs)
        assert err.code == "UNSIGNED_ARTIFACT"
        assert "not signed" in err.message and "ronn-aot sign" in err.message


def test_unknown_signer_refused(signed_so: Path, keys: dict[str, Path]) -> None:
    err = load_error(signed_so, trusted_keys=[keys["other_public"]])
    assert err.code == "UNTRUSTED_SIGNER"
    assert signing.read_signature(signed_so).key_id in err.message  # type: ignore[union-attr]
    assert load_error(signed_so, require_signature=True).code == "UNTRUSTED_SIGNER"


def test_environment_policy(signed_so: Path, fixture_so: Path, keys: dict[str, Path],
                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RONN_TRUSTED_KEYS", f"{keys['other_public']}:{keys['public']}")
    assert load_error(fixture_so).code == "UNSIGNED_ARTIFACT"
    ronn_runtime.InferenceSession(signed_so).close()
    monkeypatch.setenv("RONN_TRUSTED_KEYS", str(keys["other_public"]))
    assert load_error(signed_so).code == "UNTRUSTED_SIGNER"
    monkeypatch.delenv("RONN_TRUSTED_KEYS")
    monkeypatch.setenv("RONN_REQUIRE_SIGNATURE", "1")
    assert load_error(fixture_so).code == "UNSIGNED_ARTIFACT"
    ronn_runtime.InferenceSession(signed_so, trusted_keys=[keys["public"]]).close()
    monkeypatch.setenv("RONN_TRUSTED_KEYS", str(keys["private"]))
    err = load_error(signed_so)
    assert err.code == "INVALID_ARGUMENT" and "RONN_TRUSTED_KEYS" in err.message


def test_public_key_files(signed_so: Path, keys: dict[str, Path], tmp_path: Path) -> None:
    raw = tmp_path / "raw.key"
    raw.write_bytes(signing.load_public_key(keys["public"]))
    ronn_runtime.InferenceSession(signed_so, trusted_keys=[raw]).close()
    # A PEM key with CRLF line ends, as copied through another OS, still parses.
    crlf = tmp_path / "crlf.pub"
    crlf.write_bytes(keys["public"].read_bytes().replace(b"\n", b"\r\n"))
    ronn_runtime.InferenceSession(signed_so, trusted_keys=[crlf]).close()
    err = load_error(signed_so, trusted_keys=[keys["private"]])
    assert err.code == "INVALID_ARGUMENT" and "not an Ed25519 public key" in err.message
    assert load_error(signed_so, trusted_keys=[tmp_path / "missing.pub"]).code == "NOT_FOUND"


def reseal(data: bytearray) -> None:
    """Recompute the footer's SHA-256 over the (modified) payload, as anyone can."""
    data[-32:] = hashlib.sha256(bytes(data[:-FOOTER_SIZE])).digest()


def test_modified_resealed_artifacts_are_all_refused(signed_so: Path, keys: dict[str, Path],
                                                    tmp_path: Path) -> None:
    """Every single-byte change anywhere in the file (code, plan, weights, the signature block,
    the footer), re-sealed so that the integrity check passes, is refused with a trusted key."""
    original = signed_so.read_bytes()
    footer = read_footer(signed_so)
    rng = random.Random(3)
    # Half the mutations in the regions an attacker cares about most, half anywhere.
    regions = [(footer.plan_file_offset, footer.plan_size), (footer.weights_file_offset, footer.weights_size),
               (footer.payload_size - signing.SIGNATURE_SIZE, signing.SIGNATURE_SIZE)]
    codes: dict[str, int] = {}
    path = tmp_path / "mutated.so"
    for i in range(MUTATIONS):
        data = bytearray(original)
        if i % 2:
            start, size = regions[i // 2 % len(regions)]
            offset = start + rng.randrange(size)
        else:
            offset = rng.randrange(len(data) - 32)
        data[offset] ^= rng.randrange(1, 256)
        reseal(data)
        path.write_bytes(bytes(data))
        err = load_error(path, trusted_keys=[keys["public"]])
        codes[err.code] = codes.get(err.code, 0) + 1
    assert set(codes) <= {"BAD_SIGNATURE", "UNSIGNED_ARTIFACT", "UNTRUSTED_SIGNER", "CORRUPT_ARTIFACT",
                          "ABI_MISMATCH"}, codes
    assert codes.get("BAD_SIGNATURE", 0) > MUTATIONS // 2, codes


def test_structural_attacks_are_refused(signed_so: Path, keys: dict[str, Path], tmp_path: Path) -> None:
    original = signed_so.read_bytes()
    payload = len(original) - FOOTER_SIZE
    block = payload - signing.SIGNATURE_SIZE
    path = tmp_path / "attack.so"

    def attempt(data: bytes | bytearray) -> str:
        data = bytearray(data)
        reseal(data)
        path.write_bytes(bytes(data))
        return load_error(path, trusted_keys=[keys["public"]]).code

    # The signature block cut out (payload size fixed up): unsigned.
    footer = bytearray(original[payload:])
    footer[16:24] = block.to_bytes(8, "little")
    assert attempt(original[:block] + footer) == "UNSIGNED_ARTIFACT"
    # A byte appended to the code before the block, or the block's signed size changed.
    longer = bytearray(original[:block] + b"\0" + original[block:])
    longer[-FOOTER_SIZE + 16:-FOOTER_SIZE + 24] = (payload + 1).to_bytes(8, "little")
    assert attempt(longer) == "BAD_SIGNATURE"
    # The signer's key swapped for the trusted one, signature kept: does not verify.
    trusted = signing.load_public_key(keys["public"])
    shutil.copyfile(signed_so, path)
    signing.sign(path, keys["other"])
    other = bytearray(path.read_bytes())
    other[block + 32:block + 64] = trusted
    assert attempt(other) == "BAD_SIGNATURE"
    # The block of another artifact of the same size signed by the trusted key (one weight
    # differs), spliced into this one.
    weights = read_footer(signed_so).weights_file_offset
    variant = bytearray(original)
    variant[weights] ^= 0xff
    reseal(variant)
    path.write_bytes(bytes(variant))
    signing.sign(path, keys["private"])
    spliced = bytearray(original)
    spliced[block:payload] = path.read_bytes()[block:payload]
    assert spliced != bytearray(original)
    assert attempt(spliced) == "BAD_SIGNATURE"


def test_ronn_run_signature_flags(runtime: RuntimeBuild, signed_so: Path, fixture_so: Path,
                                  keys: dict[str, Path]) -> None:
    def run(*args: object) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(runtime.ronn_run), *map(str, args), "--info"], capture_output=True,
                              text=True, timeout=60)

    ok = run(signed_so, "--trusted-key", keys["public"], "--require-signature")
    assert ok.returncode == 0, ok.stderr
    refused = run(fixture_so, "--trusted-key", keys["public"])
    assert refused.returncode == 3 and "UNSIGNED_ARTIFACT" in refused.stderr
    assert run(fixture_so, "--require-signature").returncode == 3
    untrusted = run(signed_so, f"--trusted-key={keys['other_public']}")
    assert untrusted.returncode == 3 and "UNTRUSTED_SIGNER" in untrusted.stderr
    assert run(fixture_so).returncode == 0


@pytest.mark.skipif(bool(extra_make_flags()), reason="a build with extra make flags (sanitizers)")
def test_library_stays_in_budget(runtime: RuntimeBuild) -> None:
    """The verifier is built in: the stripped library still fits the 64 KB budget."""
    assert runtime.library.stat().st_size <= 64 * 1024
    assert (RUNTIME_DIR / "src" / "ed25519.c").is_file()


def test_cli_keygen_sign_inspect_run(fixture_so: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    from ronn_aot.cli import main

    key = tmp_path / "release"
    assert main(["keygen", "--out", str(key)]) == 0
    assert main(["keygen", "--out", str(key)]) == 9  # never overwrites a key silently
    model = tmp_path / "model.so"
    shutil.copyfile(fixture_so, model)
    assert main(["inspect", str(model)]) == 0
    assert "signed by:    nobody" in capsys.readouterr().out
    assert main(["sign", str(model), "--key", str(key)]) == 0
    assert main(["inspect", "--json", str(model)]) == 0
    key_id = signing.key_id(signing.load_public_key(key.with_name("release.pub")))
    assert f'"signer_key_id": "{key_id}"' in capsys.readouterr().out
    np.save(tmp_path / "x.npy", random_input(4))
    run = ["run", str(model), "--input", f"x={tmp_path / 'x.npy'}"]
    assert main([*run, "--trusted-key", str(key.with_name("release.pub")), "--require-signature"]) == 0
    unsigned = ["run", str(fixture_so), "--input", f"x={tmp_path / 'x.npy'}", "--require-signature"]
    assert main(unsigned) == 10
    assert "UNSIGNED_ARTIFACT" in capsys.readouterr().err


RACE_DRIVER = r"""
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

static long offset;

/* What an attacker racing the loader does: change a byte after the checks, before dlopen. */
static void tamper(const char* path) {
  int fd = open(path, O_WRONLY);
  unsigned char byte = 0x5a;
  if (fd < 0 || pwrite(fd, &byte, 1, offset) != 1) exit(9);
  close(fd);
}

/* argv: artifact, public key file or "-", file offset to tamper with, its index in the weights,
 * "tamper" or "none". Prints the status, then the weight byte the loaded model reads. */
int main(int argc, char** argv) {
  ronn_public_key key;
  ronn_model_options options;
  ronn_model_options_initialize(&options);
  if (strcmp(argv[2], "-") != 0) {
    ronn_status* status = ronn_public_key_read(argv[2], &key);
    if (status != NULL) return 8;
    options.trusted_keys = &key;
    options.num_trusted_keys = 1;
  }
  offset = atol(argv[3]);
  if (strcmp(argv[5], "tamper") == 0) ronn_test_after_check = tamper;
  ronn_model* model = NULL;
  ronn_status* status = ronn_model_load(argv[1], &options, &model);
  printf("%s: %s\n", ronn_status_code_name(ronn_status_get_code(status)), ronn_status_get_message(status));
  if (model != NULL) printf("weight byte %d\n", model->weights[atol(argv[4])]);
  ronn_status_free(status);
  ronn_model_release(model);
  return 0;
}
"""


def test_a_write_between_the_checks_and_dlopen(signed_so: Path, keys: dict[str, Path], tmp_path: Path) -> None:
    """The test build's hook writes one weight byte after the checks, before dlopen, as an
    attacker racing the loader would. A signed load maps a sealed private copy of the bytes it
    verified: it loads, and its weights are the signed ones. A hash-only load maps the file: the
    write moves the file's change time, which cannot be set back, and the load is refused."""
    build = make_runtime(tmp_path / "build", "CFLAGS=-O2 -DRONN_TEST_HOOKS")
    source = tmp_path / "race.c"
    source.write_text(RACE_DRIVER)
    exe = tmp_path / "race"
    subprocess.run(["gcc", "-std=c99", "-O2", "-D_POSIX_C_SOURCE=200809L", "-DRONN_TEST_HOOKS",
                    f"-I{RUNTIME_DIR / 'include'}", f"-I{RUNTIME_DIR / 'src'}", str(source),
                    str(build.static_library), "-o", str(exe), "-lpthread", "-ldl", "-lm"], check=True)
    weights = read_footer(signed_so).weights_file_offset
    original = signed_so.read_bytes()[weights + 8]
    assert original != 0x5A

    def load(key: str, mode: str) -> str:
        path = tmp_path / f"{mode}-{Path(key).name}.so"
        shutil.copyfile(signed_so, path)
        proc = subprocess.run([str(exe), str(path), key, str(weights + 8), "8", mode],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    signed = load(str(keys["public"]), "tamper")
    assert signed.startswith("OK: OK") and f"weight byte {original}" in signed, signed
    unsigned = load("-", "tamper")
    assert unsigned.startswith("IO_ERROR: ") and "changed while it was being loaded" in unsigned, unsigned
    assert load("-", "none").startswith("OK: OK")
