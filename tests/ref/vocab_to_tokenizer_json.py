#!/usr/bin/env python3
"""vocab_to_tokenizer_json.py VOCAB.json MERGES.txt OUT.json: the tokenizer.json a recent
Hugging Face save writes for a GPT-2 byte-level vocabulary (ByteLevel pre-tokenizer and
decoder, <|endoftext|> as a special added token). Standard library only; for test_cli.sh."""
import json
import sys

vocab = json.load(open(sys.argv[1], encoding="utf-8"))
merges = [l.rstrip("\r\n") for l in open(sys.argv[2], encoding="utf-8")]
merges = [m for i, m in enumerate(merges) if m and not (i == 0 and m.startswith("#version"))]
added = [{"id": vocab[t], "content": t, "single_word": False, "lstrip": False, "rstrip": False,
          "normalized": True, "special": True} for t in ("<|endoftext|>",) if t in vocab]
tj = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added, "normalizer": None,
      "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
      "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
      "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
      "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                "vocab": vocab, "merges": merges}}
json.dump(tj, open(sys.argv[3], "w", encoding="utf-8"), ensure_ascii=False)
