// Deterministic text corpus for tokenizer tests and benchmarks: code, many scripts, emoji,
// whitespace runs, digits, contractions, special-token text, and byte strings that are not valid
// UTF-8. Used by tokenizer_reference.test.mjs; also a CLI for the throughput benchmark:
//   node tests/js/tokenizer_corpus.mjs --bytes 10000000 > /tmp/mixed.txt
//
// U+0085 and U+FEFF are never generated: JavaScript's \s differs from the White_Space property
// (which Hugging Face tokenizers, llama.cpp and uma use) on exactly these two characters, so the
// JS reference tokenizer would disagree for reasons of its regex engine, not of the tokenizer.

export function rng(seed) {
  // mulberry32
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = [
  "the", "The", "THE", "hello", "Hello", "world", "tokenizer", "Führer", "naïve", "café",
  "Cửa", "Việt", "привет", "мир", "Български", "γειά", "σου", "שלום", "مرحبا", "नमस्ते",
  "สวัสดี", "こんにちは", "カタカナ", "你好", "世界", "我想在apple工作", "안녕하세요", "ქართული",
  "Ελληνικά", "İstanbul", "straße", "ǅemal", "ﬁne", "Ａｂｃ", "x²", "½", "Ⅻ", "٣٤٥",
  "defghi", "w048", "7tuijk", "dsdfhu", "apple", "a", "I", "e\u0301", "n\u0303o",
];
const CONTRACTIONS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'LL", "'Ve", "'D"];
const PUNCT = [".", ",", "!", "?", "...", "!!!", "?!", "—", "–", "-", "--", "(", ")", "[", "]",
  "{", "}", "<", ">", "\"", "'", "`", "```", "«", "»", "“", "”", "。", "，", "、", "：", "～",
  "$", "€", "£", "%", "&", "@", "#", "*", "/", "\\", "|", "^", "~", "=", "+", "_", ";", ":"];
const EMOJI = ["🦙", "🚀", "😁", "😶‍🌫️", "✅", "👍🏽", "👨‍👩‍👧‍👦", "🇩🇪", "🇯🇵", "❤️", "🔥",
  "⭐", "🤖", "🧪", "©", "™", "☃"];
const SPACES = [" ", "  ", "   ", "    ", "\t", "\t\t", "\n", "\n\n", "\r\n", " \n", "\n ",
  "\n\n\n", " \t ", "\u00a0", "\u3000", "\u2003", "\u2028", "        "];
const CODE = [
  "def f(x):\n    return x * 2\n",
  "for (int i = 0; i < n; ++i) {\n\tsum += a[i];\n}\n",
  "const re = /\\s+(?!\\S)/gu;\nconsole.log(`${a} + ${b}`);",
  "#include <stdio.h>\nint main(void) { printf(\"%d\\n\", 42); }",
  "SELECT id, name FROM users WHERE age >= 18 ORDER BY name;",
  "if x != None and y == 3: pass  # comment",
  "<div class=\"a\"><span>text</span></div>",
  "{\"key\": [1, 2.5, -3e10, true, null]}",
  "    if (a && b || !c) { return; }\r\n",
  "let v: Vec<u8> = vec![0x1F, 0xff];",
];
const SPECIALS = ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|begin_of_text|>",
  "<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>", "<think>", "</think>"];
const SCRIPT_RANGES = [
  [0x41, 0x7a], [0xc0, 0x24f], [0x370, 0x3ff], [0x400, 0x4ff], [0x590, 0x5ea], [0x620, 0x64a],
  [0x905, 0x939], [0xe01, 0xe30], [0x3041, 0x3096], [0x30a1, 0x30fa], [0x4e00, 0x9fa5],
  [0xac00, 0xd7a3], [0x1e00, 0x1eff], [0x10a0, 0x10c5], [0x1f600, 0x1f64f], [0x2200, 0x22ff],
  [0x30, 0x39], [0x660, 0x669], [0x20, 0x7e],
];

function pick(r, arr) {
  return arr[Math.floor(r() * arr.length)];
}

function randomChars(r, n) {
  const [lo, hi] = pick(r, SCRIPT_RANGES);
  let s = "";
  for (let i = 0; i < n; ++i) s += String.fromCodePoint(lo + Math.floor(r() * (hi - lo + 1)));
  return s;
}

function digits(r) {
  const n = 1 + Math.floor(r() * 14);
  let s = "";
  for (let i = 0; i < n; ++i) s += String(Math.floor(r() * 10));
  if (r() < 0.2) s += "." + String(Math.floor(r() * 1000));
  return s;
}

function piece(r, withSpecials) {
  const k = r();
  if (k < 0.3) return pick(r, WORDS);
  if (k < 0.38) return pick(r, CONTRACTIONS);
  if (k < 0.5) return pick(r, PUNCT);
  if (k < 0.58) return pick(r, EMOJI);
  if (k < 0.7) return pick(r, SPACES);
  if (k < 0.78) return digits(r);
  if (k < 0.86) return randomChars(r, 1 + Math.floor(r() * 8));
  if (k < 0.93) return pick(r, CODE);
  if (k < 0.97 && withSpecials) return pick(r, SPECIALS);
  return " " + pick(r, WORDS);
}

// A string of `pieces` random pieces (joined with or without spaces).
export function randomText(r, pieces, withSpecials = true) {
  let s = "";
  for (let i = 0; i < pieces; ++i) {
    s += piece(r, withSpecials);
    if (r() < 0.5) s += " ";
  }
  return s;
}

// Byte strings that are not valid UTF-8 (truncated sequences, stray continuation bytes,
// overlongs, surrogates, bytes F5..FF), mixed with valid text.
export function invalidUtf8(r) {
  const bad = [[0x80], [0xbf], [0xc0, 0xaf], [0xc1], [0xe2, 0x82], [0xe2], [0xed, 0xa0, 0x80],
    [0xf0, 0x9f, 0x98], [0xf4, 0x90, 0x80, 0x80], [0xf5], [0xff], [0xfe, 0xff], [0xe0, 0x80, 0xaf],
    [0xc3], [0xf0, 0x9f]];
  const parts = [];
  const n = 1 + Math.floor(r() * 5);
  for (let i = 0; i < n; ++i) {
    parts.push(Buffer.from(randomText(r, 1 + Math.floor(r() * 3), false), "utf8"));
    parts.push(Buffer.from(pick(r, bad)));
  }
  if (r() < 0.5) parts.push(Buffer.from(pick(r, WORDS), "utf8"));
  return Buffer.concat(parts);
}

// The test corpus: `count` entries as Buffers (raw bytes for uma) with the string a JS reference
// sees (invalid bytes decoded with the WHATWG decoder: one U+FFFD per maximal subpart).
export function makeCorpus(seed, count) {
  const r = rng(seed);
  const out = [];
  const fixed = ["", " ", "  ", "\n", "\t\n", "Hello world", " Hello world", "'s", "3333333",
    "   Hello\n    Hello", "\n\n\n\n", "a".repeat(3000), " ".repeat(257) + "x", "1".repeat(100)];
  for (const s of fixed) out.push(Buffer.from(s, "utf8"));
  while (out.length < count) {
    const k = r();
    if (k < 0.1) out.push(invalidUtf8(r));
    else if (k < 0.2) out.push(Buffer.from(randomText(r, 40 + Math.floor(r() * 200)), "utf8"));
    else out.push(Buffer.from(randomText(r, 1 + Math.floor(r() * 12)), "utf8"));
  }
  const dec = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });
  return out.map((b) => ({ bytes: b, text: dec.decode(b) }));
}

// About `bytes` bytes of mixed text (no special tokens), for throughput measurements.
export function makeMixedText(seed, bytes) {
  const r = rng(seed);
  const chunks = [];
  let n = 0;
  while (n < bytes) {
    const s = randomText(r, 50, false) + "\n";
    chunks.push(s);
    n += Buffer.byteLength(s, "utf8");
  }
  return chunks.join("");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const i = process.argv.indexOf("--bytes");
  const bytes = i > 0 ? Number(process.argv[i + 1]) : 10_000_000;
  process.stdout.write(makeMixedText(1234, bytes));
}
