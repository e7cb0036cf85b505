"""Parse and fragment stages on real and hand-written sources in every supported language."""

from __future__ import annotations

import numpy as np
import pytest

from provscan.fragments import STR, normalise, token_code
from provscan.languages import detect_language
from provscan.parse import parse_text
from tests.conftest import transformers_models


def fragments_of(path: str, text: str, min_tokens: int = 5):
    parsed = parse_text(path, text)
    assert parsed is not None, path
    return normalise(parsed, min_tokens)


def test_renaming_comments_docstrings_and_layout_do_not_change_tokens():
    original = '''
def attention(query, key, scale=0.5):
    """Scaled dot product."""
    # multiply
    scores = query @ key.T * scale
    return softmax(scores, axis=-1)
'''
    disguised = '''
def attend(q,
           k, s = 0.125):
    # 다른 주석
    sc = q @ k.T * s   # trailing comment
    return norm_exp(sc, axis = -1)
'''
    a = fragments_of("a.py", original)
    b = fragments_of("b.py", disguised)
    assert np.array_equal(a.codes, b.codes)
    # Comments and the docstring leave no tokens; the docstring line holds no code.
    assert 3 not in a.lines.tolist() and 4 not in a.lines.tolist()


def test_python_fragments_nested_methods_and_lines():
    text = (transformers_models() / "qwen2" / "modeling_qwen2.py").read_text(encoding="utf-8")
    nf = fragments_of("modeling_qwen2.py", text, min_tokens=30)
    by_name = {(f.kind, f.name): f for f in nf.fragments}
    assert nf.fragments[0].kind == "file" and nf.fragments[0].n_tokens == nf.codes.size
    attention = by_name[("class", "Qwen2Attention")]
    forward = next(f for f in nf.fragments if f.kind == "method" and f.parent == nf.fragments.index(attention)
                   and f.name == "forward")
    lines = text.splitlines()
    assert lines[attention.start_line - 1].startswith("class Qwen2Attention")
    assert lines[forward.start_line - 1].strip().startswith("def forward")
    assert attention.tok_start <= forward.tok_start < forward.tok_end <= attention.tok_end
    assert by_name[("function", "rotate_half")].start_line == next(
        i for i, line in enumerate(lines, 1) if line.startswith("def rotate_half")
    )
    assert nf.error_nodes == 0


def test_nested_function_is_its_own_fragment_and_small_ones_are_dropped():
    text = '''
def outer(values):
    def inner(v):
        total = 0
        for item in v:
            total = total + item * item - 1
        return total / len(v)
    return [inner(v) for v in values]

def tiny():
    return 1
'''
    nf = fragments_of("n.py", text, min_tokens=12)
    names = [(f.kind, f.name) for f in nf.fragments]
    assert ("function", "outer") in names and ("function", "inner") in names
    assert ("function", "tiny") not in names
    inner = next(f for f in nf.fragments if f.name == "inner")
    assert nf.fragments[inner.parent].name == "outer"


SAMPLES = {
    "k.c": ("c", "int add_all(const int *v, int n) {\n  int s = 0;\n  for (int i = 0; i < n; i++) s += v[i];\n"
                 "  return s;\n}\n", "add_all"),
    "k.cpp": ("cpp", "namespace m {\nclass Acc {\n public:\n  int sum(const std::vector<int>& v) {\n"
                     "    int s = 0; for (auto x : v) s += x; return s;\n  }\n};\n}\n", "sum"),
    "k.cu": ("cuda", "__global__ void scale(float* x, float a, int n) {\n  int i = blockIdx.x * blockDim.x + "
                     "threadIdx.x;\n  if (i < n) x[i] = x[i] * a;\n}\n", "scale"),
    "K.java": ("java", "class K {\n  int sum(int[] v) {\n    int s = 0;\n    for (int x : v) { s += x; }\n"
                       "    return s;\n  }\n}\n", "sum"),
    "k.js": ("javascript", "function sum(v) {\n  let s = 0;\n  for (const x of v) { s += x * 2; }\n  return s;\n}\n",
             "sum"),
    "k.ts": ("typescript", "function sum(v: number[]): number {\n  let s = 0;\n  for (const x of v) { s += x; }\n"
                           "  return s;\n}\n", "sum"),
    "k.go": ("go", "package k\n\nfunc Sum(v []int) int {\n\ts := 0\n\tfor _, x := range v {\n\t\ts += x\n\t}\n"
                   "\treturn s\n}\n", "Sum"),
    "k.rs": ("rust", "fn sum(v: &[i32]) -> i32 {\n    let mut s = 0;\n    for x in v { s += x * 2; }\n    s\n}\n",
             "sum"),
}


@pytest.mark.parametrize("path", sorted(SAMPLES))
def test_every_language_parses_into_named_function_fragments(path):
    language, text, function = SAMPLES[path]
    assert detect_language(path).name == language
    nf = fragments_of(path, text)
    assert nf.error_nodes == 0
    names = {f.name for f in nf.fragments if f.kind in ("function", "method")}
    assert function in names, names


def test_shebang_detection_and_unknown_files():
    assert detect_language("tools/run", "#!/usr/bin/env python3\nprint(1)\n").name == "python"
    assert detect_language("tools/serve", "#!/usr/bin/node\n").name == "javascript"
    assert detect_language("README.md", "# title\n") is None
    assert detect_language("data.bin", "\x00\x01") is None


def test_syntax_errors_are_counted_and_still_fragmented():
    text = '''
def good_one(a, b):
    total = a + b
    for i in range(10):
        total = total * i + a - b
    return total

def broken(:
    x = = 3

def good_two(values):
    result = []
    for value in values:
        result.append(value * value + 1)
    return result
'''
    nf = fragments_of("broken.py", text, min_tokens=10)
    assert nf.error_nodes >= 1
    good_one = next(f for f in nf.fragments if f.name == "good_one")
    assert (good_one.start_line, good_one.end_line) == (2, 6)
    # Code after the error is not lost: its tokens stay in the file's stream (and so in the file fragment).
    last_line = text.splitlines().index("    return result") + 1
    assert last_line in nf.lines.tolist()
    assert nf.fragments[0].tok_end == nf.codes.size


def test_long_string_literals_are_hashed_beside_the_tokens():
    """A long literal's hash ignores quoting, layout, concatenation and renamed interpolations, but not its words;
    short literals and docstrings are not hashed (the token stream has STR for every literal either way)."""
    one = '''
def check(ids, embeds):
    """A docstring long enough to count, were docstrings literals."""
    if ids is None:
        raise ValueError(f"You must specify exactly one of {ids} or inputs_embeds, not both")
    mode = "eager"
    return ("attention mask should be " "of size (batch, seq)")
'''
    two = """
def verify(a, b):
    if a is None:
        raise ValueError(f'You must specify exactly   one of {a} or inputs_embeds, not both')
    m = 'sdpa'
    return (
        'attention mask should be of size (batch, seq)'
    )
"""
    reworded = one.replace("exactly one", "one").replace("of size", "shaped")
    first, second, third = (fragments_of("a.py", text) for text in (one, two, reworded))
    assert first.literals.shape == (2, 2)
    assert np.array_equal(first.codes, second.codes)
    assert first.literals[:, 1].tolist() == second.literals[:, 1].tolist()
    assert not set(first.literals[:, 1].tolist()) & set(third.literals[:, 1].tolist())
    # each hash sits on its STR token
    assert all(first.codes[at] == token_code(STR) for at in first.literals[:, 0].tolist())
