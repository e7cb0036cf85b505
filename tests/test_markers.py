"""Provenance markers on real transformers code and on configs and comments the tests write."""

from __future__ import annotations

import fnmatch
import json

from provscan.fragments import normalise
from provscan.markers import detect_markers
from provscan.parse import parse_text
from provscan.rulebook import load_rulebook
from tests.conftest import transformers_models

RULES = load_rulebook()


def markers_of(path: str, text: str):
    parsed = parse_text(path, text)
    comments = normalise(parsed, 30, keep_comments=True).comments if parsed else None
    return {hit.rule_id: hit for hit in detect_markers(path, text, comments, RULES)}


def test_model_family_identifiers_in_real_modeling_files():
    for relative, rule, organisation, family, class_prefix in (
        ("glm4_moe/modeling_glm4_moe.py", "family.glm", "zhipu", "glm", "Glm4Moe"),
        ("qwen2/modeling_qwen2.py", "family.qwen", "alibaba-qwen", "qwen", "Qwen2"),
        ("deepseek_v3/modeling_deepseek_v3.py", "family.deepseek", "deepseek", "deepseek", "DeepseekV3"),
    ):
        text = (transformers_models() / relative).read_text(encoding="utf-8")
        lines = text.splitlines()
        hits = markers_of(relative, text)
        assert rule in hits, (relative, sorted(hits))
        hit = hits[rule]
        assert hit.organisation == organisation and hit.severity == "medium"
        # Independently of the rule's pattern: every line naming one of the model's classes is counted, and every
        # line reported names the family and is quoted from the line it points at.
        naming_a_class = sum(1 for line in lines if class_prefix in line)
        assert naming_a_class >= 10 and hit.count >= naming_a_class, (relative, hit.count, naming_a_class)
        assert all(family in quoted.lower() and quoted in lines[number - 1] for number, quoted in hit.lines)
    # An unrelated model names none of the watched families.
    bert = (transformers_models() / "bert/modeling_bert.py").read_text(encoding="utf-8")
    assert not {r for r in markers_of("bert.py", bert) if r.startswith("family.")}


def test_copied_from_notes_in_real_transformers_code():
    relative = "mt5/modeling_mt5.py"  # 32 "# Copied from transformers.models..." annotations
    text = (transformers_models() / relative).read_text(encoding="utf-8")
    expected = [n for n, line in enumerate(text.splitlines(), 1) if "# Copied from transformers." in line]
    hit = markers_of(relative, text)["note.copied-from"]
    assert len(expected) >= 20 and hit.count >= len(expected)
    assert [n for n, _text in hit.lines] == sorted(n for n, _text in hit.lines)
    assert hit.lines[0][1].startswith(("Copied from", "Adapted from", "Modified from", "copied from"))
    qwen3 = (transformers_models() / "qwen3/modular_qwen3.py").read_text(encoding="utf-8")
    assert "hub.qwen" in markers_of("modular_qwen3.py", qwen3 + '\nURL = "https://huggingface.co/Qwen/Qwen3-8B"\n')


def test_config_auto_map_pointing_at_another_organisations_code():
    config = {
        "architectures": ["ChatGLMForConditionalGeneration"],
        "auto_map": {
            "AutoConfig": "THUDM/chatglm3-6b--configuration_chatglm.ChatGLMConfig",
            "AutoModel": "THUDM/chatglm3-6b--modeling_chatglm.ChatGLMForConditionalGeneration",
            "AutoTokenizer": ["local_tokenizer.LocalTokenizer", None],
        },
        "trust_remote_code": True,
    }
    text = json.dumps(config, indent=2)
    hits = [h for h in detect_markers("model/config.json", text, None, RULES) if h.kind == "remote-code"]
    auto = [h for h in hits if h.rule_id == "config.auto-map"]
    assert len(auto) == 3
    foreign = [h for h in auto if h.organisation == "zhipu"]
    assert len(foreign) == 2 and all(h.severity == "high" and "THUDM/chatglm3-6b" in h.message for h in foreign)
    assert any(h.rule_id == "config.trust-remote-code" for h in hits)
    line = foreign[0].lines[0][0]
    assert "THUDM/chatglm3-6b--configuration_chatglm" in text.splitlines()[line - 1]
    # Not a config file, or not JSON: no remote-code markers.
    assert not [h for h in detect_markers("model/notes.json", text, None, RULES) if h.kind == "remote-code"]
    assert not [h for h in detect_markers("config.json", "{broken", None, RULES) if h.kind == "remote-code"]


def test_share_of_chinese_comments():
    chinese = "\n".join(
        ["import torch", "# 初始化权重", "# 计算注意力分数", "x = 1  # 归一化", "# apply mask", '"""模块说明"""',
         "# 返回输出", "def f():", "    # 内部函数", "    return x"]
    )
    hit = markers_of("a.py", chinese)["comments.chinese"]
    assert hit.count == 6 and "6 of 7" in hit.message
    korean = chinese
    for zh, ko in (("初始化权重", "가중치 초기화"), ("计算注意力分数", "어텐션 점수"), ("归一化", "정규화"),
                   ("模块说明", "모듈 설명"), ("返回输出", "출력 반환"), ("内部函数", "내부 함수")):
        korean = korean.replace(zh, ko)
    assert "comments.chinese" not in markers_of("a.py", korean)
    few = "# 注释\nx = 1\n"
    assert "comments.chinese" not in markers_of("b.py", few)


def _every_line_with_every_rule(path: str, text: str) -> list[tuple[str, int, list]]:
    """The plain definition of a marker rule's hits (each line searched with each rule), as an oracle for the
    faster whole-file search `detect_markers` does."""
    found = []
    for rule in RULES.markers.values():
        lines = [(n, m.group(0)[:200]) for n, line in enumerate(text.split("\n"), 1)
                 if (m := rule.pattern.search(line.rstrip("\r")))]
        name = path.rsplit("/", 1)[-1]
        if lines and (not rule.files or any(fnmatch.fnmatch(name, pattern) for pattern in rule.files)):
            found.append((rule.id, len(lines), lines[:10]))
    return sorted(found)


def test_whole_file_search_finds_exactly_the_lines_a_line_by_line_search_finds():
    models = transformers_models()
    paths = sorted(models.glob("*/modeling_*.py"))[::9] + sorted(models.glob("*/modular_*.py"))[::9]
    tricky = ("# Copied from\ntransformers.models.qwen2 -- a note broken over a line\r\n"
              "x = 1  # Adapted from https://github.com/QwenLM/Qwen2 and huggingface.co/deepseek-ai/x\r\n"
              "\x0c\n# 参考 Qwen 的实现代码\nQwen2Model Qwen2Model GLM-4.5 THUDM\n")
    cases = [(str(p.relative_to(models)), p.read_text(encoding="utf-8")) for p in paths] + [("tricky.py", tricky)]
    matched_somewhere = 0
    for path, text in cases:
        fast = sorted((hit.rule_id, hit.count, hit.lines)
                      for hit in detect_markers(path, text, None, RULES) if not hit.rule_id.startswith("config."))
        assert fast == _every_line_with_every_rule(path, text), path
        matched_somewhere += bool(fast)
    assert matched_somewhere >= len(cases) // 2  # the comparison is about real hits, not empty lists


def test_prose_that_says_derived_or_taken_from_is_not_a_copy_note():
    """Docstrings say "derived from ``id2label``" and "taken from the original Transformer paper" (44 times in the
    transformers wheel): not notes of copied code. Real notes, in the forms they take, still fire."""
    prose = ["    label2id is derived from ``id2label`` when omitted.",
             "    The sizes are taken from ``target_sizes``.",
             "# seem a bit unusual, but is taken from the original Transformer paper.",
             "    Adapted from `sample_speech_tokens` by default.",
             "    mask derived from the cross_attention_mask"]
    notes = ["# Adapted from https://github.com/QwenLM/Qwen2",
             "# Copied from transformers.models.llama.modeling_llama.rotate_half",
             "# Taken from Megatron-LM",
             "# adapted from fairseq",
             "# taken from the original repo,",
             "# Taken from:",
             "# Derived from deepseek-ai/DeepSeek-V3 inference/model.py"]
    text = "\n".join(prose + notes) + "\n"
    hit = markers_of("notes.py", text).get("note.copied-from")
    assert hit is not None
    assert [number for number, _line in hit.lines] == list(range(len(prose) + 1, len(prose) + len(notes) + 1))
