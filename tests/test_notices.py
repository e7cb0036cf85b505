"""Notice detection on real headers from the transformers wheel and on the Chinese notices scancode gets wrong."""

from __future__ import annotations

import pytest

from provscan.notices import detect_notices
from provscan.rulebook import RuleError, load_rulebook
from tests.conftest import transformers_models

RULES = load_rulebook()


@pytest.mark.parametrize(
    ("relative", "holder_part", "organisation"),
    [
        ("qwen2_moe/modeling_qwen2_moe.py", "Qwen team, Alibaba Group", "alibaba-qwen"),
        ("glm4_moe/modeling_glm4_moe.py", "ZhipuAI", "zhipu"),
        ("deepseek_vl/modeling_deepseek_vl.py", "Deepseek AI", "deepseek"),
        ("mixtral/modeling_mixtral.py", "Mistral AI", "mistral"),
        ("chameleon/modeling_chameleon.py", "Meta Inc.", "meta"),
        ("gemma/modeling_gemma.py", "Google", "google"),
    ],
)
def test_real_transformers_headers_give_holder_organisation_and_spdx(relative, holder_part, organisation):
    path = transformers_models() / relative
    text = path.read_text(encoding="utf-8")
    header = text.splitlines()[:30]
    expected_lines = [n for n, line in enumerate(header, 1) if line.lstrip("# ").lower().startswith("copyright")]
    notices = detect_notices(relative, text, RULES, licenses=True)
    copyrights = [n for n in notices if n.kind == "copyright" and n.line <= 30]
    assert [n.line for n in copyrights] == expected_lines
    assert any(holder_part in n.holder and n.organisation == organisation for n in copyrights), copyrights
    licences = {n.license for n in notices if n.kind == "license"}
    if "Licensed under the Apache License" in text[:3000]:
        assert "Apache-2.0" in licences


def test_every_watched_vendor_header_in_transformers_maps_to_its_organisation():
    # Files whose first copyright line names a watched vendor: the holder must map to that vendor.
    checked = 0
    for path in sorted(transformers_models().glob("*/modeling_*.py")):
        head = path.read_text(encoding="utf-8").splitlines()[:20]
        line = next((line for line in head if "Copyright" in line), None)
        if line is None:
            continue
        for needle, organisation in (("Qwen", "alibaba-qwen"), ("DeepSeek", "deepseek"), ("ZhipuAI", "zhipu")):
            if needle in line:
                notices = detect_notices(path.name, "\n".join(head), RULES, licenses=False)
                organisations = {o.id for n in notices for o in RULES.organisations_in(n.holder)}
                assert organisation in organisations, (path, line, notices)
                checked += 1
    assert checked >= 10


@pytest.mark.parametrize(
    ("line", "holder", "organisation"),
    [
        ("# 版权所有 (c) 2023 北京智谱华章科技有限公司", "北京智谱华章科技有限公司", "zhipu"),
        ("# 版权所有 2023 北京智谱华章科技有限公司", "北京智谱华章科技有限公司", "zhipu"),
        ("# Copyright 2024 智谱AI", "智谱AI", "zhipu"),
        ("// 版权所有（C）2024 杭州深度求索人工智能基础技术研究有限公司。保留所有权利。",
         "杭州深度求索人工智能基础技术研究有限公司", "deepseek"),
        ("# 著作权所有：阿里巴巴集团", "阿里巴巴集团", "alibaba-qwen"),
        ("# © 2024 上海人工智能实验室", "上海人工智能实验室", "shanghai-ai-lab"),
        ("# Copyright © 2025 月之暗面科技有限公司", "月之暗面科技有限公司", "moonshot"),
        ("# Copyright (c) Zhipu AI", "Zhipu AI", "zhipu"),
    ],
)
def test_chinese_and_mixed_notices_get_the_right_organisation(line, holder, organisation):
    text = f"{line}\nimport os\n"
    notices = [n for n in detect_notices("x.py", text, RULES, licenses=False) if n.kind == "copyright"]
    assert [(n.holder, n.organisation) for n in notices] == [(holder, organisation)]


def test_code_mentioning_copyright_is_not_a_notice():
    text = "def f(meta):\n    return meta['copyright']\nLICENSE_KEY = 'copyright holder'\n"
    assert detect_notices("x.py", text, RULES, licenses=False) == []


def test_spdx_lines():
    text = "// SPDX-License-Identifier: Apache-2.0 OR MIT\n// SPDX-FileCopyrightText: 2024 NAVER Cloud Corp.\n"
    notices = detect_notices("x.c", text, RULES, licenses=False)
    assert [(n.kind, n.license or n.organisation) for n in notices] == [
        ("spdx-license", "Apache-2.0 OR MIT"), ("copyright", "naver"),
    ]


def _write(tmp_path, text):
    path = tmp_path / "rules.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[organisation]]\nid = 'x'\nname = 'X'\nseverity = 'high'\n", "organisation #1 ('x'): missing key 'aliases'"),
        ("[[organisation]]\nid = 'x'\nname = 'X'\nseverity = 'urgent'\naliases = ['X']\n", "'severity' must be one of"),
        ("[[marker]]\nid = 'm'\nkind = 'hub-url'\npattern = '(unclosed'\nmessage = 'm'\nseverity = 'low'\n",
         "marker #1 ('m'): 'pattern' is not a valid regular expression"),
        ("[[marker]]\nid = 'm'\nkind = 'hub-url'\npattern = 'x'\nmessage = 'm'\norganisation = 'nobody'\n",
         "'organisation' 'nobody' is not in the watch-list"),
        ("[[marker]]\nid = 'Bad Id'\nkind = 'hub-url'\npattern = 'x'\nmessage = 'm'\nseverity = 'low'\n",
         "must be lower case"),
        ("[markers]\n", "unknown table(s) markers"),
        ("this is = not toml [", "not valid TOML"),
    ],
)
def test_rule_file_errors_name_the_file_entry_and_problem(tmp_path, text, message):
    path = _write(tmp_path, text)
    with pytest.raises(RuleError) as error:
        load_rulebook((path,))
    assert str(path) in str(error.value) and message in str(error.value)


def test_user_rules_add_and_override(tmp_path):
    path = _write(tmp_path, "[[organisation]]\nid = 'acme'\nname = 'ACME Labs'\nseverity = 'high'\n"
                            "aliases = ['ACME Labs', '아크메']\n"
                            "[[organisation]]\nid = 'meta'\nname = 'Meta'\nseverity = 'high'\naliases = ['Meta']\n")
    rules = load_rulebook((path,))
    assert rules.organisation_in("Copyright 2025 아크메").id == "acme"
    assert rules.organisations["meta"].severity == "high"
    assert "alibaba-qwen" in rules.organisations


def test_author_lines_name_the_author_and_organisation():
    text = (
        '"""\nAuthor: Zhang Wei, Zhipu AI\n"""\n# 作者：北京智谱华章科技有限公司 算法组\n'
        '# @author lee@upstage.ai\nauthor = "x"\n'
    )
    authors = [(n.line, n.holder, n.organisation) for n in detect_notices("a.py", text, RULES, licenses=False)
               if n.kind == "author"]
    assert authors == [(2, "Zhang Wei, Zhipu AI", "zhipu"), (4, "北京智谱华章科技有限公司 算法组", "zhipu"),
                       (5, "lee@upstage.ai", "upstage")]
