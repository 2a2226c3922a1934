"""The Ollama Modelfile: turn pieces recovered from real chat templates, their Go template, refusals."""

from __future__ import annotations

import pytest

from slm_workbench.engine.deploy.gguf.modelfile import (
    PROBES,
    TemplateNotConvertible,
    go_template,
    jinja_render,
    modelfile_text,
    turn_pieces,
)

LLAMA3 = ("{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + "
          "'<|end_header_id|>\n\n' + message['content'] | trim + '<|eot_id|>' }}{% endfor %}"
          "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}")
MISTRAL = ("{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ '[INST] ' + "
           "message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + "
           "eos_token }}{% else %}{{ raise_exception('no system role') }}{% endif %}{% endfor %}")
SYSTEM_IN_FIRST_USER = ("{% for m in messages %}{% if m['role'] == 'system' %}{% set ns = m['content'] %}{% elif "
                        "m['role'] == 'user' %}<u>{{ m['content'] }}{% if loop.index == 2 %} ({{ messages[0]"
                        "['content'] }}){% endif %}</u>{% else %}<a>{{ m['content'] }}</a>{% endif %}{% endfor %}")


@pytest.fixture(scope="module")
def smollm2_template(smollm2_tokenizer_dir) -> str:
    return (smollm2_tokenizer_dir / "chat_template.jinja").read_text()


def test_smollm2_is_chatml_with_a_default_system_prompt(smollm2_template):
    pieces = turn_pieces(jinja_render(smollm2_template))
    assert pieces.prefix == {r: f"<|im_start|>{r}\n" for r in ("system", "user", "assistant")}
    assert set(pieces.suffix.values()) == {"<|im_end|>\n"}
    assert pieces.default_system == "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
    text = modelfile_text("model.gguf", pieces, "<|im_end|>")
    assert text.splitlines()[1] == "FROM ./model.gguf"
    assert 'SYSTEM """You are a helpful AI assistant named SmolLM, trained by Hugging Face"""' in text
    assert text.rstrip().endswith('PARAMETER stop "<|im_end|>"') and text.count("PARAMETER stop") == 1
    assert ('{{ else if eq .Role "user" }}<|im_start|>user\n{{ .Content }}<|im_end|>\n'
            '{{ else if eq .Role "assistant" }}') in text
    assert '{{ if and $last (ne .Role "assistant") }}<|im_start|>assistant\n{{ end }}' in text
    assert "{{-" not in text  # a trim would eat the newlines that are part of ChatML


def test_the_pieces_reproduce_the_template_on_every_probe(smollm2_template):
    render = jinja_render(smollm2_template)
    pieces = turn_pieces(render)
    for messages, generation in PROBES:
        assert pieces.render(messages, generation) == render(messages, generation)


def test_llama3_bos_is_left_to_the_gguf():
    pieces = turn_pieces(jinja_render(LLAMA3, "<|begin_of_text|>"), "<|begin_of_text|>")
    assert pieces.bos == "<|begin_of_text|>" and pieces.default_system is None
    assert pieces.prefix["user"] == "<|start_header_id|>user<|end_header_id|>\n\n"
    assert pieces.suffix["assistant"] == "<|eot_id|>"
    assert "<|begin_of_text|>" not in go_template(pieces)


@pytest.mark.parametrize(("template", "why"), [(MISTRAL, "refused a probe"),
                                               (SYSTEM_IN_FIRST_USER, "lost a message's content|not a turn")])
def test_templates_that_are_not_turn_templates_are_refused(template, why):
    with pytest.raises(TemplateNotConvertible, match=why):
        turn_pieces(jinja_render(template, "<s>", "</s>"))


def test_without_pieces_there_is_no_template_but_the_eos_stops():
    text = modelfile_text("model.gguf", None, "</s>", note="no TEMPLATE: the chat template is not a turn template")
    assert "TEMPLATE" not in text.replace("no TEMPLATE", "") and 'PARAMETER stop "</s>"' in text


def test_go_template_braces_in_a_piece_are_literal(smollm2_template):
    pieces = turn_pieces(jinja_render(smollm2_template))
    odd = type(pieces)({**pieces.prefix, "user": "{{user}}\n"}, pieces.suffix)
    assert '{{ "{{" }}user}}' in go_template(odd)


# -- the TEMPLATE rendered as Ollama renders it (a Go text/template), against the chat template -----------------
def _check_conversations() -> list[list[dict[str, str]]]:
    """The conversations the workbench checks with (Foundry's check prompts, the compare stage's), and the
    probes that end with a user turn: each asked for an answer (add_generation_prompt)."""
    from slm_workbench.config.deploy_foundry import DEFAULT_PROMPTS
    from slm_workbench.engine.compare.evalset import AGREEMENT_PROMPTS

    asked = [[{"role": "user", "content": p}] for p in dict.fromkeys([*DEFAULT_PROMPTS, *AGREEMENT_PROMPTS])]
    asked.append([{"role": "system", "content": "Answer in French."}, {"role": "user", "content": DEFAULT_PROMPTS[0]}])
    return asked + [m for m, generation in PROBES if generation]


@pytest.mark.parametrize(("name", "bos"), [("smollm2", ""), ("llama3", "<|begin_of_text|>")])
def test_the_modelfile_template_renders_the_chat_templates_prompt(name, bos, smollm2_template):
    from tests.engine.deploy.gotemplate import modelfile_parts, ollama_data, render

    render_jinja = jinja_render(smollm2_template if name == "smollm2" else LLAMA3, bos)
    pieces = turn_pieces(render_jinja, bos)
    template, system = modelfile_parts(modelfile_text("model.gguf", pieces, "<|im_end|>"))
    assert template is not None and (system is not None) == (name == "smollm2")
    for messages in _check_conversations():
        want = render_jinja(messages, True)
        assert want.startswith(bos)  # the BOS is the GGUF's add_bos_token, not the template's
        assert render(template, ollama_data(messages, system)) == want[len(bos):], messages
    # a conversation that ends with the assistant: Ollama continues that turn, so no end-of-turn after it
    messages, _ = PROBES[-1]
    ended = render_jinja(messages, False)[len(bos):]
    assert render(template, ollama_data(messages, system)) + pieces.suffix["assistant"] == ended


def test_the_go_renderer_is_go_not_an_echo(smollm2_template):
    from tests.engine.deploy.gotemplate import Unsupported, ollama_data, render

    pieces = turn_pieces(jinja_render(smollm2_template))
    wrong = type(pieces)(pieces.prefix, {**pieces.suffix, "user": "<|im_end|>"})  # a newline lost
    messages = [{"role": "user", "content": "Hi"}]
    assert render(go_template(wrong), ollama_data(messages, None)) != jinja_render(smollm2_template)(messages, True)
    assert render('{{ "{{" }}x{{ if and 0 .Missing }}a{{ else if eq 1 2 1 }}b{{ end }}', {}) == "{{xb"
    assert render('{{ range $i, $m := .L }}{{ len (slice $.L $i) }}{{ end }}', {"L": [1, 2, 3]}) == "321"
    for unknown in ("{{- .Content }}", "{{ .A | printf }}", "{{ with .A }}x{{ end }}", "{{ if .A }}x"):
        with pytest.raises(Unsupported):
            render(unknown, {"A": "a"})
