#!/bin/sh
# make check-asan / make check-valgrind: the runtime under AddressSanitizer + UndefinedBehavior-
# Sanitizer (with LeakSanitizer), or under valgrind's memcheck. Run from runtime_min/ by make:
#
#   tests/check_sanitizers.sh asan BUILD_DIR PYTHON [FUZZ_COUNT]
#   tests/check_sanitizers.sh valgrind BUILD_DIR PYTHON [CYCLES]
#
# asan: the fixture artifact (and a signed copy) through 1,000 load/create/run/release cycles of
# tests/load_run with leak detection; RFC 8032's vectors through tests/ed25519_check; FUZZ_COUNT
# mutated, re-sealed artifacts (python -m bench.fuzz artifacts --sanitize); then the runtime's
# Python tests on the sanitized library (LD_PRELOAD; leak detection off there, Python itself
# keeps memory to exit). Any sanitizer report fails the run (-fno-sanitize-recover, exit codes).
# valgrind: CYCLES cycles under memcheck; any error or definitely/indirectly lost byte fails.
set -eu
mode=$1
build=$(cd "$2" && pwd)
python=$3
repo=$(cd .. && pwd)
fixtures="$build/fixtures"
mkdir -p "$fixtures"
"$python" "$repo/tests/runtime/fixtures/make_fixture.py" "$fixtures" > /dev/null
fixture="$fixtures/fixture.so"

if [ "$mode" = valgrind ]; then
  cycles=${4:-1000}
  echo "== valgrind: $cycles load/session/run/release cycles of the fixture"
  valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect \
    --errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
    "$build/tests/load_run" --cycles "$cycles" --expect-ok "$fixture"
  echo "valgrind: no errors, no leaks"
  exit 0
fi

fuzz_count=${4:-1000}
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=86
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
"$python" - "$fixtures" <<'EOF'
import shutil, sys
from pathlib import Path
sys.path.insert(0, str(Path.cwd().parent))
from ronn_aot.artifact import signing
out = Path(sys.argv[1])
private, _ = signing.keygen(out / "key", force=True)
shutil.copyfile(out / "fixture.so", out / "signed.so")
signing.sign(out / "signed.so", private)
EOF

echo "== ASan+UBSan: 1,000 load/session/run/release cycles of the fixture (leaks checked at exit)"
"$build/tests/load_run" --cycles 1000 --expect-ok "$fixture"
echo "== ASan+UBSan: signed artifacts under a trusted key, unsigned ones refused"
"$build/tests/load_run" --cycles 50 --expect-ok --trusted-key "$fixtures/key.pub" "$fixtures/signed.so"
"$build/tests/load_run" --cycles 50 --trusted-key "$fixtures/key.pub" "$fixture" > "$build/unsigned.txt"
grep -q UNSIGNED_ARTIFACT "$build/unsigned.txt"
"$build/ronn-run" "$fixtures/signed.so" --trusted-key "$fixtures/key.pub" --info > /dev/null
echo "== ASan+UBSan: RFC 8032 vectors through the verifier"
grep -v '^#' "$repo/tests/runtime/fixtures/rfc8032_ed25519.txt" \
  | awk '{print "verify", $3, $5, ($4 == "" ? "-" : $4)}' > "$build/rfc8032.txt"
"$build/tests/ed25519_check" < "$build/rfc8032.txt" > "$build/rfc8032.out"
test "$(tr -d '\n' < "$build/rfc8032.out")" = 11111
echo "== ASan+UBSan: $fuzz_count mutated, re-sealed artifacts"
(cd "$repo" && "$python" -m bench.fuzz artifacts --sanitize --count "$fuzz_count" --seed 11 \
  --build "$build" --out "$build/fuzz-findings")
echo "== ASan+UBSan: the runtime's Python tests on the sanitized library"
san_flags="CFLAGS='-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all'"
san_flags="$san_flags LDFLAGS=-fsanitize=address,undefined STRIP=true"
(cd "$repo" && RONN_TEST_MAKE_FLAGS="$san_flags" ASAN_OPTIONS=detect_leaks=0:exitcode=86 \
  LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)" \
  "$python" -m pytest -q -p no:cacheprovider tests/runtime/test_load_errors.py \
  tests/runtime/test_python_binding.py tests/runtime/test_c_api.py tests/runtime/test_ronn_run.py \
  tests/runtime/test_signing.py tests/runtime/test_contention.py tests/runtime/test_spin_option.py)
echo "check-asan: clean (ASan, UBSan, LeakSanitizer)"
