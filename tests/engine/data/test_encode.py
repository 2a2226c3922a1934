"""The loss mask: ids are the model's own chat template tokens; only answers are trained."""

from __future__ import annotations

import pytest

from slm_workbench.engine.data import IGNORE, Encoder, encode_example, render_sample
from slm_workbench.engine.data.template import ChatRenderer

SYSTEM = {"role": "system", "content": "Be brief."}
U1, A1 = {"role": "user", "content": "What is 2 + 2?"}, {"role": "assistant", "content": "2 + 2 = 4."}
U2, A2 = {"role": "user", "content": "And 3 + 3?"}, {"role": "assistant", "content": " 6, with a leading space."}


def trained_text(tok, encoded) -> list[str]:
    """Decoded runs of trained tokens."""
    runs, current = [], []
    for token, label in zip(encoded["input_ids"], encoded["labels"]):
        if label != IGNORE:
            assert label == token
            current.append(token)
        elif current:
            runs.append(tok.decode(current))
            current = []
    if current:
        runs.append(tok.decode(current))
    return runs


@pytest.mark.parametrize("messages", [[U1, A1], [SYSTEM, U1, A1], [SYSTEM, U1, A1, U2, A2]])
def test_ids_are_exactly_the_chat_template_tokens(tok, messages):
    encoded = encode_example({"messages": messages}, tok)
    assert encoded["input_ids"] == tok.apply_chat_template(messages, tokenize=True)["input_ids"]


def test_only_assistant_turns_and_their_end_token_are_trained(tok):
    encoded = encode_example({"messages": [SYSTEM, U1, A1, U2, A2]}, tok)
    assert trained_text(tok, encoded) == ["2 + 2 = 4.<|im_end|>", " 6, with a leading space.<|im_end|>"]
    assert encoded["labels"][-1] == IGNORE  # the newline the template writes after <|im_end|>


def test_train_on_all_trains_every_token(tok):
    encoded = encode_example({"messages": [U1, A1]}, tok, train_on="all")
    assert encoded["labels"] == encoded["input_ids"]


def test_text_template_record_trains_the_answer_and_eos(tok):
    encoded = encode_example({"prompt": "### Question: 2+2?\n### Answer:", "completion": " 4"}, tok)
    assert trained_text(tok, encoded) == [" 4<|im_end|>"]
    assert tok.decode(encoded["input_ids"]) == "### Question: 2+2?\n### Answer: 4<|im_end|>"


def test_plain_text_is_trained_whole_with_eos(tok):
    encoded = encode_example({"text": "The sky is blue."}, tok)
    assert encoded["labels"] == encoded["input_ids"]
    assert tok.decode(encoded["input_ids"]).endswith("<|im_end|>")


def test_public_rendering_path_gives_the_same_spans(tok):
    """The compiled-template fast path and apply_chat_template agree (the fallback is exact too)."""
    messages = [SYSTEM, U1, A1, U2, A2]
    fast = ChatRenderer(tok)
    slow = ChatRenderer(tok)
    slow._fast = None
    assert fast._fast is not None
    assert fast.render_with_spans(messages) == slow.render_with_spans(messages)


def test_batched_map_form_equals_one_by_one(tok):
    import datasets

    rows = [{"messages": [U1, A1]}, {"messages": [SYSTEM, U1, A1, U2, A2]}]
    ds = datasets.Dataset.from_list(rows).map(Encoder(tok), batched=True)
    for row, record in zip(ds, rows):
        expected = encode_example(record, tok)
        assert row["input_ids"] == expected["input_ids"] and row["labels"] == expected["labels"]


def test_rendered_sample_segments_tile_the_text(tok):
    sample = render_sample({"prompt": "What is 2 + 2?", "completion": "2 + 2 = 4."}, tok)
    assert "".join(text for text, _ in sample.segments()) == sample.text
    assert [text for text, trained in sample.segments() if trained] == ["2 + 2 = 4.<|im_end|>"]
    assert sample.n_tokens == len(sample.input_ids) and sample.n_trained == 9


def test_a_template_without_a_chat_template_says_what_to_do(tok, tmp_path):
    from slm_workbench.engine.data import DataFormatError

    class NoTemplate:
        chat_template = None
        name_or_path = "plain-tokenizer"

    with pytest.raises(DataFormatError) as exc:
        ChatRenderer(NoTemplate())
    assert "has no chat template" in exc.value.message and "--template" in exc.value.hint


def test_char_lookup_and_offsets_give_the_same_token_ranges(tok):
    """The fast char->token path agrees with the offsets rule, also on multi-byte characters."""
    import random

    from slm_workbench.engine.data.encode import _ranges_by_char, token_ranges

    rng = random.Random(0)
    alphabet = "ab é漢字🙂 \n.,!" + "<|im_end|>"
    for _ in range(200):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(2, 40)))
        a = rng.randint(0, len(text) - 1)
        spans = [(a, rng.randint(a + 1, len(text)))]
        enc = tok.backend_tokenizer.encode(text, add_special_tokens=False)
        fast = _ranges_by_char(enc, spans)
        if fast is not None:
            assert fast == token_ranges(enc.offsets, spans), (text, spans)


def test_header_search_matches_prefix_rendering(tok):
    """SmolLM2's template is calibrated for the one-render path; it gives the prefix method's spans."""
    renderer = ChatRenderer(tok)
    assert renderer._header == "<|im_start|>assistant\n"
    for messages in ([U1, A1], [SYSTEM, U1, A1, U2, A2], [U1, A1, U2], [U1, {"role": "assistant", "content": "x\n"}]):
        full = renderer.render(messages)
        assert renderer._search_spans(full, messages) in (None, renderer._prefix_spans(full, messages))
        assert renderer.render_with_spans(messages)[1] == renderer._prefix_spans(full, messages)
