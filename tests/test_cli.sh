#!/usr/bin/env bash
# test_cli.sh: the command line as a user meets it: usage errors exit 2 with the usage
# on stderr, bad files exit 1 with a message naming the file, good runs print what they
# promise. Usage: bash tests/test_cli.sh ./prune
set -u
PRUNE=${1:-./prune}
DATA=$(dirname "$0")/data
pass=0 fail=0
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# expect NAME EXIT_CODE PATTERN(stdout+stderr, grep -E) -- command...
expect() {
  local name=$1 code=$2 pat=$3
  shift 4
  local out rc
  out=$("$@" 2>&1)
  rc=$?
  if [ "$rc" -eq "$code" ] && grep -qE -- "$pat" <<<"$out"; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1))
    echo "FAIL: $name (exit $rc, wanted $code; pattern '$pat')"
    echo "$out" | head -5 | sed 's/^/    /'
  fi
}

expect "no arguments explains"     0 "usage:"                 -- "$PRUNE"
expect "--help"                    0 "prune next MODEL"       -- "$PRUNE" --help
expect "unknown command"           2 "unknown command: frob"  -- "$PRUNE" frob
expect "info without model"        2 "missing MODEL"          -- "$PRUNE" info
expect "unknown option"            2 "unknown option: --bogus" -- "$PRUNE" info x --bogus
expect "next without --ids"        2 "needs --ids"            -- "$PRUNE" next "$DATA/golden_l2h2.bin"
expect "bad --ids"                 2 "'4x' is not a token id" -- "$PRUNE" next "$DATA/golden_l2h2.bin" --ids "3 4x"
expect "bad --top"                 2 "--top needs"            -- "$PRUNE" next "$DATA/golden_l2h2.bin" --ids 3 --top 0
expect "bad --threads"             2 "--threads needs"        -- "$PRUNE" next "$DATA/golden_l2h2.bin" --ids 3 --threads x
expect "missing file"              1 "nope.bin: cannot open"  -- "$PRUNE" info "$TMP/nope.bin"
printf 'not a model at all, just some text that is long enough.%.0s' {1..40} > "$TMP/text.bin"
expect "not a model"               1 "text.bin: header field 'magic'" -- "$PRUNE" info "$TMP/text.bin"
expect "id past vocabulary"        1 "token id 29 outside the vocabulary 0..28" -- "$PRUNE" next "$DATA/golden_l2h2.bin" --ids "3 29"
expect "prompt past context"       1 "context is 16"          -- "$PRUNE" next "$DATA/golden_l2h2.bin" --ids "$(seq -s ' ' 1 17)"
expect "info llm.c"                0 "parameters  2144"       -- "$PRUNE" info "$DATA/golden_l2h2.bin"
expect "info HF folder"            0 "V  = 21 \(padded Vp = 128\)" -- "$PRUNE" info "$DATA/lm_buddy_tiny_gpt2"
expect "info --json"               0 '"parameters": 2144'     -- "$PRUNE" info "$DATA/golden_l2h2.bin" --json
# golden: token 7 is the top next token after "21 4" (tests/ref/gpt2_ref.py --llmc)
expect "next top-1"                0 "^ +1 +7 +-1\.7076"      -- "$PRUNE" next "$DATA/golden_l2h2.bin" --ids "21 4"
expect "next --json top-k"         0 '"id": 7,'               -- "$PRUNE" next "$DATA/golden_l2h2.bin" --ids "21,4" --json --top 29
n=$("$PRUNE" next "$DATA/golden_l2h2.bin" --ids "21 4" --json --top 29 | grep -c '"logprob"')
if [ "$n" -eq 29 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: --top 29 listed $n"; fi

echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
