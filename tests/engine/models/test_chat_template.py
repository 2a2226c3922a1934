"""Base models and chosen chat templates: what the shipped templates render, a base model prepared with
none / chatml / gemma, templates that do not render a conversation (one line, nothing written), and the
end of turn each template trains and stops on."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from slm_workbench.config.models import PrepareModelRecipe
from slm_workbench.config.train import SHIPPED_TEMPLATES
from slm_workbench.engine.errors import WorkbenchError
from slm_workbench.engine.models import gguf_convert
from slm_workbench.engine.models.chat_template import (
    NAMED,
    ChatTemplateError,
    check_renders,
    end_of_turn_text,
    load_template,
    render,
    stop_ids,
)
from slm_workbench.engine.models.info import model_info
from slm_workbench.engine.models.prepare import prepare_model
from slm_workbench.engine.models.resolve import parse_model
from slm_workbench.engine.models.stage import check

CONVERSATION = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"},
                {"role": "assistant", "content": "4"}]


def tokenizer_of(folder: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(folder)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and not p.name.endswith(".lock"))


def test_the_shipped_templates_are_the_ones_the_recipes_name():
    assert NAMED == SHIPPED_TEMPLATES


def test_chatml_renders_as_smollm2_writes_it(smollm2_tokenizer_dir):
    own = (smollm2_tokenizer_dir / "chat_template.jinja").read_text()
    chatml = load_template("chatml").text
    for generation in (False, True):
        conversation = CONVERSATION if not generation else CONVERSATION[:2]
        assert render(chatml, conversation, generation=generation) == render(own, conversation, generation=generation)
    assert end_of_turn_text(chatml) == "<|im_end|>"


def test_gemma_folds_the_system_prompt_into_the_first_user_turn():
    gemma = load_template("gemma").text
    assert render(gemma, CONVERSATION[:2], generation=True, bos_token="<bos>") == (
        "<bos><start_of_turn>user\nBe brief.\n\n2+2?<end_of_turn>\n<start_of_turn>model\n")
    assert render(gemma, CONVERSATION, bos_token="<bos>").endswith("<start_of_turn>model\n4<end_of_turn>\n")
    assert end_of_turn_text(gemma) == "<end_of_turn>"


# -- a base model prepared: none, chatml, gemma ------------------------------------------------------------------
@pytest.fixture
def base_gguf(monkeypatch, tiny_base_model_dir, tmp_path):
    """A GGUF path whose transformers reads are answered by the tiny base model (no chat template)."""
    import transformers

    gguf = tmp_path / "tiny-base.gguf"
    gguf.write_bytes(b"GGUF" + b"\0" * 64)
    real_tokenizer = transformers.AutoTokenizer.from_pretrained
    real_model = transformers.AutoModelForCausalLM.from_pretrained

    def tokenizer(path, *args, gguf_file=None, **kwargs):
        return real_tokenizer(tiny_base_model_dir if gguf_file else path, *args, **kwargs)

    def model(path, *args, gguf_file=None, **kwargs):
        return real_model(tiny_base_model_dir if gguf_file else path, *args, **kwargs)

    summary = gguf_convert.GgufSummary(gguf, "llama", "tiny-base", 3_000_000, 20, 68)
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", tokenizer)
    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", model)
    monkeypatch.setattr(gguf_convert, "inspect_gguf", lambda path: dataclasses.replace(summary, path=Path(path)))
    return gguf


def generation_eos(folder: Path) -> list[int]:
    eos = json.loads((folder / "generation_config.json").read_text())["eos_token_id"]
    return [eos] if isinstance(eos, int) else eos


def test_a_base_model_is_prepared_and_recorded_without_a_template(base_gguf, slmw_home, capsys):
    from slm_workbench.cli.main import main

    folder = prepare_model(parse_model(str(base_gguf)))
    assert json.loads((folder / gguf_convert.PROVENANCE_FILE).read_text())["chat_template"] == "none"
    assert not tokenizer_of(folder).chat_template
    assert model_info(parse_model(str(base_gguf))).chat_template == "none"
    assert main(["models", "list"]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    assert "TEMPLATE" in header.split() and any("tiny-base" in r and "none (base model)" in r for r in rows)
    assert main(["models", "info", "tiny-base"]) == 0
    assert "chat_template   none (base model)" in capsys.readouterr().out


@pytest.mark.parametrize(("name", "end_of_turn"), [("chatml", "<|im_end|>"), ("gemma", "<end_of_turn>")])
def test_a_chosen_template_goes_into_the_tokenizer_and_its_end_of_turn_into_the_eos(base_gguf, slmw_home, name,
                                                                                    end_of_turn):
    folder = prepare_model(parse_model(str(base_gguf)), chat_template=name)
    tokenizer = tokenizer_of(folder)
    assert tokenizer.chat_template == load_template(name).text
    assert (folder / "chat_template.jinja").read_text() == load_template(name).text
    turn = tokenizer.convert_tokens_to_ids(end_of_turn)
    assert generation_eos(folder) == [tokenizer.eos_token_id, turn] and turn != tokenizer.eos_token_id
    assert stop_ids(tokenizer) == [tokenizer.eos_token_id, turn]
    assert model_info(parse_model(str(base_gguf))).chat_template == name


def test_a_local_folder_given_a_template_is_copied_under_models_and_left_as_it_was(tiny_base_model_dir, slmw_home):
    before = {p.name: p.read_bytes() for p in tiny_base_model_dir.iterdir() if p.is_file()}
    folder = prepare_model(parse_model(str(tiny_base_model_dir)), chat_template="gemma")
    assert folder == slmw_home / "models" / "tiny-base"
    assert {p.name: p.read_bytes() for p in tiny_base_model_dir.iterdir() if p.is_file()} == before
    assert tokenizer_of(folder).chat_template == load_template("gemma").text
    assert (folder / "model.safetensors").read_bytes() == before["model.safetensors"]
    assert model_info(parse_model("tiny-base")).chat_template == "gemma"
    # asked again with the same template: nothing to do; with another: the prepared copy is re-templated in place
    phases: list[str] = []
    prepare_model(parse_model(str(tiny_base_model_dir)), chat_template="gemma", on_phase=lambda p, d, t: phases.append(p))
    assert phases == ["already prepared"]
    prepare_model(parse_model("tiny-base"), chat_template="chatml")
    assert model_info(parse_model("tiny-base")).chat_template == "chatml" and leftovers(folder.parent) == []


def test_a_template_file_is_recorded_by_its_path(tiny_base_model_dir, slmw_home, tmp_path):
    own = tmp_path / "mine.jinja"
    own.write_text(load_template("chatml").text.replace("<|im_start|>", "<|im_start|> "))
    folder = prepare_model(parse_model(str(tiny_base_model_dir)), chat_template=str(own))
    assert tokenizer_of(folder).chat_template == own.read_text()
    assert model_info(parse_model("tiny-base")).chat_template == f"file:{own}"
    own.write_text(load_template("chatml").text)  # edited since: prepared again, not "already prepared"
    prepare_model(parse_model(str(tiny_base_model_dir)), chat_template=str(own))
    assert tokenizer_of(folder).chat_template == load_template("chatml").text


# -- templates that do not render a conversation -----------------------------------------------------------------
BAD = {
    "syntax": ("{% for m in messages %}{{ m['content'] }", "not a valid Jinja template (line 1"),
    "no content": ("{% for m in messages %}<|im_start|>{{ m['role'] }}<|im_end|>{% endfor %}"
                   "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}", "without the system and user and "
                   "assistant message's content"),
    "no answer place": ("{% for m in messages %}{{ m['content'] }}<|im_end|>{% endfor %}", "leaves no place for the answer"),
    "raises": ("{{ raise_exception('nope') }}", "fails on a user/assistant/user conversation: TemplateError: nope"),
}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_a_template_that_does_not_render_is_one_line_naming_the_file_and_nothing_is_written(
        kind, tiny_base_model_dir, slmw_home, tmp_path):
    text, why = BAD[kind]
    bad = tmp_path / f"{kind.replace(' ', '-')}.jinja"
    bad.write_text(text)
    with pytest.raises(ChatTemplateError) as exc:
        check(PrepareModelRecipe(model=str(tiny_base_model_dir), chat_template=str(bad)))  # the launch check
    assert str(bad) in exc.value.message and why in exc.value.message and "\n" not in str(exc.value)
    with pytest.raises(ChatTemplateError):
        prepare_model(parse_model(str(tiny_base_model_dir)), chat_template=str(bad))
    models = slmw_home / "models"
    assert not (models / "tiny-base").exists() and (not models.exists() or leftovers(models) == [])


def test_a_missing_template_file_and_an_unknown_name(tmp_path):
    with pytest.raises(ChatTemplateError, match="neither a shipped template .chatml, gemma. nor a file .no such file."):
        load_template(str(tmp_path / "absent.jinja"))
    with pytest.raises(ChatTemplateError, match="'llama9' is neither"):
        load_template("llama9")


def test_an_end_of_turn_that_is_not_one_token_is_refused_naming_a_template_that_fits(smollm2_tokenizer_dir, base_gguf,
                                                                                     slmw_home):
    # SmolLM2's own vocabulary has <|im_end|> but not <end_of_turn>: gemma cannot stop there, chatml can
    (slmw_home / "models").mkdir(parents=True)
    folder = prepare_model(parse_model(str(base_gguf)))
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (folder / name).write_bytes((smollm2_tokenizer_dir / name).read_bytes())
    (folder / "chat_template.jinja").unlink(missing_ok=True)
    before = sorted(p.name for p in folder.iterdir())
    with pytest.raises(ChatTemplateError) as exc:
        prepare_model(parse_model(str(base_gguf)), chat_template="gemma")
    assert "ends a turn with '<end_of_turn>'" in exc.value.message and "splits into" in exc.value.message
    assert exc.value.hint == "use chatml, whose end of turn is one token here"
    assert sorted(p.name for p in folder.iterdir()) == before and leftovers(folder.parent) == []


def test_a_template_that_writes_nothing_after_the_answer_is_refused(tiny_base_model_dir, slmw_home, tmp_path):
    bare = tmp_path / "bare.jinja"
    bare.write_text("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
                    "{% if add_generation_prompt %}assistant: {% endif %}")
    check_renders(load_template(str(bare)))  # it renders...
    with pytest.raises(ChatTemplateError, match="writes nothing after an answer"):
        prepare_model(parse_model(str(tiny_base_model_dir)), chat_template=str(bare))  # ...but never says where to stop


def test_a_template_without_a_system_role_is_welcome(tmp_path):
    no_system = tmp_path / "no-system.jinja"
    no_system.write_text("{% for m in messages %}{% if m['role'] == 'system' %}{{ raise_exception('no system') }}"
                         "{% endif %}[{{ m['role'] }}]{{ m['content'] }}</s>{% endfor %}"
                         "{% if add_generation_prompt %}[assistant]{% endif %}")
    check_renders(load_template(str(no_system)))


def test_the_recipe_makes_a_template_path_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert PrepareModelRecipe(model="m", chat_template="t.jinja").chat_template == str(tmp_path / "t.jinja")
    assert PrepareModelRecipe(model="m", chat_template="gemma").chat_template == "gemma"
    with pytest.raises(WorkbenchError):
        load_template(str(tmp_path / "t.jinja"))


def test_another_folder_of_the_same_name_is_not_replaced_without_reconvert(tiny_base_model_dir, slmw_home, tmp_path):
    import shutil

    prepare_model(parse_model(str(tiny_base_model_dir)), chat_template="chatml")
    other = tmp_path / "elsewhere" / "tiny-base"
    shutil.copytree(tiny_base_model_dir, other)
    with pytest.raises(WorkbenchError, match="already holds another model") as exc:
        prepare_model(parse_model(str(other)), chat_template="gemma")
    assert exc.value.hint == "--reconvert replaces it"
    assert model_info(parse_model("tiny-base")).chat_template == "chatml"
    prepare_model(parse_model(str(other)), chat_template="gemma", force=True)
    assert model_info(parse_model("tiny-base")).chat_template == "gemma"


def test_a_hub_model_is_given_its_template_before_it_is_moved_into_place(tiny_base_model_dir, slmw_home, monkeypatch):
    import shutil

    import huggingface_hub

    def snapshot_download(repo_id, *, local_dir, **kwargs):  # the hub, answered by the tiny base model
        shutil.copytree(tiny_base_model_dir, local_dir, dirs_exist_ok=True)
        return str(local_dir)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    folder = prepare_model(parse_model("someone/tiny-base"), chat_template="gemma")
    assert folder == slmw_home / "models" / "hub--someone--tiny-base"
    provenance = json.loads((folder / gguf_convert.PROVENANCE_FILE).read_text())
    assert provenance["chat_template"] == "gemma" and provenance["source"] == "someone/tiny-base"
    assert tokenizer_of(folder).chat_template == load_template("gemma").text and leftovers(folder.parent) == []
