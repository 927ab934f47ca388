"""Hugging Face interop (trainer/hf.py, trainer/hf_mapping.py, trainer/export.py): a real run
exported and read by transformers (same outputs within 1e-5, no missing/unexpected weights),
transformers models imported (same outputs), the export's tokenizer vs ours on real text in
three scripts, continued pretraining from an import (shards made with the export's tokenizer,
exact resume), and one-line errors for bad folders."""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from pathlib import Path

import pytest
import torch

from tests.corpus_fixtures import gutenberg_body, sample_text_docs, write_doc_shard_set
from tests.example_fixtures import write_example_set
from tests.test_shards_job import WIKI_FILES, fallback_wiki_docs
from trainer.checkpoint import CHECKPOINT_FILE, load_run_model, run_tokenizer_dir
from trainer.export import export_run
from trainer.export import main as export_main
from trainer.hf import HFError, is_hf_dir
from trainer.model import BertForPretraining
from trainer.pretrain import main as pretrain_main
from trainer.runtime import LOG_FILE

ATOL = 1e-5
WIKI_PAGES = {"en": 2, "ja": 2, "uk": 2, "bg": 1}  # three scripts: Latin, CJK/kana, Cyrillic


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _wiki_docs(shared_data: Path) -> list:
    data = shared_data / "wiki"
    return [
        d
        for lang, n in WIKI_PAGES.items()
        for d in fallback_wiki_docs(data / WIKI_FILES[lang], lang, n)
    ]


def _pack(docs_dir, tok_dir, out) -> str:
    from pipeline import shards

    shards.run(
        [f"--input={docs_dir}", f"--tokenizer={tok_dir}", f"--output={out}", "--max_seq_len=64",
         "--bins=32,64", "--shards_per_bin=1", "--nsp_bucket_docs=4"]
    )  # fmt: skip
    return str(out)


@pytest.fixture(scope="module")
def corpus(shared_data, tmp_path_factory) -> dict:
    """Real text (wiki en/ja/uk/bg + BERT's sample text) -> a tiny WordPiece TOK_DIR trained
    on it -> pipeline.shards -> a shard set."""
    from transforms.vocab.pretokenize import pretokenize
    from transforms.vocab.tokenizer_dir import save_tokenizer_dir
    from transforms.vocab.train import train_wordpiece

    root = tmp_path_factory.mktemp("hf")
    docs = _wiki_docs(shared_data) + sample_text_docs(shared_data)
    words = Counter(
        w for d in docs for p in d.paragraphs for s in p for w in pretokenize(s, lowercase=True)
    )
    tok = train_wordpiece(sorted(words.items()), 1200, lowercase=True)
    save_tokenizer_dir(tok, str(root / "tok"), lowercase=True)
    write_doc_shard_set(root / "clean", docs)
    return {
        "root": root,
        "tok": str(root / "tok"),
        "clean": str(root / "clean"),
        "shards": _pack(root / "clean", root / "tok", root / "shards"),
    }


def _train_args(shards, out, steps: int, *extra: str) -> list[str]:
    flags = (
        f"--shards {shards} --output {out} --max_steps {steps} --batch_size 8 --lr 1e-3 "
        f"--warmup_steps 1 --log_every 1 --eval_shards {shards} --eval_batches 1 --threads 1"
    )
    return [*flags.split(), *extra]


@pytest.fixture(scope="module")
def exported(corpus) -> dict:
    """A tiny run with --export_hf: RUN_DIR and its RUN_DIR/hf."""
    run_dir = corpus["root"] / "run"
    result = pretrain_main(_train_args(corpus["shards"], run_dir, 3, "--export_hf"))
    return {"run": str(run_dir), "hf": result["export_hf"]["output"], "result": result}


def _batch(shards: str) -> dict[str, torch.Tensor]:
    """A padded real batch (loader contract), masks applied."""
    from trainer.data import LoaderConfig, PretrainingData

    data = PretrainingData(shards, LoaderConfig(batch_size=6, seed=3))
    data.set_epoch(0)
    return next(iter(data))


def _hf_inputs(batch: dict) -> dict:
    return {k: batch[k] for k in ("input_ids", "token_type_ids", "attention_mask")}


def _ours(model: BertForPretraining, batch: dict) -> dict[str, torch.Tensor]:
    with torch.no_grad():
        hidden = model.encode(batch)
        pooled = model.pool(hidden[:, 0])
        return {
            "hidden": hidden,
            "pooled": pooled,
            "mlm": model.mlm_logits(hidden),
            "pair": model.pair_head(pooled),
        }


def _close(a: torch.Tensor, b: torch.Tensor) -> None:
    assert a.shape == b.shape
    assert torch.allclose(a, b, atol=ATOL, rtol=0), (a - b).abs().max().item()


# --- export -----------------------------------------------------------------------------------


def test_export_writes_a_transformers_folder(exported, corpus):
    hf_dir = exported["hf"]
    assert exported["hf"] == os.path.join(exported["run"], "hf") and is_hf_dir(hf_dir)
    names = set(os.listdir(hf_dir))
    assert {"config.json", "model.safetensors", "tokenizer.json", "README.md"} <= names
    config = json.loads(Path(hf_dir, "config.json").read_text())
    model, state = load_run_model(exported["run"])
    assert config["vocab_size"] == model.cfg.vocab_size == state["vocab_size"]
    assert model.cfg.vocab_size % 64 != 0  # the real vocabulary, not the padded one
    assert config["pad_token_id"] == state["special_token_ids"]["[PAD]"]
    assert run_tokenizer_dir(exported["run"]) == corpus["tok"]
    card = Path(hf_dir, "README.md").read_text()
    manifest = json.loads(Path(corpus["shards"], "manifest.json").read_text())
    assert f"{manifest['num_tokens']:,} tokens" in card and "| wiki | ja |" in card
    assert "| text | en |" in card and f"step {state['step']} of 3" in card
    final = exported["result"]["eval"]
    assert f"{100 * final['mlm_acc']:.2f}%" in card and f"{100 * final['pair_acc']:.2f}%" in card


def test_transformers_loads_the_export_with_same_outputs(exported, corpus):
    from transformers import AutoModel, AutoModelForPreTraining, BertForPreTraining, BertModel

    ours, _ = load_run_model(exported["run"])
    batch = _batch(corpus["shards"])
    want = _ours(ours, batch)
    for cls in (BertForPreTraining, AutoModelForPreTraining):
        hf, info = cls.from_pretrained(exported["hf"], output_loading_info=True)
        assert not any(info.values()), info  # no missing, unexpected or mismatched weights
        with torch.no_grad():
            out = hf(**_hf_inputs(batch), output_hidden_states=True)
        _close(out.hidden_states[-1], want["hidden"])
        _close(out.prediction_logits, want["mlm"])
        _close(out.seq_relationship_logits, want["pair"])
    head_keys = {k for k in BertForPreTraining(hf.config).state_dict() if k.startswith("cls.")}
    for cls in (BertModel, AutoModel):
        encoder, info = cls.from_pretrained(exported["hf"], output_loading_info=True)
        # As for any BertForPreTraining checkpoint (google's too): only the heads are unused.
        assert not info["missing_keys"] and not info["mismatched_keys"]
        assert info["unexpected_keys"] <= head_keys
        with torch.no_grad():
            out = encoder(**_hf_inputs(batch))
        _close(out.last_hidden_state, want["hidden"])
        _close(out.pooler_output, want["pooled"])


def test_autotokenizer_on_the_export_matches_our_tokenizer(exported, corpus, shared_data):
    from transformers import AutoTokenizer

    from transforms.vocab.tokenizer_dir import load_tokenizer

    ours, theirs = load_tokenizer(corpus["tok"]), AutoTokenizer.from_pretrained(exported["hf"])
    book = gutenberg_body(shared_data / "books" / "11-0.txt").splitlines()
    texts = {"books_en": [ln for ln in book if ln.strip()][:300]}
    for d in _wiki_docs(shared_data):
        texts.setdefault(f"wiki_{d.lang}", []).extend(s for p in d.paragraphs for s in p)
    unk = ours.token_to_id("[UNK]")
    for name, lines in texts.items():
        want = [e.ids for e in ours.encode_batch(lines)]
        assert theirs(lines)["input_ids"] == want, name
        pieces = [i for ids in want for i in ids[1:-1]]
        assert len(pieces) > 500 and pieces.count(unk) < 0.05 * len(pieces), name


# --- import -----------------------------------------------------------------------------------


def _tiny_hf_config(**overrides):
    from transformers import BertConfig

    return BertConfig(
        vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=48, max_position_embeddings=40, **overrides,
    )  # fmt: skip


def _random_batch(vocab: int = 99) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, vocab, (3, 12), generator=g)
    mask = torch.ones_like(ids)
    mask[1, 8:] = 0
    types = torch.zeros_like(ids)
    types[:, 6:] = 1
    return {"input_ids": ids, "token_type_ids": types, "attention_mask": mask}


def _scrambled(model):
    """Random values everywhere (LayerNorms and biases too), so every weight is checked."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.2 + (1.0 if p.dim() == 1 else 0.0))
    return model.eval()


@pytest.mark.parametrize("weights", ["safetensors", "pytorch_bin"])
def test_transformers_model_imports_with_same_outputs(tmp_path, weights):
    from transformers import BertForPreTraining

    torch.manual_seed(0)
    hf = _scrambled(BertForPreTraining(_tiny_hf_config()))
    hf.save_pretrained(tmp_path)
    if weights == "pytorch_bin":
        os.remove(tmp_path / "model.safetensors")
        torch.save(hf.state_dict(), tmp_path / "pytorch_model.bin")
    ours, fresh = BertForPretraining.load_hf(str(tmp_path))
    assert fresh == [] and not ours.training
    batch = _random_batch()
    with torch.no_grad():
        out = hf(**batch, output_hidden_states=True)
    got = _ours(ours, batch)
    _close(got["hidden"], out.hidden_states[-1])
    _close(got["mlm"], out.prediction_logits)
    _close(got["pair"], out.seq_relationship_logits)
    again = BertForPretraining.from_hf(str(tmp_path), dropout=0.0)
    assert again.cfg.dropout == 0.0
    _close(_ours(again, batch)["mlm"], got["mlm"])


def test_bert_model_folder_imports_with_fresh_heads(tmp_path):
    """sentence-transformers style: BertModel weights only, no ``bert.`` prefix."""
    from transformers import BertModel

    torch.manual_seed(0)
    hf = _scrambled(BertModel(_tiny_hf_config()))
    hf.save_pretrained(tmp_path)
    ours, fresh = BertForPretraining.load_hf(str(tmp_path))
    assert fresh == ["mlm_head", "pair_head"]
    batch = _random_batch()
    with torch.no_grad():
        out = hf(**batch)
    got = _ours(ours, batch)
    _close(got["hidden"], out.last_hidden_state)
    _close(got["pooled"], out.pooler_output)


# --- continued pretraining --------------------------------------------------------------------


@pytest.fixture(scope="module")
def domain_shards(exported, corpus) -> str:
    """Shards made with the export's tokenizer: pipeline.shards --tokenizer HF_DIR."""
    return _pack(corpus["clean"], exported["hf"], corpus["root"] / "domain")


def _losses(run_dir) -> list[dict]:
    records = [json.loads(line) for line in Path(run_dir, LOG_FILE).read_text().splitlines()]
    return [{k: v for k, v in r.items() if k != "tokens_per_s"} for r in records if "loss" in r]


def test_continued_pretraining_from_an_import_resumes_exactly(
    exported, domain_shards, corpus, tmp_path, capsys
):
    from schemas.shards import read_manifest

    same = read_manifest(domain_shards)
    assert same["tokenizer_hash"] == read_manifest(corpus["shards"])["tokenizer_hash"]
    init = ["--init_from", exported["hf"]]
    full = pretrain_main(_train_args(domain_shards, tmp_path / "full", 4, *init))
    assert "fresh none" in capsys.readouterr().out
    pretrain_main(_train_args(domain_shards, tmp_path / "resumed", 4, *init, "--stop_after", "2"))
    resumed = pretrain_main(_train_args(domain_shards, tmp_path / "resumed", 4, *init, "--resume"))
    assert _losses(tmp_path / "resumed") == _losses(tmp_path / "full")
    assert resumed["eval"] == full["eval"]
    fresh_start = pretrain_main(_train_args(domain_shards, tmp_path / "scratch", 1))
    first = _losses(tmp_path / "full")[0]
    assert first["mlm_loss"] < fresh_start["train"]["mlm_loss"]  # it did start from the export


def test_init_from_checks_the_shards_tokenizer(exported, tmp_path):
    write_example_set(tmp_path / "bert", num_examples=16, seed=1, max_seq_len=32, bin_edges=(32,))
    with pytest.raises(HFError, match=r"vocab_size \d+, but shards .* have 30522"):
        pretrain_main(
            _train_args(tmp_path / "bert", tmp_path / "r", 1, "--init_from", exported["hf"])
        )
    other = tmp_path / "other"
    shutil.copytree(exported["hf"], other)
    config = json.loads((other / "config.json").read_text())
    (other / "config.json").write_text(json.dumps({**config, "vocab_size": 30522}))
    with pytest.raises(HFError, match=r"special token ids .* differ from the shards'"):
        pretrain_main(_train_args(tmp_path / "bert", tmp_path / "r", 1, "--init_from", str(other)))
    assert not (tmp_path / "r" / CHECKPOINT_FILE).exists()


# --- tokenizer folders ------------------------------------------------------------------------


def test_hugging_face_tokenizer_folders_are_tok_dirs(exported, corpus, tmp_path, shared_data):
    from transformers import AutoTokenizer

    from transforms.vocab.tokenizer_dir import load_tokenizer, special_token_ids, tokenizer_hash

    AutoTokenizer.from_pretrained(exported["hf"]).save_pretrained(tmp_path / "saved")
    slow = tmp_path / "slow"  # a slow-tokenizer folder: vocab.txt + tokenizer_config.json
    slow.mkdir()
    for name in ("vocab.txt", "tokenizer_config.json"):
        shutil.copyfile(Path(corpus["tok"], name), slow / name)
    ours = load_tokenizer(corpus["tok"])
    lines = (shared_data / "bert" / "sample_text.txt").read_text().splitlines()
    want = [e.ids for e in ours.encode_batch(lines)]
    for folder in (tmp_path / "saved", slow):
        tok = load_tokenizer(str(folder))
        assert [e.ids for e in tok.encode_batch(lines)] == want
        assert special_token_ids(tok) == special_token_ids(ours)
        assert len(tokenizer_hash(str(folder))) == 64


# --- bad input: one line naming the file, nothing written -------------------------------------


def _bad_folders(root: Path) -> dict[str, tuple[Path, str]]:
    from transformers import BertForPreTraining

    good = root / "good"
    BertForPreTraining(_tiny_hf_config()).save_pretrained(good)
    cases = {}

    def variant(name: str, config: dict | None = None) -> Path:
        folder = root / name
        shutil.copytree(good, folder)
        if config is not None:
            old = json.loads((folder / "config.json").read_text())
            (folder / "config.json").write_text(json.dumps({**old, **config}))
        return folder

    no_config = variant("no_config")
    os.remove(no_config / "config.json")
    cases["no_config"] = (no_config / "config.json", "no config.json")
    cases["roberta"] = (variant("roberta", {"model_type": "roberta"}) / "config.json", "'roberta'")
    cases["shape"] = (
        variant("shape", {"intermediate_size": 64}) / "model.safetensors",
        r"intermediate.dense.weight has shape \(48, 32\), config.json implies \(64, 32\)",
    )
    truncated = variant("truncated")
    path = truncated / "model.safetensors"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    cases["truncated"] = (path, "unreadable safetensors")
    no_weights = variant("no_weights")
    os.remove(no_weights / "model.safetensors")
    cases["no_weights"] = (no_weights, "no model.safetensors or pytorch_model.bin")
    return cases


def test_bad_folders_give_one_line_naming_the_file(tmp_path):
    for name, (where, problem) in _bad_folders(tmp_path).items():
        folder = tmp_path / name
        with pytest.raises(HFError, match=problem) as err:
            BertForPretraining.load_hf(str(folder))
        message = str(err.value)
        assert "\n" not in message and message.startswith(str(where)), (name, message)


def test_export_bad_input_writes_nothing(exported, tmp_path, capsys):
    out = tmp_path / "out"
    with pytest.raises(SystemExit, match="no checkpoint"):
        export_main(["--run", str(tmp_path / "missing"), "--output", str(out)])
    with pytest.raises(SystemExit, match="no tokenizer.json or vocab.txt"):
        export_main(["--run", exported["run"], "--output", str(out), "--tokenizer", str(tmp_path)])
    assert not out.exists() and not Path(str(out) + ".tmp").exists()
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    with pytest.raises(HFError, match="not a Hugging Face folder"):
        export_run(exported["run"], str(taken))
    assert os.listdir(taken) == ["notes.txt"]
    export_main(["--run", exported["run"], "--output", str(out), "--checkpoint", CHECKPOINT_FILE])
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["step"] == 3
