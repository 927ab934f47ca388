"""trainer.finetune and trainer.evaluate end to end on tiny encoders: every task writes a valid
metrics.json from the real files; model specs (HF folder, random:, our run folder); seeds are
reproducible; bad input is counted; a missing file is one line; the report is written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.finetune_fixtures import UNCASED_VOCAB, bert_tok_dir, tiny_hf_folder  # noqa: F401
from trainer.finetune import main as finetune_main

NER_FIXTURE = Path(__file__).parent / "fixtures" / "ner_tiny.conll"
REQUIRED = {
    "task", "metric", "mean", "std", "per_seed", "model", "train_examples", "test_examples",
    "examples_per_s", "counts", "metrics",
}  # fmt: skip
QUICK = (
    "--seeds 2 --epochs 1 --batch_size 8 --threads 1 --max_train_examples 24 --max_test_examples 12"
)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def hf_dir(shared_data, tmp_path_factory) -> str:
    """A random transformers BERT folder, hidden size 32 (weights, config.json, vocab.txt)."""
    return tiny_hf_folder(tmp_path_factory.mktemp("hf") / "bert", shared_data / UNCASED_VOCAB)


def _run(model: str, task: str, out: Path, shared_data: Path, *extra: str) -> dict:
    argv = ["--task", task, "--model", model, "--output", str(out)]
    argv += ["--data_dir", str(shared_data), *QUICK.split(), *extra]
    finetune_main(argv)
    return json.loads((out / "metrics.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("task", ["sst2", "rte", "pos", "squad", "ner"])
def test_every_task_end_to_end(task, hf_dir, shared_data, tmp_path, capsys):
    extra = ["--train", str(NER_FIXTURE)] if task == "ner" else []
    metrics = _run(f"random:{hf_dir}", task, tmp_path, shared_data, *extra)
    assert REQUIRED <= set(metrics)
    assert metrics["task"] == task and metrics["random_init"] is True
    assert len(metrics["per_seed"]) == 2 and all(0 <= v <= 1 for v in metrics["per_seed"])
    assert metrics["mean"] == pytest.approx(sum(metrics["per_seed"]) / 2)
    assert metrics["examples_per_s"] > 0 and metrics["test_examples"] > 0
    assert capsys.readouterr().out.strip().startswith(f"{task} {metrics['metric']} ")
    if task == "sst2":
        assert metrics["counts"]["overlap_removed"] > 0  # RT polarity vs SST-2 dev
    if task == "rte":  # 5-fold CV: every example tested once (12 per fold at most here)
        assert len(metrics["folds"]) == 5 and metrics["test_examples"] == 60
        assert 24 < metrics["train_examples"] <= 5 * 24  # distinct examples trained on
    if task == "squad":  # both directions, v2 metrics, threshold from the training part
        assert sorted(metrics["folds"]) == [
            "test=Computational_complexity_theory",
            "test=Normans",
        ]
        assert {"exact", "has_ans_f1", "no_ans_f1", "null_threshold"} <= set(metrics["metrics"])
    if task == "ner":
        assert metrics["counts"] == {"malformed_sentences": 1}


def test_squad_v1_has_no_null_threshold(hf_dir, shared_data, tmp_path):
    """SQuAD v1.1 (every question answerable): spans only, no HasAns/NoAns split."""
    data = json.loads((shared_data / "eval/squad/squad_v2.0_dev_first2articles.json").read_text())
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            paragraph["qas"] = [
                {k: v for k, v in qa.items() if k != "is_impossible"}
                for qa in paragraph["qas"]
                if not qa["is_impossible"]
            ]
    v1 = tmp_path / "v1.json"
    v1.write_text(json.dumps({"version": "1.1", "data": data["data"]}), encoding="utf-8")
    metrics = _run(hf_dir, "squad", tmp_path / "out", shared_data, "--train", str(v1))
    assert metrics["test_examples"] == 24 and metrics["counts"] == {}
    assert set(metrics["metrics"]) == {"exact", "f1"}


def test_pretrained_folder_seeds_are_reproducible(hf_dir, shared_data, tmp_path):
    first = _run(hf_dir, "pos", tmp_path / "a", shared_data)
    again = _run(hf_dir, "pos", tmp_path / "b", shared_data)
    assert first["random_init"] is False and first["fresh_parts"] == []
    assert first["per_seed"] == again["per_seed"] and first["metrics"] == again["metrics"]


def test_random_preset_over_a_tokenizer_folder(bert_tok_dir, shared_data, tmp_path):  # noqa: F811
    metrics = _run(f"random:tiny:{bert_tok_dir}", "sst2", tmp_path, shared_data, "--seeds", "1")
    assert metrics["per_seed"] and metrics["random_init"] is True


def test_bad_rows_are_counted_in_metrics(hf_dir, shared_data, tmp_path):
    train = tmp_path / "train.tsv"
    rows = [f"{'good' if i % 2 else 'bad'} film number {i}\t{i % 2}" for i in range(20)]
    train.write_text("sentence\tlabel\n" + "\n".join([*rows, "no label", "x\t7"]) + "\n")
    metrics = _run(hf_dir, "sst2", tmp_path / "out", shared_data, "--train", str(train))
    assert metrics["counts"]["malformed_rows"] == 2
    assert metrics["counts"]["train_read"] == 20 and metrics["train_examples"] == 20


def test_missing_file_is_one_line(hf_dir, shared_data, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        _run(hf_dir, "rte", tmp_path, shared_data, "--train", str(tmp_path / "nope.tsv"))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "nope.tsv" in err and err.startswith("error: --train")
    with pytest.raises(SystemExit):
        finetune_main(["--task", "pos", "--model", str(tmp_path), "--output", str(tmp_path)])
    assert "neither config.json" in capsys.readouterr().err
    (tmp_path / "config.json").write_text('{"model_type": "roberta"}')  # not a BERT folder
    with pytest.raises(SystemExit):
        finetune_main(["--task", "pos", "--model", str(tmp_path), "--output", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "model_type 'roberta'" in err


def test_head_starts_as_bert_initialises():
    from trainer.heads import FinetuneModel
    from trainer.model import BertConfig, BertForPretraining

    encoder = BertForPretraining(BertConfig.preset("tiny", vocab_size=100))
    torch.manual_seed(0)
    head = FinetuneModel(encoder, "token", 17, dropout=0.1).head
    assert torch.equal(head.bias, torch.zeros(17))
    assert head.weight.std().item() == pytest.approx(0.02, rel=0.05)  # 17 x 128 draws


def test_mean_pooling_reads_every_real_token_and_no_padding():
    from trainer.heads import FinetuneModel
    from trainer.model import BertConfig, BertForPretraining

    torch.manual_seed(0)
    net = FinetuneModel(
        BertForPretraining(BertConfig.preset("tiny", vocab_size=100)), "sequence", 2, 0.0, "mean"
    ).eval()
    ids = torch.tensor([[2, 17, 40, 3, 0, 0]])
    batch = {"input_ids": ids, "token_type_ids": torch.zeros_like(ids),
             "attention_mask": (ids != 0).long()}  # fmt: skip
    short = {k: v[:, :4] for k, v in batch.items()}
    with torch.no_grad():
        padded, unpadded = net.logits(batch), net.logits(short)
        hidden = net.encoder.encode(short).mean(1)
        assert torch.allclose(padded, unpadded, atol=1e-5)  # padding does not move the mean
        assert torch.allclose(unpadded, net.head(hidden), atol=1e-5)  # no pooler, no [CLS] only
        cls = FinetuneModel(net.encoder, "sequence", 2, 0.0, "cls").eval()
        cls.head.load_state_dict(net.head.state_dict())
        assert not torch.allclose(cls.logits(short), unpadded)
    with pytest.raises(ValueError, match="unknown pooling"):
        FinetuneModel(net.encoder, "sequence", 2, 0.0, "max")


def test_our_run_folder_is_read_directly(shared_data, bert_tok_dir, tmp_path):  # noqa: F811
    """pipeline.shards -> trainer.pretrain (3 steps) -> fine-tune the run folder as it is."""
    from pipeline import shards
    from tests.corpus_fixtures import sample_text_docs, write_doc_shard_set
    from trainer.pretrain import main as pretrain_main

    write_doc_shard_set(tmp_path / "clean", sample_text_docs(shared_data))
    shards.run(
        [f"--input={tmp_path / 'clean'}", f"--tokenizer={bert_tok_dir}",
         f"--output={tmp_path / 'shards'}", "--max_seq_len=64", "--bins=64", "--shards_per_bin=1"]
    )  # fmt: skip
    run_dir = tmp_path / "run"
    pretrain_main(
        f"--shards {tmp_path / 'shards'} --output {run_dir} --max_steps 3 --batch_size 4 "
        "--warmup_steps 1 --threads 1".split()
    )
    metrics = _run(str(run_dir), "sst2", tmp_path / "ft", shared_data, "--seeds", "1")
    assert metrics["model"] == str(run_dir) and metrics["random_init"] is False


def test_evaluate_writes_report_with_random_baseline(hf_dir, shared_data, tmp_path):
    from trainer.evaluate import main as evaluate_main

    report = evaluate_main(
        ["--model", hf_dir, "--tasks", "sst2,pos", "--output", str(tmp_path),
         "--data_dir", str(shared_data), *QUICK.split()]
    )  # fmt: skip
    assert report["models"] == [hf_dir, f"random:{hf_dir}"]
    saved = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert saved["results"][hf_dir]["pos"]["metric"] == "accuracy"
    table = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "| sst2 (accuracy) |" in table and "| pos (accuracy) |" in table and " ± " in table
    assert (tmp_path / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
